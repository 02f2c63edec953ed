"""`triage users` (the clinic's staff accounts) and `triage audit` (who saw what, when)."""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sys

import click

from ..web.clinic.audit import ACTIONS
from .common import InputError, fail_on_input_errors

ROLES = ("clinician", "admin")


def database_option(function):
    """--database URL / TRIAGE_DATABASE_URL, as for `triage serve`."""
    return click.option(
        "--database", "database_url", envvar="TRIAGE_DATABASE_URL", metavar="URL", default=None,
        show_envvar=True,
        help="SQLAlchemy database URL, the one `triage serve` uses (default: the SQLite file in "
             "your data directory).")(function)


@contextlib.contextmanager
def open_database(database_url: str | None):
    """A database session on the (migrated) database; committed when the block succeeds."""
    from ..web.db import default_database_url, make_engine, migrate, session_factory

    engine = make_engine(database_url or default_database_url())
    try:
        try:
            migrate(engine)
        except Exception as exc:
            raise InputError(f"cannot open the database "
                             f"{engine.url.render_as_string(hide_password=True)}: "
                             f"{str(exc).splitlines()[0]}") from None
        import triage.web.clinic.models  # noqa: F401  (the tables' classes)

        with session_factory(engine)() as db:
            yield db
            db.commit()
    finally:
        engine.dispose()


def read_password(name: str) -> str:
    """Prompted twice (hidden) at a terminal; one line of standard input otherwise (scripts)."""
    if sys.stdin is not None and sys.stdin.isatty():
        return click.prompt(f"New password for {name}", hide_input=True,
                            confirmation_prompt="Repeat the password")
    line = sys.stdin.readline() if sys.stdin is not None else ""
    password = line.rstrip("\r\n")
    if not password:
        raise InputError("no password given: type it at the prompt, or pipe it on standard input "
                         "(never on the command line)")
    return password


@click.group(epilog="Examples:\n\n\b\n"
                    "  triage users add alice --role admin\n"
                    "  triage users list\n"
                    "  triage users set-password alice\n"
                    "  triage users disable bob\n"
                    "  pwgen -s 20 1 | tee /dev/tty | triage users add carol   (scripted)\n\n"
                    "There is no default account: add the first administrator before opening "
                    "/clinic. Passwords are prompted for (or read from standard input when it is "
                    "not a terminal), never given on the command line, and stored as argon2id "
                    "hashes.")
def users():
    """Manage the clinic's staff accounts (who may open /clinic)."""


@users.command(epilog="Examples:\n\n\b\n  triage users add alice --role admin\n"
                      "  triage users add bob --database postgresql+psycopg://triage@/triage")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="clinician", show_default=True,
              help="clinician: the queue and submissions; admin: also the audit trail.")
@database_option
@fail_on_input_errors
def add(name, role, database_url):
    """Add an account NAME (the password is prompted for)."""
    from ..web.clinic import accounts, audit

    with open_database(database_url) as db:
        if accounts.find_user(db, name) is not None:
            raise InputError(f"an account named {name!r} already exists")
        accounts._check_name(name)
        password = read_password(name)
        accounts.add_user(db, name, password, role=role, actor=audit.command_line_actor())
    click.echo(f"Added {role} {name}.", err=True)


@users.command("list", epilog="Examples:\n\n\b\n  triage users list\n  triage users list --database postgresql+psycopg://triage@/triage")
@database_option
@fail_on_input_errors
def list_(database_url):
    """List the accounts: name, role, whether disabled, when created and last signed in."""
    from ..web.clinic import accounts
    from ..web.clinic.audit import as_utc

    def when(moment):
        return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"

    with open_database(database_url) as db:
        rows = [(u.name, u.role, "disabled" if u.disabled else "active", when(u.created_at),
                 when(u.last_sign_in_at)) for u in accounts.list_users(db)]
    if not rows:
        click.echo("No accounts yet: add one with `triage users add NAME --role admin`.",
                   err=True)
        return
    header = ("NAME", "ROLE", "STATUS", "CREATED", "LAST SIGN-IN")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@users.command(epilog="Examples:\n\n\b\n  triage users disable bob\n  triage users disable bob --database sqlite:///clinic.sqlite3\n\n"
                      "The account's signed-in sessions end at once; its history stays.")
@click.argument("name")
@database_option
@fail_on_input_errors
def disable(name, database_url):
    """Disable account NAME: it can no longer sign in, and its open sessions end."""
    from ..web.clinic import accounts, audit

    with open_database(database_url) as db:
        accounts.disable_user(db, name, actor=audit.command_line_actor())
    click.echo(f"Disabled {name}.", err=True)


@users.command(epilog="Examples:\n\n\b\n  triage users enable bob\n  TRIAGE_DATABASE_URL=sqlite:///clinic.sqlite3 triage users enable bob")
@click.argument("name")
@database_option
@fail_on_input_errors
def enable(name, database_url):
    """Enable a disabled account NAME again."""
    from ..web.clinic import accounts, audit

    with open_database(database_url) as db:
        accounts.enable_user(db, name, actor=audit.command_line_actor())
    click.echo(f"Enabled {name}.", err=True)


@users.command("set-password", epilog="Examples:\n\n\b\n  triage users set-password alice\n"
                                      "  printf '%s\\n' \"$NEW\" | triage users set-password alice")
@click.argument("name")
@database_option
@fail_on_input_errors
def set_password(name, database_url):
    """Set a new password for NAME (prompted for; the account's open sessions end)."""
    from ..web.clinic import accounts, audit

    with open_database(database_url) as db:
        accounts._user(db, name)
        password = read_password(name)
        accounts.set_password(db, name, password, actor=audit.command_line_actor())
    click.echo(f"Password of {name} set.", err=True)


def _parse_since(value: str | None) -> _dt.datetime | None:
    if value is None:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD or "
                                 f"YYYY-MM-DDTHH:MM)", param_hint="--since") from None
    return moment.replace(tzinfo=_dt.timezone.utc) if moment.tzinfo is None else moment


@click.command(epilog="Examples:\n\n\b\n  triage audit\n  triage audit --since 2026-12-01\n"
                      "  triage audit --since 2026-12-01T09:00 --format jsonl > audit.jsonl\n\n"
                      "\b\nActions:\n" + "".join(f"  {action:16} {meaning}\n"
                                                    for action, meaning in ACTIONS.items()) +
                      "\nTimes are UTC. The trail never holds answers.")
@click.option("--since", metavar="DATE", default=None,
              help="Only events at or after DATE (YYYY-MM-DD or an ISO date and time; UTC "
                   "unless it names a zone).")
@click.option("--format", "output_format", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="text: aligned columns; jsonl: one JSON object a line.")
@click.option("--verify", is_flag=True,
              help="Check the trail's hash chain instead of printing it: exit 1 and name each "
                   "event that was changed, removed or inserted; else print the newest event's "
                   "hash (keep it elsewhere to find a later rewrite of the newest events).")
@database_option
@fail_on_input_errors
def audit(since, output_format, verify, database_url):
    """Print the clinic's audit trail: who did what to which submission, when, from where."""
    from ..web.clinic import audit as trail

    if verify:
        with open_database(database_url) as db:
            found = trail.verify(db)
        if found.problems:
            for problem in found.problems:
                click.echo(f"Changed: {problem}", err=True)
            click.echo(f"The audit trail has been tampered with: {len(found.problems)} "
                       f"problem(s) in {found.count} events.", err=True)
            raise SystemExit(1)
        click.echo(f"The audit trail is intact: {found.count} events, each following the one "
                   f"before. Newest hash: {found.head}")
        return
    moment = _parse_since(since)
    with open_database(database_url) as db:
        events = trail.events(db, since=moment)
    if output_format == "jsonl":
        for event in events:
            # the exact values; a control character is a JSON escape, never sent to the terminal
            line = json.dumps(event.to_dict(), ensure_ascii=False)
            click.echo(trail.UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", line))
        return
    if not events:
        click.echo("No audit events" + (f" since {since}." if since else "."), err=True)
        return
    for event in events:
        event = event.printable()  # a name with a newline or an escape sequence stays one field
        click.echo("  ".join([
            event.at.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
            event.actor.ljust(12), event.action.ljust(15),
            f"submission {event.submission_id}" if event.submission_id else "-",
            f"from {event.address}" if event.address else "",
            event.detail or ""]).rstrip())
