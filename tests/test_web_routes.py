"""Route tests of `triage serve` with the framework's test client: every route, the journey,
the emergency stop after each warning-sign question, CSRF, expiry, the API and its errors."""
from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from triage.engine import assess
from triage.rulebook import load_rulebook
from triage.web.app import Settings, create_app, purge_expired
from triage.web.db import PatientSession
from support import ALL_CLEAR, NO_WARNING_SIGNS
from web_support import Patient

ROOT = Path(__file__).resolve().parent.parent
RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
DESK_WORKER = yaml.safe_load((ROOT / "examples" / "desk_worker.yaml").read_text())


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}"))


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def patient(client):
    return Patient(client, QUESTIONNAIRE)


def rows(app):
    with app.state.db() as db:
        return list(db.scalars(select(PatientSession)))


def main_text(response) -> str:
    html = response.text
    html = html[html.index("<main"):html.index("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --------------------------------------------------------------------------- the journey

def test_the_desk_worker_journey_gives_what_triage_assess_gives_for_the_same_answers(
        patient, client, app, tmp_path):
    assert patient.answer_all(DESK_WORKER) == "/check-answers"
    check = client.get("/check-answers")
    assert check.status_code == 200
    text = main_text(check)
    assert "Check your answers" in text and "Worse after long meetings" in text
    assert text.count("Change") >= 20
    response = patient.submit()
    assert response.headers["location"] == "/result"
    result = client.get("/result")
    assert result.status_code == 200
    expected = assess(QUESTIONNAIRE.validate(DESK_WORKER), RULEBOOK)
    assert expected.urgency == "self_care"  # contract section 3: no warning sign, two weeks
    assert "Self-care" in main_text(result)
    # the answers file downloaded from the web is exactly the answers format...
    download = client.get("/answers.json")
    assert download.headers["content-disposition"].startswith("attachment")
    answers_file = tmp_path / "web-answers.json"
    answers_file.write_bytes(download.content)
    given = QUESTIONNAIRE.parse_given(DESK_WORKER)
    # (a question that skip logic settles is not asked, and its implied answer is not stored)
    # (the first activity, asked after the notes since issue 25, was left blank: null, like
    # any optional question left unanswered)
    assert json.loads(download.content) == {**{qid: value for qid, value in given.items()
                                               if not QUESTIONNAIRE.is_skipped(qid, given)},
                                            "activity_1": None}
    # ...and `triage assess` on it gives the assessment the web stored, field for field
    cli = subprocess.run([sys.executable, "-m", "triage", "assess", str(answers_file), "--format",
                          "json"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    [row] = rows(app)
    assert row.assessment == json.loads(cli.stdout) == expected.to_dict()
    assert row.urgency == "self_care" and row.submitted_at is not None
    # the report: HTML view and the answers it lists
    report = client.get("/report")
    assert report.status_code == 200 and "Back pain triage report" in report.text
    assert "script-src" not in report.headers["content-security-policy"]
    assert "default-src 'none'" in report.headers["content-security-policy"]


def test_every_question_page_has_progress_a_back_link_help_and_one_question(patient, client):
    location = patient.start()
    assert location == "/question/age"
    page = client.get(location)
    text = main_text(page)
    total = len([q for q in QUESTIONNAIRE.questions if not QUESTIONNAIRE.is_skipped(q, {})])
    assert f"Question 1 of {total}" in text
    assert 'class="back-link" href="/"' in page.text
    assert "<details" in page.text and "Help with this question" in page.text
    assert "Why we ask this" in page.text
    assert page.text.count("<h1") == 1
    assert '<label class="label label--page" for="answer">' in page.text  # a visible label
    patient.post_answer("age", 34)
    second = client.get("/question/sex")
    assert "Question 2 of" in main_text(second)
    assert 'class="back-link" href="/question/age"' in second.text
    assert second.text.count('type="radio"') == len(QUESTIONNAIRE.questions["sex"].choices)


def test_a_warning_sign_question_can_be_answered_not_sure_and_that_is_unknown_not_no(
        patient, client, app):
    location = patient.answer_all({"age": 40, "duration_weeks": 2, "trauma": "none"},
                                  stop_at="saddle_numbness")
    page = client.get(location)
    assert "I&#39;m not sure" in page.text or "I'm not sure" in page.text
    response = patient.post_answer("saddle_numbness", None)
    assert response.status_code == 303
    [row] = rows(app)
    assert row.answers["saddle_numbness"] is None  # stored as left unanswered
    given = {k: v for k, v in row.answers.items() if v is not None}
    assert "saddle_numbness" in assess(given, RULEBOOK).unanswered_red_flags


def test_an_answer_that_does_not_fit_is_re_asked_with_an_error_summary_and_the_reason(
        patient, client, app):
    patient.start()
    response = patient.post_answer("age", None, raw="200")
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert '<a href="#answer">Enter a whole number from 0 to 120, in years (200 is out of range)</a>' \
        in response.text
    assert 'id="answer-error"' in response.text and 'value="200"' in response.text
    assert response.text.count("<title>Error: ") == 1
    empty = patient.post_answer("age", None, raw="")
    assert empty.status_code == 400 and "Enter a whole number from 0 to 120" in empty.text
    not_sure = patient.post_answer("age", None)  # a required question has no "not sure"
    assert not_sure.status_code == 400
    assert rows(app)[0].answers == {}  # nothing wrong was stored


def test_questions_cannot_be_skipped_by_typing_a_later_address(patient, client):
    patient.start()
    response = client.get("/question/saddle_numbness", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/question/age"
    posted = patient.post_answer("saddle_numbness", False)
    assert posted.headers["location"] == "/question/age"
    assert client.get("/check-answers", follow_redirects=False).headers["location"] == \
        "/question/age"
    assert client.get("/result", follow_redirects=False).headers["location"] == "/question/age"


def test_back_and_change_keep_every_answer_and_skip_logic_follows_a_change(patient, client, app):
    # sciatica in one leg (policy version 3: both_legs is asked only with a leg symptom, and a
    # yes to it is an emergency that would stop the questions; so here it is answered no)
    answers = dict(ALL_CLEAR, leg_pain="below_knee", leg_numbness=False, leg_weakness="none",
                   both_legs=False, pain_score=3)
    assert patient.answer_all(answers) == "/check-answers"
    before = dict(rows(app)[0].answers)
    assert before["both_legs"] is False
    # going back shows the earlier answer chosen, and changes nothing
    page = client.get("/question/leg_pain?change=1")
    assert 'value="below_knee" checked' in page.text
    assert 'href="/check-answers">Back to your answers' in page.text
    assert rows(app)[0].answers == before
    # a change that makes a later question not apply drops its answer (implied now), and the
    # flow goes back to the check page
    response = patient.post_answer("leg_pain", "none", change=True)
    assert response.headers["location"] == "/check-answers"
    after = rows(app)[0].answers
    assert after["leg_pain"] == "none" and "both_legs" not in after
    assert "follows from your other answers" in main_text(client.get("/check-answers"))
    # a change that makes a new question apply asks it before the check page
    response = patient.post_answer("leg_pain", "below_knee", change=True)
    assert response.headers["location"] == "/question/both_legs"


def test_reloading_a_question_page_mid_way_loses_nothing(patient, client, app):
    patient.answer_all(DESK_WORKER, stop_at="fever")
    first = client.get("/question/fever")
    again = client.get("/question/fever")
    assert main_text(first) == main_text(again)
    assert rows(app)[0].answers["saddle_numbness"] is False
    # the start page offers to continue where the person was
    start = main_text(client.get("/"))
    assert "Continue where you left off" in start
    assert 'href="/question/fever"' in client.get("/").text


def test_resume_code_continues_in_another_browser_and_wrong_codes_are_limited(
        patient, client, app):
    patient.answer_all(DESK_WORKER, stop_at="fever")
    saved = client.post("/save", data={"csrf_token": patient.csrf})
    code = re.search(r'id="resume-code">([0-9A-Z]{5}-[0-9A-Z]{5})<', saved.text).group(1)
    other = TestClient(app)  # another browser: no cookies
    other.get("/resume")
    token = other.cookies.get("triage_csrf")
    wrong = other.post("/resume", data={"csrf_token": token, "code": "AAAAA-AAAAA"})
    assert wrong.status_code == 400 and "There is a problem" in wrong.text
    typed = code.lower().replace("-", " ")  # as a person might type it
    response = other.post("/resume", data={"csrf_token": token, "code": typed},
                          follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/question/fever"
    assert "triage_session=" in response.headers["set-cookie"]
    assert "Question" in main_text(other.get("/question/fever"))
    # the first browser's token no longer opens the session: only one holder at a time
    assert client.get("/question/fever").status_code == 410
    # guessing is limited per address
    from triage.web.patient import RESUME_LIMIT

    for _ in range(RESUME_LIMIT - 1):  # one wrong code was tried above
        other.post("/resume", data={"csrf_token": token, "code": "BBBBB-BBBBB"})
    blocked = other.post("/resume", data={"csrf_token": token, "code": code})
    assert blocked.status_code == 429


# --------------------------------------------------------------------------- the emergency stop

def _path_to(qid: str, value) -> dict:
    """Reassuring answers to every question before `qid` (the required ones too), then `value`."""
    answers = {"age": 40, "sex": "female", "duration_weeks": 2, "onset": "gradual",
               "trauma": "none", **NO_WARNING_SIGNS}
    order = [q for s in QUESTIONNAIRE.sections for q in s.questions]
    before = order[:order.index(qid)]
    chosen = {q: answers[q] for q in before if q in answers}
    if QUESTIONNAIRE.is_skipped(qid, chosen):  # e.g. the pregnancy signs: asked only in pregnancy
        from triage.conditions import questions_read

        for gate in questions_read(QUESTIONNAIRE.questions[qid].skip_if):
            if QUESTIONNAIRE.questions[gate].alarming:
                chosen[gate] = QUESTIONNAIRE.questions[gate].alarming[0]
        if QUESTIONNAIRE.is_skipped(qid, chosen) and "age" in chosen:
            chosen["age"] = 66  # policy version 3: the aneurysm question is asked from 50
    chosen[qid] = value
    return chosen


def _expected_urgency(answers: dict):
    """The urgency the flow should find: with the injury question (a required choice) not yet
    reached, an emergency is one whatever its answer would be (contract section 1, version 2:
    the first four questions stop the questionnaire at once); a required number missing: none."""
    import itertools

    given = {k: v for k, v in QUESTIONNAIRE.apply_skip_logic(dict(answers)).items()
             if k in QUESTIONNAIRE.questions}
    missing = [QUESTIONNAIRE.questions[q] for q in QUESTIONNAIRE.required if q not in given]
    if any(q.type != "choice" for q in missing):
        return None
    urgencies = {assess({**given, **{q.id: v for q, v in zip(missing, values)}}, RULEBOOK).urgency
                 for values in itertools.product(*(q.values for q in missing))}
    return "emergency" if urgencies == {"emergency"} else "not an emergency"


RED_FLAG_ANSWERS = [(q.id, value) for q in QUESTIONNAIRE.questions.values() if q.red_flag
                    for value in q.alarming]


@pytest.mark.parametrize("qid,value", RED_FLAG_ANSWERS,
                         ids=[f"{q}={v}" for q, v in RED_FLAG_ANSWERS])
def test_the_emergency_page_comes_the_moment_a_warning_sign_answer_makes_it_an_emergency(
        qid, value, patient, client, app):
    answers = _path_to(qid, value)
    expected = _expected_urgency(answers)
    location = patient.answer_all(answers, stop_at=qid)
    assert location == f"/question/{qid}"  # asked, after reassuring answers before it
    response = patient.post_answer(qid, value)
    if expected == "emergency":
        assert response.headers["location"] == "/emergency"
        page = client.get("/emergency")
        assert page.status_code == 200
        assert re.search(r'href="tel:\d+"', page.text)
        # nothing else competing: no save link, no footer, one form-free page
        assert "Save and come back later" not in page.text and "<form" not in page.text
        assert "<footer" not in page.text
        [row] = rows(app)
        assert row.urgency == "emergency" and row.submitted_at is not None
        assert row.assessment["urgency"] == "emergency"
    else:
        assert response.headers["location"] != "/emergency"


def test_saddle_numbness_stops_at_the_emergency_page_with_the_terminals_words(patient, client):
    # NICE CKS (sciatica; cauda equina syndrome): new saddle anaesthesia is an emergency
    location = patient.answer_all(_path_to("saddle_numbness", True), stop_at="saddle_numbness")
    assert location == "/question/saddle_numbness"
    assert patient.post_answer("saddle_numbness", True).headers["location"] == "/emergency"
    page = client.get("/emergency")
    from triage.emergency import emergency_screen

    answers = dict(_path_to("saddle_numbness", True))
    # the terminal's words, with the one number this server was set to call (default 112)
    screen = emergency_screen(assess(answers, RULEBOOK), RULEBOOK, "112")
    text = main_text(page)
    assert " ".join(screen.heading.split()) in text
    for action in screen.actions:
        assert " ".join(action.split()) in text
    # the flow stops: the check page and the result send the person back to the emergency page
    assert client.get("/check-answers", follow_redirects=False).headers["location"] == \
        "/emergency"
    assert client.get("/result", follow_redirects=False).headers["location"] == "/emergency"
    # an answer given by mistake can be corrected, and the stop is taken back
    back = client.get("/question/saddle_numbness")
    assert back.status_code == 200
    response = patient.post_answer("saddle_numbness", False)
    assert response.headers["location"] != "/emergency"


# --------------------------------------------------------------------------- safe by default

def test_every_form_refuses_a_post_without_the_csrf_token(patient, client, app):
    patient.start()
    for path, data in (("/start", {}), ("/question/age", {"answer": "34"}), ("/submit", {}),
                       ("/save", {}), ("/resume", {"code": "AAAAA-AAAAA"}),
                       ("/start-again", {})):
        missing = client.post(path, data=data, follow_redirects=False)
        assert missing.status_code == 403, path
        assert "This page has expired" in missing.text
        wrong = client.post(path, data={**data, "csrf_token": "x" * 43}, follow_redirects=False)
        assert wrong.status_code == 403, path
    assert rows(app)[0].answers == {}  # nothing was stored by a refused form
    cross_site = client.post("/question/age", data={"answer": "34", "csrf_token": patient.csrf},
                             headers={"origin": "https://evil.example"}, follow_redirects=False)
    assert cross_site.status_code == 403
    same_site = client.post("/question/age", data={"answer": "34", "csrf_token": patient.csrf},
                            headers={"origin": "http://testserver"}, follow_redirects=False)
    assert same_site.status_code == 303


def test_every_page_sends_the_security_headers(patient, client):
    patient.start()
    for path in ("/", "/question/age", "/resume", "/privacy", "/healthz", "/api/questionnaire",
                 "/nowhere"):
        response = client.get(path)
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in client.get("/question/age").text  # no inline script anywhere
    assert "style=" not in client.get("/question/age").text


def test_cookies_are_httponly_samesite_lax_and_secure_behind_https(app):
    with TestClient(app, base_url="https://testserver") as secure:
        secure.get("/")
        response = secure.post("/start", data={"csrf_token": secure.cookies.get("triage_csrf")},
                               follow_redirects=False)
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    with TestClient(app) as plain:
        plain.get("/")
        response = plain.post("/start", data={"csrf_token": plain.cookies.get("triage_csrf")},
                              follow_redirects=False)
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        token = plain.cookies.get("triage_session")
    assert len(token) >= 40  # 256 random bits
    from triage.web.db import digest

    stored = [(row.token_hash, row.id) for row in rows(app)]
    assert (digest(token), stored[-1][1]) in stored  # only its hash is stored...
    assert all(token not in pair for pair in stored)  # ...never the token itself


def test_notes_are_escaped_everywhere_and_never_logged(patient, client, caplog):
    caplog.set_level(logging.DEBUG)
    notes = '<script>alert("x")</script> my-secret-note-7781'
    answers = dict(DESK_WORKER, notes=notes)
    assert patient.answer_all(answers) == "/check-answers"
    check = client.get("/check-answers")
    assert "<script>alert" not in check.text and "&lt;script&gt;" in check.text
    patient.submit()
    report = client.get("/report")
    assert "<script>alert" not in report.text and "&lt;script&gt;" in report.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "my-secret-note-7781" not in logged and "sitting_hours" not in logged


def test_a_session_past_the_retention_period_is_expired_and_purged(patient, client, app):
    patient.start()
    patient.post_answer("age", 34)
    with app.state.db.begin() as db:
        row = db.scalars(select(PatientSession)).one()
        row.updated_at = row.updated_at - _dt.timedelta(days=31)
    response = client.get("/question/sex")
    assert response.status_code == 410
    assert "no longer saved" in main_text(response)
    assert rows(app) == []  # deleted at once
    # and the server's purge deletes old rows it finds, keeping recent ones
    patient.start()
    with app.state.db.begin() as db:
        db.add(PatientSession(token_hash="0" * 64, answers={"age": 50},
                              updated_at=_dt.datetime.now(_dt.timezone.utc)
                              - _dt.timedelta(days=40)))
    assert purge_expired(app) == 1
    assert len(rows(app)) == 1


def test_the_purge_runs_in_the_server_itself(tmp_path, monkeypatch):
    from triage.web import app as app_module

    monkeypatch.setattr(app_module, "PURGE_EVERY_SECONDS", 0.05)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}"))
    with app.state.db.begin() as db:
        db.add(PatientSession(token_hash="1" * 64, answers={},
                              updated_at=_dt.datetime.now(_dt.timezone.utc)
                              - _dt.timedelta(days=31)))
    import time

    with TestClient(app):
        deadline = time.monotonic() + 10
        while rows(app) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert rows(app) == []


def test_start_again_deletes_unfinished_answers_and_starts_fresh(patient, client, app):
    patient.answer_all(DESK_WORKER, stop_at="fever")
    response = client.post("/start-again", data={"csrf_token": patient.csrf},
                           follow_redirects=False)
    assert response.headers["location"] == "/question/age"
    [row] = rows(app)
    assert row.answers == {}


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_a_finished_session_is_final_and_the_pdf_downloads(patient, client):
    patient.answer_all(DESK_WORKER)
    patient.submit()
    assert client.get("/question/age", follow_redirects=False).headers["location"] == "/result"
    pdf = client.get("/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment")


# --------------------------------------------------------------------------- other routes

def test_pages_without_a_session_send_the_person_to_the_start(client):
    for path in ("/question/age", "/check-answers", "/result", "/emergency", "/report",
                 "/answers.json", "/save"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/", path


def test_unknown_pages_and_questions_are_a_friendly_404(patient, client):
    assert "Page not found" in client.get("/nowhere").text
    patient.start()
    assert client.get("/question/no_such_question").status_code == 404
    assert client.get("/api/nowhere").json()["detail"] == "Not Found"


def test_privacy_docs_and_static_files(client):
    assert "deleted 30 days" in main_text(client.get("/privacy"))
    spec = client.get("/openapi.json").json()
    assert {"/api/assess", "/api/questionnaire", "/healthz"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    # one script, ours, as on every page (it only enhances): nothing inline, nothing from elsewhere
    assert re.findall(r"<script[^>]*>", docs.text) == ['<script src="/static/triage.js" defer>']
    # the strict policy of every page: the reference needs no script and no inline style
    assert docs.headers["content-security-policy"] == client.get("/privacy").headers[
        "content-security-policy"]
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"]


def test_the_api_reference_shows_every_operation_of_the_openapi_document(client):
    """/docs is drawn from /openapi.json itself: each operation's method, path, summary and
    responses, the request body's examples, each one valid JSON as shown."""
    spec = client.get("/openapi.json").json()
    page = client.get("/docs").text
    text = main_text(client.get("/docs"))
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert f'id="{operation["operationId"]}"' in page
            assert f"{method.upper()} {path}" in text
            assert operation["summary"] in text
            for status, response in operation["responses"].items():
                assert status in text and response["description"] in text
    examples = spec["paths"]["/api/assess"]["post"]["requestBody"]["content"][
        "application/json"]["examples"]
    shown = [json.loads(html.unescape(block)) for block in
             re.findall(r'<pre class="docs-code"><code>(\{.*?)</code></pre>', page, re.S)]
    assert [e["value"] for e in examples.values()] == shown
    # and what the curl line sends is what the API accepts
    assert "curl -X POST http://testserver/api/assess" in text
    assert client.post("/api/assess", json=shown[0]).status_code == 200
    assert client.get("/static/triage.css").headers["content-type"].startswith("text/css")


def test_healthz_says_the_versions_and_the_database_answers(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["rules"].endswith(RULEBOOK.version)


# --------------------------------------------------------------------------- the API

def test_api_assess_gives_the_contract_json_of_triage_assess(client):
    response = client.post("/api/assess", json=DESK_WORKER)
    assert response.status_code == 200
    assert response.json() == assess(QUESTIONNAIRE.validate(DESK_WORKER), RULEBOOK).to_dict()


def test_api_assess_takes_a_fhir_questionnaire_response(client):
    from triage.fhir import response_resource

    resource = response_resource(QUESTIONNAIRE.validate(DESK_WORKER), QUESTIONNAIRE)
    response = client.post("/api/assess", json=resource)
    assert response.status_code == 200
    assert response.json() == client.post("/api/assess", json=DESK_WORKER).json()


@pytest.mark.parametrize("body,field,words", [
    (dict(ALL_CLEAR, age=200), "age", "age: 200 is out of range: expected a whole number from 0 "
                                      "to 120"),
    ({"agee": 40}, "agee", "agee: unknown question (did you mean 'age'?)"),
    ({"age": 40}, "duration_weeks", "duration_weeks: required question not answered"),
    ([1, 2], None, "expected a mapping"),
])
def test_api_assess_refuses_bad_answers_with_422_and_the_clis_message(client, tmp_path, body,
                                                                       field, words):
    response = client.post("/api/assess", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field and words in response.json()["detail"]
    # the command line says the same about the same answers
    answers_file = tmp_path / "bad.json"
    answers_file.write_text(json.dumps(body))
    cli = subprocess.run([sys.executable, "-m", "triage", "assess", str(answers_file)],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and response.json()["detail"] in cli.stderr


def test_api_assess_refuses_broken_json_and_oversized_bodies(client):
    broken = client.post("/api/assess", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    huge = client.post("/api/assess", content=b"[" + b"1," * 200_000 + b"1]",
                       headers={"content-type": "application/json"})
    assert huge.status_code == 413


def test_a_form_post_larger_than_the_body_limit_is_refused_and_nothing_is_stored(patient, client,
                                                                                 app):
    # the patient's pages are plain routes (patient.py): the app-wide limit still covers them
    location = patient.start()
    assert location == "/question/age"
    huge = client.post(location, data={"csrf_token": patient.csrf, "answer": "3" * 300_000},
                       follow_redirects=False)
    assert huge.status_code == 413
    assert rows(app)[0].answers == {}
    assert patient.post_answer("age", 34).status_code == 303


def test_api_questionnaire_is_the_fhir_questionnaire(client):
    from triage.fhir import questionnaire_resource

    body = client.get("/api/questionnaire").json()
    assert body["resourceType"] == "Questionnaire"
    assert body == json.loads(json.dumps(questionnaire_resource(QUESTIONNAIRE)))


def test_the_emergency_page_calls_the_number_the_server_was_given(tmp_path):
    # `triage serve --emergency-number 999`: the call button dials the UK's number, not 112
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'uk.sqlite3'}",
                              emergency_number="999"))
    with TestClient(app) as client:
        patient = Patient(client, QUESTIONNAIRE)
        patient.answer_all(_path_to("saddle_numbness", True), stop_at="saddle_numbness")
        assert patient.post_answer("saddle_numbness", True).headers["location"] == "/emergency"
        page = client.get("/emergency")
    assert page.status_code == 200
    assert re.findall(r'href="tel:([^"]*)"', page.text) == ["999"]
    assert "Call 999 now" in main_text(page) and "Call 112" not in main_text(page)


@pytest.mark.parametrize("given", [
    # NICE CKS "Back pain - low": fever with back pain suggests spinal infection (same day)
    {"fever": True},
    # ACP/APS 2007: a leg weakness that is getting worse needs prompt assessment (same day)
    {"leg_pain": "below_knee", "leg_weakness": "worsening", "both_legs": False},
])
def test_an_urgent_result_page_shows_the_reports_urgent_advice(patient, client, given):
    """The urgent result page was a server error (it read the stretch plan, which urgent has
    not): the person who must see a doctor today is shown what the report and `triage ask` say."""
    from triage.report import VERDICTS

    answers = dict(ALL_CLEAR, **given)
    assert assess(answers, RULEBOOK).urgency == "urgent"
    assert patient.answer_all(answers) == "/check-answers"
    assert patient.submit().headers["location"] == "/result"
    page = client.get("/result")
    assert page.status_code == 200
    text = main_text(page)
    assert VERDICTS["urgent"]["headline"] in text
    for step in VERDICTS["urgent"]["todo"]:
        assert step in html.unescape(page.text)
    assert "stretch plan" not in text.lower()
