"""The ASGI application of `triage serve` (FastAPI on Starlette, served by uvicorn).

``create_app(settings)`` builds one application: it loads the rule files once, opens the database
(migrating it to the newest schema), mounts the routes and the middleware, and purges sessions
older than the retention period while it runs. ``app_from_env()`` is the same for uvicorn's
worker processes (``--workers N``), which read their settings from the environment.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as _dt
import logging
import os

from fastapi import FastAPI
from sqlalchemy import delete

from .db import PatientSession, default_database_url, make_engine, migrate, session_factory, utcnow
from .security import RefuseUnstorable, SecurityHeaders

log = logging.getLogger("triage.web")

PURGE_EVERY_SECONDS = 3600
# Threads that run the (synchronous) request handlers of one server process, and as many database
# connections kept open for them. anyio's default is 40 threads: with the GIL more threads only
# contend, and 40 connections per process would exhaust a PostgreSQL server's default 100 at
# three processes. 16 keeps a slow query from holding everything up; a further request waits
# for a free thread.
REQUEST_THREADS = 16


@dataclasses.dataclass(frozen=True)
class Settings:
    """What `triage serve` is told: the database, the rule files, how long sessions are kept."""

    database_url: str = ""  # empty: TRIAGE_DATABASE_URL, else a SQLite file in the data directory
    rules_dir: str | None = None
    retention_days: int = 30
    max_body_bytes: int = 256 * 1024
    emergency_number: str = "112"  # the tap-to-call number of the emergency page
    # ask patients who they are at the end (clinic/contact.py); the key: TRIAGE_CONTACT_KEY
    contact_details: bool = False
    # days the clinic keeps a submission (and its contact details, status, notes and review)
    # after its last change; None: as long as retention_days (issue 24)
    clinic_retention_days: int | None = None

    def resolved(self) -> "Settings":
        return dataclasses.replace(self, database_url=self.database_url or default_database_url())

    # the environment that hands these settings to uvicorn's worker processes
    def to_env(self) -> dict[str, str]:
        env = {"TRIAGE_DATABASE_URL": self.database_url,
               "TRIAGE_RETENTION_DAYS": str(self.retention_days),
               "TRIAGE_MAX_BODY_BYTES": str(self.max_body_bytes),
               "TRIAGE_EMERGENCY_NUMBER": self.emergency_number,
               "TRIAGE_CONTACT_DETAILS": "1" if self.contact_details else "0",
               "TRIAGE_CLINIC_RETENTION_DAYS": str(self.clinic_retention_days or "")}
        if self.rules_dir:
            env["TRIAGE_RULES"] = self.rules_dir
        return env

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(database_url=os.environ.get("TRIAGE_DATABASE_URL", ""),
                   rules_dir=os.environ.get("TRIAGE_RULES") or None,
                   retention_days=int(os.environ.get("TRIAGE_RETENTION_DAYS", "30")),
                   max_body_bytes=int(os.environ.get("TRIAGE_MAX_BODY_BYTES", str(256 * 1024))),
                   emergency_number=os.environ.get("TRIAGE_EMERGENCY_NUMBER", "112"),
                   contact_details=os.environ.get("TRIAGE_CONTACT_DETAILS", "0") == "1",
                   clinic_retention_days=int(os.environ.get("TRIAGE_CLINIC_RETENTION_DAYS")
                                             or 0) or None)


def create_app(settings: Settings | None = None) -> FastAPI:
    from ..rulebook import load_rulebook

    settings = (settings or Settings()).resolved()
    # experta's watchers log every fact at INFO and DEBUG, the answers (and notes) among them: a
    # server must never write a person's answers to its logs, whatever the logging set-up
    for noisy in ("experta", "httpx", "httpx2", "multipart", "python_multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    rulebook = load_rulebook(settings.rules_dir)
    keyring = None
    if settings.contact_details:  # no key, or not a key: one clear message, before anything
        from .clinic.contact import Keyring

        keyring = Keyring.from_env()
    engine = make_engine(settings.database_url, pool_size=REQUEST_THREADS)
    migrate(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        purger = asyncio.create_task(_purge_forever(app))
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            engine.dispose()

    app = FastAPI(title="triage", version=_version(), lifespan=lifespan,
                  description="Rule-based triage of lower back pain: the patient's questionnaire "
                              "in a browser and a JSON API over the same library as the command "
                              "line. Not a diagnosis and not a substitute for a clinician.",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  max_body_size=settings.max_body_bytes)  # larger request bodies: 413
    # OpenAPI 3.0, which more client generators and validators read than 3.1; the API uses no
    # feature of 3.1 (its bodies are described by hand, see api.py)
    app.openapi_version = "3.0.3"
    app.state.settings = settings
    app.state.rulebook = rulebook
    app.state.keyring = keyring
    from .clinic.notify import Channels

    app.state.notify = Channels.from_env()  # emergency and urgent submissions: webhook, email
    app.state.engine = engine
    app.state.db = session_factory(engine)

    from fastapi.staticfiles import StaticFiles

    from ..resources import templates_dir
    from . import routes

    app.mount("/static", StaticFiles(directory=templates_dir() / "web" / "static"), name="static")
    routes.install(app)
    from .clinic import routes as clinic_routes

    clinic_routes.install(app)  # /clinic: the clinic's side
    _install_outage_page(app)
    # input no database can store is refused before any page runs (inside SecurityHeaders, so
    # that the refusal carries the security headers too)
    app.add_middleware(RefuseUnstorable, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _install_outage_page(app: FastAPI) -> None:
    """The database could not be reached, or refused a write (a full disk): a 503 page that says
    what to do, with the emergency advice, and shows back the form the person sent (with a "Try
    again" button that sends it again), never a bare "Internal Server Error". One log line names
    the fault's kind, never the statement's values (they are answers and notes). The engine's
    pool pings a connection before use (PostgreSQL) and opens new ones, so the next request after
    the database returns works."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    async def unavailable(request, exc):
        return outage_response(request, exc)

    for kind in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(kind, unavailable)


def outage_response(request, exc):
    from urllib.parse import parse_qsl

    from fastapi.responses import JSONResponse

    from .pages import render

    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or \
        getattr(getattr(exc, "orig", None), "sqlite_errorname", None)
    log.warning("database unavailable (%s%s) during %s %s", type(exc).__name__,
                f" {code}" if code else "", request.method,
                request.scope.get("route").path if request.scope.get("route") else "")
    headers = {"retry-after": "30"}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": "the service is unavailable for a moment; try again "
                                       "shortly", "field": None}, status_code=503,
                            headers=headers)
    fields = None
    question = entered = None
    if request.method == "POST":
        body = request.scope.get("triage.form_body")
        content_type = request.headers.get("content-type", "")
        fields = []
        if body is not None and content_type.startswith("application/x-www-form-urlencoded"):
            fields = [(name, value) for name, value in
                      parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                      if name != "password"]  # never echo a password back into a page
        path = request.url.path
        if path.startswith("/question/"):
            question, entered = _answer_words(request, path.rsplit("/", 1)[-1], dict(fields))
    settings = request.app.state.settings
    clinic = request.url.path.startswith("/clinic")
    screen = None if clinic else next(
        (s for s in request.app.state.rulebook.emergency_screens if not s.rules), None)
    response = render(request, "web/unavailable.html.j2", status_code=503, fields=fields,
                      action=request.url.path, question=question, entered=entered,
                      screen=screen, number=settings.emergency_number)
    response.headers.update(headers)
    return response


def _answer_words(request, qid: str, form: dict) -> tuple[str | None, str | None]:
    """The question and the answer the person sent, in the words they saw."""
    from .patient import NOT_SURE, _options

    q = request.app.state.rulebook.questionnaire.questions.get(qid)
    if q is None:
        return None, None
    entered = form.get("answer", "")
    if entered == NOT_SURE:
        return q.text, "I'm not sure"
    words = next((o["label"] for o in _options(q) if o["value"] == entered), entered)
    return q.text, words


def app_from_env() -> FastAPI:
    """The application of one uvicorn worker process (settings from the environment)."""
    return create_app(Settings.from_env())


def purge_expired(app: FastAPI, *, now: _dt.datetime | None = None) -> int:
    """Delete the unfinished sessions not changed for ``retention_days``, and the clinic's
    submissions (with their contact details, status, notes, review and follow-up check-ins, by
    ON DELETE CASCADE; a completed check-in changes its submission) not changed for
    ``clinic_retention_days`` (when unset, ``retention_days``); returns how many. The audit
    trail stays: it holds ids, never answers."""
    from sqlalchemy import and_, or_

    settings = app.state.settings
    now = now or utcnow()
    unfinished = and_(PatientSession.submitted_at.is_(None),
                      PatientSession.emergency_corrected_at.is_(None))
    patient_cutoff = now - _dt.timedelta(days=settings.retention_days)
    clinic_cutoff = now - _dt.timedelta(days=settings.clinic_retention_days or
                                        settings.retention_days)
    with app.state.db.begin() as db:
        result = db.execute(delete(PatientSession).where(or_(
            and_(unfinished, PatientSession.updated_at < patient_cutoff),
            and_(~unfinished, PatientSession.updated_at < clinic_cutoff))))
    return result.rowcount or 0


async def _purge_forever(app: FastAPI) -> None:
    while True:
        try:
            count = await asyncio.to_thread(purge_expired, app)
            if count:
                log.info("deleted %d session(s) older than %d days", count,
                         app.state.settings.retention_days)
        except Exception:  # never let the purge stop the server; say why and try again later
            log.exception("could not delete expired sessions")
        await asyncio.sleep(PURGE_EVERY_SECONDS)


def _version() -> str:
    from .. import __version__

    return __version__
