"""Issue 20 where the patient's journey meets the clinic: a corrected emergency, an emergency the
queue names, questions never asked at an emergency, a session continued on another device, and
the limit on wrong resume codes held in the database."""
from __future__ import annotations

import html
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from clinic_support import PASSWORD, RULEBOOK, add_submission, sign_in
from support import ALL_CLEAR
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.clinic.models import AuditEvent
from web_support import Patient, Server

QUESTIONNAIRE = RULEBOOK.questionnaire


@pytest.fixture
def app(database_url):
    # SQLite and PostgreSQL (tests/conftest.py): the queue's query and the migration on both
    return create_app(Settings(database_url=database_url))


@pytest.fixture
def db(app):
    with app.state.db() as session:
        yield session


@pytest.fixture
def clinic(app, db):
    accounts.add_user(db, "alice", PASSWORD, actor="test")
    db.commit()
    with TestClient(app) as client:
        assert sign_in(client).status_code == 303
        yield client


def text_of(page_html: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page_html).split()))


def trail(db, action):
    db.expire_all()
    return list(db.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# --------------------------------------------------------------------------- a corrected emergency

def test_an_emergency_the_patient_takes_back_stays_visible_to_the_clinic_and_is_audited(
        app, db, clinic):
    # cauda equina (NICE CKS sciatica): saddle numbness is an emergency; the patient then says
    # "I answered a question by mistake" and answers no
    with TestClient(app) as browser:
        patient = Patient(browser, QUESTIONNAIRE)
        assert patient.answer_all({**ALL_CLEAR, "saddle_numbness": True}) == "/emergency"
        assert patient.post_answer("saddle_numbness", False).headers["location"] != "/emergency"
        queue = clinic.get("/clinic").text
        assert "Emergency shown, then corrected by the patient" in text_of(queue)
        assert "not finished yet" in text_of(queue)
        [event] = trail(db, "emergency_corrected")
        assert event.actor == "patient" and event.submission_id
        page = clinic.get(f"/clinic/submissions/{event.submission_id}")
        assert page.status_code == 200
        assert "Emergency shown, then corrected by the patient" in text_of(page.text)
        # the patient finishes: the final submission keeps the mark
        assert patient.answer_all({**ALL_CLEAR, "saddle_numbness": False}) == "/check-answers"
        assert patient.submit().headers["location"] == "/result"
    queue = text_of(clinic.get("/clinic").text)
    assert "Emergency shown, then corrected by the patient" in queue
    assert "not finished yet" not in queue
    assert len(re.findall(r'data-urgency="', clinic.get("/clinic").text)) == 1  # one session


# --------------------------------------------------------------------------- the queue

EMERGENCIES = {
    # NICE CG95 / ESC: chest pain with back pain may be the heart or the aorta
    "RF-CHEST-01": {"chest_pain": True},
    # NICE NG240 (meningitis): severe headache with a stiff neck or a non-blanching rash
    "RF-MENINGITIS-01": {"headache_stiff_neck": True},
    # NHS (bleeding in pregnancy): back pain with bleeding or tightenings in pregnancy
    "RF-PREGNANCY-01": {"sex": "female", "pregnant": True, "pregnancy_symptoms": True},
    # NICE CKS (sciatica): saddle anaesthesia is cauda equina until shown otherwise
    "RF-CES-01": {"saddle_numbness": True},
}


def test_the_queue_tells_emergencies_apart_and_a_cauda_equina_case_is_not_non_specific(
        db, clinic):
    for rule_id, given in EMERGENCIES.items():
        add_submission(db, {**ALL_CLEAR, **given})
    db.commit()
    page = clinic.get("/clinic").text
    rows = re.findall(r'<tr class="queue__row.*?</tr>', page, re.S)
    assert len(rows) == len(EMERGENCIES)
    for rule_id in EMERGENCIES:
        named = [row for row in rows if "Emergency: " + RULEBOOK.rule(rule_id).title in
                 html.unescape(row)]
        assert len(named) == 1, rule_id
    ces = next(row for row in rows if RULEBOOK.rule("RF-CES-01").title in html.unescape(row))
    assert RULEBOOK.label("cause", "nonspecific") not in html.unescape(ces)


# --------------------------------------------------------------------------- not asked

def test_questions_never_asked_at_an_emergency_are_not_asked_not_unanswered(app, db, clinic):
    # the questions stop at the saddle-numbness answer (contract section 1): the warning signs
    # after it were never put to the patient, so they are not "unanswered"
    with TestClient(app) as browser:
        patient = Patient(browser, QUESTIONNAIRE)
        assert patient.answer_all({**ALL_CLEAR, "saddle_numbness": True}) == "/emergency"
        report = text_of(browser.get("/report").text)
    assert "Not asked (the questions stopped at the emergency)" in report
    fever = QUESTIONNAIRE.questions["fever"].label  # a warning sign after saddle numbness
    assert "not answered" not in report.lower().split("not asked")[0].split(fever)[0][-200:]
    assert "Not answered, so unknown" not in report
    assert "left unanswered" not in report  # no reason claims questions were left unanswered
    queue = text_of(clinic.get("/clinic").text)
    assert "unanswered" not in queue and "not asked" in queue
    submission_id = re.search(r'/clinic/submissions/([\w-]+)', clinic.get("/clinic").text)[1]
    page = text_of(clinic.get(f"/clinic/submissions/{submission_id}").text)
    assert "Not asked (the questions stopped at the emergency)" in page
    assert "Warning signs not answered" not in page and "left unanswered" not in page


def test_a_warning_sign_left_not_sure_before_the_emergency_is_still_unanswered(app):
    # unknown is not "no" (contract section 1): a question asked and answered "I'm not sure"
    # stays unanswered, even when the questions later stop at an emergency
    with TestClient(app) as browser:
        patient = Patient(browser, QUESTIONNAIRE)
        answers = {**ALL_CLEAR, "saddle_numbness": True}
        order = [q for s in QUESTIONNAIRE.sections for q in s.questions]
        before = [q for q in order[:order.index("saddle_numbness")]
                  if QUESTIONNAIRE.questions[q].red_flag and not QUESTIONNAIRE.questions[q].required
                  and QUESTIONNAIRE.questions[q].default is None
                  and not QUESTIONNAIRE.is_skipped(q, answers)]
        unsure = before[0]
        answers[unsure] = None
        assert patient.answer_all(answers) == "/emergency"
        report = text_of(browser.get("/report").text)
    label = QUESTIONNAIRE.questions[unsure].label
    assert "Not answered, so unknown (not no)" in report
    unknown = report.split("Not answered, so unknown (not no):")[1][:200]
    assert label.lower() in unknown.lower()


# --------------------------------------------------------------------------- another device

def test_resuming_on_another_device_tells_the_first_that_it_continued_there(app):
    with TestClient(app) as first, TestClient(app) as second:
        patient = Patient(first, QUESTIONNAIRE)
        patient.answer_all(dict(ALL_CLEAR), stop_at="fever")
        saved = first.post("/save", data={"csrf_token": patient.csrf})
        code = re.search(r'id="resume-code">([0-9A-Z]{5}-[0-9A-Z]{5})<', saved.text)[1]
        second.get("/resume")
        moved = second.post("/resume", data={"csrf_token": second.cookies.get("triage_csrf"),
                                             "code": code}, follow_redirects=False)
        assert moved.status_code == 303
        page = first.get("/question/fever")
        words = text_of(page.text)
        assert "continued on another device" in words
        assert 'href="/resume"' in page.text
        assert "deleted" not in words.replace("not deleted", "")
        assert "no longer saved" not in words


# --------------------------------------------------------------------------- wrong resume codes

def _resume_attempt(url: str, code: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url + "/resume", timeout=10) as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())[1]
    body = urllib.parse.urlencode({"csrf_token": token, "code": code}).encode()
    try:
        with opener.open(url + "/resume", data=body, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_limit_on_wrong_resume_codes_holds_across_server_processes(tmp_path):
    from triage.web.patient import RESUME_LIMIT

    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    with Server(database) as first:
        statuses = [_resume_attempt(first.url, "AAAAA-AAAAA") for _ in range(RESUME_LIMIT)]
    assert statuses == [400] * RESUME_LIMIT
    # another process on the same database (a restart, or a second worker): still limited
    with Server(database) as second:
        assert _resume_attempt(second.url, "BBBBB-BBBBB") == 429


# --------------------------------------------------------------------------- exports

@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_of_an_emergency_that_stopped_early_is_read_by_batch_and_rules_diff(
        app, db, clinic, tmp_path, fmt):
    # a sudden, very severe headache (subarachnoid haemorrhage, NICE NG240 differential): the questions stop there, before the required
    # injury question; the clinic's export must still be readable by the tools it is made for
    import subprocess
    import sys

    from clinic_support import csrf_of

    with TestClient(app) as browser:
        patient = Patient(browser, QUESTIONNAIRE)
        answers = {**ALL_CLEAR, "severe_headache": True}
        assert patient.answer_all(answers) == "/emergency"
        assert "trauma" not in patient.asked  # stopped before the required question
    # and one finished submission beside it, exported in the same file
    add_submission(db, dict(ALL_CLEAR))
    db.commit()
    exported = clinic.post("/clinic/export", data={"csrf_token": csrf_of(clinic, "/clinic"),
                                                   "format": fmt, "scope": "all"})
    assert exported.status_code == 200
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(exported.content)
    out = tmp_path / "out.jsonl"
    batch = subprocess.run([sys.executable, "-m", "triage", "batch", str(path), "-o", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert batch.returncode == 0, batch.stderr + out.read_text()
    import json

    urgencies = sorted(json.loads(line)["urgency"] for line in out.read_text().splitlines())
    assert urgencies == ["emergency", "self_care"]
    diff = subprocess.run([sys.executable, "-m", "triage", "rules", "diff", "rules", "rules",
                           "--cases", str(path)], capture_output=True, text=True, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "could not be assessed" not in diff.stdout + diff.stderr
    assert "on 2 cases" in diff.stdout
