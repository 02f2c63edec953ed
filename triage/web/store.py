"""The web's storage of a questionnaire session: a ``patient_sessions`` row behind the same
``AnswerStore`` interface as ``triage ask``'s session file, plus the row's tokens and codes.

The patient's pages read and write their row with SQLAlchemy Core statements prepared once
(``PatientRows``, one per request), not through the ORM: every answer reads the row twice (the
POST that stores it, the GET of the next page) and writes it once, and the ORM's identity map,
unit of work and attribute events cost about 0.3 ms a read and 0.5 ms a write here, a sixth of
the server's CPU per answer (benchmarks/bench_web.py). The table is the ORM model's
(``PatientSession.__table__``), so the clinic and the tests see the same rows.
"""
from __future__ import annotations

import datetime as _dt
import secrets
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from .db import PatientSession, digest, new_id, utcnow

SESSION_COOKIE = "triage_session"
# Crockford's base 32: no I, L, O or U, so a code read aloud or copied by hand survives
RESUME_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RESUME_LENGTH = 10  # 50 bits; with the attempts limit, far beyond guessing


PATIENT_SESSIONS = PatientSession.__table__
_COLUMNS = tuple(column.name for column in PATIENT_SESSIONS.columns)
# what an insert writes: not the columns the database computes itself (queue_rank, db.py),
# which refuse a value
_WRITTEN = tuple(column.name for column in PATIENT_SESSIONS.columns
                 if column.computed is None)
_BY_TOKEN = select(PATIENT_SESSIONS).where(PATIENT_SESSIONS.c.token_hash == bindparam("hash"))
_BY_RESUME_CODE = select(PATIENT_SESSIONS).where(
    PATIENT_SESSIONS.c.resume_code_hash == bindparam("hash"))
# the same, locking the row until the request commits or rolls back (PostgreSQL; SQLite locks
# the whole database for writing instead, see PatientRows)
_LOCKED = {_BY_TOKEN: _BY_TOKEN.with_for_update(),
           _BY_RESUME_CODE: _BY_RESUME_CODE.with_for_update()}
_BY_ID = PATIENT_SESSIONS.c.id == bindparam("row_id")
_UPDATE = update(PATIENT_SESSIONS).where(_BY_ID)  # SET: the columns given (built once, cached)
_DELETE = delete(PATIENT_SESSIONS).where(_BY_ID)
_INSERT = insert(PATIENT_SESSIONS)


class PatientRow:
    """One patient session as read from its row: an attribute per column. Setting an attribute
    marks that column changed; ``PatientRows.commit`` writes the changed columns back."""

    __slots__ = _COLUMNS + ("_changed",)

    def __init__(self, **values: Any):
        for name in _COLUMNS:
            object.__setattr__(self, name, values.get(name))
        object.__setattr__(self, "_changed", set())

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        self._changed.add(name)

    def __repr__(self) -> str:
        return f"PatientRow(id={self.id!r})"


class PatientRows:
    """The database for one request of the patient's pages, used as ``with PatientRows(engine)
    as db:``: rows are found with ``find_by_token``/``find_by_resume_code``, added and deleted at
    once, and ``commit()`` writes the columns changed on the rows read and commits, all in one
    transaction. Leaving the block without a commit rolls everything back.

    ``for_update=True`` (every form post of the patient's pages) makes the request's read,
    change and write one step that no other request on the same session interleaves with: the
    row is read with ``SELECT ... FOR UPDATE`` on PostgreSQL, and on SQLite the transaction
    starts with ``BEGIN IMMEDIATE`` (the database's write lock, taken before the read). Without
    it, two posts on one session (two tabs, a double tap) both read the old answers and the
    second write dropped the first one's answer, or a submission stored the verdict of answers
    that another post had just changed (issue 22). A second post waits for the first (SQLite's
    busy timeout, PostgreSQL's row lock) and then sees its answers."""

    def __init__(self, engine: Engine, *, for_update: bool = False):
        self.connection: Connection = engine.connect()
        self._rows: list[PatientRow] = []
        self._lock = for_update
        if for_update and self.connection.dialect.name == "sqlite":
            self.connection.exec_driver_sql("BEGIN IMMEDIATE")

    def __enter__(self) -> "PatientRows":
        return self

    def __exit__(self, *exc) -> None:
        self.connection.close()  # rolls back what was not committed

    def _find(self, statement, digest_value: str) -> PatientRow | None:
        if self._lock and self.connection.dialect.name != "sqlite":
            statement = _LOCKED[statement]
        found = self.connection.execute(statement, {"hash": digest_value}).first()
        if found is None:
            return None
        row = PatientRow(**found._mapping)
        self._rows.append(row)
        return row

    def add(self, row: PatientRow) -> None:
        self.connection.execute(_INSERT, {name: getattr(row, name) for name in _WRITTEN})
        row._changed.clear()
        self._rows.append(row)

    def delete(self, row: PatientRow) -> None:
        self.connection.execute(_DELETE, {"row_id": row.id})
        self._rows.remove(row)

    def commit(self) -> None:
        for row in self._rows:
            if row._changed:
                values = {name: getattr(row, name) for name in row._changed}
                if "updated_at" not in values:  # as the model's onupdate does
                    row.updated_at = values["updated_at"] = utcnow()
                self.connection.execute(_UPDATE, {"row_id": row.id, **values})
                row._changed.clear()
        self.connection.commit()


class DatabaseStore:
    """The answers of one patient session, in its database row (``triage.ask.AnswerStore``).
    The request that uses it commits the row, so an answer is stored before the next page."""

    name = "your saved answers"

    def __init__(self, row: PatientRow):
        self.row = row

    def load(self) -> dict:
        return dict(self.row.answers or {})

    def save(self, answers: dict) -> None:
        self.row.answers = dict(answers)
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


def start_session(db: PatientRows) -> tuple[PatientRow, str]:
    """A new session row and the token for the browser's cookie."""
    token = new_token()
    now = utcnow()
    row = PatientRow(id=new_id(), token_hash=digest(token), answers={}, created_at=now,
                     updated_at=now)
    db.add(row)
    return row, token


def find_by_token(db: PatientRows, token: str | None) -> PatientRow | None:
    if not token or len(token) > 100:
        return None
    return db._find(_BY_TOKEN, digest(token))


def find_by_resume_code(db: PatientRows, code: str) -> PatientRow | None:
    normal = normalise_resume_code(code)
    if len(normal) != RESUME_LENGTH:
        return None
    return db._find(_BY_RESUME_CODE, digest(normal))


def give_resume_code(row: PatientRow) -> str:
    """A new resume code for the row (any earlier one stops working)."""
    code = new_resume_code()
    row.resume_code_hash = digest(normalise_resume_code(code))
    row.updated_at = utcnow()
    return code


def is_expired(row: PatientRow, retention_days: int, now: _dt.datetime | None = None) -> bool:
    updated = row.updated_at
    if updated.tzinfo is None:  # SQLite gives back naive times; they were stored as UTC
        updated = updated.replace(tzinfo=_dt.timezone.utc)
    return updated < (now or utcnow()) - _dt.timedelta(days=retention_days)


# --------------------------------------------------------------------------- follow-up codes

FOLLOW_UP_COOKIE = "triage_follow_up"
_BY_FOLLOW_UP_CODE = select(PATIENT_SESSIONS).where(
    PATIENT_SESSIONS.c.follow_up_code_hash == bindparam("hash"))
_LOCKED[_BY_FOLLOW_UP_CODE] = _BY_FOLLOW_UP_CODE.with_for_update()


def give_follow_up_code(row: PatientRow) -> str:
    """A new follow-up code for a submission, in the resume code's alphabet and shape
    (XXXXX-XXXXX); only its SHA-256 is stored, and any earlier code stops working. Like every
    change to the row, it moves ``updated_at`` (PatientRows.commit), from which the clinic's
    retention counts."""
    code = new_resume_code()
    row.follow_up_code_hash = digest(normalise_resume_code(code))
    return code


def find_by_follow_up_code(db: PatientRows, code: str) -> PatientRow | None:
    normal = normalise_resume_code(code)
    if len(normal) != RESUME_LENGTH:
        return None
    return db._find(_BY_FOLLOW_UP_CODE, digest(normal))
