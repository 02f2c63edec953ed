"""Clinic accounts, sign-in limits, sessions and the audit trail, on SQLite and on PostgreSQL.

The account commands are driven as an administrator would: `triage users ...` with the password on
standard input (a script) or at a prompt (a terminal, through a pseudo-terminal)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pexpect
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from triage.cli import main_group
from triage.web.clinic import accounts, audit
from triage.web.clinic.models import AuditEvent, ClinicSession, User
from triage.web.db import make_engine, migrate, session_factory

PASSWORD = "correct horse battery"


@pytest.fixture
def db_url(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    engine.dispose()
    return database_url


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def triage(*args, input=None, url=None):
    result = CliRunner().invoke(main_group, [*args, *(["--database", url] if url else [])],
                                input=input, catch_exceptions=False)
    return result


# --------------------------------------------------------------------------- the commands

def test_no_account_exists_until_an_administrator_adds_one(db_url):
    result = triage("users", "list", url=db_url)
    assert result.exit_code == 0 and "No accounts yet" in result.output


def test_users_add_list_disable_enable(db_url):
    assert triage("users", "add", "alice", "--role", "admin", input=PASSWORD + "\n",
                  url=db_url).exit_code == 0
    assert triage("users", "add", "bob", input=PASSWORD + "\n", url=db_url).exit_code == 0
    listing = triage("users", "list", url=db_url).output.splitlines()
    assert listing[0].split()[:3] == ["NAME", "ROLE", "STATUS"]
    assert listing[1].split()[:3] == ["alice", "admin", "active"]
    assert listing[2].split()[:3] == ["bob", "clinician", "active"]
    assert PASSWORD not in "\n".join(listing)

    assert triage("users", "disable", "bob", url=db_url).exit_code == 0
    assert triage("users", "list", url=db_url).output.splitlines()[2].split()[2] == "disabled"
    assert triage("users", "enable", "bob", url=db_url).exit_code == 0
    assert triage("users", "list", url=db_url).output.splitlines()[2].split()[2] == "active"


def test_account_mistakes_are_one_line_and_exit_2(db_url):
    triage("users", "add", "alice", input=PASSWORD + "\n", url=db_url)
    for args, stdin, message in [
        (("users", "add", "alice"), PASSWORD, "already exists"),
        (("users", "add", "carol"), "short\n", "at least 10 characters"),
        (("users", "add", "carol"), "carol\n", "at least 10"),
        (("users", "add", "dave-the-nurse"), "dave-the-nurse\n", "must not be the account's name"),
        (("users", "add", "no spaces"), PASSWORD, "must be letters, digits"),
        (("users", "add", "carol"), "", "no password given"),
        (("users", "add", "carol", "--role", "root"), PASSWORD, "Invalid value for '--role'"),
        (("users", "disable", "nobody"), None, "no account named 'nobody'"),
        (("users", "set-password", "nobody"), PASSWORD, "no account named 'nobody'"),
    ]:
        result = triage(*args, input=stdin, url=db_url)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    # nothing half-made: the refused accounts do not exist
    names = triage("users", "list", url=db_url).output
    assert "carol" not in names and "dave" not in names


def test_a_password_is_never_taken_on_the_command_line():
    for command in ("add", "set-password"):
        result = triage("users", command, "alice", "--password", PASSWORD)
        assert result.exit_code == 2 and "No such option" in result.output


def test_set_password_at_a_terminal_is_hidden_and_confirmed(db_url, db):
    triage("users", "add", "alice", input=PASSWORD + "\n", url=db_url)
    env = {**os.environ, "TRIAGE_DATABASE_URL": db_url}
    child = pexpect.spawn(sys.executable, ["-m", "triage", "users", "set-password", "alice"],
                          env=env, encoding="utf-8", timeout=60)
    child.expect("New password for alice: ")
    child.sendline("a brand new password")
    child.expect("Repeat the password: ")
    child.sendline("a different one entirely")
    child.expect("do not match")  # click asks again
    child.expect("New password for alice: ")
    child.sendline("a brand new password")
    child.expect("Repeat the password: ")
    child.sendline("a brand new password")
    child.expect("Password of alice set.")
    child.expect(pexpect.EOF)
    assert "a brand new password" not in child.before  # never echoed
    child.close()
    assert child.exitstatus == 0
    with pytest.raises(accounts.SignInRefused):
        accounts.authenticate(db, "alice", PASSWORD, address="127.0.0.1")
    assert accounts.authenticate(db, "alice", "a brand new password", address="127.0.0.1")


def test_passwords_are_stored_as_argon2id_hashes(db_url, db):
    triage("users", "add", "alice", input=PASSWORD + "\n", url=db_url)
    stored = db.scalar(sa.select(User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_triage_audit_prints_the_trail_and_since_filters_it(db_url, db):
    triage("users", "add", "alice", input=PASSWORD + "\n", url=db_url)
    old = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    audit.record(db, "view_report", "alice", submission_id="Zq3-unguessable", address="10.1.2.3",
                 at=old)
    db.commit()
    everything = triage("audit", url=db_url)
    assert everything.exit_code == 0
    lines = everything.output.splitlines()
    assert any("user_add" in line and "alice" in line for line in lines)
    line = next(line for line in lines if "view_report" in line)
    assert line.startswith("2020-01-02 03:04:05Z")
    assert "submission Zq3-unguessable" in line and "from 10.1.2.3" in line

    recent = triage("audit", "--since", "2021-01-01", url=db_url).output
    assert "view_report" not in recent and "user_add" in recent
    as_json = [json.loads(line) for line in
               triage("audit", "--format", "jsonl", url=db_url).output.splitlines()]
    assert {"at", "actor", "action", "submission", "address", "detail"} == set(as_json[0])
    bad = triage("audit", "--since", "last tuesday", url=db_url)
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_the_audit_trail_is_append_only_in_the_database(db_url, db):
    audit.record(db, "sign_in", "alice", address="127.0.0.1")
    db.commit()
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.execute(sa.text(statement))
            db.commit()
        db.rollback()
    if db.bind.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.execute(sa.text("TRUNCATE audit_events"))
        db.rollback()
    assert db.scalar(sa.select(AuditEvent.actor)) == "alice"


# --------------------------------------------------------------------------- signing in

def add(db, name="alice", role="clinician"):
    user = accounts.add_user(db, name, PASSWORD, role=role, actor="test")
    db.commit()
    return user


def actions(db):
    return [(e.actor, e.action, e.address) for e in audit.events(db)
            if e.action.startswith("sign_in")]


def test_sign_in_checks_the_password_and_audits_every_attempt(db):
    add(db)
    with pytest.raises(accounts.SignInRefused, match="not right"):
        accounts.authenticate(db, "alice", "wrong password", address="192.0.2.1")
    with pytest.raises(accounts.SignInRefused, match="not right"):  # same words: no enumeration
        accounts.authenticate(db, "nobody", PASSWORD, address="192.0.2.1")
    user = accounts.authenticate(db, "alice", PASSWORD, address="192.0.2.1")
    db.commit()
    assert user.name == "alice" and user.last_sign_in_at is not None
    assert actions(db) == [("alice", "sign_in_failed", "192.0.2.1"),
                           ("nobody", "sign_in_failed", "192.0.2.1"),
                           ("alice", "sign_in", "192.0.2.1")]


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(db):
    user = add(db)
    signed_in = accounts.start_session(db, user)
    db.commit()
    accounts.disable_user(db, "alice", actor="test")
    db.commit()
    assert accounts.resume_session(db, signed_in.token) is None
    with pytest.raises(accounts.SignInRefused, match="disabled"):
        accounts.authenticate(db, "alice", PASSWORD, address="192.0.2.1")


def test_failed_attempts_lock_the_account_for_a_while(db):
    """After ACCOUNT_LIMIT wrong passwords in the window even the right one is refused, from
    any address, until the window has passed."""
    add(db)
    now = dt.datetime.now(dt.timezone.utc)
    for n in range(accounts.ACCOUNT_LIMIT):
        with pytest.raises(accounts.SignInRefused, match="not right"):
            accounts.authenticate(db, "alice", f"guess {n}", address=f"192.0.2.{n}", now=now)
    db.commit()
    with pytest.raises(accounts.SignInRefused, match="Too many"):
        accounts.authenticate(db, "alice", PASSWORD, address="198.51.100.7", now=now)
    later = now + accounts.WINDOW + dt.timedelta(seconds=1)
    assert accounts.authenticate(db, "alice", PASSWORD, address="198.51.100.7", now=later)
    assert ("alice", "sign_in_refused", "198.51.100.7") in actions(db)


def test_failed_attempts_lock_an_address_across_accounts(db):
    add(db, "alice")
    now = dt.datetime.now(dt.timezone.utc)
    for n in range(accounts.ADDRESS_LIMIT):  # spread over names, so no one account is locked
        with pytest.raises(accounts.SignInRefused, match="not right"):
            accounts.authenticate(db, f"user{n}", "guess", address="203.0.113.9", now=now)
    with pytest.raises(accounts.SignInRefused, match="Too many"):
        accounts.authenticate(db, "alice", PASSWORD, address="203.0.113.9", now=now)
    # another address is not affected
    assert accounts.authenticate(db, "alice", PASSWORD, address="203.0.113.10", now=now)


def test_a_session_expires_after_inactivity_and_each_request_renews_it(db):
    user = add(db)
    start = dt.datetime.now(dt.timezone.utc)
    token = accounts.start_session(db, user, now=start).token
    db.commit()
    minutes = accounts.DEFAULT_IDLE_MINUTES
    assert accounts.resume_session(db, token, now=start + dt.timedelta(minutes=minutes - 1))
    # renewed at minute 29, so still valid at minute 58
    assert accounts.resume_session(db, token, now=start + dt.timedelta(minutes=2 * minutes - 2))
    assert accounts.resume_session(
        db, token, now=start + dt.timedelta(minutes=3 * minutes)) is None
    assert db.scalar(sa.select(sa.func.count()).select_from(ClinicSession)) == 0


def test_the_database_keeps_only_a_hash_of_the_session_token(db):
    token = accounts.start_session(db, add(db)).token
    db.commit()
    stored = db.scalar(sa.select(ClinicSession.token_hash))
    assert token not in stored and len(token) >= 40
    accounts.end_session(db, token)
    db.commit()
    assert accounts.resume_session(db, token) is None


def test_the_triage_command_can_run_from_a_fresh_process(db_url):
    """`python -m triage users add` from a script, as the deployment guide
    (docs/administrators/deployment.md) shows for the first admin."""
    result = subprocess.run([sys.executable, "-m", "triage", "users", "add", "admin", "--role",
                             "admin", "--database", db_url], input=PASSWORD + "\n",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Added admin admin." in result.stderr
