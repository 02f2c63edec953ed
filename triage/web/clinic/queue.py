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
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from ...assessment import Assessment, Reason
from ..db import PatientSession, utcnow
from .audit import as_utc
from .models import Review, User

URGENCIES = ("emergency", "urgent", "soon", "self_care")
URGENCY_LABELS = {"emergency": "Emergency", "urgent": "Urgent", "soon": "Soon",
                  "self_care": "Self-care"}
REVIEWED_FILTERS = ("all", "no", "yes")
# a listed session without an urgency is one whose emergency was taken back and that is not
# finished: ranked with the emergencies (it was shown the emergency advice)
_RANK = case({u: n for n, u in enumerate(URGENCIES)}, value=PatientSession.urgency, else_=0)
_WHEN = func.coalesce(PatientSession.submitted_at, PatientSession.emergency_corrected_at)


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
            rulebook_version=a.get("rulebook_version", ""), answers=dict(self.answers))


def _submissions(rows) -> list[Submission]:
    out = []
    for patient, review, reviewer in rows:
        corrected = getattr(patient, "emergency_corrected_at", None)
        out.append(Submission(
            id=patient.id, submitted_at=as_utc(patient.submitted_at or corrected),
            urgency=patient.urgency or (patient.assessment or {}).get("urgency", "emergency"),
            answers=dict(patient.answers or {}), assessment=dict(patient.assessment or {}),
            reviewed_by=reviewer.name if reviewer else None,
            reviewed_at=as_utc(review.reviewed_at) if review else None,
            corrected_at=as_utc(corrected) if corrected else None,
            finished=patient.submitted_at is not None))
    return out


def _base_query():
    return (select(PatientSession, Review, User)
            .outerjoin(Review, Review.submission_id == PatientSession.id)
            .outerjoin(User, User.id == Review.user_id)
            .where(or_(PatientSession.submitted_at.is_not(None),
                       PatientSession.emergency_corrected_at.is_not(None))))


def queue(db: Session, *, urgencies: list[str] | None = None, reviewed: str = "all",
          ids: list[str] | None = None) -> list[Submission]:
    """Submissions, emergencies first, then urgent, soon, self-care; each newest first."""
    query = _base_query()
    if urgencies:
        query = query.where(PatientSession.urgency.in_(urgencies))
    if reviewed == "yes":
        query = query.where(Review.submission_id.is_not(None))
    elif reviewed == "no":
        query = query.where(Review.submission_id.is_(None))
    if ids is not None:
        query = query.where(PatientSession.id.in_(ids))
    query = query.order_by(_RANK, _WHEN.desc(), PatientSession.id)
    return _submissions(db.execute(query).all())


def submission(db: Session, submission_id: str) -> Submission | None:
    """One submission by its (unguessable) id; None for an unknown or unfinished session."""
    if not submission_id or len(submission_id) > 64:
        return None
    rows = db.execute(_base_query().where(PatientSession.id == submission_id)).all()
    found = _submissions(rows)
    return found[0] if found else None


def mark_reviewed(db: Session, submission_id: str, user: User) -> bool:
    """Record that `user` reviewed it now; False when someone already had (that review stays)."""
    if db.get(Review, submission_id) is not None:
        return False
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
