"""Follow-up check-ins on the web (issue 25): a `self_care` or `soon` result offers a check-in on
its review date; the check-in asks again, one question per page, and re-triages.

* The result page shows the review date and offers a follow-up code (``POST /follow-up/code``):
  a link that carries it, and the code itself to write down (the resume code's alphabet; only
  its SHA-256 is stored, and asking again replaces it).
* ``/follow-up`` takes the code (the link fills it in; nothing happens until the person presses
  the button, so a link opened by a mail scanner starts nothing). A code that matches nothing is
  an audit event (``follow_up_code_failed``) and, as with the resume code, an address that tries
  RESUME_LIMIT of them in RESUME_WINDOW waits. A right code starts a check-in (or takes over the
  one left unfinished) and gives this browser its own cookie for it.
* The questions are triage.followup's check-in questionnaire, rendered by the first visit's
  question template and driven by the same ``triage.ask.Session``: the emergency screen first,
  then pain, the global rating of change, each activity named at the first visit, and every
  other warning sign ("new since last time?"). After each answer the first visit's answers,
  updated by the check-in, go through the emergency check: an emergency ends the check-in at
  once on the emergency page, and the clinic is notified.
* At the end, ``triage.followup.review_check_in`` re-triages (never below the first visit or an
  earlier check-in; no improvement after the review date makes `self_care` `soon`), the outcome
  is stored with the check-in, the submission's follow-up columns are updated for the clinic's
  queue, an escalation to urgent or emergency is notified as a new submission would be, and the
  result page shows the outcome, the escalation in plain words and the course so far.

Every check-in is an audit event (``check_in``, actor "patient"), without answers or outcome.
"""
from __future__ import annotations

import datetime as _dt

from sqlalchemy import insert, select, update

from fastapi import Request

from ..ask import AnswerRejected, Session
from .db import CheckIn as CheckInRow, digest, new_id, utcnow
from .pages import render
from .patient import (RESUME_LIMIT, RESUME_WINDOW, _audit, _check, _db, _entered, _finished,
                      _patient, _question_context, _see, _Stop, _web_error, parsed_answer,
                      router)
from .security import set_cookie
from .store import (FOLLOW_UP_COOKIE, PatientRows, find_by_follow_up_code, give_follow_up_code,
                    is_expired, new_token)

OFFERED = ("self_care", "soon")  # the urgencies whose result offers a check-in
NOTIFIED = ("urgent", "emergency")
CHECK_INS = CheckInRow.__table__
URGENCY_ORDER = ("self_care", "soon", "urgent", "emergency")
WORSE_CHANGES = ("little_worse", "worse", "much_worse")


# --------------------------------------------------------------------------- the submission

def _as_utc(moment: _dt.datetime) -> _dt.datetime:
    return moment.replace(tzinfo=_dt.timezone.utc) if moment.tzinfo is None else moment


def first_visit(row) -> _dt.date:
    """The day of the first visit: the day its result (and its review date) was given, UTC."""
    return _as_utc(row.submitted_at).date()


def offered(row) -> bool:
    """Whether this submission offers a check-in: finished, `self_care` or `soon`, with a review
    date (an assessment stored before contract version 3 has none)."""
    return (row.submitted_at is not None and row.urgency in OFFERED
            and (row.assessment or {}).get("review_in_days") is not None)


def due_date(row) -> _dt.date | None:
    """The review date the person was given: the first visit's day plus ``review_in_days``."""
    days = (row.assessment or {}).get("review_in_days")
    if row.submitted_at is None or days is None:
        return None
    return first_visit(row) + _dt.timedelta(days=int(days))


def on_submitted(row) -> None:
    """At the first visit's submission: the review date, for the queue's "missed" filter (kept
    as midnight UTC of that day)."""
    day = due_date(row) if offered(row) else None
    row.follow_up_due_at = (_dt.datetime.combine(day, _dt.time(), _dt.timezone.utc)
                            if day else None)


def offer(row, today: _dt.date | None = None) -> dict | None:
    """What the result page says of the follow-up (None: no check-in for this result)."""
    from ..wording import long_date

    if not offered(row):
        return None
    day = due_date(row)
    today = today or utcnow().date()
    return {"date": long_date(day), "days": (day - today).days, "due": today >= day}


# --------------------------------------------------------------------------- the flow

class _CheckInRulebook:
    """The rulebook as the check-in's ``Session`` sees it: the check-in's questionnaire in place
    of the first visit's, everything else (the rules that read a warning sign) the same."""

    def __init__(self, rulebook, questionnaire):
        self._rulebook = rulebook
        self.questionnaire = questionnaire

    def __getattr__(self, name):
        return getattr(self._rulebook, name)


class _CheckInStore:
    """The answers of one check-in, in its row (``triage.ask.AnswerStore``); the request that
    changes them writes ``answers`` back."""

    name = "your check-in answers"

    def __init__(self, answers: dict):
        self.answers = dict(answers or {})
        self.changed = False

    def load(self) -> dict:
        return dict(self.answers)

    def save(self, answers: dict) -> None:
        self.answers = dict(answers)
        self.changed = True


def _questionnaire(request: Request, row):
    from ..followup import check_in_questionnaire

    return check_in_questionnaire(request.app.state.rulebook, dict(row.answers or {}))


def _flow(request: Request, row, check_in: dict) -> Session:
    questionnaire = _questionnaire(request, row)
    store = _CheckInStore(check_in["answers"])
    given = {qid: value for qid, value in store.load().items()
             if qid in questionnaire.questions}
    return Session(_CheckInRulebook(request.app.state.rulebook, questionnaire), store, given)


def _next_url(session: Session) -> str:
    q = session.next_question()
    return f"/follow-up/question/{q.id}" if q is not None else "/follow-up/finish"


def _check_ins(db: PatientRows, submission_id: str) -> list[dict]:
    """The submission's completed check-ins, oldest first (as plain dicts of their columns)."""
    rows = db.connection.execute(
        select(CHECK_INS).where(CHECK_INS.c.submission_id == submission_id,
                                CHECK_INS.c.completed_at.is_not(None))
        .order_by(CHECK_INS.c.completed_at, CHECK_INS.c.id)).all()
    return [dict(r._mapping) for r in rows]


def _record(check_in: dict):
    from ..followup import CheckIn

    return CheckIn(_as_utc(check_in["completed_at"] or check_in["updated_at"]).date(),
                   dict(check_in["answers"] or {}))


def review(request: Request, row, check_ins: list[dict], today: _dt.date):
    """triage.followup's review of the submission's check-ins (each a dict of its columns)."""
    from ..followup import review_check_in

    return review_check_in(dict(row.answers or {}), [_record(c) for c in check_ins],
                           request.app.state.rulebook, today, first_visit=first_visit(row))


def _emergency(request: Request, row, session: Session, check_in: dict):
    """The emergency check of the first visit's answers updated by this check-in so far (the
    same check as at the first visit, triage.ask.emergency_of), or None."""
    from ..ask import emergency_of
    from ..followup import CheckIn, updated_answers

    today = utcnow().date()
    answers = updated_answers(dict(row.answers or {}), [CheckIn(today, dict(session.given))],
                              request.app.state.rulebook, first_visit=first_visit(row))
    answers = {k: v for k, v in answers.items() if v is not None}
    return emergency_of(answers, request.app.state.rulebook, source="check-in")


# --------------------------------------------------------------------------- finding things

def _submission_of(db: PatientRows, submission_id: str):
    from .store import PATIENT_SESSIONS, PatientRow

    found = db.connection.execute(select(PATIENT_SESSIONS).where(
        PATIENT_SESSIONS.c.id == submission_id)).first()
    if found is None:
        return None
    row = PatientRow(**found._mapping)
    db._rows.append(row)
    return row


def _clinic_days(request: Request) -> int:
    settings = request.app.state.settings
    return settings.clinic_retention_days or settings.retention_days


def _current(request: Request, db: PatientRows, *, lock: bool = False):
    """(submission row, check-in dict) of this browser's check-in cookie; stops with the
    follow-up page when there is none (never started here, or deleted with its submission)."""
    token = request.cookies.get(FOLLOW_UP_COOKIE)
    found = None
    if token and len(token) <= 100:
        query = select(CHECK_INS).where(CHECK_INS.c.token_hash == digest(token))
        if lock and db.connection.dialect.name != "sqlite":
            query = query.with_for_update()
        found = db.connection.execute(query).first()
    row = _submission_of(db, found.submission_id) if found is not None else None
    if row is None:
        response = _see("/follow-up")
        if token:
            response.delete_cookie(FOLLOW_UP_COOKIE, path="/")
        raise _Stop(response)
    return row, dict(found._mapping)


def _save_answers(db: PatientRows, check_in: dict, answers: dict) -> None:
    now = utcnow()
    db.connection.execute(update(CHECK_INS).where(CHECK_INS.c.id == check_in["id"]).values(
        answers=answers, updated_at=now))
    check_in["answers"], check_in["updated_at"] = answers, now


# --------------------------------------------------------------------------- the code

@router.post("/follow-up/code")
def follow_up_code(request: Request, csrf_token: str = ""):
    """A follow-up code for this browser's finished `self_care` or `soon` result."""
    with _db(request) as db:
        _check(request, csrf_token)
        row = _patient(request, db)
        if not _finished(row) or not offered(row):
            return _see("/result" if _finished(row) else "/")
        code = give_follow_up_code(row)
        db.commit()
        link = str(request.base_url).rstrip("/") + "/follow-up?code=" + code
        return render(request, "web/follow_up_code.html.j2", code=code, link=link,
                      offer=offer(row), reference=row.reference,
                      keep_days=_clinic_days(request))


@router.get("/follow-up")
def follow_up_page(request: Request, code: str = ""):
    """Where the follow-up link leads: the code filled in from the link, or typed."""
    with _db(request) as db:
        current = None
        token = request.cookies.get(FOLLOW_UP_COOKIE)
        if token and len(token) <= 100:
            found = db.connection.execute(select(CHECK_INS.c.completed_at).where(
                CHECK_INS.c.token_hash == digest(token))).first()
            if found is not None:
                current = {"finished": found.completed_at is not None}
        return render(request, "web/follow_up.html.j2", error=None, entered=code[:40],
                      current=current)


def _code_blocked(db: PatientRows, who: str) -> bool:
    """As the resume code's limit (patient._resume_blocked): RESUME_LIMIT follow-up codes that
    matched nothing from one address in RESUME_WINDOW, counted in the audit trail."""
    from sqlalchemy import func

    from .clinic.models import AuditEvent

    events = AuditEvent.__table__
    count = db.connection.execute(
        select(func.count()).select_from(events).where(
            events.c.address == who[:64], events.c.action == "follow_up_code_failed",
            events.c.at >= utcnow() - RESUME_WINDOW)).scalar_one()
    return count >= RESUME_LIMIT


@router.post("/follow-up")
def follow_up_start(request: Request, csrf_token: str = "", code: str = ""):
    with _db(request) as db:
        _check(request, csrf_token)
        who = request.client.host if request.client else "unknown"
        if _code_blocked(db, who):
            return render(request, "web/follow_up.html.j2", status_code=429, entered=code[:40],
                          current=None,
                          error="Too many codes that did not match. Wait 15 minutes, then try "
                                "again.")
        row = find_by_follow_up_code(db, code) if code.strip() else None
        if row is not None and (is_expired(row, _clinic_days(request)) or not offered(row)):
            row = None
        if row is None:
            if code.strip():
                _audit(db, "follow_up_code_failed", None, request)
                db.commit()
            error = ("Enter your follow-up code" if not code.strip() else
                     "Enter the code exactly as it was shown, for example 7KQ2M-XW4PD; it may have "
                     "expired")
            return render(request, "web/follow_up.html.j2", status_code=400, error=error,
                          entered=code[:40], current=None)
        token = new_token()
        now = utcnow()
        unfinished = db.connection.execute(select(CHECK_INS.c.id).where(
            CHECK_INS.c.submission_id == row.id, CHECK_INS.c.completed_at.is_(None))
            .order_by(CHECK_INS.c.started_at.desc())).first()
        if unfinished is not None:  # carry on with it here (the browser that had it loses it)
            db.connection.execute(update(CHECK_INS).where(CHECK_INS.c.id == unfinished.id)
                                  .values(token_hash=digest(token), updated_at=now))
        else:
            db.connection.execute(insert(CHECK_INS).values(
                id=new_id(), submission_id=row.id, token_hash=digest(token), started_at=now,
                updated_at=now, answers={}))
        db.commit()
        response = _see("/follow-up/check-in")
        set_cookie(response, request, FOLLOW_UP_COOKIE, token, max_age=7 * 86400)
        return response


# --------------------------------------------------------------------------- the check-in

@router.get("/follow-up/check-in")
def check_in_page(request: Request):
    """Before the first question: which result this follows, the review date, whether it is
    early, what will be asked."""
    from ..followup import activities_of
    from ..wording import long_date

    with _db(request) as db:
        row, check_in = _current(request, db)
        if check_in["completed_at"] is not None:
            return _see("/follow-up/result")
        session = _flow(request, row, check_in)
        today = utcnow().date()
        day = due_date(row)
        earlier = _check_ins(db, row.id)
        return render(request, "web/follow_up_check_in.html.j2",
                      first=long_date(first_visit(row)), review=long_date(day),
                      early=today < day, days_early=(day - today).days,
                      urgency=_verdict_label(row.urgency),
                      activities=[a.name for a in activities_of(dict(row.answers or {}))],
                      earlier=len(earlier), start=_next_url(session),
                      started=bool(check_in["answers"]), reference=row.reference)


def _asked(request: Request, db: PatientRows, qid: str):
    row, check_in = _current(request, db, lock=request.method == "POST")
    if check_in["completed_at"] is not None:
        raise _Stop(_see("/follow-up/emergency" if check_in["urgency"] == "emergency"
                         else "/follow-up/result"))
    session = _flow(request, row, check_in)
    q = session.questionnaire.questions.get(qid)
    if q is None:
        raise _Stop(render(request, "web/not_found.html.j2", status_code=404))
    upcoming = session.next_question()
    if session.is_skipped(qid) or (qid not in session.given
                                   and (upcoming is None or upcoming.id != qid)):
        raise _Stop(_see(_next_url(session)))
    return row, check_in, session, q


def _context(request: Request, session: Session, q, **kwargs) -> dict:
    context = _question_context(request, session, q, **kwargs)
    asked = session.to_ask()
    index = asked.index(q.id) if q.id in asked else len(asked)
    context["back"] = (f"/follow-up/question/{asked[index - 1]}" if index > 0
                       else "/follow-up/check-in")
    context["action"] = f"/follow-up/question/{q.id}"
    context["follow_up"] = True
    return context


@router.get("/follow-up/question/{qid}")
def check_in_question(request: Request, qid: str):
    with _db(request) as db:
        row, check_in, session, q = _asked(request, db, qid)
        return render(request, "web/question.html.j2", **_context(request, session, q))


@router.post("/follow-up/question/{qid}")
def check_in_answer(request: Request, qid: str, csrf_token: str = "", answer: str = ""):
    with _db(request) as db:
        _check(request, csrf_token)
        row, check_in, session, q = _asked(request, db, qid)
        try:
            value = parsed_answer(q, session, answer)  # the first visit's rules (patient.py)
        except AnswerRejected as exc:
            return render(request, "web/question.html.j2", status_code=400,
                          **_context(request, session, q,
                                     error=_web_error(q, str(exc), _entered(q, answer)),
                                     entered=answer))
        session.record(q.id, value)
        _save_answers(db, check_in, dict(session.given))
        if q.red_flag and _emergency(request, row, session, check_in) is not None:
            notify = _complete(request, db, row, check_in)
            db.commit()
            _notify(request, row, notify)
            return _see("/follow-up/emergency")
        if session.next_question() is None:  # the last question: re-triage now
            notify = _complete(request, db, row, check_in)
            db.commit()
            _notify(request, row, notify)
            return _see("/follow-up/emergency" if check_in["urgency"] == "emergency"
                        else "/follow-up/result")
        db.commit()
        return _see(_next_url(session))


@router.get("/follow-up/finish")
def check_in_finish(request: Request):
    """Where a check-in whose questions are all answered goes: the last answer's post normally
    completes it; if that did not happen (the rules changed between two answers so that no
    question is left), it is completed here. Completing twice does nothing."""
    with PatientRows(request.app.state.engine, for_update=True) as db:
        row, check_in = _current(request, db, lock=True)
        if check_in["completed_at"] is None:
            session = _flow(request, row, check_in)
            if session.next_question() is not None:
                return _see(_next_url(session))
            notify = _complete(request, db, row, check_in)
            db.commit()
            _notify(request, row, notify)
        return _see("/follow-up/emergency" if check_in["urgency"] == "emergency"
                    else "/follow-up/result")


def _verdict_label(urgency: str) -> str:
    """"Self-care", "Soon": the result's name as the result page shows it (triage.report)."""
    from ..report import VERDICTS

    return VERDICTS[urgency]["label"]


def _rank(urgency: str | None) -> int:
    return URGENCY_ORDER.index(urgency) if urgency in URGENCY_ORDER else -1


def course_of(outcome, check_in_answers: dict, previous_urgency: str | None) -> str:
    """How the clinic's queue describes a check-in: "worse" when its urgency went up from the
    one before (the first visit or the last check-in), or the person rates their back worse;
    "better" when triage.followup finds it improved; else "same"."""
    if _rank(outcome.urgency) > _rank(previous_urgency):
        return "worse"
    if check_in_answers.get("global_change") in WORSE_CHANGES:
        return "worse"
    if outcome.improved:
        return "better"
    return "same"


def _complete(request: Request, db: PatientRows, row, check_in: dict) -> str | None:
    """Review the check-in (with the submission's earlier ones), store its outcome, update the
    submission's follow-up columns and audit it; returns the urgency to notify the clinic of (an
    escalation to urgent or emergency), which the caller sends once the transaction is committed
    (the notification's link must find what it links to)."""
    now = utcnow()
    check_in["completed_at"] = now
    earlier = [c for c in _check_ins(db, row.id) if c["id"] != check_in["id"]]
    outcome = review(request, row, earlier + [check_in], now.date())
    previous = row.follow_up_urgency or row.urgency
    course = course_of(outcome, check_in["answers"] or {}, previous)
    db.connection.execute(update(CHECK_INS).where(CHECK_INS.c.id == check_in["id"]).values(
        completed_at=now, updated_at=now, urgency=outcome.urgency,
        outcome=outcome.to_dict()))
    check_in["urgency"] = outcome.urgency
    row.follow_up_at = now
    row.follow_up_urgency = outcome.urgency
    row.follow_up_course = course
    notify = outcome.urgency in NOTIFIED and outcome.escalated
    _audit(db, "check_in", row.id, request)
    if notify:
        row.escalated_at = now
        _reopen(db, row.id, request)
    return outcome.urgency if notify else None


def _reopen(db: PatientRows, submission_id: str, request: Request) -> None:
    """An escalated check-in arrives as a new submission does: a status the clinic set (closed,
    booked, ...) goes back to "new" (an audit event, actor "system"), and a review made before it
    no longer counts (clinic/queue.py). The assignee stays."""
    from sqlalchemy.orm import Session as OrmSession

    from .clinic import audit
    from .clinic.models import Workflow

    table = Workflow.__table__
    changed = db.connection.execute(
        update(table).where(table.c.submission_id == submission_id, table.c.status != "new")
        .values(status="new", changed_at=utcnow(), changed_by_id=None)).rowcount
    if changed:
        with OrmSession(bind=db.connection) as orm:
            audit.record(orm, "status", "system", submission_id=submission_id,
                         detail="new (a check-in escalated it)")
            orm.flush()


def _notify(request: Request, row, urgency: str | None) -> None:
    """An escalated check-in reaches the clinic as a new submission does (clinic/notify.py):
    the reference, the urgency and the link, nothing else."""
    if urgency:
        from .clinic import notify

        notify.submitted(request.app, row.id, row.reference, urgency)


# --------------------------------------------------------------------------- outcomes

def _outcome_of(request: Request, db: PatientRows, row, check_in: dict):
    """The review as it stood when this check-in was completed (the check-ins up to it)."""
    upto = [c for c in _check_ins(db, row.id)
            if (c["completed_at"], c["id"]) <= (check_in["completed_at"], check_in["id"])]
    return review(request, row, upto, _as_utc(check_in["completed_at"]).date())


@router.get("/follow-up/emergency")
def check_in_emergency(request: Request):
    from ..emergency import emergency_screen

    with _db(request) as db:
        row, check_in = _current(request, db)
        if check_in["completed_at"] is None or check_in["urgency"] != "emergency":
            return _see("/follow-up/result" if check_in["completed_at"] else
                        "/follow-up/check-in")
        outcome = _outcome_of(request, db, row, check_in)
        rulebook = request.app.state.rulebook
        number = request.app.state.settings.emergency_number
        screen = emergency_screen(outcome.assessment, rulebook, number)
        return render(request, "web/emergency.html.j2", screen=screen, non_spinal="",
                      why=screen.reasons, number=number, reference=row.reference,
                      contact=False, follow_up=True, back=None,
                      flags=[rulebook.label("red_flag", f) for f in outcome.assessment.red_flags
                             if f != "non_spinal"])


@router.get("/follow-up/result")
def check_in_result(request: Request):
    from ..report import report_facts
    from ..wording import long_date

    with _db(request) as db:
        row, check_in = _current(request, db)
        if check_in["completed_at"] is None:
            return _see("/follow-up/check-in")
        if check_in["urgency"] == "emergency":
            return _see("/follow-up/emergency")
        outcome = _outcome_of(request, db, row, check_in)
        day = _as_utc(check_in["completed_at"]).date()
        review_day = outcome.review_date
        early = review_day is not None and day < review_day
        # the dates the advice gives: an early check-in that changed nothing keeps the first
        # visit's review date; otherwise they count from the check-in
        facts = report_facts(outcome.assessment, request.app.state.rulebook,
                             today=row.submitted_at if early and not outcome.escalated
                             else check_in["completed_at"])
        first = report_facts(outcome.first, request.app.state.rulebook,
                             today=row.submitted_at)["verdict"]
        return render(request, "web/follow_up_result.html.j2", report=facts, outcome=outcome,
                      first_label=first["label"],
                      early=early,
                      review=long_date(review_day) if review_day else None,
                      reference=row.reference, series=list(outcome.series))


@router.get("/follow-up/report")
def check_in_report(request: Request):
    """The report after this check-in: the re-triaged result with the course since the first
    visit (the same document as `triage report ANSWERS --follow-up`)."""
    from fastapi.responses import HTMLResponse

    from ..report import render_report
    from .patient import REPORT_POLICY, _with_report_nav

    with _db(request) as db:
        row, check_in = _current(request, db)
        if check_in["completed_at"] is None:
            return _see("/follow-up/check-in")
        outcome = _outcome_of(request, db, row, check_in)
        html = render_report(outcome.assessment, request.app.state.rulebook, "html",
                             today=_as_utc(check_in["completed_at"]).date(),
                             reference=row.reference, follow_up=outcome)
        back = ("/follow-up/emergency" if check_in["urgency"] == "emergency"
                else "/follow-up/result")
        html = _with_report_nav(html, back, False).replace(
            "Back to your emergency advice" if back.endswith("emergency") else
            "Back to your result", "Back to your check-in")
        return HTMLResponse(html, headers={"content-security-policy": REPORT_POLICY})
