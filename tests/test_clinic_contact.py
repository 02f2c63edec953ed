"""Issue 24, item 1: who the patient is, with consent. Contact details are off by default; when
a clinic turns them on, the patient is asked at the end, the details are stored encrypted with
the clinic's key (never in the clear, never in a log or the audit trail, never in an export that
does not say it includes them), and every submission has a reference the patient can read out."""
from __future__ import annotations

import csv
import html
import io
import logging
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from clinic_support import CASES, PASSWORD, RULEBOOK, csrf_of, sign_in
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.clinic.contact import (KEY_ENV, REFERENCE_ALPHABET, Keyring, nhs_number_valid,
                                       parse_form)
from triage.web.clinic.models import AuditEvent, Contact
from triage.web.db import PatientSession
from web_support import Patient

QUESTIONNAIRE = RULEBOOK.questionnaire
REFERENCE = re.compile(rf"\b([{REFERENCE_ALPHABET}]{{4}}-[{REFERENCE_ALPHABET}]{{4}})\b")
# the NHS's own published example of a valid number (NHS Data Dictionary, NHS number); a valid
# number with its last digit changed fails the modulus-11 check
NHS_VALID, NHS_WRONG_CHECK = "943 476 5919", "943 476 5918"
JANE = {"name": "Jane  Doe", "dob_day": "27", "dob_month": "3", "dob_year": "1980",
        "phone": "07700 900982", "email": "jane.doe@example.org",
        "patient_number": NHS_VALID, "consent": "yes"}
SECRETS = ("Jane", "07700", "900982", "jane.doe", "1980-03-27", "9434765919", "943 476 5919")


def text_of(page_html: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page_html).split()))


@pytest.fixture
def key(monkeypatch):
    value = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, value)
    return value


@pytest.fixture
def app(database_url, key):
    return create_app(Settings(database_url=database_url, contact_details=True))


@pytest.fixture
def db(app):
    with app.state.db() as session:
        yield session


def finish(client, answers) -> tuple[Patient, object]:
    patient = Patient(client, QUESTIONNAIRE)
    where = patient.answer_all(answers)
    if where == "/check-answers":
        return patient, patient.submit()
    return patient, client.get(where, follow_redirects=False)


def give(client, patient, **changes):
    return client.post("/contact", data={"csrf_token": patient.csrf, **JANE, **changes},
                       follow_redirects=False)


def test_contact_details_are_off_by_default(database_url):
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        _patient, response = finish(client, CASES["self_care"])
        assert response.headers["location"] == "/result"
        result = client.get("/result")
        assert "contact details" not in result.text
        assert REFERENCE.search(text_of(result.text))  # a reference all the same
        assert client.get("/contact", follow_redirects=False).headers["location"] == "/result"


def test_a_patient_gives_details_the_clinic_reads_them_and_they_are_stored_encrypted(
        app, db, caplog):
    caplog.set_level(logging.DEBUG)
    with TestClient(app) as client:
        patient, response = finish(client, CASES["urgent"])
        assert response.headers["location"] == "/contact"
        page = client.get("/contact")
        assert "Can the clinic contact you?" in page.text
        reference = REFERENCE.search(text_of(page.text)).group(1)
        stored = give(client, patient)
        assert stored.status_code == 303 and stored.headers["location"].startswith("/result")
        result = client.get(stored.headers["location"])
        assert reference in text_of(result.text)  # the same reference on the result page
        assert f"Reference: {reference}" in text_of(client.get("/report").text)
    row = db.scalars(sa.select(Contact)).one()
    raw = " ".join(str(v) for v in db.execute(sa.text("SELECT * FROM clinic_contacts")).one())
    for secret in SECRETS:
        assert secret not in raw  # encrypted at rest: no detail in the clear
    assert "Jane" not in caplog.text and "07700" not in caplog.text
    db.expire_all()
    for event in db.scalars(sa.select(AuditEvent)):
        assert not any(s in f"{event.detail} {event.actor}" for s in SECRETS)
    # the clinic's own key opens it; another key does not
    assert app.state.keyring.open(row.sealed).name == "Jane Doe"
    assert Keyring([Fernet.generate_key().decode()]).open(row.sealed) is None

    accounts.add_user(db, "alice", PASSWORD, actor="test")
    db.commit()
    with TestClient(app) as clinic:
        assert sign_in(clinic).status_code == 303
        queue = clinic.get("/clinic")
        assert reference in text_of(queue.text) and "Jane Doe" in text_of(queue.text)
        submission_id = db.scalars(sa.select(PatientSession.id)).one()
        page = text_of(clinic.get(f"/clinic/submissions/{submission_id}").text)
        assert "07700 900982" in page and "1980-03-27" in page and NHS_VALID in page
        # found by reference, by name (any case or spacing) and by patient number
        for search in (reference.lower().replace("-", ""), "jane doe", "9434765919"):
            found = text_of(clinic.get("/clinic", params={"q": search}).text)
            assert reference in found, search
        assert reference not in text_of(clinic.get("/clinic", params={"q": "John Doe"}).text)
    db.expire_all()
    for event in db.scalars(sa.select(AuditEvent)):  # the searches neither
        assert not any(s.lower() in (event.detail or "").lower()
                       for s in (*SECRETS, "jane doe", "john"))


def test_the_emergency_page_shows_the_reference_and_offers_the_details_after_the_advice(app):
    with TestClient(app) as client:
        patient, response = finish(client, CASES["emergency"])
        page = client.get("/emergency")
        text = text_of(page.text)
        assert REFERENCE.search(text)
        # the advice comes first: the call button before the offer to leave details
        assert text.index("What to do now") < text.index("give the clinic your contact details")
        contact = client.get("/contact")
        assert "Do what your emergency advice says first" in text_of(contact.text)
        assert give(client, patient).headers["location"].startswith("/emergency")


@pytest.mark.parametrize("changes, error", [
    ({"patient_number": NHS_WRONG_CHECK}, "This is not a valid NHS number"),
    ({"phone": "", "email": ""}, "Enter a phone number or an email address"),
    ({"consent": ""}, "Tick the box to agree"),
    ({"dob_month": "13"}, "Enter your date of birth as numbers"),
    ({"email": "jane at example"}, "Enter an email address"),
])
def test_a_mistake_in_the_details_is_shown_on_the_page_and_nothing_is_stored(
        app, db, changes, error):
    with TestClient(app) as client:
        patient, _ = finish(client, CASES["soon"])
        response = give(client, patient, **changes)
        assert response.status_code == 400
        assert error in text_of(response.text)
        assert "There is a problem" in response.text
        assert JANE["email"] in response.text or "email" in changes  # what was typed stays
    assert db.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_the_nhs_number_check_digit():
    # NHS Data Dictionary: modulus 11 over the first nine digits weighted 10..2
    assert nhs_number_valid("9434765919")
    assert not nhs_number_valid("9434765918")
    assert not nhs_number_valid("943476591")  # nine digits
    details, errors = parse_form({**JANE, "patient_number": "AB-123 45"})
    assert not errors and details.patient_number == "AB12345"  # a clinic's own number


def test_choosing_not_to_give_details_stores_nothing(app, db):
    with TestClient(app) as client:
        patient, _ = finish(client, CASES["self_care"])
        skipped = client.post("/contact", data={"csrf_token": patient.csrf, "skip": "1"},
                              follow_redirects=False)
        assert skipped.headers["location"] == "/result"
    assert db.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_exports_leave_the_details_out_unless_the_export_says_it_has_them(app, db):
    with TestClient(app) as client:
        patient, _ = finish(client, CASES["urgent"])
        give(client, patient)
    accounts.add_user(db, "alice", PASSWORD, actor="test")
    db.commit()
    submission_id = db.scalars(sa.select(PatientSession.id)).one()
    with TestClient(app) as clinic:
        sign_in(clinic)
        token = csrf_of(clinic, "/clinic")
        for fmt in ("jsonl", "csv", "fhir"):
            body = clinic.post("/clinic/export", data={"csrf_token": token, "format": fmt,
                                                       "id": submission_id}).text
            assert not any(s in body for s in SECRETS), fmt
        response = clinic.post("/clinic/export", data={"csrf_token": token,
                                                       "format": "contacts",
                                                       "id": submission_id})
        assert "contact-details" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows[0]["name"] == "Jane Doe" and rows[0]["phone"] == "07700 900982"
    db.expire_all()
    details = [e.detail for e in db.scalars(sa.select(AuditEvent)
                                            .where(AuditEvent.action == "export"))]
    assert details == ["jsonl", "csv", "fhir", "contacts"]


def test_a_rotated_key_still_opens_the_details_and_a_lost_key_says_so(
        database_url, key, monkeypatch):
    from triage.cli import main_group as cli

    app = create_app(Settings(database_url=database_url, contact_details=True))
    with TestClient(app) as client:
        patient, _ = finish(client, CASES["urgent"])
        give(client, patient)
    app.state.engine.dispose()
    new = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, f"{new},{key}")  # the new key first, the old one still there
    result = CliRunner().invoke(cli, ["serve", "--database", database_url,
                                      "--rotate-contact-key"])
    assert result.exit_code == 0, result.output
    assert "Encrypted 1 patient" in result.output
    monkeypatch.setenv(KEY_ENV, new)  # the old key removed: the details still open
    app = create_app(Settings(database_url=database_url, contact_details=True))
    with app.state.db() as db:
        sealed = db.scalars(sa.select(Contact.sealed)).one()
        assert app.state.keyring.open(sealed).name == "Jane Doe"
        assert Keyring([key]).open(sealed) is None  # no longer under the old key
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        db.commit()
    app.state.engine.dispose()
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())  # the key was lost
    app = create_app(Settings(database_url=database_url, contact_details=True))
    with TestClient(app) as clinic:
        sign_in(clinic)
        assert "cannot be read" in text_of(clinic.get("/clinic").text)


def test_serving_contact_details_without_a_key_is_one_clear_message(tmp_path, monkeypatch):
    from triage.cli import main_group as cli

    monkeypatch.delenv(KEY_ENV, raising=False)
    result = CliRunner().invoke(cli, ["serve", "--contact-details", "--database",
                                      f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code != 0
    assert KEY_ENV in result.output and "Fernet.generate_key" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv(KEY_ENV, "not a key")
    result = CliRunner().invoke(cli, ["serve", "--contact-details", "--database",
                                      f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code != 0 and "not a list of Fernet keys" in result.output


def test_the_contact_form_refuses_a_post_without_its_csrf_token(app, db):
    with TestClient(app) as client:
        finish(client, CASES["urgent"])
        for token in (None, "x" * 40):
            data = {**JANE, **({"csrf_token": token} if token else {})}
            assert client.post("/contact", data=data).status_code == 403
    assert db.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_the_contact_page_is_for_a_finished_session_only(app):
    with TestClient(app) as client:
        assert client.get("/contact", follow_redirects=False).headers["location"] == "/"
        patient = Patient(client, QUESTIONNAIRE)
        patient.start()
        response = client.get("/contact", follow_redirects=False)
        assert response.headers["location"].startswith("/question/")
