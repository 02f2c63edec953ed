"""The web's storage of a questionnaire session: a ``PatientSession`` row behind the same
``AnswerStore`` interface as ``triage ask``'s session file, plus the row's tokens and codes."""
from __future__ import annotations

import datetime as _dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from .db import PatientSession, digest, utcnow

SESSION_COOKIE = "triage_session"
# Crockford's base 32: no I, L, O or U, so a code read aloud or copied by hand survives
RESUME_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RESUME_LENGTH = 10  # 50 bits; with the attempts limit, far beyond guessing


class DatabaseStore:
    """The answers of one patient session, in its database row (``triage.ask.AnswerStore``).
    The request that uses it commits the row, so an answer is stored before the next page."""

    name = "your saved answers"

    def __init__(self, row: PatientSession):
        self.row = row

    def load(self) -> dict:
        return dict(self.row.answers or {})

    def save(self, answers: dict) -> None:
        self.row.answers = dict(answers)  # a new object, so SQLAlchemy sees the change
        self.row.updated_at = utcnow()


def new_token() -> str:
    """The secret a browser holds for its session (256 random bits; only its hash is stored)."""
    return secrets.token_urlsafe(32)


def new_resume_code() -> str:
    """A short code to type on another day or device: XXXXX-XXXXX."""
    code = "".join(secrets.choice(RESUME_ALPHABET) for _ in range(RESUME_LENGTH))
    return f"{code[:5]}-{code[5:]}"


def normalise_resume_code(text: str) -> str:
    """A typed code as stored: capitals, no spaces or dashes; O read as 0, I and L as 1."""
    text = "".join(ch for ch in text.upper() if ch.isalnum())
    return text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def start_session(db: DbSession) -> tuple[PatientSession, str]:
    """A new session row and the token for the browser's cookie."""
    token = new_token()
    row = PatientSession(token_hash=digest(token), answers={})
    db.add(row)
    return row, token


def find_by_token(db: DbSession, token: str | None) -> PatientSession | None:
    if not token or len(token) > 100:
        return None
    return db.scalar(select(PatientSession).where(PatientSession.token_hash == digest(token)))


def find_by_resume_code(db: DbSession, code: str) -> PatientSession | None:
    normal = normalise_resume_code(code)
    if len(normal) != RESUME_LENGTH:
        return None
    return db.scalar(select(PatientSession).where(
        PatientSession.resume_code_hash == digest(normal)))


def give_resume_code(row: PatientSession) -> str:
    """A new resume code for the row (any earlier one stops working)."""
    code = new_resume_code()
    row.resume_code_hash = digest(normalise_resume_code(code))
    row.updated_at = utcnow()
    return code


def is_expired(row: PatientSession, retention_days: int, now: _dt.datetime | None = None) -> bool:
    updated = row.updated_at
    if updated.tzinfo is None:  # SQLite gives back naive times; they were stored as UTC
        updated = updated.replace(tzinfo=_dt.timezone.utc)
    return updated < (now or utcnow()) - _dt.timedelta(days=retention_days)
