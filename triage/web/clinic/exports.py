"""A clinic's submissions, downloaded in the formats the rest of the tool reads.

* ``jsonl``: the batch format, one answers object a line with ``case_id`` = the submission id, so
  that ``triage batch export.jsonl`` and ``triage rules diff OLD NEW --cases export.jsonl`` run on
  a clinic's real history;
* ``csv``: the batch CSV, ``case_id`` then one column per question id in the questionnaire's order;
* ``fhir``: a FHIR R4 Bundle (type ``collection``) of QuestionnaireResponses, one per submission,
  ``authored`` = when it was submitted, identified by the submission id.

* ``contacts`` (only when the clinic keeps contact details): a CSV of each submission's
  reference, urgency, status and the patient's contact details, decrypted. The other formats
  never carry contact details; this one says so on its button and in its file name.

The answers are exported exactly as stored (the answers format); the assessment is not, since
``triage batch`` gives it again from the answers.
"""
from __future__ import annotations

import csv
import io
import json

from ...batch import STOPPED
from ...fhir import collection_bundle, response_resource
from .queue import Submission

FORMATS = {
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl", "batch JSON lines"),
    "csv": ("text/csv; charset=utf-8", "csv", "batch CSV"),
    "fhir": ("application/fhir+json; charset=utf-8", "fhir.json",
             "FHIR QuestionnaireResponse bundle"),
}


def export(submissions: list[Submission], fmt: str, questionnaire) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps({"case_id": s.id,
                                   **({STOPPED: True} if _stopped(s, questionnaire) else {}),
                                   **_answers(s, questionnaire)},
                                  ensure_ascii=False) + "\n" for s in submissions)
    if fmt == "csv":
        buffer = io.StringIO()
        columns = list(questionnaire.questions)
        writer = csv.writer(buffer, lineterminator="\n")
        stops = any(_stopped(s, questionnaire) for s in submissions)
        writer.writerow(["case_id", *([STOPPED] if stops else []), *columns])
        for s in submissions:
            answers = _answers(s, questionnaire)
            writer.writerow([_neutral(s.id),
                             *([("yes" if _stopped(s, questionnaire) else "")] if stops else []),
                             *(_cell(answers.get(qid), questionnaire.questions[qid])
                               for qid in columns)])
        return buffer.getvalue()
    if fmt == "fhir":
        return json.dumps(collection_bundle([
            response_resource(_answers(s, questionnaire), questionnaire, identifier=s.id,
                              authored=s.submitted_at.isoformat())
            for s in submissions]), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown export format {fmt!r}")


def _stopped(submission: Submission, questionnaire) -> bool:
    """A session whose questions stopped at an emergency before a required question: exported
    with the batch reader's `stopped_at_emergency` mark, so `triage batch` and `rules diff` assess
    it as the questionnaire did instead of refusing the missing answer."""
    return submission.urgency == "emergency" and any(
        submission.answers.get(qid) is None for qid in questionnaire.required)


def _answers(submission: Submission, questionnaire) -> dict:
    """The stored answers in the questionnaire's order, unanswered ones left out."""
    return {qid: submission.answers[qid] for qid in questionnaire.questions
            if submission.answers.get(qid) is not None}


# what makes a spreadsheet read a cell as a formula (OWASP, CSV injection): these first characters
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutral(text: str) -> str:
    """A cell a spreadsheet shows as the text it is: a leading formula character is quoted
    with an apostrophe (which spreadsheets hide), and every line break is a plain LF, which the
    CSV writer then quotes. A bare CR, unquoted, started a new spreadsheet row whose first cell
    could be a live formula (issue 22), and split the row for `triage batch` too."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


def _cell(value, question) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)  # a number is read as a number, never as a formula
    # a patient's note (or any text) must not become a formula on a clinic computer; notes are
    # only ever printed, so the apostrophe and the line breaks change no assessment
    return _neutral(str(value))


CONTACTS = "contacts"
CONTACTS_FORMAT = ("text/csv; charset=utf-8", "contact-details.csv",
                   "contact details (CSV: names, dates of birth, phones, emails)")
CONTACT_COLUMNS = ("reference", "urgency", "submitted", "status", "name", "date_of_birth",
                   "phone", "email", "patient_number")


def contacts_csv(submissions: list[Submission], keyring) -> str:
    """Who to contact: one row a submission (empty details where none were given, "cannot be
    read" where no key of the clinic's opens them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CONTACT_COLUMNS)
    for s in submissions:
        details = keyring.open(s.sealed_contact) if s.sealed_contact else None
        if s.sealed_contact and details is None:
            person = ["(cannot be read with the current key)", "", "", "", ""]
        elif details is None:
            person = ["", "", "", "", ""]
        else:
            person = [details.name, details.date_of_birth, details.phone, details.email,
                      details.patient_number]
        writer.writerow([_neutral(s.reference or ""), s.urgency, s.submitted_at.isoformat(),
                         s.status, *(_neutral(p) for p in person)])
    return buffer.getvalue()


# --------------------------------------------------------------------------- FHIR, with the result

FHIR_RISK = "fhir_risk"
FHIR_RISK_FORMAT = ("application/fhir+json; charset=utf-8", "fhir-risk.json",
                    "FHIR bundle with the urgency and red flags (RiskAssessment)")
FHIR_PATIENTS = "fhir_patients"
FHIR_PATIENTS_FORMAT = ("application/fhir+json; charset=utf-8", "fhir-with-contact-details.json",
                        "FHIR bundle with the urgency, red flags and contact details (Patient)")
URGENCY_SYSTEM = "urn:triage:urgency"
RED_FLAG_SYSTEM = "urn:triage:red-flag"
REFERENCE_SYSTEM = "urn:triage:reference"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CLINIC_NUMBER_SYSTEM = "urn:triage:clinic-patient-number"


def fhir_bundle(submissions: list[Submission], questionnaire, rulebook, keyring=None) -> dict:
    """One collection Bundle: per submission, its QuestionnaireResponse and a RiskAssessment
    (status final; the prediction's qualitativeRisk is the urgency, reasonCode the red flags,
    basis the QuestionnaireResponse; a RiskAssessment, because the result is an estimate of how
    soon the patient needs to be seen, not a diagnosis, which a Condition would claim). With a
    keyring, a Patient from the consented contact details is the subject of both; without, the
    subject is the submission's reference, and no contact detail is in the file."""
    import uuid

    entries = []
    for s in submissions:
        def full_url() -> str:
            return f"urn:uuid:{uuid.uuid4()}"

        subject: dict = {"identifier": {"system": REFERENCE_SYSTEM, "value": s.reference or s.id},
                         "display": f"Patient of submission {s.reference or s.id}"}
        details = keyring.open(s.sealed_contact) if keyring and s.sealed_contact else None
        if details is not None:
            patient_url = full_url()
            patient = {"resourceType": "Patient", "name": [{"text": details.name}],
                       "birthDate": details.date_of_birth,
                       "identifier": [{"system": REFERENCE_SYSTEM, "value": s.reference}]}
            if details.patient_number:
                compact = details.patient_number.replace(" ", "")
                patient["identifier"].append({
                    "system": NHS_NUMBER_SYSTEM if compact.isdigit() and len(compact) == 10
                    else CLINIC_NUMBER_SYSTEM, "value": compact})
            telecom = []
            if details.phone:
                telecom.append({"system": "phone", "value": details.phone})
            if details.email:
                telecom.append({"system": "email", "value": details.email})
            if telecom:
                patient["telecom"] = telecom
            entries.append({"fullUrl": patient_url, "resource": patient})
            subject = {"reference": patient_url}
        response = response_resource(_answers(s, questionnaire), questionnaire,
                                     identifier=s.id, authored=s.submitted_at.isoformat())
        response["subject"] = subject
        response_url = full_url()
        entries.append({"fullUrl": response_url, "resource": response})
        flags = [{"coding": [{"system": RED_FLAG_SYSTEM, "code": flag,
                              "display": rulebook.label("red_flag", flag)}]}
                 for flag in s.assessment.get("red_flags", [])]
        risk = {"resourceType": "RiskAssessment", "status": "final", "subject": subject,
                "occurrenceDateTime": s.submitted_at.isoformat(),
                "basis": [{"reference": response_url}],
                "prediction": [{"outcome": {"text": "how soon the patient needs to be seen"},
                                "qualitativeRisk": {"coding": [{
                                    "system": URGENCY_SYSTEM, "code": s.urgency,
                                    "display": rulebook.label("urgency", s.urgency)}],
                                    "text": s.urgency}}]}
        if flags:
            risk["reasonCode"] = flags
        entries.append({"fullUrl": full_url(), "resource": risk})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
