"""The audit trail: who did what to which submission, when, and from where.

Every view of the queue or of a submission, every export, review, sign-in, failed sign-in and
account change is one row of ``audit_events``. The table is append-only: the database itself
refuses UPDATE and DELETE (a trigger, in SQLite and PostgreSQL alike). An event never holds
answers, notes or results: only an action name, ids, and short details such as an export's format.

Each row is chained to the one before it (issue 22): it keeps the previous row's hash and the
SHA-256 of that hash and of its own fields, so `triage audit --verify` (``verify``) finds a row
that was changed, removed or inserted behind the application's back. Appending takes a lock
(PostgreSQL: an advisory lock; SQLite: the database's write lock) so that two servers never
chain two rows onto the same predecessor. A rewrite of the whole chain from some row on is only
found against a head hash kept elsewhere: `--verify` prints it.
"""
from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import json
import re
from dataclasses import dataclass

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from ..db import utcnow
from .models import AuditEvent

# action -> what it means, for `triage audit --help` and the docs
ACTIONS = {
    "sign_in": "signed in",
    "sign_in_failed": "a wrong name or password",
    "sign_in_refused": "a disabled account, or too many failed attempts",
    "sign_out": "signed out",
    "view_queue": "listed the queue (detail: the filters)",
    "view_report": "opened a submission's report",
    "view_answers": "opened a submission's answers",
    "review": "marked a submission reviewed",
    "export": "exported a submission (detail: the format; \"contacts\": with the contact "
              "details)",
    "status": "changed a submission's status (detail: the new status)",
    "assign": "gave a submission to someone, or to nobody (detail: to whom)",
    "note": "added a note to a submission (the note itself is not in the trail)",
    "notify": "a notification of an emergency or urgent submission (actor \"system\"; detail: "
              "the channel and whether it was delivered)",
    "user_add": "added an account (detail: the role)",
    "user_disable": "disabled an account",
    "user_enable": "enabled an account",
    "user_password": "set an account's password",
    # the patient's side (actor "patient"), issue 20
    "emergency_corrected": "a patient shown the emergency advice changed an answer so that it no "
                           "longer is one",
    "resume_code_failed": "a resume code that matched no session (rate-limited per address)",
    # follow-up check-ins (actor "patient"), issue 25
    "follow_up_code_failed": "a follow-up code that matched no submission (rate-limited per "
                             "address)",
    "check_in": "a patient completed a follow-up check-in of the submission (its answers and "
                "outcome are not in the trail)",
    "follow_up_fhir_exported": "downloaded a submission's first visit and check-ins as one FHIR "
                               "bundle (no contact details)",
}


def record(db: Session, action: str, actor: str, *, submission_id: str | None = None,
           address: str | None = None, detail: str | None = None,
           at: _dt.datetime | None = None) -> None:
    """Append one event, chained to the newest one (committed with the caller's transaction;
    the lock it takes is held until then)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    values = {"at": at or utcnow(), "actor": actor[:64], "action": action,
              "submission_id": submission_id,
              "address": (address or None) and address[:64],
              "detail": detail[:200] if detail else None}
    db.flush()  # the caller's pending changes first: on SQLite they may take the write lock
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
    elif connection.dialect.name == "sqlite" and \
            not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before reading the head
    previous = connection.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc())
                                  .limit(1)).scalar() or GENESIS
    values["prev_hash"] = previous
    values["hash"] = chain_hash(previous, **values)
    connection.execute(insert(AuditEvent.__table__).values(**values))


# the advisory lock of appending to the trail (PostgreSQL; any number, the same in every server)
APPEND_LOCK = 0x7472_6961_6765_01  # "triage" 01
GENESIS = "0" * 64  # what the first event follows


def _utc_text(moment: _dt.datetime) -> str:
    moment = moment.replace(tzinfo=_dt.timezone.utc) if moment.tzinfo is None \
        else moment.astimezone(_dt.timezone.utc)
    return moment.isoformat(timespec="microseconds")


def chain_hash(previous: str, *, at: _dt.datetime, actor: str, action: str,
               submission_id: str | None, address: str | None, detail: str | None,
               **_ignored) -> str:
    """The SHA-256 of the previous event's hash and this event's fields (times in UTC, to the
    microsecond, as both databases keep them)."""
    fields = [previous, _utc_text(at), actor, action, submission_id, address, detail]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
                          .encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Verification:
    """What `triage audit --verify` found: how many events, the newest's hash, and problems."""

    count: int
    head: str
    problems: list[str]


def verify(db: Session) -> Verification:
    """Walk the trail oldest first: every event must hash to its stored hash, and follow the
    event before it. A changed row fails the first; a removed or inserted row the second."""
    expected = GENESIS
    problems: list[str] = []
    count = 0
    rows = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    for row in db.execute(rows).scalars():  # a thousand at a time: the trail only grows
        count += 1
        where = f"event {row.id} ({_utc_text(row.at)[:19]}Z, {printable(row.action)})"
        if row.hash is None or row.prev_hash is None:
            problems.append(f"{where} has no hash: it was added without the chain")
            continue
        if chain_hash(row.prev_hash, at=row.at, actor=row.actor, action=row.action,
                      submission_id=row.submission_id, address=row.address,
                      detail=row.detail) != row.hash:
            problems.append(f"{where} was changed: its content does not match its hash")
        if row.prev_hash != expected:
            problems.append(f"{where} does not follow the event before it: an event was "
                            f"removed or inserted before it")
        expected = row.hash
    return Verification(count, expected, problems)


# C0 and C1 controls, DEL, and the format, line and paragraph separators (bidirectional
# overrides among them) that can move or hide text on a terminal
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                          "\u2060-\u206f\ufeff\ufff9-\ufffb]")


def printable(value: str | None) -> str | None:
    """A field as safe to print on a terminal: every control character written as an escape
    (a newline as \\n, ESC as \\x1b), so that a sign-in name can neither forge a line of the
    trail nor send the terminal a command. A backslash is doubled, so nothing is ambiguous."""
    if value is None:
        return None
    return UNPRINTABLE.sub(_escape, value.replace("\\", "\\\\"))


def _escape(match: re.Match) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def command_line_actor() -> str:
    """Who runs an account command: the operating-system user, e.g. ``cli:alice``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name for this uid (some containers)
        return "cli:unknown"


@dataclass(frozen=True)
class Event:
    at: _dt.datetime
    actor: str
    action: str
    submission_id: str | None
    address: str | None
    detail: str | None

    def to_dict(self) -> dict:
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "submission": self.submission_id, "address": self.address,
                "detail": self.detail}

    def printable(self) -> "Event":
        """The event with every text field escaped for a terminal (see ``printable``)."""
        return Event(self.at, printable(self.actor), printable(self.action),
                     printable(self.submission_id), printable(self.address),
                     printable(self.detail))


def as_utc(moment: _dt.datetime) -> _dt.datetime:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    return moment.replace(tzinfo=_dt.timezone.utc) if moment.tzinfo is None else moment


def events(db: Session, *, since: _dt.datetime | None = None, limit: int | None = None,
           newest_first: bool = False) -> list[Event]:
    query = select(AuditEvent)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    order = AuditEvent.id.desc() if newest_first else AuditEvent.id
    query = query.order_by(order)
    if limit:
        query = query.limit(limit)
    return [Event(as_utc(e.at), e.actor, e.action, e.submission_id, e.address, e.detail)
            for e in db.scalars(query)]
