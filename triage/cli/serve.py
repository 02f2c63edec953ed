"""`triage serve`: the patient's questionnaire and report in a browser (see triage/web/)."""
from __future__ import annotations

import ipaddress
import os
import re
import socket

import click

from .common import InputError, fail_on_input_errors, rules_option


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    """Say plainly that the port is taken (uvicorn would only log an OSError)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose "
                             f"another with --port, or stop what is using it") from None


def _emergency_number(_ctx, _param, value: str) -> str:
    """The tap-to-call number of the emergency page: digits with an optional leading +, short
    (a phone number has at most 15 digits), so it is a working tel: link and nothing else."""
    number = value.strip()
    if not re.fullmatch(r"\+?[0-9]{1,15}", number):
        raise click.BadParameter(f"{value!r} is not a phone number: digits only, an optional "
                                 f"leading +, at most 15 digits (e.g. 112, 999, 911)")
    return number


# what a database server that is not (yet) answering says, as opposed to a wrong name or password
_UNREACHABLE = ("connection refused", "no such file or directory", "could not connect",
                "the database system is starting up", "the database system is shutting down",
                "timeout expired", "server closed the connection")


def _migrate_when_reachable(engine, seconds: int) -> None:
    """Migrate; while the database server does not answer, try again every second for up to
    `seconds` (a server started with, or just before, its database), saying so once."""
    import time

    from sqlalchemy.exc import OperationalError

    from ..web.db import migrate

    deadline = time.monotonic() + seconds
    told = False
    while True:
        try:
            migrate(engine)
            return
        except OperationalError as exc:
            reason = str(getattr(exc, "orig", exc)).lower()
            if time.monotonic() >= deadline or not any(s in reason for s in _UNREACHABLE):
                raise
            if not told:
                click.echo(f"Waiting up to {seconds} s for the database to answer "
                           f"(Ctrl-C stops)...", err=True)
                told = True
            engine.dispose()
            time.sleep(1)


@click.command(epilog="Examples:\n\n\b\n"
                      "  triage serve\n"
                      "  triage serve --port 8080 --database sqlite:///clinic.sqlite3\n"
                      "  TRIAGE_DATABASE_URL=postgresql+psycopg://triage@/triage triage serve "
                      "--workers 4\n"
                      "  triage serve --host 0.0.0.0   (only behind a TLS reverse proxy)\n"
                      "  triage serve --emergency-number 999   (the UK)\n\n"
                      "Open the printed address in a browser. Answers are saved in the database "
                      "as they are given; sessions are deleted after --retention-days. Ctrl-C "
                      "stops the server.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address serves the network: "
                   "put a TLS reverse proxy in front.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.option("--database", "database_url", envvar="TRIAGE_DATABASE_URL", metavar="URL",
              default=None, show_envvar=True,
              help="SQLAlchemy database URL (e.g. sqlite:///triage.sqlite3, "
                   "postgresql+psycopg://user@host/db). Default: a SQLite file in your data "
                   "directory.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes (SQLite suits one or two; use PostgreSQL for more).")
@click.option("--retention-days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Delete a patient's session this many days after its last change.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Proxies whose X-Forwarded-Proto/-For headers are trusted (comma-separated, "
                   "or '*'): cookies are marked Secure when the proxy says HTTPS.")
@click.option("--emergency-number", envvar="TRIAGE_EMERGENCY_NUMBER", show_envvar=True,
              default="112", show_default=True, metavar="NUMBER", callback=_emergency_number,
              help="Your country's emergency number: the emergency pages name it in their "
                   "steps and dial it from their call links (999 in the UK, 911 in North "
                   "America, 000 in Australia). Default 112, the number across the European "
                   "Union.")
@click.option("--migrate-only", is_flag=True,
              help="Bring the database's schema up to date and stop, serving nothing: for a "
                   "deployment whose server role may not change the schema (run this as the "
                   "tables' owner, see docs/administrators/postgresql.md).")
@click.option("--wait-for-database", type=click.IntRange(min=0), default=30, show_default=True,
              metavar="SECONDS",
              help="At start, wait this long for a database server that does not answer yet "
                   "(it is starting, or restarting) before giving up.")
@click.option("--contact-details/--no-contact-details", envvar="TRIAGE_CONTACT_DETAILS",
              show_envvar=True, default=False, show_default=True,
              help="At the end, ask patients for their name, date of birth, phone or email "
                   "(with their consent), for the clinic to contact them. They are encrypted "
                   "with the key in TRIAGE_CONTACT_KEY (see "
                   "docs/administrators/contact-details.md).")
@click.option("--clinic-retention-days", type=click.IntRange(min=1), default=None,
              envvar="TRIAGE_CLINIC_RETENTION_DAYS", show_envvar=True,
              help="Delete a submission the clinic received (with its contact details, status, "
                   "notes, review and follow-up check-ins) this many days after its last change "
                   "(a check-in is a change). Default: as "
                   "--retention-days. Unfinished sessions follow --retention-days.")
@click.option("--rotate-contact-key", is_flag=True,
              help="Encrypt every stored contact detail again with the first key of "
                   "TRIAGE_CONTACT_KEY and stop, serving nothing (after putting a new key "
                   "first; then remove the old key).")
@rules_option
@fail_on_input_errors
def serve(host, port, database_url, workers, retention_days, forwarded_allow_ips,
          emergency_number, rules_dir, migrate_only, wait_for_database, contact_details,
          clinic_retention_days, rotate_contact_key):
    """Serve the questionnaire and the report in a browser (and a JSON API)."""
    import uvicorn

    from ..web.app import Settings, create_app
    from ..web.db import make_engine, migrate

    settings = Settings(database_url=database_url or "", rules_dir=rules_dir,
                        retention_days=retention_days,
                        emergency_number=emergency_number,
                        contact_details=contact_details,
                        clinic_retention_days=clinic_retention_days).resolved()
    if contact_details or rotate_contact_key:  # the key, checked before anything starts
        from ..web.clinic.contact import ContactKeyError, Keyring

        try:
            keyring = Keyring.from_env()
        except ContactKeyError as exc:
            raise InputError(str(exc)) from None
    # load the rules and migrate the database once, here, so that a mistake is one clear message
    # before anything listens (and the worker processes find the schema ready)
    from ..rulebook import load_rulebook

    load_rulebook(rules_dir)
    engine = make_engine(settings.database_url)
    try:
        _migrate_when_reachable(engine, wait_for_database)
    except Exception as exc:
        raise InputError(f"cannot open the database "
                         f"{engine.url.render_as_string(hide_password=True)}: {exc}") from None
    finally:
        engine.dispose()
    if rotate_contact_key:
        from ..web.clinic.contact import rotate_all

        count = rotate_all(settings.database_url, keyring)
        click.echo(f"Encrypted {count} patient(s)' contact details again with the first key. "
                   f"Once this has finished on every copy of the database, remove the old key "
                   f"from TRIAGE_CONTACT_KEY.", err=True)
        return
    if migrate_only:
        click.echo(f"The database {engine.url.render_as_string(hide_password=True)} is up to "
                   f"date.", err=True)
        return
    _check_port_free(host, port)

    shown_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    where = engine.url.render_as_string(hide_password=True)
    click.echo(f"Serving triage on http://{shown_host}:{port}/  (database: {where}; "
               f"Ctrl-C stops)", err=True)
    if not _is_loopback(host):
        click.echo(f"Warning: serving on {host}, beyond this machine, over plain HTTP. Answers "
                   f"about people's health must travel encrypted: put a TLS reverse proxy in "
                   f"front (and trust it with --forwarded-allow-ips).", err=True)

    common = dict(host=host, port=port, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips,
                  server_header=False, log_level="warning", access_log=False)
    if workers > 1:
        os.environ.update(settings.to_env())
        uvicorn.run("triage.web.app:app_from_env", factory=True, workers=workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    click.echo("Stopped.", err=True)
