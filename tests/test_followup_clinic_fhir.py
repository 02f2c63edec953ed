"""The clinic downloads a submission's follow-up as FHIR (issue 25, item 6): the first visit and
every completed check-in as one R4 Bundle (triage.fhir.follow_up_bundle), from the submission's
page, behind the clinic's sign-in, audited without answers, and without contact details."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from test_followup_web import (FIRST_VISIT, IMPROVED, UNCHANGED, Person, add_staff,
                               only_submission, sign_in)
from triage.fhir import CANONICAL_URL, CHECK_IN_URL
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.clinic.models import AuditEvent

LINK = "Download the follow-up as FHIR (JSON)"


@pytest.fixture
def sqlite_app(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}"))
    add_staff(app)
    return app


def _audited(app, submission_id: str) -> list[AuditEvent]:
    with app.state.db() as db:
        return db.scalars(select(AuditEvent).where(
            AuditEvent.action == "follow_up_fhir_exported",
            AuditEvent.submission_id == submission_id).order_by(AuditEvent.id)).all()


def test_the_clinic_downloads_the_first_visit_and_each_check_in_as_one_valid_bundle(sqlite_app):
    Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle
    QResponse = pytest.importorskip("fhir.resources.R4B.questionnaireresponse")
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        person.check_in(UNCHANGED)
        client.cookies.clear()
        person.check_in(IMPROVED)
        submission = only_submission(sqlite_app)
        url = f"/clinic/submissions/{submission.id}"
        clinic = TestClient(sqlite_app)
        sign_in(clinic)
        page = clinic.get(url)
        assert f'href="{url}/follow-up.fhir.json"' in page.text and LINK in page.text

        download = clinic.get(url + "/follow-up.fhir.json")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("application/fhir+json")
        assert download.headers["content-disposition"] == (
            f'attachment; filename="triage-follow-up-{submission.reference}.fhir.json"')
        bundle = download.json()
        Bundle.model_validate(bundle)
        resources = [e["resource"] for e in bundle["entry"]]
        (plan,) = [r for r in resources if r["resourceType"] == "CarePlan"]
        (patient,) = [r for r in resources if r["resourceType"] == "Patient"]
        responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
        # one per visit: the first visit, then the two check-ins, each based on the one plan
        assert [r["questionnaire"].split("|")[0] for r in responses] == \
            [CANONICAL_URL, CHECK_IN_URL, CHECK_IN_URL]
        for response in responses:
            QResponse.QuestionnaireResponse.model_validate(response)
            assert [b["reference"] for b in response["basedOn"]] == [f"CarePlan/{plan['id']}"]
            assert response["subject"]["reference"] == f"Patient/{patient['id']}"
        assert responses[0]["authored"] == submission.submitted_at.date().isoformat()
        # the check-ins' own answers: pain 6 then 2 (the first visit's was 6 too)
        pains = [next(i["answer"][0]["valueInteger"] for g in r["item"] for i in g["item"]
                      if i["linkId"] == "pain_score") for r in responses]
        assert pains == [FIRST_VISIT["pain_score"], 6, 2]
        # no contact details, and not the submission's id (its address in the clinic)
        assert set(patient) == {"resourceType", "id", "active"}
        assert submission.id not in download.text

        # a second download names the same plan (an importing system updates, not duplicates)
        again = clinic.get(url + "/follow-up.fhir.json").json()
        assert [e["resource"].get("id") for e in again["entry"]] == \
            [r.get("id") for r in resources]
        events = _audited(sqlite_app, submission.id)
        assert [(e.actor, e.detail) for e in events] == [("alice", None), ("alice", None)]


def test_the_download_is_behind_the_clinic_sign_in(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        person.check_in(IMPROVED)
        submission = only_submission(sqlite_app)
        url = f"/clinic/submissions/{submission.id}/follow-up.fhir.json"
        # signed out (the patient's follow-up cookie opens nothing here): to the sign-in page
        refused = client.get(url, follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/clinic/sign-in?next=")
        assert "follow-up.fhir.json" in refused.headers["location"]
        # both roles may download it, as they may open the report
        for name in ("alice", "root-admin"):
            clinic = TestClient(sqlite_app)
            sign_in(clinic, name)
            assert clinic.get(url).status_code == 200
        # a disabled account is sent to sign in at once
        clinic = TestClient(sqlite_app)
        sign_in(clinic, "alice")
        with sqlite_app.state.db() as db:
            accounts.disable_user(db, "alice", actor="test")
            db.commit()
        refused = clinic.get(url, follow_redirects=False)
        assert refused.status_code == 303 and "/clinic/sign-in" in refused.headers["location"]
        assert [e.actor for e in _audited(sqlite_app, submission.id)] == ["alice", "root-admin"]


def test_a_submission_without_a_check_in_has_no_download(sqlite_app):
    with TestClient(sqlite_app) as client:
        person = Person(client)
        person.get_code(person.first_visit())
        client.cookies.clear()
        person.start_check_in()  # begun, never completed: not a check-in yet
        submission = only_submission(sqlite_app)
        url = f"/clinic/submissions/{submission.id}"
        clinic = TestClient(sqlite_app)
        sign_in(clinic)
        page = clinic.get(url)
        assert page.status_code == 200 and LINK not in page.text
        missing = clinic.get(url + "/follow-up.fhir.json")
        assert missing.status_code == 404 and "application/fhir+json" not in \
            missing.headers["content-type"]
        assert clinic.get("/clinic/submissions/no-such-id/follow-up.fhir.json").status_code \
            == 404
        assert _audited(sqlite_app, submission.id) == []
