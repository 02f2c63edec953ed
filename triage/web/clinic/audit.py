"""The audit trail: who did what to which submission, when, and from where.

Every view of the queue or of a submission, every export, review, sign-in, failed sign-in and
account change is one row of ``audit_events``. The table is append-only: the database itself
refuses UPDATE and DELETE (a trigger, in SQLite and PostgreSQL alike). An event never holds
answers, notes or results: only an action name, ids, and short details such as an export's format.
"""
from __future__ import annotations

import datetime as _dt
import getpass
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from .models import AuditEvent

# action -> what it means, for `triage audit --help` and the README
ACTIONS = {
    "sign_in": "signed in",
    "sign_in_failed": "a wrong name or password",
    "sign_in_refused": "a disabled account, or too many failed attempts",
    "sign_out": "signed out",
    "view_queue": "listed the queue (detail: the filters)",
    "view_report": "opened a submission's report",
    "view_answers": "opened a submission's answers",
    "review": "marked a submission reviewed",
    "export": "exported a submission (detail: the format)",
    "user_add": "added an account (detail: the role)",
    "user_disable": "disabled an account",
    "user_enable": "enabled an account",
    "user_password": "set an account's password",
    # the patient's side (actor "patient"), issue 20
    "emergency_corrected": "a patient shown the emergency advice changed an answer so that it no "
                           "longer is one",
    "resume_code_failed": "a resume code that matched no session (rate-limited per address)",
}


def record(db: Session, action: str, actor: str, *, submission_id: str | None = None,
           address: str | None = None, detail: str | None = None,
           at: _dt.datetime | None = None) -> None:
    """Add one event to the session (committed with the caller's transaction)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    db.add(AuditEvent(at=at or utcnow(), actor=actor[:64], action=action,
                      submission_id=submission_id, address=(address or None) and address[:64],
                      detail=detail[:200] if detail else None))


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
