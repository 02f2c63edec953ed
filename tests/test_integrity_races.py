"""Two windows of one patient posting at once lose nothing, and a stored verdict is always the
assessment of the stored answers (issue 22, done-means 1).

Each trial races three posts on one session whose questions are all answered: two changes of
warning-sign answers (from two "tabs") and "send my answers". Whatever order the server sees them
in, an answer it acknowledged (303) is in the stored answers, an answer it refused says so (409,
"this check changed in another window", with the answer shown back), and the stored urgency and
assessment are exactly what `triage assess` gives for the stored answers. Without the row lock
(store.PatientRows(for_update=...)) both kinds of violation appear within a few dozen trials.
"""
from __future__ import annotations

import secrets
import threading

import httpx
import pytest
from sqlalchemy import select

from support import ALL_CLEAR, NO_WARNING_SIGNS
from triage.engine import assess
from triage.rulebook import load_rulebook
from triage.web.db import PatientSession, digest, make_engine, migrate, session_factory, utcnow
from web_support import Patient, Server, form_value

RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
TRIALS = 200


def _urgent_only_flags() -> list[str]:
    """Warning signs whose alarming answer alone makes the urgency `urgent` (contract section 3:
    e.g. unexplained weight loss or a history of cancer, a possible malignancy, is seen the same
    day): a change to one of them must never be stored beside a self-care verdict."""
    flags = []
    for qid in NO_WARNING_SIGNS:
        q = QUESTIONNAIRE.questions[qid]
        alarming = [v for v in q.values if v in q.alarming]
        if alarming and assess({**ALL_CLEAR, qid: alarming[0]}, RULEBOOK).urgency == "urgent":
            flags.append(qid)
    assert len(flags) >= 2, flags
    return flags


def _complete_answers(server_url: str) -> dict:
    """Every answer the web flow asks for an all-clear patient, as it stores them."""
    with httpx.Client(base_url=server_url, timeout=30) as browser:
        patient = Patient(browser, QUESTIONNAIRE)
        assert patient.answer_all(ALL_CLEAR) == "/check-answers"
        return browser.get("/answers.json").json()


def _race(url: str, factory, complete: dict, flags: list[str]) -> list[str]:
    """TRIALS races; returns the violations seen (empty when nothing was lost)."""
    first, second = flags[0], flags[1]
    violations = []
    with Server(url) as server:
        for trial in range(TRIALS):
            token = secrets.token_urlsafe(32)
            csrf = secrets.token_urlsafe(32)
            with factory() as db:
                row = PatientSession(token_hash=digest(token), answers=dict(complete),
                                     created_at=utcnow(), updated_at=utcnow())
                db.add(row)
                db.commit()
                row_id = row.id
            cookies = {"triage_session": token, "triage_csrf": csrf}
            changes = {first: form_value(QUESTIONNAIRE.questions[first], True),
                       second: form_value(QUESTIONNAIRE.questions[second], True)}
            posts = [(f"/question/{qid}", {"csrf_token": csrf, "answer": value, "change": "1"})
                     for qid, value in changes.items()]
            posts.append(("/submit", {"csrf_token": csrf}))
            if trial % 2:
                posts.reverse()
            replies: dict[str, httpx.Response] = {}
            gate = threading.Barrier(len(posts))

            def post(path, data):
                with httpx.Client(base_url=server.url, cookies=cookies, timeout=60) as client:
                    gate.wait()
                    replies[path] = client.post(path, data=data, follow_redirects=False)

            threads = [threading.Thread(target=post, args=p) for p in posts]
            for t in threads:
                t.start()
            for t in threads:
                t.join(90)
            with factory() as db:
                stored = db.scalar(select(PatientSession).where(PatientSession.id == row_id))
            for path, reply in replies.items():
                if reply.status_code >= 500:
                    violations.append(f"trial {trial}: {path} gave {reply.status_code}")
            for qid in changes:
                reply = replies[f"/question/{qid}"]
                if reply.status_code == 303 and stored.answers.get(qid) is not True:
                    violations.append(f"trial {trial}: {qid} acknowledged but lost")
                elif reply.status_code == 409:
                    if "changed in another window" not in reply.text or "Yes" not in reply.text:
                        violations.append(f"trial {trial}: the conflict page for {qid} does not "
                                          f"say what happened or show the answer")
                    if stored.answers.get(qid) is not False:
                        violations.append(f"trial {trial}: {qid} refused but stored")
                elif reply.status_code not in (303, 409):
                    violations.append(f"trial {trial}: {qid} gave {reply.status_code}")
            if stored.submitted_at is None:
                violations.append(f"trial {trial}: the submission was lost")
                continue
            expected = assess(stored.answers, RULEBOOK)
            if stored.urgency != expected.urgency or stored.assessment != expected.to_dict():
                violations.append(f"trial {trial}: stored {stored.urgency} beside answers that "
                                  f"say {expected.urgency}")
    return violations


@pytest.mark.long  # about 20 s per database on the 2-core machine
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_windows_posting_at_once_lose_nothing_and_the_verdict_fits_the_answers(
        kind, tmp_path, request):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        url = request.getfixturevalue("postgres_cluster").create_database()
    engine = make_engine(url)
    migrate(engine)
    flags = _urgent_only_flags()
    try:
        with Server(url) as server:
            complete = _complete_answers(server.url)
        violations = _race(url, session_factory(engine), complete, flags)
    finally:
        engine.dispose()
    assert violations == [], f"{len(violations)} violation(s): {violations[:10]}"


def test_an_answer_sent_after_the_check_was_sent_elsewhere_gets_a_clear_page(tmp_path):
    """The slower of two windows: its answer arrives after the other window sent the check. The
    sent answers are final (the clinic may already be reading them), so nothing changes, and
    the page says so and shows the answer that was not saved, instead of a silent redirect."""
    from fastapi.testclient import TestClient

    from triage.web.app import Settings, create_app

    flag = _urgent_only_flags()[0]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'late.db'}"))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        patient = Patient(client, QUESTIONNAIRE)
        assert patient.answer_all(ALL_CLEAR) == "/check-answers"
        assert patient.submit().headers["location"] == "/result"
        late = patient.post_answer(flag, True, change=True)
        assert late.status_code == 409
        assert "This check changed in another window" in late.text
        from markupsafe import escape

        assert str(escape(QUESTIONNAIRE.questions[flag].text)) in late.text
        assert "Yes" in late.text
        assert client.get("/answers.json").json()[flag] is False  # the sent answers stand
    app.state.engine.dispose()
