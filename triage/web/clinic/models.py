"""The clinic's tables, on the web storage's ``Base`` (schema: revision 0101_clinic).

* ``clinic_users``: staff accounts (argon2 password hashes; no account exists until an
  administrator adds one with ``triage users add``);
* ``clinic_sessions``: a signed-in browser (the SHA-256 of its cookie's token, never the token);
* ``clinic_reviews``: who marked which submission reviewed, and when;
* ``audit_events``: append-only (a database trigger refuses UPDATE and DELETE, and on SQLite
  REPLACE): who did what to which submission, when and from where, each row chained to the one
  before by a hash. It never holds answers.

Account and audit row ids are internal integers that never appear in a URL; submissions are
addressed by the patient session's unguessable id.
"""
from __future__ import annotations

import datetime as _dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, utcnow

ROLES = ("clinician", "admin")


class User(Base):
    __tablename__ = "clinic_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="clinician")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[_dt.datetime | None] = mapped_column(default=None)
    last_sign_in_at: Mapped[_dt.datetime | None] = mapped_column(default=None)

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


class ClinicSession(Base):
    __tablename__ = "clinic_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("clinic_users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[_dt.datetime] = mapped_column(default=utcnow, index=True)

    user: Mapped[User] = relationship(lazy="joined")


class Review(Base):
    __tablename__ = "clinic_reviews"

    submission_id: Mapped[str] = mapped_column(
        ForeignKey("patient_sessions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("clinic_users.id"))
    reviewed_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_actor_action_at", "actor", "action", "at"),
                      Index("ix_audit_events_address_action_at", "address", "action", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[_dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # account name (or the name tried), or cli:USER
    action: Mapped[str] = mapped_column(String(32))
    submission_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    address: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str | None] = mapped_column(String(200), default=None)
    # the hash chain (revision 0103_integrity, clinic/audit.py): the previous event's hash, and
    # the SHA-256 of that and of this event's fields, so that a changed, removed or inserted row
    # shows (`triage audit --verify`)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)


# --------------------------------------------------------------------------- revision 0104

class Contact(Base):
    """A patient's contact details, given with consent (clinic/contact.py): one Fernet token,
    never the details in the clear, and the search digests of the name and the number."""

    __tablename__ = "clinic_contacts"

    submission_id: Mapped[str] = mapped_column(
        ForeignKey("patient_sessions.id", ondelete="CASCADE"), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    name_digest: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    number_digest: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    consented_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)


STATUSES = ("new", "contacted", "booked", "referred", "closed")


class Workflow(Base):
    """Where a submission stands in the clinic: its status and who has it (none: new, nobody)."""

    __tablename__ = "clinic_workflow"

    submission_id: Mapped[str] = mapped_column(
        ForeignKey("patient_sessions.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_users.id"), default=None,
                                                    index=True)
    changed_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_users.id"),
                                                      default=None)


class Note(Base):
    """A clinician's note on a submission (never edited: a correction is another note)."""

    __tablename__ = "clinic_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(
        ForeignKey("patient_sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("clinic_users.id"))
    at: Mapped[_dt.datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    user: Mapped[User] = relationship(lazy="joined")
