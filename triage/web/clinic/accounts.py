"""Clinic staff accounts, sign-in and signed-in sessions.

* Passwords are hashed with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane: about
  0.1 s on one core, so that sign-in cannot be used to starve a small server); a hash made with
  other parameters is upgraded at the next sign-in. No account exists until an
  administrator adds one (``triage users add``): there is no default account or password.
* Sign-in is rate-limited per account and per address, from the audit trail itself (so that every
  server process sees the same count): after ``ACCOUNT_LIMIT`` failed attempts on one account, or
  ``ADDRESS_LIMIT`` from one address, within ``WINDOW``, further attempts are refused without
  checking the password until the window has passed.
* A signed-in browser holds a random token in a cookie; the database keeps its SHA-256. A session
  ends at sign-out, when the account is disabled, or after ``idle`` minutes without a request.
"""
from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ...errors import TriageError
from ..db import digest, utcnow
from . import audit
from .models import ROLES, AuditEvent, ClinicSession, User

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = _dt.timedelta(minutes=15)
DEFAULT_IDLE_MINUTES = 30
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
NAME_PATTERN = "letters, digits, '.', '_' or '-', 1 to 64 characters"

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# checked when the name is unknown, so that a wrong name takes as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(TriageError):
    """A user mistake in an account command: unknown name, weak password, and so on."""

    def __init__(self, message: str):
        super().__init__(message)


def _check_name(name: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name or ""):
        raise AccountError(f"account name {name!r} must be {NAME_PATTERN}")
    return name


def check_password(name: str, password: str) -> None:
    """Refuse a password that is too short, too long, or the account's own name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == name.lower():
        raise AccountError("the password must not be the account's name")


def find_user(db: Session, name: str) -> User | None:
    return db.scalar(select(User).where(User.name == name))


def _user(db: Session, name: str) -> User:
    user = find_user(db, name)
    if user is None:
        raise AccountError(f"no account named {name!r} (see `triage users list`)")
    return user


def add_user(db: Session, name: str, password: str, *, role: str = "clinician",
             actor: str) -> User:
    _check_name(name)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if find_user(db, name) is not None:
        raise AccountError(f"an account named {name!r} already exists")
    check_password(name, password)
    user = User(name=name, role=role, password_hash=_hasher.hash(password), created_at=utcnow())
    db.add(user)
    audit.record(db, "user_add", actor, detail=f"{name} ({role})")
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.name)))


def disable_user(db: Session, name: str, *, actor: str) -> User:
    """Disable an account and end all its signed-in sessions at once."""
    user = _user(db, name)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    db.execute(delete(ClinicSession).where(ClinicSession.user_id == user.id))
    audit.record(db, "user_disable", actor, detail=name)
    return user


def enable_user(db: Session, name: str, *, actor: str) -> User:
    user = _user(db, name)
    user.disabled_at = None
    audit.record(db, "user_enable", actor, detail=name)
    return user


def set_password(db: Session, name: str, password: str, *, actor: str) -> User:
    """A new password; the account's signed-in sessions end (they may have been someone else)."""
    user = _user(db, name)
    check_password(name, password)
    user.password_hash = _hasher.hash(password)
    db.execute(delete(ClinicSession).where(ClinicSession.user_id == user.id))
    audit.record(db, "user_password", actor, detail=name)
    return user


# --------------------------------------------------------------------------- signing in

class SignInRefused(Exception):
    """Why a sign-in failed, in words safe to show (never whether the name exists)."""


WRONG = "The account name or password is not right."
THROTTLED = ("Too many failed sign-in attempts. Wait 15 minutes and try again, or ask an "
             "administrator.")
DISABLED = "This account is disabled. Ask an administrator."


def _failures(db: Session, column, value: str, now: _dt.datetime) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent).where(
        column == value, AuditEvent.action == "sign_in_failed",
        AuditEvent.at >= now - WINDOW)) or 0


def authenticate(db: Session, name: str, password: str, *, address: str,
                 now: _dt.datetime | None = None) -> User:
    """The account for this name and password, or SignInRefused. Every attempt is audited; the
    caller commits (the audit event must be kept even when the sign-in fails)."""
    now = now or utcnow()
    name = (name or "").strip()[:64]
    if (_failures(db, AuditEvent.actor, name, now) >= ACCOUNT_LIMIT
            or _failures(db, AuditEvent.address, address, now) >= ADDRESS_LIMIT):
        audit.record(db, "sign_in_refused", name or "-", address=address, detail="rate limit",
                     at=now)
        raise SignInRefused(THROTTLED)
    user = find_user(db, name) if name else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        audit.record(db, "sign_in_failed", name or "-", address=address, at=now)
        raise SignInRefused(WRONG)
    if user.disabled:
        audit.record(db, "sign_in_refused", name, address=address, detail="disabled", at=now)
        raise SignInRefused(DISABLED)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_sign_in_at = now
    audit.record(db, "sign_in", name, address=address, at=now)
    return user


@dataclass(frozen=True)
class SignedIn:
    """A signed-in browser: its account, and the token its cookie holds."""

    user: User
    token: str


def start_session(db: Session, user: User, *, now: _dt.datetime | None = None) -> SignedIn:
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    db.add(ClinicSession(token_hash=digest(token), user_id=user.id, created_at=now,
                         last_seen_at=now))
    return SignedIn(user, token)


def resume_session(db: Session, token: str | None, *, idle_minutes: int = DEFAULT_IDLE_MINUTES,
                   now: _dt.datetime | None = None) -> User | None:
    """The account of a signed-in browser, or None (no token, unknown, expired, disabled). A
    valid session's inactivity clock restarts."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    session = db.get(ClinicSession, digest(token))
    if session is None:
        return None
    if audit.as_utc(session.last_seen_at) < now - _dt.timedelta(minutes=idle_minutes) \
            or session.user.disabled:
        db.delete(session)
        return None
    session.last_seen_at = now
    return session.user


def end_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(ClinicSession).where(ClinicSession.token_hash == digest(token)))


def purge_idle_sessions(db: Session, *, idle_minutes: int = DEFAULT_IDLE_MINUTES,
                        now: _dt.datetime | None = None) -> int:
    now = now or utcnow()
    result = db.execute(delete(ClinicSession).where(
        ClinicSession.last_seen_at < now - _dt.timedelta(minutes=idle_minutes)))
    return result.rowcount or 0
