"""Storage for `triage serve`: SQLAlchemy 2 models on one declarative ``Base``, engines, migrations.

The schema is owned by the Alembic revisions in ``triage/web/migrations/versions``; the models
here describe the same tables for the code. A later revision (the clinic's accounts, reviews,
audit) chains its ``down_revision`` onto the newest one and adds its models to this ``Base``.

SQLite is the embedded default (a file in the user's data directory); any SQLAlchemy URL works,
PostgreSQL included (``--database`` or ``TRIAGE_DATABASE_URL``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, Computed, DateTime, ForeignKey, Index, SmallInteger, String,
                        create_engine, event, func, or_)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from ..errors import TriageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def new_id() -> str:
    """An unguessable identifier (128 random bits), safe in a URL: no sequential ids anywhere.
    It starts with a letter or digit: an id is a CSV export's first cell, where a leading '-'
    could be read as a formula by a spreadsheet."""
    while True:
        identifier = secrets.token_urlsafe(16)
        if identifier[0].isalnum():
            return identifier


def digest(secret: str) -> str:
    """What is stored of a secret (a session token, a resume code): its SHA-256, never itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Base(DeclarativeBase):
    """The declarative base of every table of `triage serve` (and of the clinic's, later)."""

    type_annotation_map = {_dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


# The clinic's queue order's rank, as SQL (the same text is in revision 0106_queue_order; the
# urgencies as in triage/web/clinic/queue.py's URGENCIES, most urgent first). A submission is
# ranked by its newest follow-up check-in's urgency when it has one (never below the first
# visit's: triage.followup), else by the first visit's.
QUEUE_RANK_SQL = ("CASE COALESCE(follow_up_urgency, urgency) WHEN 'emergency' THEN 0 "
                  "WHEN 'urgent' THEN 1 WHEN 'soon' THEN 2 WHEN 'self_care' THEN 3 ELSE 0 END")


class PatientSession(Base):
    """One patient's run of the questionnaire in a browser.

    ``answers`` is exactly the answers format of ``triage assess`` (a question left unanswered is
    null). When the patient finishes, or an answer makes the urgency an emergency, the assessment
    is kept with it: ``submitted_at``, ``urgency`` and ``assessment`` (the contract's JSON), which
    is what a clinic's queue lists. Rows are deleted ``--retention-days`` after their last change.
    """

    __tablename__ = "patient_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    resume_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True,
                                                         default=None)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[_dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    submitted_at: Mapped[_dt.datetime | None] = mapped_column(default=None, index=True)
    urgency: Mapped[str | None] = mapped_column(String(16), default=None, index=True)
    assessment: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # when the patient took back an emergency (revision 0102_journey): the clinic still sees it
    emergency_corrected_at: Mapped[_dt.datetime | None] = mapped_column(default=None)
    # the short reference the patient can read out, given at submission (revision
    # 0104_clinic_workflow, clinic/contact.py)
    reference: Mapped[str | None] = mapped_column(String(12), unique=True, index=True,
                                                  default=None)
    # follow-up check-ins (revision 0105_follow_up, web/follow_up.py): the follow-up code's
    # SHA-256 (never the code), the review date the patient was given, and what the latest
    # check-in found, so that the clinic's queue ranks and filters without reading every check-in
    follow_up_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True,
                                                            default=None)
    follow_up_due_at: Mapped[_dt.datetime | None] = mapped_column(default=None, index=True)
    follow_up_at: Mapped[_dt.datetime | None] = mapped_column(default=None)
    follow_up_urgency: Mapped[str | None] = mapped_column(String(16), default=None)
    follow_up_course: Mapped[str | None] = mapped_column(String(16), default=None, index=True)
    # the newest check-in that escalated to urgent or emergency: it ranks the submission in the
    # queue as if it had arrived then, with that urgency
    escalated_at: Mapped[_dt.datetime | None] = mapped_column(default=None, index=True)
    # the urgency's place in the clinic's queue (emergency 0, urgent 1, soon 2, self-care 3; no
    # urgency, an emergency the patient took back before finishing, 0), kept by the database
    # itself on every insert and update (a generated column, revision 0106_queue_order), so
    # that the queue's order is read from an index instead of computed and sorted on every row
    # (PostgreSQL stores it; the revision makes it VIRTUAL in SQLite, computed when read and
    # kept in the index)
    queue_rank: Mapped[int | None] = mapped_column(SmallInteger,
                                                   Computed(QUEUE_RANK_SQL, persisted=True))


# A session the clinic's queue lists: submitted, or an emergency the patient took back.
LISTED = or_(PatientSession.submitted_at.is_not(None),
             PatientSession.emergency_corrected_at.is_not(None))
# when a listed session arrived, as the queue sorts it (newest first within a rank): a check-in
# that escalated to urgent or emergency makes it arrive again, then (issue 25)
QUEUE_AT = func.coalesce(PatientSession.escalated_at, PatientSession.submitted_at,
                         PatientSession.emergency_corrected_at, type_=DateTime(timezone=True))
# the urgency the queue lists a submission with: its newest check-in's, else the first visit's
QUEUE_URGENCY = func.coalesce(PatientSession.follow_up_urgency, PatientSession.urgency)
# The queue's order, read in order from one index (revision 0106_queue_order): its first page,
# and each later page from its key, without sorting 100,000 rows; only the listed sessions
# (a partial index: a patient's unfinished session is not in it).
Index("ix_patient_sessions_queue", PatientSession.queue_rank, QUEUE_AT.desc(), PatientSession.id,
      postgresql_where=LISTED, sqlite_where=LISTED)
# The queue's counts per urgency, from this small index alone (no table rows read).
# (both columns, not the coalesce of them: an index-only scan needs the columns themselves)
Index("ix_patient_sessions_listed_urgency", PatientSession.follow_up_urgency, PatientSession.urgency,
      postgresql_where=LISTED, sqlite_where=LISTED)


class MovedToken(Base):
    """A browser's old session token (its SHA-256) after the session was continued on another
    device with the resume code (revision 0102_journey): that browser is told so."""

    __tablename__ = "patient_moved_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("patient_sessions.id", ondelete="CASCADE"), index=True)
    moved_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)


class CheckIn(Base):
    """One follow-up check-in of a submission (revision 0105_follow_up): begun with the follow-up
    code (the browser then holds ``token_hash``'s token in a cookie), answered one question per
    page into ``answers`` (pain, change, activities, the warning signs re-asked), and completed
    with the re-triaged outcome: ``urgency`` and ``outcome`` (triage.followup's review, as JSON).
    Deleted with its submission (ON DELETE CASCADE), so it is kept exactly as long as the
    submission is."""

    __tablename__ = "follow_up_check_ins"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(
        ForeignKey("patient_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True,
                                                   default=None)
    started_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[_dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[_dt.datetime | None] = mapped_column(default=None, index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    urgency: Mapped[str | None] = mapped_column(String(16), default=None)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(default=None)


# --------------------------------------------------------------------------- engines

def default_database_url() -> str:
    """``TRIAGE_DATABASE_URL``, else a SQLite file in the user's data directory."""
    url = os.environ.get("TRIAGE_DATABASE_URL")
    if url:
        return url
    import platformdirs

    directory = Path(platformdirs.user_data_dir("triage", appauthor=False))
    return f"sqlite:///{directory / 'triage.sqlite3'}"


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for `url`; a SQLite file's directory is created, and SQLite is set up for a web
    server: write-ahead logging (readers never wait for the writer) and a busy timeout.

    `pool_size` connections are kept open (a server passes its number of request threads, so
    that every thread finds one; a pool smaller than that closes and reopens connections, with
    SQLite's set-up statements, on most requests under load), and at most 2 more are opened for
    a moment (the hourly purge)."""
    try:
        parsed = make_url(url)
    except Exception:
        raise TriageError(f"not a database URL: {url!r} (expected e.g. sqlite:///triage.sqlite3 "
                          f"or postgresql+psycopg://user@host/db)") from None
    # never a bound parameter in an error message or a log line: they are patients' answers,
    # notes and contact details (issue 22: an outage wrote them all to the server's log)
    kwargs: dict[str, Any] = {"hide_parameters": True}
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if not in_memory:  # an in-memory SQLite database has one connection per thread, no pool size
        kwargs.update(pool_size=pool_size, max_overflow=2)
    if parsed.get_backend_name() == "sqlite":
        if not in_memory:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True  # a connection the database dropped is replaced, not used
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # a database host that does not answer fails a request in seconds (a 503 page),
            # instead of after the operating system's TCP timeout of minutes
            kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(parsed, **kwargs)
    except Exception as exc:  # e.g. the driver of that database is not installed
        raise TriageError(f"cannot use the database {parsed.render_as_string(hide_password=True)}"
                          f": {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


# --------------------------------------------------------------------------- migrations

def alembic_config(url: str):
    """The Alembic configuration of the shipped migrations, for `url` (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# the advisory lock that migrations run under (PostgreSQL; the same number in every server)
MIGRATION_LOCK = 0x7472_6961_6765_00  # "triage" 00


def migrate(engine: Engine) -> None:
    """Bring the database's schema up to the newest revision (does nothing when it is).

    Under a database lock, so that servers started together on a fresh database migrate it once:
    the first takes the lock and migrates, the others wait, then find the schema at the newest
    revision (two servers racing on the migration made one of them fail, issue 22). PostgreSQL:
    an advisory lock held to the end of the migration's transaction; SQLite: the write lock."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# The clinic's tables (accounts, signed-in sessions, reviews, the audit trail) live on this Base
# too; importing them here keeps Base.metadata complete wherever the storage is used.
from .clinic import models as _clinic_models  # noqa: E402,F401
