"""What the clinic does with a submission (issue 24): its status, who has it, clinicians' notes.

A submission without a ``clinic_workflow`` row is new and nobody's. Every change is one event of
the audit trail (who, when, from where; the detail names the new status or the assignee, never
a note's words, which stay in ``clinic_notes``). Marking a submission reviewed is part of the
workflow: it is recorded as before (``clinic_reviews``) and a new submission moves on to
"contacted" only when someone says so.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from . import audit
from .models import STATUSES, Note, User, Workflow

MAX_NOTE = 2000


def _row(db: Session, submission_id: str) -> Workflow:
    """The submission's workflow row; a new one (not yet added) says: new, nobody's."""
    row = db.get(Workflow, submission_id)
    return row if row is not None else Workflow(submission_id=submission_id, status="new",
                                                assignee_id=None)


def _save(db: Session, row: Workflow, user: User) -> None:
    row.changed_at, row.changed_by_id = utcnow(), user.id
    if row not in db:
        db.add(row)


def set_status(db: Session, submission_id: str, status: str, user: User, address: str) -> bool:
    """Change the status; False when it already was that (nothing recorded)."""
    if status not in STATUSES:
        raise ValueError(status)
    row = _row(db, submission_id)
    if row.status == status:
        return False
    row.status = status
    _save(db, row, user)
    audit.record(db, "status", user.name, submission_id=submission_id, address=address,
                 detail=status)
    return True


def assign(db: Session, submission_id: str, assignee: User | None, user: User,
           address: str) -> bool:
    """Give the submission to `assignee` (None: to nobody); False when nothing changes."""
    row = _row(db, submission_id)
    new_id = assignee.id if assignee else None
    if row.assignee_id == new_id:
        return False
    row.assignee_id = new_id
    _save(db, row, user)
    audit.record(db, "assign", user.name, submission_id=submission_id, address=address,
                 detail=f"to {assignee.name}" if assignee else "to nobody")
    return True


def add_note(db: Session, submission_id: str, text: str, user: User, address: str) -> None:
    db.add(Note(submission_id=submission_id, user_id=user.id, at=utcnow(), text=text))
    audit.record(db, "note", user.name, submission_id=submission_id, address=address)


def notes(db: Session, submission_id: str) -> list[Note]:
    return list(db.scalars(select(Note).where(Note.submission_id == submission_id)
                           .order_by(Note.at, Note.id)))


def staff(db: Session) -> list[User]:
    """The enabled accounts a submission can be given to."""
    return list(db.scalars(select(User).where(User.disabled_at.is_(None)).order_by(User.name)))
