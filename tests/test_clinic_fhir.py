"""Issue 24, item 6: each submission exports as a FHIR R4 Bundle holding its
QuestionnaireResponse, a RiskAssessment carrying the urgency and red flags, and, only in the
export that says so, a Patient from the consented contact details; checked with fhir.resources
(its R4B models: R4B changed nothing in these resources)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from clinic_support import CASES, PASSWORD, RULEBOOK, add_submission, csrf_of, sign_in
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.clinic.contact import KEY_ENV, ContactDetails
from triage.web.clinic.models import AuditEvent, Contact

Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle


@pytest.fixture
def app(database_url, monkeypatch):
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    return create_app(Settings(database_url=database_url, contact_details=True))


@pytest.fixture
def setup(app):
    with app.state.db() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        # saddle numbness: cauda equina, an emergency (NICE CKS back pain, red flags)
        emergency = add_submission(db, CASES["emergency"])
        emergency.reference = "KXQR-7CMA"
        details = ContactDetails(name="Jane Doe", date_of_birth="1980-03-27",
                                 phone="07700 900982", patient_number="943 476 5919")
        db.add(Contact(submission_id=emergency.id, sealed=app.state.keyring.seal(details),
                       name_digest=None, number_digest=None))
        # worsening leg weakness: urgent (NICE NG59, progressive neurological deficit)
        urgent = add_submission(db, CASES["urgent"])
        db.commit()
        return {"emergency": emergency, "urgent": urgent}


def export(app, ids, fmt):
    with TestClient(app) as client:
        sign_in(client)
        response = client.post("/clinic/export", data={"csrf_token": csrf_of(client, "/clinic"),
                                                       "format": fmt, "id": ids})
    assert response.status_code == 200, response.text[:300]
    return response


def by_type(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_bundle_carries_the_urgency_and_red_flags_and_no_contact_details(app, setup):
    rows = setup
    response = export(app, [rows["emergency"].id, rows["urgent"].id], "fhir_risk")
    bundle = json.loads(response.text)
    Bundle.model_validate(bundle)  # a valid FHIR R4 Bundle
    assert by_type(bundle, "Patient") == []
    assert "Jane" not in response.text and "07700" not in response.text
    risks = {r["basis"][0]["reference"]: r for r in by_type(bundle, "RiskAssessment")}
    responses = {e["fullUrl"]: e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "QuestionnaireResponse"}
    assert set(risks) == set(responses)  # each result points at its own answers
    for url, risk in risks.items():
        submission = next(s for s in rows.values() if s.id == responses[url]["identifier"]["value"])
        coding = risk["prediction"][0]["qualitativeRisk"]["coding"][0]
        assert coding["code"] == submission.urgency
        flags = [c["coding"][0]["code"] for c in risk.get("reasonCode", [])]
        assert flags == submission.assessment["red_flags"]
    emergency_risk = next(r for r in risks.values()
                          if r["prediction"][0]["qualitativeRisk"]["coding"][0]["code"]
                          == "emergency")
    assert emergency_risk["subject"]["identifier"]["value"] == "KXQR-7CMA"
    assert all(c["coding"][0]["display"] for c in emergency_risk["reasonCode"])


def test_the_patient_is_in_the_export_that_says_it_includes_contact_details(app, setup):
    rows = setup
    response = export(app, [rows["emergency"].id, rows["urgent"].id], "fhir_patients")
    assert "contact-details" in response.headers["content-disposition"]
    bundle = json.loads(response.text)
    Bundle.model_validate(bundle)
    patients = by_type(bundle, "Patient")
    assert len(patients) == 1  # only the one who gave details
    patient = patients[0]
    assert patient["name"][0]["text"] == "Jane Doe" and patient["birthDate"] == "1980-03-27"
    assert {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"} in \
        patient["identifier"]
    patient_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is patient
                       or e["resource"] == patient)
    for kind in ("QuestionnaireResponse", "RiskAssessment"):
        subjects = [r["subject"].get("reference") for r in by_type(bundle, kind)]
        assert subjects.count(patient_url) == 1, kind
    with app.state.db() as db:
        details = [e.detail for e in db.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "export"))]
    assert details == ["fhir_patients", "fhir_patients"]


def test_without_contact_details_on_the_patient_export_is_refused(database_url, monkeypatch):
    app = create_app(Settings(database_url=database_url))
    with app.state.db() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="test")
        s = add_submission(db, CASES["soon"])
        db.commit()
    with TestClient(app) as client:
        sign_in(client)
        response = client.post("/clinic/export", data={"csrf_token": csrf_of(client, "/clinic"),
                                                       "format": "fhir_patients", "id": s.id})
        assert response.status_code == 400
