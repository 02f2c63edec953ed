"""The clinic's pages under /clinic: sign-in, the queue, a submission, its report, exports.

Every page but the sign-in page needs a signed-in, enabled account (else: a redirect to the
sign-in page); every form carries the CSRF token; every view, export, review, sign-in and failed
sign-in is written to the audit trail. The clinic's cookie (``triage_clinic``) is its own, with
path /clinic: a patient's session cookie never opens anything here.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import os
import re
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..db import utcnow
from ..pages import render
from ..security import CsrfRefused, check_csrf, is_https
from . import accounts, audit, exports, workflow
from . import queue as clinic_queue
from .models import STATUSES, User

COOKIE = "triage_clinic"
PREFIX = "/clinic"
MAX_EXPORT_IDS = 10_000


def idle_minutes() -> int:
    """Minutes without a request after which a clinic session ends (TRIAGE_CLINIC_IDLE_MINUTES)."""
    try:
        return max(1, int(os.environ.get("TRIAGE_CLINIC_IDLE_MINUTES", "")))
    except ValueError:
        return accounts.DEFAULT_IDLE_MINUTES


class NotSignedIn(Exception):
    """Raised by a clinic page when nobody (or a disabled account) is signed in."""


def install(app: FastAPI) -> None:
    import triage.web.clinic.models  # noqa: F401  (the tables' classes on the shared Base)

    app.add_exception_handler(NotSignedIn, _to_sign_in)
    routes = [
        ("", queue_page, ["GET"]),
        ("/", queue_page, ["GET"]),
        ("/sign-in", sign_in_page, ["GET"]),
        ("/sign-in", sign_in, ["POST"]),
        ("/sign-out", sign_out, ["POST"]),
        ("/submissions/{submission_id}", submission_page, ["GET"]),
        ("/submissions/{submission_id}/report", report_page, ["GET"]),
        ("/submissions/{submission_id}/follow-up.fhir.json", follow_up_fhir, ["GET"]),
        ("/submissions/{submission_id}/review", review, ["POST"]),
        ("/submissions/{submission_id}/workflow", workflow_change, ["POST"]),
        ("/submissions/{submission_id}/notes", add_note, ["POST"]),
        ("/updates", updates, ["GET"]),
        ("/export", export, ["POST"]),
        ("/audit", audit_page, ["GET"]),
    ]
    for path, endpoint, methods in routes:
        app.add_api_route(PREFIX + path, endpoint, methods=methods, include_in_schema=False)


# --------------------------------------------------------------------------- helpers

def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _to_sign_in(request: Request, _exc: NotSignedIn):
    # back to the page after signing in; a form's target (a POST) cannot be revisited by GET
    target = request.url.path if request.method == "GET" else PREFIX
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    response = RedirectResponse(f"{PREFIX}/sign-in?{urlencode({'next': target})}",
                                status_code=303)
    if request.cookies.get(COOKIE):
        response.delete_cookie(COOKIE, path=PREFIX)
    return response


def _signed_in(request: Request, db) -> User:
    user = accounts.resume_session(db, request.cookies.get(COOKIE), idle_minutes=idle_minutes())
    if user is None:
        db.commit()  # an expired session row is deleted
        raise NotSignedIn()
    return user


def _safe_next(target: str | None) -> str:
    """Only a path inside the clinic (no other site, no scheme-relative URL)."""
    if target and re.fullmatch(r"/clinic([/?][A-Za-z0-9._~/?=&%+,-]*)?", target) \
            and "//" not in target:
        return target
    return PREFIX


def _page(request: Request, template: str, user: User | None, status_code: int = 200,
          **context) -> HTMLResponse:
    return render(request, f"web/clinic/{template}", status_code=status_code, user=user,
                  urgency_labels=clinic_queue.URGENCY_LABELS, **context)


def _refused(request: Request, user: User | None, message: str, status_code: int = 403):
    return _page(request, "refused.html.j2", user, status_code=status_code, message=message)


async def _form(request: Request):
    form = await request.form()
    check_csrf(request, form)
    return form


def _labels(rulebook, kind: str, values) -> list[str]:
    return [rulebook.label(kind, v) for v in values or []]


# the cause every assessment without a specific one concludes; beside an emergency it would read
# as if the emergency were ordinary back pain, so the clinic's display leaves it out there
_ORDINARY_CAUSE = "nonspecific"


def _findings(rulebook, s) -> dict:
    """What the queue and a submission's page show of a submission's assessment: the red flags,
    an emergency named by the emergency rules that concluded it (chest or great vessels,
    meningitis, pregnancy, cauda equina, ...: every emergency shares one red-flag label
    otherwise); the likely causes (at an emergency, not "non-specific"); the warning-sign
    questions left unanswered, apart from those never asked because the questions stopped at the
    emergency."""
    from ...emergency import emergency_rule_ids
    from ...report import not_reached

    a = s.to_assessment()
    flags = _labels(rulebook, "red_flag", a.red_flags)
    causes = a.causes
    emergencies = []
    if a.urgency == "emergency":
        emergencies = [rulebook.rule(rule_id).title for rule_id in
                       emergency_rule_ids(a, rulebook)]
        if emergencies:  # the emergency's own name says more than "an organ, not the back"
            flags = [label for flag, label in zip(a.red_flags, flags) if flag != "non_spinal"]
        causes = [c for c in causes if c != _ORDINARY_CAUSE]
    stopped = set(not_reached(a, rulebook))
    return {"emergencies": emergencies, "red_flags": flags,
            "causes": _labels(rulebook, "cause", causes) or
            (["not assessed: the emergency comes first"] if a.urgency == "emergency" else []),
            "unanswered": [q for q in a.unanswered_red_flags if q not in stopped],
            "not_asked": len(stopped)}


# --------------------------------------------------------------------------- signing in and out

def sign_in_page(request: Request, next: str | None = None, signed_out: int = 0):
    return _page(request, "sign_in.html.j2", None, next=_safe_next(next),
                 signed_out=bool(signed_out), idle_minutes=idle_minutes(), error=None, name="")


async def sign_in(request: Request):
    try:
        form = await _form(request)
    except CsrfRefused:
        return _refused(request, None, "This form has expired. Go back, reload the page and "
                                       "sign in again.")
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    gate = _hashing_gate(request.app)
    if gate.waiting >= MAX_SIGN_INS_WAITING:  # a flood of guesses: refuse, never queue forever
        return _page(request, "sign_in.html.j2", None, status_code=429, next=target,
                     signed_out=False, idle_minutes=idle_minutes(), name=name[:64],
                     error="Too many people are signing in at this moment. Wait a few seconds "
                           "and try again.")
    gate.waiting += 1
    try:
        async with gate.semaphore:
            outcome = await run_in_threadpool(_authenticate, request, name, password)
    finally:
        gate.waiting -= 1
    if isinstance(outcome, accounts.SignInRefused):
        status = 429 if str(outcome) == accounts.THROTTLED else 401
        return _page(request, "sign_in.html.j2", None, status_code=status, next=target,
                     signed_out=False, idle_minutes=idle_minutes(), error=str(outcome),
                     name=name[:64])
    signed_in = outcome
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, signed_in.token, path=PREFIX, httponly=True, samesite="strict",
                        secure=is_https(request))
    return response


# The database work of every form post runs in a worker thread: a slow query, an export of every
# submission or a database that does not answer must not hold up the event loop, and with it
# every patient. Checking a password (argon2id, about 0.1 s of one core) too: on the event loop it
# held up every other request (4 clients guessing passwords pushed other patients' p95 to 0.5-2 s,
# issue 22). At most HASHING_AT_ONCE checks run at a time per server process, so that guesses
# cannot take every core or every request thread: the rest wait their turn without holding a
# thread, and beyond MAX_SIGN_INS_WAITING are refused at once (429).
HASHING_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)
MAX_SIGN_INS_WAITING = 64


class _Gate:
    def __init__(self):
        import asyncio

        self.semaphore = asyncio.Semaphore(HASHING_AT_ONCE)
        self.waiting = 0


def _hashing_gate(app) -> _Gate:
    gate = getattr(app.state, "sign_in_gate", None)
    if gate is None:
        gate = app.state.sign_in_gate = _Gate()
    return gate


def _authenticate(request: Request, name: str, password: str):
    """Check the password and open a session (in a worker thread): the signed-in session, or the
    SignInRefused to show. The failed attempt stays in the audit trail."""
    with request.app.state.db() as db:
        try:
            user = accounts.authenticate(db, name, password, address=_address(request))
        except accounts.SignInRefused as refused:
            db.commit()
            return refused
        # a fresh token at every sign-in (no session fixation)
        accounts.end_session(db, request.cookies.get(COOKIE))
        signed_in = accounts.start_session(db, user)
        db.commit()
        return signed_in


async def sign_out(request: Request):
    try:
        await _form(request)
    except CsrfRefused:
        return _refused(request, None, "This form has expired. Reload the page and try again.")
    return await run_in_threadpool(_sign_out, request)


def _sign_out(request: Request):
    with request.app.state.db() as db:
        user = accounts.resume_session(db, request.cookies.get(COOKIE),
                                       idle_minutes=idle_minutes())
        accounts.end_session(db, request.cookies.get(COOKIE))
        if user is not None:
            audit.record(db, "sign_out", user.name, address=_address(request))
        db.commit()
    response = RedirectResponse(f"{PREFIX}/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# --------------------------------------------------------------------------- the queue

def _date(text: str | None):
    try:
        return _dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters(params, user: User) -> clinic_queue.Filters:
    reviewed = params.get("reviewed") if params.get("reviewed") in \
        clinic_queue.REVIEWED_FILTERS else "all"
    assignee = str(params.get("assignee") or "")[:64]
    return clinic_queue.Filters(
        urgencies=tuple(u for u in params.getlist("urgency") if u in clinic_queue.URGENCIES),
        reviewed=reviewed,
        statuses=tuple(v for v in params.getlist("status") if v in STATUSES),
        assignee=user.name if assignee == "me" else assignee,
        since=_date(params.get("since")), until=_date(params.get("until")),
        search=" ".join(str(params.get("q") or "").split())[:100],
        follow_up=(params.get("follow_up") if params.get("follow_up") in
                   clinic_queue.FOLLOW_UP_FILTERS else ""))


def _contact(request: Request, s):
    """The submission's contact details (None: none given), or False when no key opens them."""
    if not s.sealed_contact:
        return None
    keyring = request.app.state.keyring
    if keyring is None:
        return False
    return keyring.open(s.sealed_contact) or False


def queue_page(request: Request):
    params = request.query_params
    rulebook = request.app.state.rulebook
    keyring = request.app.state.keyring
    after = str(params.get("after") or "")[:200]
    with request.app.state.db() as db:
        user = _signed_in(request, db)
        filters = _filters(params, user)
        submissions, next_key = clinic_queue.queue_page(db, filters, after=after,
                                                        keyring=keyring)
        counts = clinic_queue.counts(db, filters, keyring)
        newest = clinic_queue.newest_submitted(db)
        staff = [u.name for u in workflow.staff(db)]
        # the filters' words, never the search text (it may be a patient's name or number)
        audit.record(db, "view_queue", user.name, address=_address(request),
                     detail=f"urgency={','.join(filters.urgencies) or 'all'} "
                            f"reviewed={filters.reviewed} "
                            f"status={','.join(filters.statuses) or 'all'}"
                            f"{' assignee=' + filters.assignee if filters.assignee else ''}"
                            f"{' search' if filters.search else ''}"
                            f"{' follow_up=' + filters.follow_up if filters.follow_up else ''}"
                            f"{' page>1' if after else ''} shown={len(submissions)}")
        db.commit()
    now = utcnow()
    rows = []
    for s in submissions:
        contact = _contact(request, s)
        rows.append({
            "id": s.id, "urgency": s.listed_urgency, "age": s.age,
            "follow_up": _follow_up_line(s, now),
            "duration": clinic_queue.duration_words(s.duration_weeks),
            **_findings(rulebook, s),
            "corrected": s.corrected, "finished": s.finished,
            "submitted": s.submitted_at.strftime("%Y-%m-%d %H:%M UTC"),
            "submitted_iso": s.submitted_at.isoformat(),
            "ago": clinic_queue.how_long_ago(s.submitted_at, now),
            "reviewed_by": s.reviewed_by, "review_stale": s.review_before_escalation,
            "reviewed_at": s.reviewed_at.strftime("%Y-%m-%d %H:%M UTC") if s.reviewed_at
            else None,
            "reference": s.reference, "status": s.status, "assignee": s.assignee,
            "name": contact.name if contact else ("(cannot be read)" if contact is False
                                                  else None),
        })
    query = [(k, v) for k, v in params.multi_items() if k != "after"]
    return _page(request, "queue.html.j2", user, rows=rows, counts=counts,
                 urgencies=clinic_queue.URGENCIES, selected_urgencies=list(filters.urgencies),
                 reviewed=filters.reviewed, formats=exports.FORMATS, f=filters,
                 statuses=STATUSES, status_labels=clinic_queue.STATUS_LABELS, staff=staff,
                 total=sum(counts[u] for u in (filters.urgencies or clinic_queue.URGENCIES)),
                 next_url=(f"{PREFIX}?{urlencode(query + [('after', next_key)])}"
                           if next_key else None),
                 first_url=f"{PREFIX}?{urlencode(query)}" if after else None,
                 newest=newest.isoformat() if newest else "",
                 contacts=keyring is not None, filtered=filters.any,
                 follow_up_filters=clinic_queue.FOLLOW_UP_LABELS)


def _follow_up_line(s, now) -> dict | None:
    """What the queue says of a submission's follow-up (issue 25): the newest check-in's course,
    whether it escalated, or that the review date passed without one; None: no check-in due."""
    if s.follow_up_due_at is None and s.follow_up_at is None:
        return None
    due = s.follow_up_due_at.strftime("%Y-%m-%d") if s.follow_up_due_at else None
    if s.missed(now):
        return {"kind": "missed", "words": f"Check-in missed (due {due})"}
    if s.follow_up_at is not None:
        words = {"worse": "Check-in: worse", "better": "Check-in: better",
                 "same": "Check-in: no better"}.get(s.follow_up_course or "", "Checked in")
        if s.follow_up_urgency and s.follow_up_urgency != s.urgency:
            words += (f", now {clinic_queue.URGENCY_LABELS[s.follow_up_urgency].lower()} (was "
                      f"{clinic_queue.URGENCY_LABELS.get(s.urgency, s.urgency).lower()})")
        return {"kind": s.follow_up_course or "same",
                "words": words + ", " + clinic_queue.how_long_ago(s.follow_up_at, now)}
    return {"kind": "due", "words": f"Check-in due {due}"}


def updates(request: Request):
    """When the newest submission arrived: the queue's script polls this (JSON, no answers)."""
    from fastapi.responses import JSONResponse

    with request.app.state.db() as db:
        _signed_in(request, db)
        newest = clinic_queue.newest_submitted(db)
        db.commit()
    return JSONResponse({"newest": newest.isoformat() if newest else ""},
                        headers={"cache-control": "no-store"})


# --------------------------------------------------------------------------- one submission

def _load(request: Request, db, submission_id: str):
    user = _signed_in(request, db)
    return user, clinic_queue.submission(db, submission_id)


def _viewed(request: Request, submission_id: str, action: str):
    """(user, submission, None) with the viewing recorded in the audit trail as `action`, or
    (user, None, the refusal page) when there is no such submission."""
    with request.app.state.db() as db:
        user, found = _load(request, db, submission_id)
        if found is None:
            db.commit()
            return user, None, _refused(request, user, "There is no submission at this address.",
                                        404)
        audit.record(db, action, user.name, submission_id=found.id, address=_address(request))
        db.commit()
    return user, found, None


def submission_page(request: Request, submission_id: str):
    from ...report import as_asked, report_facts

    rulebook = request.app.state.rulebook
    user, found, refusal = _viewed(request, submission_id, "view_answers")
    if refusal is not None:
        return refusal
    with request.app.state.db() as db:
        staff = [u.name for u in workflow.staff(db)]
        notes = [{"by": n.user.name, "at": audit.as_utc(n.at).strftime("%Y-%m-%d %H:%M UTC"),
                  "text": n.text} for n in workflow.notes(db, found.id)]
    # the review date counts from the day the patient was told it (contract section 3, v3)
    facts = report_facts(found.to_assessment(), rulebook, today=found.submitted_at)
    return _page(request, "submission.html.j2", user, s=found, facts=facts,
                 ago=clinic_queue.how_long_ago(found.submitted_at),
                 submitted=found.submitted_at.strftime("%Y-%m-%d %H:%M UTC"),
                 duration=clinic_queue.duration_words(found.duration_weeks),
                 findings=_findings(rulebook, found),
                 why=as_asked(found.to_assessment(), rulebook).reasons,
                 corrected_ago=(clinic_queue.how_long_ago(found.corrected_at)
                                if found.corrected_at else ""),
                 reviewed_at=(found.reviewed_at.strftime("%Y-%m-%d %H:%M UTC")
                              if found.reviewed_at else None),
                 advice=rulebook.label("urgency", found.urgency),
                 formats=exports.FORMATS, just_reviewed=request.query_params.get("reviewed"),
                 contact=_contact(request, found), statuses=STATUSES,
                 status_labels=clinic_queue.STATUS_LABELS, staff=staff, notes=notes,
                 changed=request.query_params.get("changed"),
                 **_course(request, found))


def _follow_up_outcome(request: Request, found, views=None):
    """triage.followup's review of the submission's completed check-ins as of the newest one;
    None when it has none."""
    from ...followup import CheckIn, review_check_in

    if views is None:
        with request.app.state.db() as db:
            views = clinic_queue.check_ins(db, found.id)
    if not views:
        return None
    return review_check_in(found.answers, [CheckIn(v.at.date(), v.answers) for v in views],
                           request.app.state.rulebook, max(v.at.date() for v in views),
                           first_visit=found.submitted_at.date())


def _course(request: Request, found) -> dict:
    """The follow-up of a submission for its page (issue 25): each completed check-in with its
    stored outcome, and the course (pain and function over time) for the chart and its table."""
    with request.app.state.db() as db:
        views = clinic_queue.check_ins(db, found.id)
    if not views and found.follow_up_due_at is None:
        return {"check_ins": [], "series": None, "follow_up_due": None}
    rulebook = request.app.state.rulebook
    outcome = _follow_up_outcome(request, found, views)
    series = list(outcome.series) if outcome is not None else None
    shown = []
    for v in views:
        shown.append({
            "at": v.at.strftime("%Y-%m-%d %H:%M UTC"), "ago": clinic_queue.how_long_ago(v.at),
            "urgency": v.urgency, "escalated": v.escalated, "why": v.why,
            "improved": v.improved, "improvement_why": v.improvement_why,
            "new_signs": [rulebook.questionnaire.questions[q].text
                          if q in rulebook.questionnaire.questions else q
                          for q in v.new_signs]})
    return {"check_ins": shown, "series": series,
            "follow_up_due": (found.follow_up_due_at.strftime("%Y-%m-%d")
                              if found.follow_up_due_at else None),
            "follow_up_missed": found.missed()}


_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)


def report_page(request: Request, submission_id: str):
    """The patient's full report, exactly as `triage report` renders it; its own inline style is
    allowed by hash in this page's Content-Security-Policy (and nothing else is)."""
    from ...report import render_report

    user, found, refusal = _viewed(request, submission_id, "view_report")
    if refusal is not None:
        return refusal
    outcome = _follow_up_outcome(request, found) if request.query_params.get("course") else None
    if outcome is not None:  # the newest result with the course since the first visit
        html = render_report(outcome.assessment, request.app.state.rulebook, "html",
                             today=max(p.date for p in outcome.series),
                             reference=found.reference, follow_up=outcome)
    else:
        html = render_report(found.to_assessment(), request.app.state.rulebook, "html",
                             today=found.submitted_at.date(), reference=found.reference)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()
        + "'" for m in _STYLE.finditer(html))
    policy = (f"default-src 'none'; style-src {hashes or chr(39) + 'none' + chr(39)}; "
              "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
    return HTMLResponse(html, headers={"content-security-policy": policy})


def follow_up_fhir(request: Request, submission_id: str):
    """The first visit and its completed check-ins as one FHIR R4 Bundle (triage.fhir's
    follow_up_bundle: Patient, CarePlan, a QuestionnaireResponse per visit, each based on the
    CarePlan), downloaded as a file; the download is audited (``follow_up_fhir_exported``). No
    contact detail is in it: its Patient carries no name, birth date or number. 404 when the
    submission has no completed check-in."""
    import json
    import uuid

    from ...fhir import follow_up_bundle
    from ...followup import CheckIn, FollowUpRecord

    with request.app.state.db() as db:
        user, found = _load(request, db, submission_id)
        views = clinic_queue.check_ins(db, found.id) if found is not None else []
        if not views:
            db.commit()
            return _refused(request, user, "There is no follow-up check-in of a submission at "
                                           "this address.", 404)
        audit.record(db, "follow_up_fhir_exported", user.name, submission_id=found.id,
                     address=_address(request))
        db.commit()
    # the same ids on every download (a system that imports it again updates, not duplicates),
    # and not the submission's id, which opens its clinic page
    plan_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:triage:follow-up:{found.id}"))
    check_ins = [CheckIn(v.at.date(), v.answers) for v in views]
    record = FollowUpRecord(found.submitted_at.date(), check_ins, plan_id)
    today = max(utcnow().date(), *(c.date for c in check_ins))
    bundle = follow_up_bundle(found.answers, record, request.app.state.rulebook, today=today)
    name = re.sub(r"[^A-Za-z0-9-]", "", found.reference or "") or plan_id
    return Response(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n",
                    media_type="application/fhir+json; charset=utf-8", headers={
                        "content-disposition":
                            f'attachment; filename="triage-follow-up-{name}.fhir.json"',
                        "cache-control": "no-store"})


async def _posted(request: Request, handler, *args):
    """A signed-in form post: the CSRF-checked form read here, then `handler(request, *args,
    form)` in the thread pool (it uses the database); an expired form gets the refusal page."""
    try:
        form = await _form(request)
    except CsrfRefused:
        return await run_in_threadpool(_expired_form, request)
    return await run_in_threadpool(handler, request, *args, form)


async def review(request: Request, submission_id: str):
    return await _posted(request, _review, submission_id)


def _expired_form(request: Request):
    with request.app.state.db() as db:
        user = _signed_in(request, db)
        db.commit()
    return _refused(request, user, "This form has expired. Reload the page and try again.")


def _review(request: Request, submission_id: str, _form=None):
    with request.app.state.db() as db:
        user, found = _load(request, db, submission_id)
        if found is None:
            db.commit()
            return _refused(request, user, "There is no submission at this address.", 404)
        if clinic_queue.mark_reviewed(db, found.id, user):
            audit.record(db, "review", user.name, submission_id=found.id,
                         address=_address(request))
        db.commit()
    return RedirectResponse(f"{PREFIX}/submissions/{quote(found.id)}?reviewed=1",
                            status_code=303)


async def workflow_change(request: Request, submission_id: str):
    return await _posted(request, _workflow_change, submission_id)


def _workflow_change(request: Request, submission_id: str, form):
    from sqlalchemy import select

    status = str(form.get("status") or "")
    assignee_name = str(form.get("assignee") or "")
    with request.app.state.db() as db:
        user, found = _load(request, db, submission_id)
        if found is None:
            db.commit()
            return _refused(request, user, "There is no submission at this address.", 404)
        if status and status not in STATUSES:
            db.commit()
            return _refused(request, user, "Choose one of the statuses listed.", 400)
        assignee = None
        if assignee_name:
            assignee = db.scalars(select(User).where(User.name == assignee_name,
                                                     User.disabled_at.is_(None))).first()
            if assignee is None:
                db.commit()
                return _refused(request, user, "Choose someone from the list: that account "
                                               "does not exist or is disabled.", 400)
        address = _address(request)
        if status:
            workflow.set_status(db, found.id, status, user, address)
        if "assignee" in form:
            workflow.assign(db, found.id, assignee, user, address)
        db.commit()
    return RedirectResponse(f"{PREFIX}/submissions/{quote(found.id)}?changed=1",
                            status_code=303)


async def add_note(request: Request, submission_id: str):
    return await _posted(request, _add_note, submission_id)


def _add_note(request: Request, submission_id: str, form):
    text = str(form.get("note") or "").strip()
    with request.app.state.db() as db:
        user, found = _load(request, db, submission_id)
        if found is None:
            db.commit()
            return _refused(request, user, "There is no submission at this address.", 404)
        if not text or len(text) > workflow.MAX_NOTE:
            db.commit()
            return _refused(request, user, f"Write a note of 1 to {workflow.MAX_NOTE:,} "
                                           f"characters. Go back to try again.", 400)
        workflow.add_note(db, found.id, text, user, _address(request))
        db.commit()
    return RedirectResponse(f"{PREFIX}/submissions/{quote(found.id)}?changed=1#notes",
                            status_code=303)


# --------------------------------------------------------------------------- exports

async def export(request: Request):
    return await _posted(request, _export)


def _export(request: Request, form):
    fmt = str(form.get("format") or "")
    scope = str(form.get("scope") or "selected")
    ids = [str(i) for i in form.getlist("id")][:MAX_EXPORT_IDS]
    keyring = request.app.state.keyring
    with request.app.state.db() as db:
        user = _signed_in(request, db)
        filters = _filters(form, user)
        known = fmt in exports.FORMATS or fmt == exports.FHIR_RISK or (
            fmt in (exports.CONTACTS, exports.FHIR_PATIENTS) and keyring is not None)
        if not known:
            db.commit()
            return _refused(request, user, "Choose an export format.", 400)
        if scope == "all":
            chosen = clinic_queue.queue(db, filters=filters, keyring=keyring)
        elif ids:
            chosen = clinic_queue.queue(db, ids=ids)
        else:
            db.commit()
            return _refused(request, user, "Tick at least one submission to export, or export "
                                           "all of them.", 400)
        for s in chosen:
            audit.record(db, "export", user.name, submission_id=s.id, address=_address(request),
                         detail=fmt)
        db.commit()
    if fmt == exports.CONTACTS:
        body = exports.contacts_csv(chosen, keyring)
        media_type, suffix, _ = exports.CONTACTS_FORMAT
    elif fmt in (exports.FHIR_RISK, exports.FHIR_PATIENTS):
        import json

        rulebook = request.app.state.rulebook
        body = json.dumps(exports.fhir_bundle(
            chosen, rulebook.questionnaire, rulebook,
            keyring if fmt == exports.FHIR_PATIENTS else None), indent=2,
            ensure_ascii=False) + "\n"
        media_type, suffix, _ = (exports.FHIR_RISK_FORMAT if fmt == exports.FHIR_RISK
                                 else exports.FHIR_PATIENTS_FORMAT)
    else:
        body = exports.export(chosen, fmt, request.app.state.rulebook.questionnaire)
        media_type, suffix, _ = exports.FORMATS[fmt]
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M")
    return Response(body, media_type=media_type, headers={
        "content-disposition": f'attachment; filename="triage-export-{stamp}.{suffix}"'})


# --------------------------------------------------------------------------- the audit trail

def audit_page(request: Request):
    with request.app.state.db() as db:
        user = _signed_in(request, db)
        if user.role != "admin":
            db.commit()
            return _refused(request, user, "Only an administrator can read the audit trail.")
        events = audit.events(db, limit=500, newest_first=True)
        db.commit()
    return _page(request, "audit.html.j2", user, events=events, actions=audit.ACTIONS)
