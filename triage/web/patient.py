"""The patient's journey: start, one question per page, check your answers, the assessment and
the report; the emergency page the moment the answers make the urgency an emergency; saving and
coming back with a resume code.

Every page drives ``triage.ask.Session`` (the flow of ``triage ask``: which question is next, skip
logic, the emergency check, parsing an answer) over a ``DatabaseStore``; nothing here decides
which question comes next or what an answer means. Pages are server-rendered and work without
JavaScript; every form carries the CSRF token.

States of a session row: in progress (``submitted_at`` empty); at an emergency (``urgency`` is
``emergency``: the person may still go back and correct an answer); finished (submitted with any
other urgency: the answers are final, the result and report are shown).
"""
from __future__ import annotations

import collections
import datetime as _dt
import inspect
import json
import re
from typing import Any

from sqlalchemy import insert, select

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..ask import AnswerRejected, Session, display_value
from ..questionnaire import Question
from .db import MovedToken, digest, utcnow
from .pages import render
from .security import CsrfRefused, check_csrf, set_cookie
from .store import (SESSION_COOKIE, DatabaseStore, PatientRows, find_by_resume_code,
                    find_by_token, give_resume_code, is_expired, start_session)


class _Pages:
    """The patient's pages, as plain Starlette routes (not in the OpenAPI document).

    ``@router.get(path)`` / ``@router.post(path)`` register a synchronous page function
    ``fn(request, **params)``: each parameter after `request` is a path parameter when the path
    names it, else a query parameter (GET) or a form field (POST), a string defaulting to the
    function's default. The function runs in the thread pool (it uses the database), as FastAPI
    would run it. Plain routes instead of FastAPI's ``APIRouter``: FastAPI's per-request
    dependency solving, validation and route matching cost about 0.3 ms per GET and 0.5 ms per
    POST here, a sixth of the server's CPU per answer (benchmarks/bench_web.py).
    """

    def __init__(self):
        self.pages: list[tuple[str, str, Any]] = []  # (method, path, endpoint)

    def install(self, app) -> None:
        for method, path, endpoint in self.pages:
            app.router.add_route(path, endpoint, methods=[method], name=endpoint.__name__,
                                 include_in_schema=False)

    def get(self, path: str):
        return self._page("GET", path)

    def post(self, path: str):
        return self._page("POST", path)

    def _page(self, method: str, path: str):
        in_path = set(re.findall(r"{(\w+)", path))

        def register(fn):
            fields = [(name, parameter.default if parameter.default is not parameter.empty
                       else "") for name, parameter in
                      list(inspect.signature(fn).parameters.items())[1:] if name not in in_path]

            def strings(given) -> dict:
                values = {}
                for name, default in fields:
                    value = given.get(name, default)
                    values[name] = value if isinstance(value, str) else default  # no files
                return values

            async def endpoint(request: Request) -> Response:
                params = dict(request.path_params)
                if method == "POST" and fields:
                    async with request.form() as form:  # closes any uploaded file at once
                        params.update(strings(form))
                elif fields:
                    params.update(strings(request.query_params))
                return await run_in_threadpool(fn, request, **params)

            endpoint.__name__ = fn.__name__
            self.pages.append((method, path, endpoint))
            return fn

        return register


router = _Pages()

MAX_TEXT = 5000  # characters of a free-text answer (the notes)
NOT_SURE = "__not_sure__"  # the "I'm not sure" radio: the question left unanswered


# --------------------------------------------------------------------------- helpers

class _Stop(Exception):
    """Leave the handler with this response (a redirect, the expired page)."""

    def __init__(self, response: Response):
        self.response = response


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _db(request: Request) -> PatientRows:
    """The database for one request, used as ``with _db(request) as db:`` inside the handler
    (in its worker thread): rolled back and closed at the end unless the handler commits.
    Not a FastAPI ``Depends`` generator: that costs two more thread hops and an exit stack per
    request, a fifth of the server's CPU per answer under load (benchmarks/bench_web.py).
    A form post locks its session's row until it commits (store.PatientRows): two posts on one
    session (two tabs, a double tap) never interleave, so none loses the other's answer."""
    return PatientRows(request.app.state.engine, for_update=request.method == "POST")


def _patient(request: Request, db: PatientRows):
    """The row of this browser's session; stops with the start page (no session) or the expired
    page (a cookie whose session has been deleted or is past the retention period)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _Stop(_see("/"))
    row = find_by_token(db, token)
    if row is not None and is_expired(row, request.app.state.settings.retention_days):
        if row.submitted_at is None and row.emergency_corrected_at is None:
            db.delete(row)  # unfinished: gone; a submission stays for the clinic's retention
            db.commit()
        row = None
    if row is None:
        moved = db.connection.execute(select(MovedToken.__table__.c.moved_at).where(
            MovedToken.__table__.c.token_hash == digest(token))).first()
        response = render(request, "web/moved.html.j2" if moved else "web/expired.html.j2",
                          status_code=410)
        response.delete_cookie(SESSION_COOKIE, path="/")
        raise _Stop(response)
    return row


def _flow(request: Request, row) -> Session:
    return Session.open(request.app.state.rulebook, DatabaseStore(row))


def _finished(row) -> bool:
    return row.submitted_at is not None and row.urgency != "emergency"


def _next_url(session: Session) -> str:
    q = session.next_question()
    return f"/question/{q.id}" if q is not None else "/check-answers"


def install_handlers(app) -> None:
    """What a page's early exits turn into: the response carried by _Stop; a refused form."""

    @app.exception_handler(_Stop)
    async def _stopped(request: Request, stop: _Stop):
        return stop.response

    @app.exception_handler(CsrfRefused)
    async def _refused(request: Request, exc: CsrfRefused):
        return render(request, "web/refused.html.j2", status_code=403)


def _check(request: Request, token: str) -> None:
    check_csrf(request, {"csrf_token": token})


def _settle(row, session: Session, db: PatientRows | None = None,
            request: Request | None = None) -> Any:
    """After an answer: the emergency check. At an emergency the row is submitted with its
    assessment at once (so a clinic sees it); an answer corrected so that it no longer is one
    takes the submission back, but not out of the clinic's sight: the row keeps the emergency
    assessment that was shown and when it was corrected (the queue lists it as "emergency shown,
    then corrected by the patient" until the patient finishes, and marks the final submission
    so), and the audit trail records the correction. Returns the emergency assessment, or None."""
    emergency = session.emergency()
    if emergency is not None:
        if db is not None:
            _give_reference(row, db)
        row.submitted_at = utcnow()
        row.urgency = "emergency"
        row.assessment = emergency.to_dict()
    elif row.urgency == "emergency":
        row.submitted_at = row.urgency = None
        row.emergency_corrected_at = utcnow()
        if db is not None:
            _audit(db, "emergency_corrected", row.id, request)
    return emergency


def _audit(db: PatientRows, action: str, submission_id: str | None,
           request: Request | None) -> None:
    """One event of the clinic's audit trail (actor "patient"), in this request's transaction."""
    from sqlalchemy.orm import Session as OrmSession

    from .clinic import audit

    address = request.client.host if request is not None and request.client else None
    with OrmSession(bind=db.connection) as orm:
        audit.record(orm, action, "patient", submission_id=submission_id, address=address)
        orm.flush()


# --------------------------------------------------------------------------- start

@router.get("/")
def start_page(request: Request):
    with _db(request) as db:
        row = find_by_token(db, request.cookies.get(SESSION_COOKIE))
        if row is not None and is_expired(row, request.app.state.settings.retention_days):
            row = None
        current = None
        if row is not None:
            session = _flow(request, row)
            current = {"answered": len(session.given), "finished": _finished(row),
                       "emergency": row.urgency == "emergency",
                       "continue_url": _continue_url(row, session)}
        questionnaire = request.app.state.rulebook.questionnaire
        total = sum(not questionnaire.is_skipped(qid, {}) for qid in questionnaire.questions)
        return render(request, "web/start.html.j2", current=current, total=total,
                      retention_days=request.app.state.settings.retention_days)


def _continue_url(row, session: Session) -> str:
    if _finished(row):
        return "/result"
    if row.urgency == "emergency":
        return "/emergency"
    return _next_url(session)


@router.post("/start")
def start(request: Request, csrf_token: str = ""):
    with _db(request) as db:
        _check(request, csrf_token)
        row, token = start_session(db)
        db.commit()
        session = _flow(request, row)
        response = _see(_next_url(session))
        set_cookie(response, request, SESSION_COOKIE, token,
                   max_age=request.app.state.settings.retention_days * 86400)
        return response


# --------------------------------------------------------------------------- one question

def _question_context(request: Request, session: Session, q: Question, *, error: str | None = None,
                      entered: str | None = None, returning: bool = False) -> dict:
    number, total = session.progress(q.id)
    asked = session.to_ask()
    index = asked.index(q.id) if q.id in asked else len(asked)
    if returning:
        back = "/check-answers"
    elif index > 0:
        back = f"/question/{asked[index - 1]}"
    else:
        back = "/"
    rules = session.why_asked(q.id)
    if entered is None:
        if q.id in session.given:
            value = session.given[q.id]
            entered = NOT_SURE if value is None else _form_value(q, value)
        else:
            entered = ""
    return {
        "q": q, "number": number, "total": total, "back": back, "error": error,
        "entered": entered, "section": session.section_title[q.id],
        "options": _options(q), "returning": returning,
        "why": [{"id": rule.id, "title": rule.title} for rule in rules],
        # a length of time may be typed with its unit ("10 days"): a keyboard with letters
        "input_kind": "text" if q.id.endswith("_weeks") else
                      {"integer": "numeric", "number": "decimal"}.get(q.type),
        "number_hint": _number_hint(q) if q.type in ("integer", "number") else "",
        "unit": UNITS.get(q.id, ""),
        "max_text": MAX_TEXT,
    }


def _options(q: Question) -> list[dict]:
    """The radios of a yes/no or choice question; "I'm not sure" where it may be left
    unanswered (an unanswered warning sign is unknown, never "no")."""
    if q.type == "bool":
        options = [{"value": "yes", "label": "Yes", "divider": False},
                   {"value": "no", "label": "No", "divider": False}]
    elif q.type == "choice":
        options = [{"value": value, "label": label, "divider": False}
                   for value, label in q.choices]
    else:
        return []
    if not q.required and q.default is None:
        options.append({"value": NOT_SURE, "label": "I'm not sure", "divider": True})
    return options


# The unit of each number question, shown beside its field and in its hint (the questionnaire
# has no unit of its own yet; a number question not listed here shows none)
UNITS = {"age": "years", "duration_weeks": "weeks", "sitting_hours": "hours a day"}


def _number_hint(q: Question) -> str:
    """What to type in a number question, in plain words: the range, the unit, how to give a
    length of time in other units, and that an optional one may stay empty."""
    unit = UNITS.get(q.id)
    words = q.describe_values()
    hint = words[:1].upper() + words[1:] + (f", in {unit}" if unit else "") + "."
    if q.type == "number" and q.id.endswith("_weeks"):
        hint += " You can also type days, months or years, for example 10 days or 4 months."
    if not q.required:
        hint += " Optional: leave it empty if you are not sure."
    return hint


def _form_value(q: Question, value) -> str:
    if q.type == "bool":
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _web_error(q: Question, reason: str, text: str) -> str:
    """The message a person reads above the field and in the error summary: what to enter, and
    what was wrong with what they entered (the flow's own reason, which `triage ask` shows)."""
    if q.type in ("bool", "choice"):
        return "Select an answer" if not text else "Select one of the answers shown"
    if q.type in ("integer", "number"):
        if reason.startswith("give a number of weeks"):  # a length of time in a unit not known
            return reason[:1].upper() + reason[1:]
        unit = UNITS.get(q.id)
        wanted = f"Enter {q.describe_values()}" + (f", in {unit}" if unit else "")
        if text and "out of range" in reason:
            return f"{wanted} ({text} is out of range)"
        return wanted
    return reason[:1].upper() + reason[1:]


def _asked(request: Request, db: PatientRows, qid: str, entered: str = ""):
    """This browser's row, its flow and question `qid`, when the person may see or answer it now;
    otherwise stops with where to go instead: the result once finished, not found for an unknown
    id, the next question for one skipped or not reached yet (no skipping ahead)."""
    row = _patient(request, db)
    if _finished(row):
        if request.method == "POST":  # sent from another window first: say so, keep the answer
            raise _Stop(_changed_elsewhere(request, qid, entered))
        raise _Stop(_see("/result"))
    session = _flow(request, row)
    q = session.questionnaire.questions.get(qid)
    if q is None:
        raise _Stop(render(request, "web/not_found.html.j2", status_code=404))
    upcoming = session.next_question()
    if session.is_skipped(qid) or (qid not in session.given
                                   and (upcoming is None or upcoming.id != qid)):
        raise _Stop(_see(_next_url(session)))
    return row, session, q


@router.get("/question/{qid}")
def question_page(request: Request, qid: str, change: str = ""):
    with _db(request) as db:
        row, session, q = _asked(request, db, qid)
        return render(request, "web/question.html.j2",
                      **_question_context(request, session, q, returning=bool(change)))


def _entered(q: Question, answer: str) -> str:
    """What the person typed, as an error message quotes it ("I'm not sure" is not typed)."""
    not_sure = answer == NOT_SURE and any(o["value"] == NOT_SURE for o in _options(q))
    return "" if not_sure else answer.strip()


def parsed_answer(q: Question, session: Session, answer: str):
    """The value of one posted answer, or AnswerRejected: the first visit's question pages and
    the follow-up check-in's (web/follow_up.py) take answers by the same rules."""
    not_sure = answer == NOT_SURE and any(o["value"] == NOT_SURE for o in _options(q))
    text = "" if not_sure else answer
    if q.type == "text" and len(text) > MAX_TEXT:
        raise AnswerRejected(f"keep it under {MAX_TEXT:,} characters (this is {len(text):,})")
    if not text.strip():
        # a radio question answers only with a radio chosen: "I'm not sure" is one, and an
        # empty Continue is never taken as it, nor as the question's default (issue 20); a
        # required number says so; an optional number or the notes may stay empty (the hint
        # says so), which leaves them unanswered, never a default
        if q.required or (q.type in ("bool", "choice") and not not_sure):
            raise AnswerRejected("this question needs an answer")
        return None
    return session.parse(q, text)


@router.post("/question/{qid}")
def answer(request: Request, qid: str, csrf_token: str = "",
           answer: str = "", change: str = ""):
    with _db(request) as db:
        _check(request, csrf_token)
        row, session, q = _asked(request, db, qid, answer)
        try:
            value = parsed_answer(q, session, answer)
        except AnswerRejected as exc:
            return render(request, "web/question.html.j2", status_code=400,
                          **_question_context(request, session, q, returning=bool(change),
                                              error=_web_error(q, str(exc), _entered(q, answer)),
                                              entered=answer))
        session.record(q.id, value)
        was_emergency = row.urgency == "emergency"
        emergency = _settle(row, session, db, request)
        db.commit()
        if emergency is not None:
            if not was_emergency:
                _notify(request, row)
            return _see("/emergency")
        return _see(_next_url(session))


def _changed_elsewhere(request: Request, qid: str, entered: str) -> Response:
    """The page of an answer posted after the check was sent from another window (409): nothing
    is changed, since a sent check's answers are final, and the answer entered is shown."""
    q = request.app.state.rulebook.questionnaire.questions.get(qid)
    words = entered[:MAX_TEXT]
    if q is not None and entered == NOT_SURE:
        words = "I'm not sure"
    elif q is not None and q.type in ("bool", "choice"):
        words = next((o["label"] for o in _options(q) if o["value"] == entered), words)
    return render(request, "web/changed.html.j2", status_code=409,
                  question=q.text if q is not None else None, entered=words)


# --------------------------------------------------------------------------- check, submit

@router.get("/check-answers")
def check_answers(request: Request):
    with _db(request) as db:
        row = _patient(request, db)
        if _finished(row):
            return _see("/result")
        if row.urgency == "emergency":
            return _see("/emergency")
        session = _flow(request, row)
        if session.next_question() is not None:
            return _see(_next_url(session))
        sections: dict[str, list] = collections.OrderedDict()
        for summary in session.summary():
            q = summary.question
            if summary.status == "implied":
                words = f"{display_value(q, summary.value)} (follows from your other answers)"
            elif summary.status == "not asked":
                continue
            elif summary.value is None:
                words = "Not sure" if q.type != "text" else "None"
            else:
                words = display_value(q, summary.value)
            words = words[:1].upper() + words[1:]  # "No", as the radios say it
            sections.setdefault(session.section_title[q.id], []).append({
                "q": q, "words": words,
                "change": summary.status in ("answered", "unanswered")})
        last = session.to_ask()[-1]
        return render(request, "web/check_answers.html.j2", sections=sections,
                      back=f"/question/{last}")


@router.post("/submit")
def submit(request: Request, csrf_token: str = ""):
    with _db(request) as db:
        _check(request, csrf_token)
        row = _patient(request, db)
        if _finished(row):
            return _see("/result")
        session = _flow(request, row)
        if session.next_question() is not None:
            return _see(_next_url(session))
        result = session.assessment()
        was_emergency = row.urgency == "emergency"
        _give_reference(row, db)
        row.submitted_at = utcnow()
        row.urgency = result.urgency
        row.assessment = result.to_dict()
        from .follow_up import on_submitted

        on_submitted(row)  # the review date of a self-care or soon result (follow_up.py)
        db.commit()
        if not (was_emergency and result.urgency == "emergency"):
            _notify(request, row)
        outcome = "/emergency" if result.urgency == "emergency" else "/result"
        if _asks_contact(request) and not _has_contact(db, row):
            return _see("/contact")
        return _see(outcome)


# --------------------------------------------------------------------------- outcomes

def _assessment(request: Request, row):
    """The assessment of the row's answers (the same library call as `triage assess`); at an
    emergency, the emergency check's (the questions may have stopped before the required injury
    question, so the answers alone may not make a complete assessment)."""
    session = _flow(request, row)
    if row.urgency == "emergency":
        result = session.emergency()
        if result is not None:
            return result
    return session.assessment()


@router.get("/emergency")
def emergency_page(request: Request):
    """What `triage ask` shows at an emergency, in the same words (triage.emergency, whose words
    are data in the rule files), with a tap-to-call link."""
    from ..emergency import emergency_screen

    with _db(request) as db:
        row = _patient(request, db)
        if row.urgency != "emergency":
            return _see("/result" if _finished(row) else _next_url(_flow(request, row)))
        session = _flow(request, row)
        # Session.emergency, not .assessment: the first emergency checks come before the (required)
        # injury question, so the answers may not yet make a complete assessment
        result = session.emergency()
        if result is None:  # the rules changed since: never show a stale emergency
            _settle(row, session, db, request)
            db.commit()
            return _see(_next_url(session))
        rulebook = request.app.state.rulebook
        number = request.app.state.settings.emergency_number
        screen = emergency_screen(result, rulebook, number)
        non_spinal = ""
        if "non_spinal" in result.red_flags:
            words = rulebook.label("red_flag", "non_spinal")
            non_spinal = (f"{words[:1].upper()}{words[1:]}: stretches and back care are not "
                          f"the answer.")
        asked = [qid for qid in session.to_ask() if qid in session.given]
        return render(request, "web/emergency.html.j2", screen=screen, non_spinal=non_spinal,
                      why=screen.reasons, number=number, reference=row.reference,
                      contact=_asks_contact(request) and not _has_contact(db, row),
                      flags=[rulebook.label("red_flag", f) for f in result.red_flags
                             if f != "non_spinal"],
                      back=f"/question/{asked[-1]}" if asked else "/")


@router.get("/result")
def result_page(request: Request):
    from ..report import report_facts

    with _db(request) as db:
        row = _patient(request, db)
        if row.urgency == "emergency":
            return _see("/emergency")
        if not _finished(row):
            return _see(_next_url(_flow(request, row)))
        result = _assessment(request, row)
        facts = report_facts(result, request.app.state.rulebook)
        from .follow_up import offer

        return render(request, "web/result.html.j2", report=facts, pdf=_pdf_available(),
                      reference=row.reference, follow_up=offer(row),
                      contact=_asks_contact(request) and not _has_contact(db, row))


def _pdf_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("weasyprint") is not None


def _submitted(request: Request, db: PatientRows):
    row = _patient(request, db)
    if row.submitted_at is None:
        raise _Stop(_see(_next_url(_flow(request, row))))
    return row


@router.get("/report")
def report_html(request: Request):
    """The full report, the same document as `triage report` (its own print styles)."""
    from ..report import render_report

    with _db(request) as db:
        row = _submitted(request, db)
        html = render_report(_assessment(request, row), request.app.state.rulebook, "html",
                             reference=row.reference)
        html = _with_report_nav(html, "/emergency" if row.urgency == "emergency" else "/result",
                                _pdf_available())
        # the report is one self-contained document with its styles inline (it is also a file
        # people keep): allow its inline styles, and no script at all
        return HTMLResponse(html, headers={"content-security-policy": REPORT_POLICY})


def _with_report_nav(html: str, back: str, pdf: bool) -> str:
    """The web's report with a way back to the result and how to print it, above the report
    (not printed). No script: the report page allows none, so printing is the browser's own
    command, said in plain words, and the PDF where the server can make one."""
    from markupsafe import escape

    words = "your emergency advice" if back == "/emergency" else "your result"
    pdf_link = (' or <a href="/report.pdf" download>download it as a PDF</a>' if pdf else "")
    nav = (
        '<style>.web-nav{font:16px/1.5 system-ui,sans-serif;background:#f0f4f5;'
        'border-bottom:1px solid #d8dde0;padding:12px 16px;margin:0 0 12px}'
        '.web-nav p{margin:0 0 4px;font-size:16px!important}.web-nav a{color:#005eb8}'
        '@media print{.web-nav{display:none}}</style>'
        f'<nav class="web-nav" aria-label="Report"><p><a href="{escape(back)}">Back to '
        f'{words}</a></p><p>To print or save this report, use your browser\'s Print command '
        f'(Ctrl+P, or \u2318+P on a Mac; on a phone, Share then Print){pdf_link}.</p></nav>')
    return html.replace("<body>", "<body>" + nav, 1)


REPORT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@router.get("/report.pdf")
def report_pdf(request: Request):
    from ..errors import TriageError
    from ..report import render_pdf

    with _db(request) as db:
        row = _submitted(request, db)
        try:
            data = render_pdf(_assessment(request, row), request.app.state.rulebook,
                              reference=row.reference)
        except TriageError as exc:  # WeasyPrint is not installed
            return render(request, "web/no_pdf.html.j2", status_code=501, problem=exc.message)
        return Response(data, media_type="application/pdf", headers={
            "content-disposition": 'attachment; filename="back-pain-report.pdf"'})


@router.get("/answers.json")
def answers_download(request: Request):
    """The answers so far, exactly as `triage assess` reads them."""
    with _db(request) as db:
        row = _patient(request, db)
        session = _flow(request, row)
        data = {qid: session.given[qid] for qid in session.order if qid in session.given}
        return Response(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                        media_type="application/json", headers={
                            "content-disposition": 'attachment; filename="back-pain-answers.json"'})


@router.post("/start-again")
def start_again(request: Request, csrf_token: str = ""):
    """A new, empty session. Unfinished answers are deleted (the person chose to start again);
    a submitted assessment stays for the clinic."""
    with _db(request) as db:
        _check(request, csrf_token)
        old = find_by_token(db, request.cookies.get(SESSION_COOKIE))
        if old is not None and old.submitted_at is None:
            db.delete(old)
        row, token = start_session(db)
        db.commit()
        response = _see(_next_url(_flow(request, row)))
        set_cookie(response, request, SESSION_COOKIE, token,
                   max_age=request.app.state.settings.retention_days * 86400)
        return response


# --------------------------------------------------------------------------- save and resume

@router.get("/save")
def save_page(request: Request):
    with _db(request) as db:
        row = _patient(request, db)
        session = _flow(request, row)
        return render(request, "web/save.html.j2", code=None, back=_continue_url(row, session),
                      retention_days=request.app.state.settings.retention_days)


@router.post("/save")
def save(request: Request, csrf_token: str = ""):
    with _db(request) as db:
        _check(request, csrf_token)
        row = _patient(request, db)
        code = give_resume_code(row)
        db.commit()
        session = _flow(request, row)
        return render(request, "web/save.html.j2", code=code, back=_continue_url(row, session),
                      retention_days=request.app.state.settings.retention_days)


RESUME_LIMIT = 10  # resume codes that match nothing, per address...
RESUME_WINDOW = _dt.timedelta(minutes=15)  # ...in this long; then the address waits


def _resume_blocked(db: PatientRows, who: str) -> bool:
    """Whether `who` has tried RESUME_LIMIT codes that matched nothing in the last RESUME_WINDOW.
    Counted from the audit trail, in the database (as the clinic's sign-in limit is), so the
    limit holds across server processes and restarts."""
    from sqlalchemy import func

    from .clinic.models import AuditEvent

    events = AuditEvent.__table__
    count = db.connection.execute(
        select(func.count()).select_from(events).where(
            events.c.address == who[:64], events.c.action == "resume_code_failed",
            events.c.at >= utcnow() - RESUME_WINDOW)).scalar_one()
    return count >= RESUME_LIMIT


@router.get("/resume")
def resume_page(request: Request):
    return render(request, "web/resume.html.j2", error=None, entered="")


@router.post("/resume")
def resume(request: Request, csrf_token: str = "", code: str = ""):
    with _db(request) as db:
        _check(request, csrf_token)
        who = request.client.host if request.client else "unknown"
        if _resume_blocked(db, who):
            return render(request, "web/resume.html.j2", status_code=429, entered=code[:40],
                          error="Too many codes that did not match. Wait 15 minutes, then try "
                                "again.")
        row = find_by_resume_code(db, code) if code.strip() else None
        if row is not None and is_expired(row, request.app.state.settings.retention_days):
            row = None
        if row is None:
            if code.strip():
                _audit(db, "resume_code_failed", None, request)
                db.commit()
            error = ("Enter your resume code" if not code.strip() else
                     "Enter the code exactly as it was shown, for example 7KQ2M-XW4PD; it may have "
                     "expired")
            return render(request, "web/resume.html.j2", status_code=400, error=error,
                          entered=code[:40])
        from .store import new_token

        token = new_token()
        # this browser now holds the session; the one that held it is told where it went
        db.connection.execute(insert(MovedToken.__table__).values(
            token_hash=row.token_hash, session_id=row.id, moved_at=utcnow()))
        row.token_hash = digest(token)
        row.updated_at = utcnow()
        db.commit()
        response = _see(_continue_url(row, _flow(request, row)))
        set_cookie(response, request, SESSION_COOKIE, token,
                   max_age=request.app.state.settings.retention_days * 86400)
        return response


# --------------------------------------------------------------------------- reference and contact

def _give_reference(row, db: PatientRows) -> None:
    """The short reference the patient can read out (clinic/contact.py), given once, at the
    first submission (an emergency, or the end), and kept if the patient corrects an answer."""
    from .db import PatientSession
    from .clinic.contact import new_reference

    if row.reference:
        return
    table = PatientSession.__table__
    while True:  # 23^8 references: a clash is rare, and then another is drawn
        reference = new_reference()
        taken = db.connection.execute(select(table.c.id).where(
            table.c.reference == reference)).first()
        if taken is None:
            row.reference = reference
            return


def _asks_contact(request: Request) -> bool:
    return bool(request.app.state.settings.contact_details)


def _has_contact(db: PatientRows, row) -> bool:
    from .clinic.models import Contact

    table = Contact.__table__
    return db.connection.execute(select(table.c.submission_id).where(
        table.c.submission_id == row.id)).first() is not None


def _outcome(row) -> str:
    return "/emergency" if row.urgency == "emergency" else "/result"


def _contact_page(request: Request, row, *, errors=None, entered=None, status_code=200):
    return render(request, "web/contact.html.j2", status_code=status_code, errors=errors or {},
                  entered=entered or {}, back=_outcome(row), reference=row.reference,
                  emergency=row.urgency == "emergency")


@router.get("/contact")
def contact_page(request: Request):
    """Who you are, so the clinic can contact you (only when the clinic turned this on)."""
    with _db(request) as db:
        row = _submitted(request, db)
        if not _asks_contact(request) or _has_contact(db, row):
            return _see(_outcome(row))
        return _contact_page(request, row)


@router.post("/contact")
def contact(request: Request, csrf_token: str = "", name: str = "", dob_day: str = "",
            dob_month: str = "", dob_year: str = "", phone: str = "", email: str = "",
            patient_number: str = "", consent: str = "", skip: str = ""):
    """Store the details, encrypted with the clinic's key; never logged, never audited in words."""
    from .clinic import contact as details_of
    from .clinic.models import Contact

    with _db(request) as db:
        _check(request, csrf_token)
        row = _submitted(request, db)
        if not _asks_contact(request) or _has_contact(db, row) or skip:
            return _see(_outcome(row))
        entered = {"name": name, "dob_day": dob_day, "dob_month": dob_month,
                   "dob_year": dob_year, "phone": phone, "email": email,
                   "patient_number": patient_number, "consent": consent}
        details, errors = details_of.parse_form(entered)
        if details is None:
            return _contact_page(request, row, errors=errors,
                                 entered={k: v[:200] for k, v in entered.items()},
                                 status_code=400)
        keyring = request.app.state.keyring
        db.connection.execute(insert(Contact.__table__).values(
            submission_id=row.id, sealed=keyring.seal(details),
            name_digest=keyring.search_digest("name", details.name),
            number_digest=keyring.search_digest("number", details.patient_number),
            consented_at=utcnow()))
        db.commit()
        return _see(_outcome(row) + "?contact=1")


def _notify(request: Request, row) -> None:
    """An emergency or urgent submission: the clinic's webhook and email (clinic/notify.py)."""
    from .clinic import notify

    notify.submitted(request.app, row.id, row.reference, row.urgency)
