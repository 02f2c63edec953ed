"""Issue 24, item 3: the queue's order comes from an index (revision 0106_queue_order), on SQLite
and PostgreSQL. The queue must list exactly what it listed before: the stored urgency rank
follows the urgency through every change a submission goes through, the queue page and the
counts per urgency are read from their indexes (no sort of every row: what made the unfiltered
page miss 200 ms at 100,000 submissions, benchmarks/bench_clinic_queue.py), and the revision
upgrades a clinic's database without losing a row, and downgrades."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from clinic_support import CASES, add_submission, one_per_urgency
from triage.web.clinic import queue as clinic_queue
from triage.web.db import PatientSession, make_engine, migrate, utcnow

PREVIOUS = "0105_follow_up"
REVISION = "0106_queue_order"


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def stored_ranks(db) -> dict[str, int]:
    db.expire_all()
    return dict(db.execute(sa.select(PatientSession.id, PatientSession.queue_rank)).all())


def test_the_stored_rank_follows_the_urgency_through_every_change(engine):
    with Session(engine) as db:
        ids = one_per_urgency(db)
        # emergency first, then urgent, soon, self-care (contract: the most urgent is seen first)
        assert stored_ranks(db) == {ids["emergency"]: 0, ids["urgent"]: 1, ids["soon"]: 2,
                                    ids["self_care"]: 3}
        # the patient takes back the emergency (patient.py): no urgency, listed with the
        # emergencies until finished (it was shown the emergency advice)
        row = db.get(PatientSession, ids["emergency"])
        row.submitted_at = row.urgency = None
        row.emergency_corrected_at = utcnow()
        db.commit()
        assert stored_ranks(db)[ids["emergency"]] == 0
        # ... then finishes: ranked with what the answers now give
        row.submitted_at, row.urgency = utcnow(), "soon"
        db.commit()
        assert stored_ranks(db)[ids["emergency"]] == 2
        # a change written without the ORM (a bulk update, a database console) is followed too
        db.execute(sa.update(PatientSession).where(PatientSession.id == ids["self_care"])
                   .values(urgency="urgent"))
        db.commit()
        assert stored_ranks(db)[ids["self_care"]] == 1
        # and the queue lists by it: urgent (the newer first), then soon (the newer first)
        assert [s.id for s in clinic_queue.queue(db)] == [
            ids["urgent"], ids["self_care"], ids["emergency"], ids["soon"]]


def _plan(connection, statement) -> str:
    sql = str(statement.compile(dialect=connection.dialect,
                                compile_kwargs={"literal_binds": True}))
    if connection.dialect.name == "postgresql":
        # a handful of rows would be sorted in memory whatever the indexes: make the planner
        # show whether it can read the order from an index at all
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        return "\n".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + sql))
    return "\n".join(r[-1] for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def test_the_queue_page_and_the_counts_are_read_from_their_indexes(engine):
    with Session(engine) as db:
        for n in range(6):
            add_submission(db, CASES["urgent" if n % 2 else "self_care"], minutes_ago=n)
        db.commit()
        first, key = clinic_queue.queue_page(db, clinic_queue.Filters(), size=2)
        assert key is not None
    filters = clinic_queue.Filters()
    order = (clinic_queue._RANK, clinic_queue._WHEN.desc(), PatientSession.id)
    page = clinic_queue._narrowed([PatientSession.id], filters).order_by(*order).limit(51)
    rest_of_rank, later_ranks = clinic_queue._after(key)
    counts = clinic_queue._narrowed([clinic_queue._URGENCY, sa.func.count()], filters) \
        .group_by(clinic_queue._URGENCY)
    with engine.begin() as connection:
        for statement in (page, page.where(rest_of_rank), page.where(later_ranks)):
            plan = _plan(connection, statement)
            assert "ix_patient_sessions_queue" in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
        plan = _plan(connection, counts)
        assert "ix_patient_sessions_listed_urgency" in plan, plan
        if connection.dialect.name == "postgresql":
            assert "Index Only Scan" in plan, plan  # the counts read no table row


def _at(config, connection, target, *, down=False):
    from alembic import command

    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, target)


def test_the_revision_fills_the_rank_keeps_every_row_and_downgrades(database_url):
    """A clinic upgrading from 0104 keeps its submissions and everything attached to them (on
    SQLite, copying the table in batch mode would have deleted them: ON DELETE CASCADE), and
    every existing submission gets its rank; the downgrade removes exactly what it added."""
    from triage.web.db import alembic_config

    engine = make_engine(database_url)
    config = alembic_config(database_url)
    now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
    rows = {"e": "emergency", "u": "urgent", "s": "soon", "c": "self_care", "x": None}
    with engine.begin() as connection:
        # before both revisions of this round: 0105_follow_up adds columns the rank reads
        _at(config, connection, "0104_clinic_workflow")
        for n, (identifier, urgency) in enumerate(rows.items()):
            connection.execute(sa.text(
                "INSERT INTO patient_sessions (id, token_hash, answers, created_at, updated_at, "
                "submitted_at, urgency, emergency_corrected_at) VALUES (:id, :id, '{}', :at, "
                ":at, :submitted, :urgency, :corrected)"),
                {"id": identifier, "at": now, "urgency": urgency,
                 "submitted": None if urgency is None else now - dt.timedelta(minutes=n),
                 "corrected": now + dt.timedelta(minutes=1) if urgency is None else None})
        connection.execute(sa.text(
            "INSERT INTO patient_moved_tokens (token_hash, session_id, moved_at) "
            "VALUES ('moved', 'u', :at)"), {"at": now})

    def state():
        columns = {c["name"] for c in sa.inspect(engine).get_columns("patient_sessions")}
        # from the catalogue: SQLAlchemy cannot reflect SQLite's expression indexes
        catalogue = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                     "'patient_sessions'" if engine.dialect.name == "sqlite" else
                     "SELECT indexname FROM pg_indexes WHERE tablename = 'patient_sessions'")
        with engine.connect() as connection:
            indexes = set(connection.exec_driver_sql(catalogue).scalars())
            sessions = connection.execute(sa.text("SELECT count(*) FROM patient_sessions"))
            moved = connection.execute(sa.text("SELECT count(*) FROM patient_moved_tokens"))
            return columns, indexes, sessions.scalar(), moved.scalar()

    with engine.begin() as connection:
        _at(config, connection, REVISION)
    columns, indexes, sessions, moved = state()
    assert "queue_rank" in columns and sessions == 5 and moved == 1
    assert {"ix_patient_sessions_queue", "ix_patient_sessions_listed_urgency"} <= indexes
    with Session(engine) as db:
        assert stored_ranks(db) == {"e": 0, "u": 1, "s": 2, "c": 3, "x": 0}
        # the corrected, unfinished emergency is listed with the emergencies, newest first
        assert [s.id for s in clinic_queue.queue(db)] == ["x", "e", "u", "s", "c"]

    with engine.begin() as connection:
        _at(config, connection, PREVIOUS, down=True)
    columns, indexes, sessions, moved = state()
    assert "queue_rank" not in columns and sessions == 5 and moved == 1
    assert "ix_patient_sessions_reference" in indexes  # the catalogue query finds indexes
    assert not indexes & {"ix_patient_sessions_queue", "ix_patient_sessions_listed_urgency"}

    migrate(engine)  # and up again
    with Session(engine) as db:
        assert stored_ranks(db)["c"] == 3
    engine.dispose()


def test_keyset_pages_cross_equal_times_and_ranks_in_the_queue_order(engine):
    """Every page starts at its key, read from the index in two ranges (the rest of the key's
    rank, then the ranks after it): with submissions at the very same moment, and pages that
    end in the middle of a rank and at its end, each is listed once, in the queue's order."""
    with Session(engine) as db:
        same = utcnow() - dt.timedelta(minutes=5)
        for n in range(7):
            row = add_submission(db, CASES["urgent" if n < 4 else "soon"], minutes_ago=0)
            row.submitted_at = same if n % 3 else same - dt.timedelta(minutes=n)
        db.commit()
        expected = [s.id for s in clinic_queue.queue(db)]
        for size in (1, 2, 3, 4):
            seen, key = [], ""
            while True:
                found, key = clinic_queue.queue_page(db, clinic_queue.Filters(), after=key,
                                                     size=size)
                seen += [s.id for s in found]
                if key is None:
                    break
            assert seen == expected, size
