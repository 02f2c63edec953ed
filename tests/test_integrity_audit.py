"""The audit trail is tamper-evident (issue 22, done-means 2): a hash chain that `triage audit
--verify` checks, SQLite refusing REPLACE, a PostgreSQL app role that cannot rewrite the trail,
and `triage audit` printing every field with its control characters escaped."""
from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from clinic_support import PASSWORD, sign_in
from triage.cli.users import audit as audit_command
from triage.web.clinic import accounts, audit
from triage.web.db import make_engine, migrate, session_factory


def _trail(url: str, events: int = 6) -> None:
    """An account and a few audited sign-in attempts, as a clinic's day leaves them."""
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine)() as db:
        accounts.add_user(db, "alice", PASSWORD, actor="cli:test")
        db.commit()
        for n in range(events - 1):
            try:
                accounts.authenticate(db, "alice", PASSWORD if n % 2 else "wrong password",
                                      address=f"127.0.0.{n}")
            except accounts.SignInRefused:
                pass
            db.commit()
    engine.dispose()


def _verify(url: str):
    return CliRunner().invoke(audit_command, ["--verify", "--database", url])


def _as_owner(url: str, cluster, sql: str) -> None:
    """SQL run behind the application's back: as PostgreSQL's superuser, or on the SQLite file
    with the append-only triggers dropped (anyone who can write the file can)."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(url).database)
        for trigger in ("audit_events_no_update", "audit_events_no_delete",
                        "audit_events_no_replace"):
            connection.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        connection.executescript(sql)
        connection.commit()
        connection.close()
    else:
        cluster.execute("ALTER TABLE audit_events DISABLE TRIGGER USER; " + sql,
                        database=make_url(url).database)


@pytest.mark.parametrize("tampering, words", [
    ("UPDATE audit_events SET detail = 'clinician' WHERE id = 1", "event 1 (" ),
    ("UPDATE audit_events SET address = '10.0.0.9' WHERE id = 3", "event 3 ("),
    ("DELETE FROM audit_events WHERE id = 3", "event 4 ("),
    ("DELETE FROM audit_events WHERE id = 1", "event 2 ("),
    ("INSERT INTO audit_events (id, at, actor, action, prev_hash, hash) SELECT 100, at, "
     "'mallory', 'sign_in', prev_hash, hash FROM audit_events WHERE id = 6", "event 100 ("),
])
def test_verify_finds_a_changed_removed_or_inserted_event(database_url, request, tampering,
                                                          words):
    _trail(database_url)
    intact = _verify(database_url)
    assert intact.exit_code == 0, intact.output
    assert "intact: 6 events" in intact.output
    cluster = request.getfixturevalue("postgres_cluster") \
        if database_url.startswith("postgresql") else None
    _as_owner(database_url, cluster, tampering)
    found = _verify(database_url)
    assert found.exit_code == 1, found.output
    assert "tampered" in found.output and words in found.output


def test_two_servers_appending_at_once_keep_one_chain(database_url):
    """Every append locks the trail's head (advisory lock / SQLite write lock): without it two
    connections chain onto the same predecessor and --verify reports the fork."""
    _trail(database_url, events=1)
    engine = make_engine(database_url)
    factory = session_factory(engine)
    start = threading.Barrier(4)
    errors = []

    def clinic(n):
        try:
            start.wait()
            for i in range(15):
                with factory() as db:
                    audit.record(db, "view_queue", f"user{n}", detail=f"page {i}")
                    db.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=clinic, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    engine.dispose()
    assert errors == []
    result = _verify(database_url)
    assert result.exit_code == 0 and "intact: 61 events" in result.output, result.output


def test_sqlite_refuses_replace_on_an_audit_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    _trail(url)
    engine = make_engine(url)
    for verb in ("REPLACE INTO", "INSERT OR REPLACE INTO"):
        with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(f"{verb} audit_events (id, at, actor, action) "
                                    f"VALUES (2, '2026-01-01 00:00:00', 'x', 'sign_in')"))
    engine.dispose()
    assert _verify(url).exit_code == 0


def test_the_app_role_of_the_deployment_guide_cannot_rewrite_the_trail(postgres_cluster):
    """docs/administrators/postgresql.md ("a table owner and an app role"): the schema belongs to `triage_owner`,
    the server connects as `triage_app`, which may only INSERT and SELECT the audit trail."""
    from fastapi.testclient import TestClient

    from triage.web.app import Settings, create_app

    cluster = postgres_cluster
    cluster.execute("CREATE ROLE triage_owner LOGIN; CREATE ROLE triage_app LOGIN")
    cluster.execute("CREATE DATABASE triage_roles OWNER triage_owner")
    cluster.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC; "
                    "ALTER SCHEMA public OWNER TO triage_owner", database="triage_roles")
    owner_url = cluster.url("triage_roles").replace("triage@", "triage_owner@")
    app_url = cluster.url("triage_roles").replace("triage@", "triage_app@")
    _trail(owner_url)  # `triage serve --migrate-only` as the owner does the same migration
    grants = (README_GRANTS)
    cluster.execute(grants.replace("\n", " "), database="triage_roles")

    app = create_app(Settings(database_url=app_url))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert sign_in(client).status_code == 303  # the app works: it appends to the trail
        assert client.get("/clinic").status_code == 200
    app.state.engine.dispose()

    import psycopg

    refused = []
    for sql in ("ALTER TABLE audit_events DISABLE TRIGGER ALL",
                "UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events",
                "TRUNCATE audit_events", "DROP TABLE audit_events",
                "DROP TRIGGER audit_events_no_change ON audit_events"):
        with psycopg.connect(dbname="triage_roles", user="triage_app",
                             host=str(cluster.directory), autocommit=True) as connection:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(sql)
            refused.append(sql)
    assert len(refused) == 6
    assert _verify(owner_url).exit_code == 0


# the grants of the deployment guide, docs/administrators/postgresql.md (kept equal by
# test_the_deployment_guide_grants_these below)
README_GRANTS = """GRANT USAGE ON SCHEMA public TO triage_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON patient_sessions, patient_moved_tokens, clinic_users,
  clinic_sessions, clinic_reviews, clinic_contacts, clinic_workflow, clinic_notes TO triage_app;
GRANT SELECT ON alembic_version TO triage_app;
GRANT SELECT, INSERT ON audit_events TO triage_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO triage_app;"""


def test_the_deployment_guide_grants_these():
    from pathlib import Path

    guide = Path(__file__).resolve().parent.parent / "docs" / "administrators" / "postgresql.md"
    assert README_GRANTS in guide.read_text()


# --------------------------------------------------------------------------- printing

FORGED = "eve\n2026-12-07 09:00:00Z  alice         sign_in\x1b[2J\x9b31m\u202e"


def test_triage_audit_escapes_control_characters_in_text_and_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    _trail(url, events=1)
    engine = make_engine(url)
    with session_factory(engine)() as db:
        with pytest.raises(accounts.SignInRefused):
            accounts.authenticate(db, FORGED, "wrong password", address="127.0.0.1")
        db.commit()
    engine.dispose()

    shown = CliRunner().invoke(audit_command, ["--database", url])
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert len(lines) == 2  # one line per event: the name's newline forged none
    assert "\x1b" not in shown.output and "\x9b" not in shown.output
    assert "\u202e" not in shown.output
    assert "eve\\n2026-12-07" in lines[1] and "\\x1b[2J" in lines[1]

    as_json = CliRunner().invoke(audit_command, ["--database", url, "--format", "jsonl"])
    assert as_json.exit_code == 0
    assert "\x1b" not in as_json.output and "\x9b" not in as_json.output
    assert "\u202e" not in as_json.output
    events = [json.loads(line) for line in as_json.output.splitlines()]
    assert events[1]["actor"] == FORGED.strip()[:64]  # the exact name, escaped only in JSON


def test_events_stored_before_the_chain_are_chained_by_the_migration(database_url):
    """A clinic upgrading keeps its trail verifiable: revision 0103 chains the events that
    revision 0101 stored, oldest first, and the append-only triggers are back afterwards."""
    import datetime as dt

    from alembic import command

    from triage.web.db import alembic_config

    engine = make_engine(database_url)
    config = alembic_config(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0101_clinic")
        for n in range(3):
            connection.execute(text(
                "INSERT INTO audit_events (at, actor, action, detail) VALUES (:at, 'alice', "
                "'view_queue', :detail)"), {"at": dt.datetime(2026, 12, 1, 9, n,
                                                             tzinfo=dt.timezone.utc),
                                           "detail": f"page {n}"})
    migrate(engine)
    with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text("UPDATE audit_events SET detail = 'x'"))
    engine.dispose()
    result = _verify(database_url)
    assert result.exit_code == 0 and "intact: 3 events" in result.output, result.output
