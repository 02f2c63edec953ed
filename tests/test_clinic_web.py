"""The clinic's pages, through the framework's test client, on SQLite and on PostgreSQL: signing in
and out, the queue's order and filters, a submission and its report, reviews, exports, the audit
trail, and every refusal (signed out, disabled, a patient's token, CSRF, guessed ids)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from clinic_support import CASES, PASSWORD, RULEBOOK, add_submission, csrf_of, one_per_urgency, \
    sign_in
from triage.web.app import Settings, create_app
from triage.web.clinic import accounts
from triage.web.clinic.models import AuditEvent, ClinicSession, Review
from triage.web.clinic.routes import COOKIE


@pytest.fixture
def app(database_url):
    return create_app(Settings(database_url=database_url))


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def db(app):
    with app.state.db() as session:
        yield session


@pytest.fixture
def staff(db):
    accounts.add_user(db, "alice", PASSWORD, actor="test")
    accounts.add_user(db, "root-admin", PASSWORD, role="admin", actor="test")
    db.commit()


@pytest.fixture
def signed_in(client, staff):
    response = sign_in(client)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def ids(db):
    return one_per_urgency(db)


def trail(db, action=None):
    db.expire_all()
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.scalars(query))


def queue_urgencies(html: str) -> list[str]:
    import re

    return re.findall(r'data-urgency="([a-z_]+)"', html)


# --------------------------------------------------------------------------- signing in

def test_signing_in_opens_the_queue_and_is_audited(client, staff, db):
    response = sign_in(client, next="/clinic?reviewed=no")
    assert response.status_code == 303
    assert response.headers["location"] == "/clinic?reviewed=no"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "Path=/clinic" in cookie and "SameSite=strict" in cookie
    page = client.get("/clinic")
    assert page.status_code == 200 and "Signed in as" in page.text and "alice" in page.text
    sign_ins = trail(db, "sign_in")
    assert [(e.actor, e.address) for e in sign_ins] == [("alice", "testclient")]


def test_a_wrong_password_is_refused_with_an_error_summary_and_audited(client, staff, db):
    response = sign_in(client, password="not the password")
    assert response.status_code == 401
    assert "There is a problem" in response.text and "not right" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/clinic", follow_redirects=False).status_code == 303
    assert [e.actor for e in trail(db, "sign_in_failed")] == ["alice"]
    assert "not the password" not in json.dumps([e.detail for e in trail(db)])


def test_repeated_failures_are_throttled(client, staff):
    for _ in range(accounts.ACCOUNT_LIMIT):
        assert sign_in(client, password="guess").status_code == 401
    refused = sign_in(client)  # even the right password, for now
    assert refused.status_code == 429 and "Too many failed sign-in attempts" in refused.text


def test_sign_out_ends_the_session(signed_in, db):
    old_cookie = signed_in.cookies.get(COOKIE, path="/clinic")
    token = csrf_of(signed_in, "/clinic")
    response = signed_in.post("/clinic/sign-out", data={"csrf_token": token},
                              follow_redirects=False)
    assert response.status_code == 303 and "signed_out=1" in response.headers["location"]
    assert "You have signed out" in signed_in.get(response.headers["location"]).text
    # the old cookie, replayed, opens nothing
    signed_in.cookies.set(COOKIE, old_cookie, path="/clinic")
    assert signed_in.get("/clinic", follow_redirects=False).status_code == 303
    assert [e.actor for e in trail(db, "sign_out")] == ["alice"]


def test_a_session_expires_after_inactivity(signed_in, db):
    db.execute(sa.update(ClinicSession).values(
        last_seen_at=accounts.utcnow() - dt.timedelta(minutes=accounts.DEFAULT_IDLE_MINUTES + 1)))
    db.commit()
    response = signed_in.get("/clinic", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/clinic/sign-in?next=")


def test_after_sign_in_only_a_clinic_address_is_followed(client, staff):
    for target in ("https://evil.example/", "//evil.example/clinic", "/clinic//evil.example",
                   "/", "javascript:alert(1)"):
        assert sign_in(client, next=target).headers["location"] == "/clinic"


# --------------------------------------------------------------------------- refusals

CLINIC_GETS = ["/clinic", "/clinic/submissions/{id}", "/clinic/submissions/{id}/report",
               "/clinic/audit"]
CLINIC_POSTS = ["/clinic/submissions/{id}/review", "/clinic/export"]


def test_every_clinic_page_sends_a_signed_out_visitor_to_sign_in(client, ids, db):
    some_id = ids["emergency"]
    for path in CLINIC_GETS + CLINIC_POSTS:
        url = path.format(id=some_id)
        response = (client.get(url, follow_redirects=False) if path in CLINIC_GETS else
                    client.post(url, data={"csrf_token": csrf_of(client), "format": "jsonl",
                                           "scope": "all"}, follow_redirects=False))
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/clinic/sign-in?next="), url
        if path in CLINIC_POSTS:  # after signing in, the queue (a form's target is no page)
            assert response.headers["location"] == "/clinic/sign-in?next=%2Fclinic"
        assert "Self-care" not in response.text and "saddle" not in response.text
    assert db.scalar(sa.select(sa.func.count()).select_from(Review)) == 0
    assert trail(db, "export") == [] and trail(db, "view_answers") == []


def test_a_disabled_account_is_refused_at_once(signed_in, ids, db):
    assert signed_in.get("/clinic").status_code == 200
    accounts.disable_user(db, "alice", actor="test")
    db.commit()
    for path in CLINIC_GETS:
        response = signed_in.get(path.format(id=ids["urgent"]), follow_redirects=False)
        assert response.status_code == 303, path
    refused = sign_in(signed_in)
    assert refused.status_code == 401 and "disabled" in refused.text


def test_a_patients_token_never_opens_the_clinic(client, staff, db):
    """A patient's session token, in whatever cookie, is not a clinic session."""
    patient_token = "patient-token-" + "x" * 30
    add_submission(db, CASES["urgent"], token=patient_token)
    db.commit()
    for name, path in [(COOKIE, "/clinic"), ("triage_session", "/"), ("triage_patient", "/")]:
        client.cookies.clear()
        client.cookies.set(name, patient_token, path=path)
        response = client.get("/clinic", follow_redirects=False)
        assert response.status_code == 303, name


def test_one_patients_token_never_opens_another_patients_answers(client, db):
    """A patient is known by the token in their cookie; the clinic's pages, the only ones that
    take a submission id, are closed to any patient token."""
    first = add_submission(db, CASES["soon"], token="first-patient-token-" + "a" * 20)
    second = add_submission(db, {**CASES["self_care"], "notes": "second patient's own words"},
                            token="second-patient-token-" + "b" * 20)
    db.commit()
    client.cookies.set("triage_session", "first-patient-token-" + "a" * 20)
    client.cookies.set(COOKIE, "first-patient-token-" + "a" * 20, path="/clinic")
    for url in (f"/clinic/submissions/{second.id}", f"/clinic/submissions/{second.id}/report",
                f"/clinic/submissions/{first.id}"):
        response = client.get(url)  # followed to the sign-in page
        assert response.url.path == "/clinic/sign-in"
        assert "second patient's own words" not in response.text


@pytest.mark.parametrize("path", ["/clinic/sign-in", "/clinic/sign-out",
                                  "/clinic/submissions/{id}/review", "/clinic/export"])
@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_every_form_refuses_a_post_without_its_csrf_token(signed_in, ids, db, path, token):
    data = {"name": "alice", "password": PASSWORD, "format": "jsonl", "scope": "all",
            "id": ids["soon"]}
    if token == "wrong":
        data["csrf_token"] = "x" * 43
    before = len(trail(db))
    response = signed_in.post(path.format(id=ids["soon"]), data=data, follow_redirects=False)
    assert response.status_code == 403, response.text
    assert "could not be done" in response.text
    assert db.scalar(sa.select(sa.func.count()).select_from(Review)) == 0
    assert len(trail(db)) == before  # nothing happened: no sign-in, no review, no export
    assert signed_in.get("/clinic", follow_redirects=False).status_code == 200  # still signed in


def test_a_post_from_another_site_is_refused(signed_in, ids, db):
    token = csrf_of(signed_in, "/clinic")
    response = signed_in.post(f"/clinic/submissions/{ids['soon']}/review",
                              data={"csrf_token": token},
                              headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert db.scalar(sa.select(sa.func.count()).select_from(Review)) == 0


def test_submission_ids_are_unguessable_and_nothing_else_is_addressable(signed_in, ids):
    import re

    for submission_id in ids.values():
        assert len(submission_id) >= 22 and not submission_id.isdigit()
    page = signed_in.get("/clinic").text
    linked = set(re.findall(r'href="/clinic/submissions/([^"/]+)"', page))
    assert linked == set(ids.values())
    # no page takes a number: guessing one finds nothing
    for guess in ("1", "2", "0", "0" * 22, "AAAAAAAAAAAAAAAAAAAAAA"):
        assert signed_in.get(f"/clinic/submissions/{guess}").status_code == 404


def test_only_an_administrator_reads_the_audit_trail(client, staff):
    sign_in(client)
    refused = client.get("/clinic/audit")
    assert refused.status_code == 403 and "Only an administrator" in refused.text
    client.cookies.clear()
    sign_in(client, "root-admin")
    page = client.get("/clinic/audit")
    assert page.status_code == 200 and "signed in" in page.text


def test_one_patients_token_never_opens_another_patients_answers_on_the_patient_pages(app):
    """Two patients finish in two browsers; each browser's token gives its own answers only, and
    a copied token of the other's is the other's, never a way to a third person's."""
    from web_support import Patient

    with TestClient(app) as first_browser, TestClient(app) as second_browser:
        for browser, note in ((first_browser, "first person's words"),
                              (second_browser, "second person's words")):
            patient = Patient(browser, RULEBOOK.questionnaire)
            assert patient.answer_all({**CASES["self_care"], "notes": note}) == "/check-answers"
            assert patient.submit().status_code == 303
        first = first_browser.get("/answers.json").json()
        second = second_browser.get("/answers.json").json()
        assert first["notes"] == "first person's words"
        assert second["notes"] == "second person's words"
        # a made-up or stale token opens nothing
        first_browser.cookies.clear()
        first_browser.cookies.set("triage_session", "guessed-" + "a" * 40)
        response = first_browser.get("/answers.json", follow_redirects=False)
        assert response.status_code != 200 and "person's words" not in response.text


def test_a_submission_arrives_in_the_queue_the_moment_the_patient_finishes(app, client, staff):
    from web_support import Patient

    sign_in(client)
    assert "No submissions yet" in client.get("/clinic").text
    with TestClient(app) as browser:
        patient = Patient(browser, RULEBOOK.questionnaire)
        patient.answer_all(CASES["soon"])
        assert "No submissions yet" in client.get("/clinic").text  # not before finishing
        patient.submit()
    assert queue_urgencies(client.get("/clinic").text) == ["soon"]
    # and one who reaches the emergency page is there at once, first, without submitting
    with TestClient(app) as browser:
        patient = Patient(browser, RULEBOOK.questionnaire)
        assert patient.answer_all(CASES["emergency"]) == "/emergency"
    assert queue_urgencies(client.get("/clinic").text) == ["emergency", "soon"]


# --------------------------------------------------------------------------- the queue

def test_the_queue_lists_emergencies_first_then_urgent_soon_self_care(signed_in, ids, db):
    # a newer self-care submission comes before the older one within its level
    newest = add_submission(db, {**CASES["self_care"], "age": 33}, minutes_ago=1)
    db.commit()
    page = signed_in.get("/clinic").text
    assert queue_urgencies(page) == ["emergency", "urgent", "soon", "self_care", "self_care"]
    assert page.index(newest.id) < page.index(ids["self_care"])


def test_each_row_shows_age_duration_red_flags_causes_and_how_long_ago(signed_in, ids):
    page = signed_in.get("/clinic").text
    emergency_row = page[page.index('data-urgency="emergency"'):page.index('data-urgency="urgent"')]
    assert ">40<" in emergency_row  # the age
    assert "2 weeks" in emergency_row
    assert RULEBOOK.label("red_flag", "cauda_equina") in emergency_row
    # the emergency is named by its rule (issue 20), and a cauda equina case is not labelled
    # ordinary back pain (NICE CKS sciatica: suspected cauda equina needs emergency referral)
    assert "Emergency: " + RULEBOOK.rule("RF-CES-01").title in emergency_row
    assert RULEBOOK.label("cause", "nonspecific") not in emergency_row
    assert "30 minutes ago" in emergency_row  # it was submitted 30 minutes ago
    assert "not yet" in emergency_row  # not reviewed
    soon_row = page[page.index('data-urgency="soon"'):page.index('data-urgency="self_care"')]
    assert "14 weeks" in soon_row


def test_the_queue_filters_by_urgency_and_by_reviewed(signed_in, ids, db):
    both = signed_in.get("/clinic?urgency=emergency&urgency=soon").text
    assert queue_urgencies(both) == ["emergency", "soon"]
    mark_reviewed(signed_in, ids["urgent"])
    assert queue_urgencies(signed_in.get("/clinic?reviewed=yes").text) == ["urgent"]
    assert queue_urgencies(signed_in.get("/clinic?reviewed=no").text) == \
        ["emergency", "soon", "self_care"]
    assert "No submission matches" in signed_in.get("/clinic?urgency=urgent&reviewed=no").text
    views = trail(db, "view_queue")
    assert views[-1].detail.startswith("urgency=urgent reviewed=no")


def test_an_empty_queue_says_where_submissions_come_from(signed_in):
    assert "No submissions yet" in signed_in.get("/clinic").text


# --------------------------------------------------------------------------- one submission

def test_a_submission_shows_its_answers_and_opens_the_full_report(signed_in, db):
    note = "Worse after <b>long</b> meetings"
    found = add_submission(db, {**CASES["urgent"], "notes": note}, minutes_ago=5)
    db.commit()
    page = signed_in.get(f"/clinic/submissions/{found.id}")
    assert page.status_code == 200
    text = page.text
    assert "Urgent" in text and "5 minutes ago" in text
    assert RULEBOOK.label("red_flag", "progressive_neuro") in text
    assert "Worse after &lt;b&gt;long&lt;/b&gt; meetings" in text  # escaped, never markup
    assert RULEBOOK.questionnaire.questions["leg_weakness"].text in text
    assert f'href="/clinic/submissions/{found.id}/report"' in text
    report = signed_in.get(f"/clinic/submissions/{found.id}/report")
    assert report.status_code == 200 and "not a diagnosis" in report.text.lower()
    policy = report.headers["content-security-policy"]
    assert "'sha256-" in policy and "unsafe-inline" not in policy and "script-src" not in policy
    events = [(e.actor, e.action, e.submission_id, e.address) for e in trail(db)
              if e.action.startswith("view_") and e.action != "view_queue"]
    assert events == [("alice", "view_answers", found.id, "testclient"),
                      ("alice", "view_report", found.id, "testclient")]


def test_an_unfinished_session_is_not_a_submission(signed_in, db):
    from triage.web.db import PatientSession, digest

    unfinished = PatientSession(token_hash=digest("t" * 40), answers={"age": 40})
    db.add(unfinished)
    db.commit()
    assert signed_in.get(f"/clinic/submissions/{unfinished.id}").status_code == 404
    assert unfinished.id not in signed_in.get("/clinic").text


def mark_reviewed(client, submission_id):
    token = csrf_of(client, f"/clinic/submissions/{submission_id}")
    return client.post(f"/clinic/submissions/{submission_id}/review",
                       data={"csrf_token": token}, follow_redirects=False)


def test_mark_reviewed_records_who_and_when(signed_in, ids, db):
    response = mark_reviewed(signed_in, ids["emergency"])
    assert response.status_code == 303
    page = signed_in.get(response.headers["location"]).text
    assert "Marked reviewed by alice" in page and "Mark reviewed</button>" not in page
    review = db.get(Review, ids["emergency"])
    assert review.user.name == "alice"
    assert abs((accounts.audit.as_utc(review.reviewed_at) - accounts.utcnow()).total_seconds()) < 60
    queue = signed_in.get("/clinic").text
    row = queue[queue.index('data-urgency="emergency"'):queue.index('data-urgency="urgent"')]
    assert "alice" in row and "not yet" not in row
    # a second review by someone else keeps the first
    signed_in.cookies.clear()
    sign_in(signed_in, "root-admin")
    mark_reviewed(signed_in, ids["emergency"])
    db.expire_all()
    assert db.get(Review, ids["emergency"]).user.name == "alice"
    assert [e.actor for e in trail(db, "review")] == ["alice"]


# --------------------------------------------------------------------------- exports

def export(client, fmt, *, ids=None, scope="selected", **filters):
    data = {"csrf_token": csrf_of(client, "/clinic"), "format": fmt, "scope": scope,
            "id": ids or [], **filters}
    return client.post("/clinic/export", data=data)


def test_export_all_as_jsonl_runs_through_rules_diff_and_batch(signed_in, ids, db, tmp_path):
    response = export(signed_in, "jsonl", scope="all")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["content-disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["case_id"] for line in lines] == [ids[u] for u in CASES]  # queue order
    path = tmp_path / "export.jsonl"
    path.write_bytes(response.content)
    diff = subprocess.run([sys.executable, "-m", "triage", "rules", "diff", "rules", "rules",
                           "--cases", str(path), "--format", "json"],
                          capture_output=True, text=True, timeout=300, cwd=_repo())
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["cases"] == 4
    # and `triage batch` gives every submission's stored urgency back
    out = tmp_path / "out.jsonl"
    batch = subprocess.run([sys.executable, "-m", "triage", "batch", str(path), "-o", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr
    urgencies = {r["case_id"]: r["urgency"] for r in map(json.loads, out.read_text().splitlines())}
    assert urgencies == {submission_id: urgency for urgency, submission_id in ids.items()}
    exported = trail(db, "export")
    assert sorted(e.submission_id for e in exported) == sorted(ids.values())
    assert {e.detail for e in exported} == {"jsonl"} and {e.actor for e in exported} == {"alice"}


def test_export_selected_as_csv_is_the_batch_csv(signed_in, ids, tmp_path):
    response = export(signed_in, "csv", ids=[ids["soon"], ids["urgent"]])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["case_id"] for r in rows] == [ids["urgent"], ids["soon"]]
    assert rows[1]["duration_weeks"] == "14" and rows[0]["leg_weakness"] == "worsening"
    path = tmp_path / "export.csv"
    path.write_bytes(response.content)
    out = tmp_path / "out.jsonl"
    batch = subprocess.run([sys.executable, "-m", "triage", "batch", str(path), "-o", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr
    assert [json.loads(line)["urgency"] for line in out.read_text().splitlines()] == \
        ["urgent", "soon"]


def test_a_note_that_looks_like_a_formula_stays_text_in_the_csv(signed_in, db):
    found = add_submission(db, {**CASES["self_care"], "notes": "=HYPERLINK(\"x\")"})
    db.commit()
    rows = list(csv.DictReader(io.StringIO(export(signed_in, "csv", ids=[found.id]).text)))
    assert rows[0]["notes"] == "'=HYPERLINK(\"x\")"


def test_export_as_a_fhir_bundle_of_questionnaire_responses(signed_in, ids):
    from fhir.resources.R4B.bundle import Bundle

    from triage.fhir import answers_from_response

    response = export(signed_in, "fhir", scope="all", urgency="emergency")
    assert response.status_code == 200
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection" and len(bundle["entry"]) == 1
    resource = bundle["entry"][0]["resource"]
    assert resource["identifier"]["value"] == ids["emergency"]
    assert answers_from_response(resource, RULEBOOK.questionnaire)["saddle_numbness"] is True


def test_an_export_needs_a_format_and_a_selection(signed_in, ids):
    assert export(signed_in, "xml", scope="all").status_code == 400
    nothing = export(signed_in, "jsonl")
    assert nothing.status_code == 400 and "Tick at least one" in nothing.text


# --------------------------------------------------------------------------- the audit trail

def test_the_audit_never_holds_answers(signed_in, db):
    marker = "my private words 7f3a"
    found = add_submission(db, {**CASES["urgent"], "notes": marker, "age": 61})
    db.commit()
    signed_in.get("/clinic")
    signed_in.get(f"/clinic/submissions/{found.id}")
    signed_in.get(f"/clinic/submissions/{found.id}/report")
    mark_reviewed(signed_in, found.id)
    export(signed_in, "fhir", ids=[found.id])
    stored = json.dumps([[e.actor, e.action, e.submission_id, e.address, e.detail]
                         for e in trail(db)])
    assert marker not in stored and "worsening" not in stored and "61" not in stored
    assert {"view_queue", "view_answers", "view_report", "review", "export", "sign_in"} <= \
        {e.action for e in trail(db)}


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def test_retention_deletes_old_submissions_with_their_reviews_and_keeps_the_audit(signed_in, app,
                                                                                   ids, db):
    from triage.web.app import purge_expired

    mark_reviewed(signed_in, ids["soon"])
    later = accounts.utcnow() + dt.timedelta(days=app.state.settings.retention_days + 1)
    assert purge_expired(app, now=later) == 4
    db.expire_all()
    assert db.scalar(sa.select(sa.func.count()).select_from(Review)) == 0
    assert "No submissions yet" in signed_in.get("/clinic").text
    # the trail still says who reviewed what (ids only), though the submission is gone
    assert [e.submission_id for e in trail(db, "review")] == [ids["soon"]]


def test_the_submission_page_shows_the_review_date_the_patient_was_given(signed_in, db):
    """Contract section 3 (version 3): `soon` and `self_care` carry review_in_days, counted from
    the day the patient was told it, not from the day the clinic opens the page; urgent has none."""
    from triage.engine import assess
    from triage.wording import long_date

    found = add_submission(db, CASES["soon"], minutes_ago=3 * 24 * 60)
    urgent = add_submission(db, CASES["urgent"])
    db.commit()
    days = assess(CASES["soon"], RULEBOOK).review_in_days
    assert days is not None
    told = (found.submitted_at + dt.timedelta(days=days)).date()
    text = signed_in.get(f"/clinic/submissions/{found.id}").text
    assert f"in {days} days" in text and long_date(told) in text
    assert assess(CASES["urgent"], RULEBOOK).review_in_days is None
    assert ">Review</dt>" not in signed_in.get(f"/clinic/submissions/{urgent.id}").text
