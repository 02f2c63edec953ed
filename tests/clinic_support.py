"""Shared by the clinic's tests: submissions as the patient's side stores them, one per urgency,
staff accounts, and signing in through the real form (with its CSRF token)."""
from __future__ import annotations

import datetime as dt
import re
import secrets

from support import ALL_CLEAR
from triage.engine import assess
from triage.rulebook import load_rulebook
from triage.web.db import PatientSession, digest, utcnow

RULEBOOK = load_rulebook()
PASSWORD = "correct horse battery"

# One answers set per urgency, each following a row of contract section 3:
CASES = {
    # saddle numbness: cauda equina, emergency (NICE CKS back pain, red flags)
    "emergency": {**ALL_CLEAR, "saddle_numbness": True},
    # worsening leg weakness: progressive neurological deficit, urgent (NICE NG59 1.1)
    "urgent": {**ALL_CLEAR, "leg_weakness": "worsening"},
    # 14 weeks of pain is chronic, which the policy sends to "soon" (contract section 3)
    "soon": {**ALL_CLEAR, "duration_weeks": 14},
    # nothing raises the urgency: self-care (NICE NG59: stay active, exercise)
    "self_care": dict(ALL_CLEAR),
}


def add_submission(db, answers: dict, *, minutes_ago: float = 0, token: str | None = None
                   ) -> PatientSession:
    """A finished patient session, as the questionnaire's last step stores it."""
    result = assess(answers, RULEBOOK)
    when = utcnow() - dt.timedelta(minutes=minutes_ago)
    session = PatientSession(token_hash=digest(token or secrets.token_urlsafe(32)),
                             answers=dict(result.answers), created_at=when, updated_at=when,
                             submitted_at=when, urgency=result.urgency,
                             assessment=result.to_dict())
    db.add(session)
    db.flush()
    return session


def one_per_urgency(db) -> dict[str, str]:
    """Four submissions, added least urgent first and oldest first, so the queue's order is
    not the order they were stored in. Returns urgency -> submission id."""
    ids = {}
    for n, urgency in enumerate(reversed(list(CASES))):
        session = add_submission(db, CASES[urgency], minutes_ago=60 - n * 10)
        assert session.urgency == urgency, (urgency, session.urgency)
        ids[urgency] = session.id
    db.commit()
    return ids


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client, path: str = "/clinic/sign-in") -> str:
    page = client.get(path)
    return CSRF.search(page.text).group(1)


def sign_in(client, name: str = "alice", password: str = PASSWORD, *, next: str = "/clinic"):
    token = csrf_of(client)
    return client.post("/clinic/sign-in", data={"name": name, "password": password,
                                                "next": next, "csrf_token": token},
                       follow_redirects=False)
