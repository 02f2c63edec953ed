"""The clinic's queue: submitted assessments, most urgent first, each urgency newest first.

A submission is a patient session with ``submitted_at`` set: the patient finished, or an answer
made the urgency an emergency. A session whose emergency the patient took back ("I answered a
question by mistake") stays listed too, with the emergency that was shown, ranked with the
emergencies until the patient finishes; the final submission keeps the mark "emergency shown,
then corrected by the patient". Nothing here writes answers; a review only records who and when.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from typing import Any

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session, aliased

from ...assessment import Assessment, Reason
from ..db import LISTED, QUEUE_AT, QUEUE_URGENCY, PatientSession, utcnow
from .audit import as_utc
from .models import STATUSES, Contact, Review, User, Workflow

Assignee = aliased(User)
PAGE_SIZE = 50
STATUS_LABELS = {"new": "New", "contacted": "Contacted", "booked": "Booked",
                 "referred": "Referred", "closed": "Closed"}

URGENCIES = ("emergency", "urgent", "soon", "self_care")
URGENCY_LABELS = {"emergency": "Emergency", "urgent": "Urgent", "soon": "Soon",
                  "self_care": "Self-care"}
REVIEWED_FILTERS = ("all", "no", "yes")
# A submission is listed with its newest follow-up check-in's urgency, which is never below the
# first visit's (triage.followup), and a check-in that escalated to urgent or emergency ranks it
# as if it had arrived then (issue 25): the clinic sees it as a new submission.
_URGENCY = QUEUE_URGENCY
# a listed session without an urgency is one whose emergency was taken back and that is not
# finished: ranked with the emergencies (it was shown the emergency advice). The rank is a
# column the database keeps (db.QUEUE_RANK_SQL), and the order below is the one index
# ix_patient_sessions_queue holds: the queue page reads it in order, sorting nothing.
_RANK = PatientSession.queue_rank
# typed, so that a time compared with it is bound as the column's are (SQLite keeps text)
_WHEN = QUEUE_AT
FOLLOW_UP_FILTERS = ("", "worse", "missed")
FOLLOW_UP_LABELS = {"": "Anyone", "worse": "Check-in worse", "missed": "Check-in missed"}


@dataclass
class Submission:
    id: str
    submitted_at: _dt.datetime
    urgency: str
    answers: dict
    assessment: dict
    reviewed_by: str | None = None
    reviewed_at: _dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    corrected_at: _dt.datetime | None = None  # when the patient took back an emergency
    finished: bool = True  # False: listed for a corrected emergency, the patient not finished
    reference: str | None = None
    sealed_contact: str | None = None  # the Fernet token; opened only with the clinic's key
    status: str = "new"
    assignee: str | None = None
    rank: int = 0  # the urgency's place in the queue's order (for the next page's key)
    # follow-up check-ins (issue 25): the review date given, the newest check-in's time,
    # urgency and course (better, same, worse), the newest escalation to urgent or emergency
    follow_up_due_at: _dt.datetime | None = None
    follow_up_at: _dt.datetime | None = None
    follow_up_urgency: str | None = None
    follow_up_course: str | None = None
    escalated_at: _dt.datetime | None = None

    @property
    def listed_urgency(self) -> str:
        """The urgency the queue lists it with: the newest check-in's, else the first visit's."""
        return self.follow_up_urgency or self.urgency

    @property
    def listed_at(self) -> _dt.datetime:
        """When the queue takes it to have arrived: its newest escalation, else its submission."""
        return self.escalated_at or self.submitted_at

    @property
    def review_before_escalation(self) -> bool:
        """Reviewed, but before a check-in escalated it: the review does not cover it."""
        return (self.reviewed_at is not None and self.escalated_at is not None
                and self.reviewed_at < self.escalated_at)

    def missed(self, now: _dt.datetime | None = None) -> bool:
        """Its review date has passed with no check-in on or after it (triage.followup's
        missed_check_in)."""
        if self.follow_up_due_at is None:
            return False
        today = _dt.datetime.combine((now or utcnow()).date(), _dt.time(), _dt.timezone.utc)
        return self.follow_up_due_at < today and (
            self.follow_up_at is None or self.follow_up_at < self.follow_up_due_at)

    @property
    def corrected(self) -> bool:
        """Emergency shown, then corrected by the patient."""
        return self.corrected_at is not None

    @property
    def age(self):
        return self.answers.get("age")

    @property
    def duration_weeks(self):
        return self.answers.get("duration_weeks")

    def to_assessment(self) -> Assessment:
        """The stored assessment (as it was concluded then, not re-run on today's rules)."""
        a = self.assessment
        return Assessment(
            urgency=a["urgency"], duration_class=a.get("duration_class", ""),
            red_flags=list(a.get("red_flags", [])), causes=list(a.get("causes", [])),
            stretches=list(a.get("stretches", [])),
            reasons=[Reason(r["id"], r["text"]) for r in a.get("reasons", [])],
            unanswered_red_flags=list(a.get("unanswered_red_flags", [])),
            posture_signs=list(a.get("posture_signs", [])),
            avoided_stretches=list(a.get("avoided_stretches", [])),
            rulebook_version=a.get("rulebook_version", ""),
            review_in_days=a.get("review_in_days"),  # policy version 3; absent before it
            risk_group=a.get("risk_group"),  # issue 25; absent before it
            # "not sure" is stored as null; the report lists a question without an answer as
            # not answered (a null reached its number formatting and failed the page)
            answers={k: v for k, v in self.answers.items() if v is not None})


def _submissions(rows) -> list[Submission]:
    out = []
    for patient, review, reviewer, sealed, status, assignee in rows:
        corrected = getattr(patient, "emergency_corrected_at", None)
        out.append(Submission(
            id=patient.id, submitted_at=as_utc(patient.submitted_at or corrected),
            urgency=patient.urgency or (patient.assessment or {}).get("urgency", "emergency"),
            answers=dict(patient.answers or {}), assessment=dict(patient.assessment or {}),
            reviewed_by=reviewer.name if reviewer else None,
            reviewed_at=as_utc(review.reviewed_at) if review else None,
            corrected_at=as_utc(corrected) if corrected else None,
            finished=patient.submitted_at is not None, reference=patient.reference,
            sealed_contact=sealed, status=status or "new", assignee=assignee,
            follow_up_due_at=_utc_or_none(getattr(patient, "follow_up_due_at", None)),
            follow_up_at=_utc_or_none(getattr(patient, "follow_up_at", None)),
            follow_up_urgency=getattr(patient, "follow_up_urgency", None),
            follow_up_course=getattr(patient, "follow_up_course", None),
            escalated_at=_utc_or_none(getattr(patient, "escalated_at", None))))
        listed = out[-1].listed_urgency
        out[-1].rank = URGENCIES.index(listed) if listed in URGENCIES else 0
    return out


def _utc_or_none(moment):
    return as_utc(moment) if moment is not None else None


_LISTED = LISTED  # the very condition of the queue's partial indexes (db.py)


def _base_query():
    return (select(PatientSession, Review, User, Contact.sealed, Workflow.status,
                   Assignee.name)
            .outerjoin(Review, Review.submission_id == PatientSession.id)
            .outerjoin(User, User.id == Review.user_id)
            .outerjoin(Contact, Contact.submission_id == PatientSession.id)
            .outerjoin(Workflow, Workflow.submission_id == PatientSession.id)
            .outerjoin(Assignee, Assignee.id == Workflow.assignee_id)
            .where(_LISTED))


@dataclass(frozen=True)
class Filters:
    """What the queue is narrowed to (every one optional)."""

    urgencies: tuple[str, ...] = ()
    reviewed: str = "all"
    statuses: tuple[str, ...] = ()
    assignee: str = ""  # an account name, "me" resolved by the caller, or "nobody"
    since: _dt.date | None = None  # submitted on or after this day (UTC)
    until: _dt.date | None = None  # submitted on or before this day (UTC)
    search: str = ""  # a reference, a name or a patient number
    follow_up: str = ""  # "worse": the newest check-in got worse; "missed": review date passed

    @property
    def any(self) -> bool:
        return bool(self.urgencies or self.reviewed != "all" or self.statuses or self.assignee
                    or self.since or self.until or self.search or self.follow_up)


def _missed(now: _dt.datetime | None = None):
    """The review date (kept as midnight UTC of its day) is before today, and no check-in was
    made on or after it."""
    today = _dt.datetime.combine((now or utcnow()).date(), _dt.time(), _dt.timezone.utc)
    return and_(PatientSession.follow_up_due_at.is_not(None),
                PatientSession.follow_up_due_at < today,
                or_(PatientSession.follow_up_at.is_(None),
                    PatientSession.follow_up_at < PatientSession.follow_up_due_at))


def _filtered(query, filters: Filters, keyring=None):
    if filters.urgencies:
        query = query.where(_URGENCY.in_(filters.urgencies))
        # the same again as ranks (it narrows nothing more): the database then reads those
        # ranks' ranges of the queue's index, in order, instead of sorting the urgency's rows
        query = query.where(_RANK.in_(sorted({URGENCIES.index(u) for u in filters.urgencies})))
    if filters.follow_up == "worse":
        query = query.where(PatientSession.follow_up_course == "worse")
    elif filters.follow_up == "missed":
        query = query.where(_missed())
    # a review made before a check-in escalated the submission does not cover it (issue 25)
    stale = and_(PatientSession.escalated_at.is_not(None),
                 Review.reviewed_at < PatientSession.escalated_at)
    if filters.reviewed == "yes":
        query = query.where(Review.submission_id.is_not(None), ~stale)
    elif filters.reviewed == "no":
        query = query.where(or_(Review.submission_id.is_(None), stale))
    if filters.statuses:
        status = func.coalesce(Workflow.status, "new")
        query = query.where(status.in_(filters.statuses))
    if filters.assignee == "nobody":
        query = query.where(Workflow.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Assignee.name == filters.assignee)
    day = _dt.timedelta(days=1)
    if filters.since:
        start = _dt.datetime.combine(filters.since, _dt.time(), _dt.timezone.utc)
        query = query.where(_WHEN >= start)
    if filters.until:
        end = _dt.datetime.combine(filters.until, _dt.time(), _dt.timezone.utc) + day
        query = query.where(_WHEN < end)
    if filters.search:
        from .contact import normalise_reference

        # the ids found first, each through its own index (an OR across the reference and
        # the contacts' digests made PostgreSQL scan every submission)
        parts = [select(PatientSession.id).where(
            PatientSession.reference == normalise_reference(filters.search))]
        if keyring is not None:
            for kind, column in (("name", Contact.name_digest), ("number", Contact.number_digest)):
                digest = keyring.search_digest(kind, filters.search)
                if digest:
                    parts.append(select(Contact.submission_id).where(column == digest))
        query = query.where(PatientSession.id.in_(union(*parts) if len(parts) > 1
                                                  else parts[0]))
    return query


def _narrowed(columns, filters: Filters):
    """`columns` from the listed sessions, joined only to the tables the filters need: on
    100,000 submissions, joining every row's review, contact and workflow before sorting cost
    the queue page most of its time (benchmarks/bench_clinic_queue.py)."""
    query = select(*columns).select_from(PatientSession)
    if filters.reviewed != "all":
        query = query.outerjoin(Review, Review.submission_id == PatientSession.id)
    if filters.statuses or filters.assignee:
        query = query.outerjoin(Workflow, Workflow.submission_id == PatientSession.id)
    if filters.assignee and filters.assignee != "nobody":
        query = query.outerjoin(Assignee, Assignee.id == Workflow.assignee_id)
    return query.where(_LISTED)


def queue(db: Session, *, urgencies: list[str] | None = None, reviewed: str = "all",
          ids: list[str] | None = None, filters: Filters | None = None, keyring=None
          ) -> list[Submission]:
    """Submissions, emergencies first, then urgent, soon, self-care; each newest first."""
    filters = filters or Filters(urgencies=tuple(urgencies or ()), reviewed=reviewed)
    query = _filtered(_base_query(), filters, keyring)
    if ids is not None:
        query = query.where(PatientSession.id.in_(ids))
    query = query.order_by(_RANK, _WHEN.desc(), PatientSession.id)
    return _submissions(db.execute(query).all())


def page_key(s: Submission) -> str:
    """Where the next page starts: after this submission, in the queue's order."""
    return f"{s.rank}.{s.listed_at.isoformat()}.{s.id}"


def _after(key: str):
    """The condition "after `key` in the queue's order" (keyset pagination: no OFFSET, so a
    page deep in the queue costs what the first one does, and nothing is shown twice or skipped
    when submissions arrive between pages), in two parts that follow each other in that order:
    the rest of the key's rank, then the ranks after it. Each part is a range of the queue's
    index (ix_patient_sessions_queue) that the database seeks to; one condition with an OR
    made it read, and discard, every row of the key's rank before the key (at 100,000
    submissions, a page near the end of the self-care ones took about 300 ms). None for a key
    that is not one."""
    try:
        rank, rest = key.split(".", 1)
        when, identifier = rest.rsplit(".", 1)  # a time has a "." of its own; an id has none
        rank_n = int(rank)
        moment = _dt.datetime.fromisoformat(when)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (and_(_RANK == rank_n, _WHEN <= moment,
                 or_(_WHEN < moment, PatientSession.id > identifier)),
            _RANK > rank_n)


def queue_page(db: Session, filters: Filters, *, after: str = "", size: int | None = None,
               keyring=None) -> tuple[list[Submission], str | None]:
    """One page of the queue after the key `after` (the start: ""), and the next page's key
    (None on the last page)."""
    size = size or PAGE_SIZE
    page = _filtered(_narrowed([PatientSession.id], filters), filters, keyring)
    order = (_RANK, _WHEN.desc(), PatientSession.id)
    parts = (_after(after) if after else None) or (None,)
    page_ids: list[str] = []
    for condition in parts:  # the second part only when the first does not fill the page
        part = page if condition is None else page.where(condition)
        page_ids += [row[0] for row in
                     db.execute(part.order_by(*order).limit(size + 1 - len(page_ids)))]
        if len(page_ids) > size:
            break
    query = _base_query().where(PatientSession.id.in_(page_ids)).order_by(*order)
    found = _submissions(db.execute(query).all()) if page_ids else []
    more = len(found) > size
    found = found[:size]
    return found, (page_key(found[-1]) if more and found else None)


def counts(db: Session, filters: Filters, keyring=None) -> dict[str, int]:
    """How many submissions of each urgency the filters (apart from urgency) leave."""
    filters = dataclass_replace(filters, urgencies=())
    query = _filtered(_narrowed([_URGENCY, func.count()], filters), filters, keyring)
    found = dict(db.execute(query.group_by(_URGENCY)).all())
    return {u: found.get(u, 0) for u in URGENCIES}


def newest_submitted(db: Session) -> _dt.datetime | None:
    """When the newest submission arrived (what the queue polls to notice new ones)."""
    # submitted_at alone, through its index: a correction is not a new arrival (the emergency
    # it corrects arrived, and was noticed, when it was submitted); a check-in that escalated to
    # urgent or emergency is one (issue 25)
    submitted = db.execute(select(func.max(PatientSession.submitted_at))).scalar()
    escalated = db.execute(select(func.max(PatientSession.escalated_at))).scalar()
    found = [as_utc(t) for t in (submitted, escalated) if t is not None]
    return max(found) if found else None


@dataclass
class CheckInView:
    """One completed check-in as the clinic's submission page shows it."""

    at: _dt.datetime
    urgency: str
    escalated: bool
    why: list[str]
    improved: bool | None
    improvement_why: str
    new_signs: list[str]
    answers: dict


def check_ins(db: Session, submission_id: str) -> list[CheckInView]:
    """The submission's completed check-ins, oldest first, with their stored outcomes."""
    from ..db import CheckIn

    rows = db.scalars(select(CheckIn).where(CheckIn.submission_id == submission_id,
                                            CheckIn.completed_at.is_not(None))
                      .order_by(CheckIn.completed_at, CheckIn.id)).all()
    out = []
    for row in rows:
        outcome = row.outcome or {}
        out.append(CheckInView(
            at=as_utc(row.completed_at), urgency=row.urgency or "",
            escalated=bool(outcome.get("escalated")), why=list(outcome.get("why") or []),
            improved=outcome.get("improved"), improvement_why=outcome.get("improvement_why") or "",
            new_signs=list(outcome.get("new_signs") or []), answers=dict(row.answers or {})))
    return out


def submission(db: Session, submission_id: str) -> Submission | None:
    """One submission by its (unguessable) id; None for an unknown or unfinished session."""
    if not submission_id or len(submission_id) > 64:
        return None
    rows = db.execute(_base_query().where(PatientSession.id == submission_id)).all()
    found = _submissions(rows)
    return found[0] if found else None


def mark_reviewed(db: Session, submission_id: str, user: User) -> bool:
    """Record that `user` reviewed it now; False when someone already had (that review stays),
    unless a check-in escalated the submission since (then the review is made again)."""
    review = db.get(Review, submission_id)
    if review is not None:
        escalated = db.get(PatientSession, submission_id).escalated_at
        if escalated is None or as_utc(review.reviewed_at) >= as_utc(escalated):
            return False
        review.user_id, review.reviewed_at = user.id, utcnow()
        return True
    db.add(Review(submission_id=submission_id, user_id=user.id, reviewed_at=utcnow()))
    return True


def how_long_ago(moment: _dt.datetime, now: _dt.datetime | None = None) -> str:
    seconds = max(0, int(((now or utcnow()) - as_utc(moment)).total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def duration_words(weeks) -> str:
    if weeks is None:
        return "not answered"
    weeks = float(weeks)
    if weeks < 1:
        days = round(weeks * 7)
        return f"{days} day{'s' if days != 1 else ''}"
    if weeks < 104:
        shown = f"{weeks:g}"
        return f"{shown} week{'s' if shown != '1' else ''}"
    return f"{weeks / 52:.0f} years"
