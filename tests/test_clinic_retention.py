"""Issue 24, item 5: the clinic's records have their own retention, apart from patients'
unfinished sessions: a submission outlives an unfinished session of the same age, and goes with
its contact details, status and notes when the clinic's period ends; the audit trail stays."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from clinic_support import CASES, PASSWORD, add_submission
from triage.web.app import Settings, create_app, purge_expired
from triage.web.clinic import accounts, audit, workflow
from triage.web.clinic.models import AuditEvent, Note, Workflow
from triage.web.db import PatientSession, digest, utcnow


@pytest.fixture
def app(database_url):
    return create_app(Settings(database_url=database_url, retention_days=30,
                               clinic_retention_days=365))


def test_submissions_follow_the_clinics_retention_and_unfinished_sessions_the_patients(app):
    old = utcnow() - dt.timedelta(days=40)
    with app.state.db() as db:
        user = accounts.add_user(db, "alice", PASSWORD, actor="test")
        unfinished = PatientSession(token_hash=digest("u"), answers={"age": 50}, created_at=old,
                                    updated_at=old)
        db.add(unfinished)
        kept = add_submission(db, CASES["urgent"], minutes_ago=40 * 24 * 60)
        db.flush()
        workflow.add_note(db, kept.id, "called", user, "127.0.0.1")
        workflow.set_status(db, kept.id, "contacted", user, "127.0.0.1")
        db.execute(sa.update(PatientSession).values(updated_at=old)
                   .where(PatientSession.id == kept.id))
        db.commit()
        kept_id, unfinished_id = kept.id, unfinished.id
    # after 40 days: the unfinished session is gone (30), the submission stays (365)
    assert purge_expired(app) == 1
    with app.state.db() as db:
        assert db.get(PatientSession, unfinished_id) is None
        assert db.get(PatientSession, kept_id) is not None
    # after the clinic's year: the submission goes, with its note and status
    assert purge_expired(app, now=utcnow() + dt.timedelta(days=330)) == 1
    with app.state.db() as db:
        assert db.get(PatientSession, kept_id) is None
        assert db.scalar(sa.select(sa.func.count()).select_from(Note)) == 0
        assert db.get(Workflow, kept_id) is None
        assert "note" in [e.action for e in db.scalars(sa.select(AuditEvent))]
        assert audit.verify(db).problems == []


def test_a_patient_returning_after_their_retention_does_not_delete_the_clinics_record(app):
    from fastapi.testclient import TestClient

    with app.state.db() as db:
        kept = add_submission(db, CASES["soon"], minutes_ago=40 * 24 * 60, token="tok-" + "x" * 30)
        db.execute(sa.update(PatientSession).values(
            updated_at=utcnow() - dt.timedelta(days=40)).where(PatientSession.id == kept.id))
        db.commit()
        kept_id = kept.id
    with TestClient(app) as client:
        client.cookies.set("triage_session", "tok-" + "x" * 30)
        assert client.get("/result", follow_redirects=False).status_code == 410
    with app.state.db() as db:
        assert db.get(PatientSession, kept_id) is not None
