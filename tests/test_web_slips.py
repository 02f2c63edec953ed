"""The journey's slips of issue 20, each as a patient or a clinic would meet it."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from triage.engine import assess
from triage.rulebook import load_rulebook
from triage.web.app import Settings, create_app
from triage.web.db import PatientSession
from support import ALL_CLEAR, NO_WARNING_SIGNS
from web_support import FormReader, Patient

ROOT = Path(__file__).resolve().parent.parent
RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire


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
    page = response.text
    page = page[page.index("<main"):page.index("</main>")]
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def first_unsure_question() -> str:
    """The first question with an "I'm not sure" radio (a warning sign left unknown)."""
    return next(q.id for q in QUESTIONNAIRE.questions.values()
                if q.type in ("bool", "choice") and not q.required and q.default is None)


# --------------------------------------------------------------------------- an empty Continue

def test_an_empty_continue_on_a_warning_sign_is_an_error_never_a_silent_not_sure(
        patient, client, app):
    # contract: an unanswered warning sign is unknown, never "no"; and "not sure" is the
    # person's own choice, so Continue with no radio chosen asks again
    qid = first_unsure_question()
    location = patient.answer_all(dict(ALL_CLEAR), stop_at=qid)
    assert location == f"/question/{qid}"
    before = dict(rows(app)[0].answers)
    response = patient.post_answer(qid, None, raw="")
    assert response.status_code == 400
    assert "Select an answer" in main_text(response)
    assert rows(app)[0].answers == before  # nothing stored: not "not sure", not a default
    # choosing "I'm not sure" is an answer
    assert patient.post_answer(qid, None).status_code == 303
    assert qid in rows(app)[0].answers and rows(app)[0].answers[qid] is None


def test_an_empty_continue_on_sex_is_an_error_not_a_silent_prefer_not_to_say(
        patient, client, app):
    sex = QUESTIONNAIRE.questions["sex"]
    assert sex.default is not None  # what `triage assess` assumes when the answer is missing
    patient.answer_all({"age": 40}, stop_at="sex")
    response = patient.post_answer("sex", None, raw="")
    assert response.status_code == 400 and "Select an answer" in main_text(response)
    assert "sex" not in rows(app)[0].answers
    chosen = patient.post_answer("sex", sex.default)  # "Prefer not to say", chosen
    assert chosen.status_code == 303 and rows(app)[0].answers["sex"] == sex.default


# --------------------------------------------------------------------------- numbers

def test_number_questions_show_their_unit_and_duration_takes_days_or_months(
        patient, client, app):
    page = client.get(patient.start())
    assert "years" in main_text(page)  # How old are you: 0 to 120, in years
    patient.post_answer("age", 40)
    patient.post_answer("sex", "female")
    page = client.get("/question/duration_weeks")
    text = main_text(page)
    assert "weeks" in text and "4 months" in text  # the hint says how to give other units
    # 3 days is three sevenths of a week (below 6 weeks: acute, contract section 2)
    assert patient.post_answer("duration_weeks", None, raw="3 days").status_code == 303
    assert rows(app)[0].answers["duration_weeks"] == pytest.approx(3 / 7, abs=0.01)
    client.get("/question/duration_weeks")
    patient.post_answer("duration_weeks", None, raw="4 months", change=True)
    # 4 months is more than 12 weeks: chronic (contract section 2)
    assert rows(app)[0].answers["duration_weeks"] > 12
    wrong = patient.post_answer("duration_weeks", None, raw="a fortnight", change=True)
    assert wrong.status_code == 400
    assert "number of weeks, for example 3" in main_text(wrong)


def test_the_terminal_reads_a_duration_in_days_or_months_too(tmp_path):
    from triage.ask import AnswerRejected, Session

    session = Session(RULEBOOK, tmp_path / "session.json")
    q = QUESTIONNAIRE.questions["duration_weeks"]
    assert session.parse(q, "14 days") == 2
    assert session.parse(q, "1 year") == 52
    assert session.parse(q, "6") == 6
    with pytest.raises(AnswerRejected, match="number of weeks"):
        session.parse(q, "since Easter")


# --------------------------------------------------------------------------- the emergency page

def stop_at_emergency(patient, given: dict) -> None:
    """Answer reassuringly up to the warning sign(s) in `given`, which make it an emergency."""
    answers = {**ALL_CLEAR, "age": 30, "sex": "female", **given}
    assert patient.answer_all(answers) == "/emergency"


def tel_links(page) -> list[str]:
    return re.findall(r'href="tel:([^"]*)"', page.text)


def test_the_pregnancy_emergency_page_leads_with_the_maternity_unit_and_one_number(tmp_path):
    # NHS (vaginal bleeding in pregnancy) and RF-PREGNANCY-01: phone the maternity unit now; the
    # emergency number when the bleeding is heavy, she feels faint or cannot reach them. The big
    # "Call 112 now" button used to come first, contradicting the first step.
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'uk.sqlite3'}",
                              emergency_number="999"))
    with TestClient(app) as client:
        patient = Patient(client, QUESTIONNAIRE)
        stop_at_emergency(patient, {"pregnant": True, "pregnancy_symptoms": True})
        page = client.get("/emergency")
    assert page.status_code == 200
    text = main_text(page)
    steps = re.findall(r"<li>(.*?)</li>", page.text[page.text.index("What to do now"):], re.S)
    assert "maternity unit" in steps[0]  # the first step
    first_step = text.index("maternity unit")
    # no call button before the first step says what to call first
    assert "Call 999 now" not in text
    button = text.index("Call the emergency number, 999")
    assert button > first_step
    # one number, the clinic's, in the words and in every call link
    assert set(tel_links(page)) == {"999"}
    assert "call the emergency number (999)" in text
    assert "112" not in text and "911" not in text


def test_a_call_first_emergency_says_the_clinics_number_in_the_button_and_the_words(tmp_path):
    # cauda equina (NICE CKS sciatica): call the emergency number now; the button and the steps
    # name the same number, the one `triage serve --emergency-number` was given
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'eu.sqlite3'}"))
    with TestClient(app) as client:
        stop_at_emergency(Patient(client, QUESTIONNAIRE), {"saddle_numbness": True})
        page = client.get("/emergency")
    text = main_text(page)
    assert text.index("Call 112 now") < text.index("What to do now")
    assert "(112)" in text and "999" not in text
    assert set(tel_links(page)) == {"112"}


def test_the_emergency_page_links_to_the_report_and_the_saved_answers(patient, client):
    stop_at_emergency(patient, {"saddle_numbness": True})
    page = client.get("/emergency")
    assert 'href="/report"' in page.text and 'href="/answers.json"' in page.text
    report = client.get("/report")
    assert report.status_code == 200  # the questions stopped before the injury question
    assert "saddle" in report.text.lower() or "bottom" in report.text.lower()
    answers = client.get("/answers.json")
    assert answers.status_code == 200 and answers.json()["saddle_numbness"] is True


RULE_ID = re.compile(r"\b[A-Z]{2,3}-[A-Z0-9]+-\d\d\b")


def without_why_we_ask(page_text: str) -> str:
    """The page without the "Why we ask this" disclosure (for those who open it)."""
    return re.sub(r"<details.*?</details>", "", page_text, flags=re.S)


@pytest.mark.deep  # every patient page of many journeys: CI's run, not the quick loop
def test_patient_pages_show_no_developer_words(patient, client):
    pages = [client.get("/")]
    location = patient.start()
    pages.append(client.get(location))
    patient.answer_all(dict(ALL_CLEAR))
    pages.append(client.get("/check-answers"))
    patient.submit()
    pages.append(client.get("/result"))
    client.cookies.clear()
    other = Patient(client, QUESTIONNAIRE)
    stop_at_emergency(other, {"saddle_numbness": True})
    pages.append(client.get("/emergency"))
    for page in pages:
        text = html.unescape(without_why_we_ask(page.text))
        visible = re.sub(r"<[^>]+>", " ", text[text.index("<main"):text.index("</main>")])
        assert "triage assess" not in visible and "triage ask" not in visible, page.url
        assert not RULE_ID.search(visible), (page.url, RULE_ID.search(visible))
        assert "JSON" not in visible and "null" not in visible.split(), page.url
