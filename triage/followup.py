"""Follow-up check-ins: what a check-in asks, and what its answers change (issue 25).

Pure functions and records: no terminal, no web, no files (``triage ask --follow-up`` in
cli/ask.py and the web pages keep and show them). The first visit is a saved answers mapping;
every ``self_care`` and ``soon`` assessment carries ``review_in_days`` (contract section 3), and a
check-in on or after that date asks:

1. the emergency screen again (the questionnaire's ``first_checks`` warning signs), first, as at
   the first visit;
2. the pain now (``pain_score``, the first visit's own 0-10 question) and a 7-point global rating
   of change since the first visit (``global_change``; Kamper, Maher & Mackay, J Man Manip Ther
   2009;17(3):163-170; labels of our own);
3. each activity the person named at the first visit, scored 0-10 again (the format of the
   Patient-Specific Functional Scale: Stratford, Gill, Westaway & Binkley, Physiotherapy Canada
   1995;47(4):258-263; free to use, no open licence, so the instruction wording is our own);
4. every other warning-sign question of the questionnaire ("new since last time?").

``review_check_in`` re-triages with the first visit's answers updated by the check-ins and
decides whether the urgency goes up. The rules, all in the safer direction:

* a warning sign answered yes (an alarming answer) at any check-in is added to the answers and
  stays added; one left blank ("not sure") is unknown, as at the first visit (it replaces an
  earlier "no", never an earlier "yes"); "no" leaves the first visit's answer as it was, except
  that it settles one that was unknown or did not apply then. The emergency screen is part of
  the re-screen, so a new emergency sign gives ``emergency``;
* the pain score is the latest check-in's, ``pain_trend`` follows its global rating (better,
  same, worse) and ``duration_weeks`` grows by the days since the first visit;
* no improvement at a check-in dated on or after the review date (the first visit's date plus
  its ``review_in_days``) moves ``self_care`` to ``soon``. Improvement (``improvement``) is: pain
  down by at least 2 points or by at least 30% of the first visit's score (Ostelo et al., Spine
  2008;33(1):90-94, the minimal important change for a 0-10 pain scale), or a rating of "much
  better" or "better", or the mean activity score up by at least 2 points (the PSFS's minimal
  detectable change for the mean, as printed with the scale); and never with a rating on the
  worse side. Nothing to compare (no pain score either time, no rating, no activity) is not
  improvement: unknown is not "better";
* an urgency is never lowered: the outcome is the highest of the first visit's and of the
  review after each check-in (a clinician, not the tool, takes it back down).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, Mapping, Sequence

from .assessment import Assessment, Reason
from .contract import NO_STRETCHES_AT, URGENCY_RANK
from .errors import AnswersError
from .questionnaire import NOT_APPLICABLE, Question, Questionnaire, Section
from .records import set_field

# --------------------------------------------------------------------------- thresholds and words

PAIN_POINTS = 2        # Ostelo 2008: minimal important change, 0-10 pain scale, in points
PAIN_PERCENT = 30      # Ostelo 2008: ... or 30% of the starting score
PSFS_POINTS = 2        # Stratford 1995 (as printed with the scale): detectable change of the mean
MAX_ACTIVITIES = 3     # the first visit names up to three activities

GLOBAL_CHANGE = "global_change"
# A 7-point global rating of change (Kamper 2009); value, label. Most improved first.
GRC_CHOICES = (
    ("much_better", "Much better"),
    ("better", "Better"),
    ("little_better", "A little better"),
    ("same", "About the same"),
    ("little_worse", "A little worse"),
    ("worse", "Worse"),
    ("much_worse", "Much worse"),
)
GRC_LABELS = dict(GRC_CHOICES)
GRC_IMPROVED = frozenset({"much_better", "better"})  # counts as improvement on its own
GRC_WORSE = frozenset({"little_worse", "worse", "much_worse"})  # never improvement
# the first visit's pain_trend ("over the last week") that a rating stands for in the re-triage
GRC_TREND = {"much_better": "better", "better": "better", "little_better": "better",
             "same": "same", "little_worse": "worse", "worse": "worse", "much_worse": "worse"}

SECTION_TITLES = {
    "first_checks": "First, signs of an emergency",
    "pain_now": "Your pain now",
    "function_now": "What you can do now",
    "warning_signs": "Anything new since last time?",
}

WARNING_SIGN_HELP = ("Answer yes if you have this now, even if you said so last time; no if you "
                     "do not; press Enter if you are not sure (not sure counts as a possible "
                     "warning sign, never as no).")


def activity_ids(n: int) -> tuple[str, str]:
    """The first visit's question ids of activity `n` (1-3): its name and its score."""
    return f"activity_{n}", f"activity_{n}_score"


# --------------------------------------------------------------------------- records

class Activity:
    """One activity named at the first visit, with the score given then."""
    __slots__ = ("number", "name", "score")

    def __init__(self, number: int, name: str, score: int | None):
        self.number, self.name, self.score = number, name, score

    def __eq__(self, other):
        return (isinstance(other, Activity)
                and (self.number, self.name, self.score) == (other.number, other.name,
                                                             other.score))

    def __repr__(self):
        return f"Activity({self.number!r}, {self.name!r}, {self.score!r})"


def activities_of(first_answers: Mapping[str, Any]) -> list[Activity]:
    """The activities named at the first visit (blank names left out), in order."""
    out = []
    for n in range(1, MAX_ACTIVITIES + 1):
        name_id, score_id = activity_ids(n)
        name = first_answers.get(name_id)
        if isinstance(name, str) and name.strip():
            score = first_answers.get(score_id)
            out.append(Activity(n, " ".join(name.split()),
                                score if isinstance(score, int) and not isinstance(score, bool)
                                else None))
    return out


class CheckIn:
    """One check-in: its date and its answers, keyed by the check-in's question ids
    (``check_in_questionnaire``); None is "not sure" (left blank)."""
    __slots__ = ("date", "answers")

    def __init__(self, date: _dt.date, answers: Mapping[str, Any]):
        if not isinstance(date, _dt.date) or isinstance(date, _dt.datetime):
            raise TypeError("a check-in's date is a datetime.date")
        self.date = date
        self.answers = dict(answers)

    @property
    def pain(self) -> int | None:
        value = self.answers.get("pain_score")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def change(self) -> str | None:
        value = self.answers.get(GLOBAL_CHANGE)
        return value if value in GRC_LABELS else None

    @property
    def activity_scores(self) -> dict[int, int | None]:
        out = {}
        for n in range(1, MAX_ACTIVITIES + 1):
            value = self.answers.get(activity_ids(n)[1])
            if activity_ids(n)[1] in self.answers:
                out[n] = value if isinstance(value, int) and not isinstance(value, bool) else None
        return out

    @property
    def signs(self) -> dict[str, Any]:
        """The warning-sign answers (every answer that is not pain, rating or activity)."""
        own = {"pain_score", GLOBAL_CHANGE} | {activity_ids(n)[1]
                                               for n in range(1, MAX_ACTIVITIES + 1)}
        return {qid: value for qid, value in self.answers.items() if qid not in own}

    def to_dict(self) -> dict:
        return {"date": self.date.isoformat(), "answers": dict(self.answers)}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "check-ins", where: str = "check-in") \
            -> "CheckIn":
        if not isinstance(data, Mapping):
            raise AnswersError("a check-in must be a mapping with 'date' and 'answers'",
                               file=source, where=where)
        answers = data.get("answers", {})
        if not isinstance(answers, Mapping):
            raise AnswersError("'answers' must map question ids to answers", file=source,
                               where=where)
        return cls(_parse_date(data.get("date"), source=source, where=where), answers)

    def __eq__(self, other):
        return isinstance(other, CheckIn) and (self.date, self.answers) == (other.date,
                                                                            other.answers)

    def __repr__(self):
        return f"CheckIn({self.date!r}, {self.answers!r})"


class FollowUpRecord:
    """What is kept beside a first visit: its date, the check-ins, and the id of the follow-up
    plan (the FHIR CarePlan every response is based on)."""
    __slots__ = ("first_visit", "check_ins", "plan_id")

    def __init__(self, first_visit: _dt.date, check_ins: Iterable[CheckIn] = (),
                 plan_id: str = ""):
        self.first_visit = first_visit
        self.check_ins = tuple(check_ins)
        self.plan_id = plan_id

    def with_check_in(self, check_in: CheckIn) -> "FollowUpRecord":
        return FollowUpRecord(self.first_visit, (*self.check_ins, check_in), self.plan_id)

    def __eq__(self, other):
        return isinstance(other, FollowUpRecord) and \
            (self.first_visit, self.check_ins, self.plan_id) == \
            (other.first_visit, other.check_ins, other.plan_id)

    def __repr__(self):
        return f"FollowUpRecord({self.first_visit!r}, {self.check_ins!r}, {self.plan_id!r})"


FILE_FORMAT = "triage-check-ins"
FILE_VERSION = 1


def new_plan_id() -> str:
    import uuid

    return str(uuid.uuid4())


def follow_up_to_dict(record: FollowUpRecord) -> dict:
    return {"format": FILE_FORMAT, "version": FILE_VERSION,
            "first_visit": record.first_visit.isoformat(), "plan_id": record.plan_id,
            "check_ins": [c.to_dict() for c in record.check_ins]}


def follow_up_from_dict(data: Any, *, source: str = "check-ins") -> FollowUpRecord:
    """The record of a check-ins file; AnswersError (one line, naming the place) if it is not
    one. The answers are checked against the questions by ``review_check_in``."""
    if not isinstance(data, Mapping) or data.get("format") != FILE_FORMAT:
        raise AnswersError(f"not a check-ins file (expected \"format\": \"{FILE_FORMAT}\")",
                           file=source)
    if data.get("version") != FILE_VERSION:
        raise AnswersError(f"check-ins file version {data.get('version')!r} is not known "
                           f"(this triage reads version {FILE_VERSION})", file=source)
    first = _parse_date(data.get("first_visit"), source=source, where="first_visit")
    raw = data.get("check_ins", [])
    if not isinstance(raw, list):
        raise AnswersError("'check_ins' must be a list", file=source, where="check_ins")
    check_ins = [CheckIn.from_dict(item, source=source, where=f"check-in {i + 1}")
                 for i, item in enumerate(raw)]
    for i, check_in in enumerate(check_ins):
        if check_in.date < first:
            raise AnswersError(f"dated {check_in.date.isoformat()}, before the first visit "
                               f"({first.isoformat()})", file=source, where=f"check-in {i + 1}")
    plan_id = data.get("plan_id") or ""
    if not isinstance(plan_id, str):
        raise AnswersError("'plan_id' must be text", file=source, where="plan_id")
    return FollowUpRecord(first, check_ins, plan_id)


def _parse_date(value, *, source: str, where: str) -> _dt.date:
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise AnswersError(f"expected a date as YYYY-MM-DD, got {value!r}"[:200], file=source,
                       where=where)


# --------------------------------------------------------------------------- the questions

class CheckInQuestionnaire(Questionnaire):
    """The check-in's questions, as a Questionnaire (so the flow and the forms of the first
    visit show them). Skip logic is evaluated on the first visit's answers updated by the
    check-in's answers so far; nothing is implied by it (the first visit holds those answers)."""

    def __init__(self, version, sections, questions, replaced=None, parameters=None, *,
                 base: Mapping[str, Any] | None = None, questionnaire=None):
        super().__init__(version, sections, questions, replaced, parameters)
        set_field(self, "base", dict(base or {}))
        set_field(self, "first_questionnaire", questionnaire)

    def is_skipped(self, qid: str, answers: Mapping) -> bool:
        q = self.questions[qid]
        if q.skip_if is None:
            return False
        from .conditions import evaluate

        merged = _apply_signs(dict(self.base), answers, self.first_questionnaire)
        return evaluate(q.skip_if, merged, {})

    def apply_skip_logic(self, answers: dict) -> dict:
        return answers

    def replace(self, **changes):  # keep the extra state on a copy
        copy = super().replace(**changes)
        set_field(copy, "base", self.base)
        set_field(copy, "first_questionnaire", self.first_questionnaire)
        return copy


def check_in_questionnaire(rulebook, first_answers: Mapping[str, Any]) -> CheckInQuestionnaire:
    """The questions of a check-in for the person whose first visit answered `first_answers`
    (see the module's docstring for the sections). Raises AnswersError if the first visit's
    answers do not fit the questionnaire."""
    questionnaire = rulebook.questionnaire
    base = _first_given(first_answers, questionnaire)
    questions: dict[str, Question] = {}
    sections = []

    def add(section_id: str, qs: list[Question]) -> None:
        if not qs:
            return
        for q in qs:
            questions[q.id] = q
        sections.append(Section(section_id, SECTION_TITLES[section_id],
                                tuple(q.id for q in qs)))

    first_checks = [qid for s in questionnaire.sections if s.id == "first_checks"
                    for qid in s.questions if questionnaire.questions[qid].red_flag]
    add("first_checks", [_as_sign(questionnaire.questions[qid], "first_checks")
                         for qid in first_checks])
    pain = questionnaire.questions.get("pain_score")
    pain_now = []
    if pain is not None:
        pain_now.append(pain.replace(
            section="pain_now", required=False, default=None,
            text="Over the last day, how bad has the pain been on average, from 0 (no pain) to "
                 "10 (the worst you can imagine)?",
            help="The same scale as at your first visit, so the two can be compared."))
    pain_now.append(Question(
        id=GLOBAL_CHANGE, type="choice", section="pain_now",
        text="Since your first visit, how has your back changed overall?",
        help="Think of your back as a whole: pain, what you can do, and how you feel about it.",
        choices=GRC_CHOICES, short_label="Change since the first visit"))
    add("pain_now", pain_now)
    add("function_now", [Question(
        id=activity_ids(a.number)[1], type="integer", min=0, max=10, section="function_now",
        text=f"How well can you do this activity now: {a.name}? From 0 (not at all) to 10 (as "
             f"well as before the back pain).",
        help=("You named this activity at your first visit"
              + (f" and scored it {a.score}." if a.score is not None else ".")
              + " Score how you can do it now."),
        short_label=f"{a.name} (0 to 10)") for a in activities_of(base)])
    others = [q for q in questionnaire.questions.values()
              if q.red_flag and q.id not in first_checks]
    add("warning_signs", [_as_sign(q, "warning_signs") for q in others])
    return CheckInQuestionnaire(f"check-in/{questionnaire.version}", tuple(sections), questions,
                                base=base, questionnaire=questionnaire)


def _as_sign(q: Question, section: str) -> Question:
    """A warning-sign question asked at a check-in: the same question, optional, no default."""
    return q.replace(section=section, required=False, default=None,
                     help=f"{q.help} {WARNING_SIGN_HELP}")


def parse_check_in(raw: Mapping[str, Any], rulebook, first_answers: Mapping[str, Any], *,
                   source: str = "check-in") -> dict:
    """A check-in's answers in their proper types (None: not sure / left blank); AnswersError
    naming the question for an unknown id or a bad value."""
    questions = check_in_questionnaire(rulebook, first_answers)
    return _parse_with(questions, raw, source)


def _parse_with(questions: Questionnaire, raw, source: str) -> dict:
    if not isinstance(raw, Mapping):
        raise AnswersError("expected a mapping of question id to answer", file=source)
    return questions.parse_given(raw, source=source)


def _first_given(first_answers: Mapping[str, Any], questionnaire) -> dict:
    """The first visit's answers as given (typed; unanswered ones dropped), without the answers
    that skip logic implies: they are implied again from the updated answers."""
    given = questionnaire.parse_given(first_answers, source="first visit")
    return {qid: value for qid, value in given.items() if value is not None}


# --------------------------------------------------------------------------- updating the answers

def _is_alarming(q: Question, value) -> bool:
    return value in q.alarming


def _apply_signs(base: dict, signs: Mapping[str, Any], questionnaire) -> dict:
    """`base` (the answers so far) updated by one check-in's warning-sign answers (see the
    module's docstring); `signs` may hold other answers, which are ignored here."""
    if questionnaire is None:
        return base
    for qid, value in signs.items():
        q = questionnaire.questions.get(qid)
        if q is None or not q.red_flag:
            continue
        before = base.get(qid)
        alarming_before = before is not None and _is_alarming(q, before)
        if value is None:  # not sure: unknown, unless a warning sign was there already
            if not alarming_before:
                base.pop(qid, None)
        elif _is_alarming(q, value):
            base[qid] = value
        elif before is None or before == NOT_APPLICABLE:
            base[qid] = value  # "no" settles an answer that was unknown or did not apply
    return base


def updated_answers(first_answers: Mapping[str, Any], check_ins: Sequence[CheckIn], rulebook,
                    *, first_visit: _dt.date) -> dict:
    """The first visit's answers updated by `check_ins` (in date order): the warning signs of
    every check-in, and the pain score, trend and duration of the latest (module docstring)."""
    questionnaire = rulebook.questionnaire
    answers = _first_given(first_answers, questionnaire)
    ordered = sorted(check_ins, key=lambda c: c.date)
    for check_in in ordered:
        _apply_signs(answers, check_in.answers, questionnaire)
    if ordered:
        latest = ordered[-1]
        if latest.pain is not None and "pain_score" in questionnaire.questions:
            answers["pain_score"] = latest.pain
        if latest.change is not None and "pain_trend" in questionnaire.questions:
            answers["pain_trend"] = GRC_TREND[latest.change]
        weeks = answers.get("duration_weeks")
        if isinstance(weeks, (int, float)) and not isinstance(weeks, bool):
            days = (latest.date - first_visit).days
            if days > 0:
                total = round(weeks + days / 7, 1)
                answers["duration_weeks"] = int(total) if float(total).is_integer() else total
    return answers


# --------------------------------------------------------------------------- improvement

def psfs_mean(scores: Iterable[int | None]) -> float | None:
    """The mean of the activity scores given (the PSFS score), to one decimal; None if none."""
    given = [s for s in scores if s is not None]
    return round(sum(given) / len(given), 1) if given else None


def improvement(first_answers: Mapping[str, Any], check_in: CheckIn) -> tuple[bool | None, str]:
    """Whether `check_in` shows improvement since the first visit, and why in plain words.

    True: pain down by PAIN_POINTS or more, or by PAIN_PERCENT% or more of the first score
    (Ostelo 2008); or a global rating of "much better" or "better"; or the mean of the activity
    scores (those scored both times) up by PSFS_POINTS or more. Never with a rating on the worse
    side (False). None when nothing can be compared."""
    change = check_in.change
    if change in GRC_WORSE:
        return False, f"you rated your back as {GRC_LABELS[change].lower()} than at the first visit"
    found, not_found = [], []
    before = first_answers.get("pain_score")
    before = before if isinstance(before, int) and not isinstance(before, bool) else None
    now = check_in.pain
    if before is not None and now is not None:
        drop = before - now
        if drop >= PAIN_POINTS:
            found.append(f"the pain fell by {drop} points (from {before} to {now})")
        elif before > 0 and drop * 100 >= PAIN_PERCENT * before:
            found.append(f"the pain fell by {round(drop * 100 / before)}% (from {before} to "
                         f"{now})")
        else:
            not_found.append(f"the pain went from {before} to {now} (not down by {PAIN_POINTS} "
                             f"points or {PAIN_PERCENT}%)")
    if change in GRC_IMPROVED:
        found.append(f"you rated your back as {GRC_LABELS[change].lower()}")
    elif change is not None:
        not_found.append(f"you rated your back as {GRC_LABELS[change].lower()}")
    firsts = {a.number: a.score for a in activities_of(first_answers)}
    nows = check_in.activity_scores
    paired = [n for n in firsts if firsts[n] is not None and nows.get(n) is not None]
    if paired:
        mean_before = sum(firsts[n] for n in paired) / len(paired)
        mean_now = sum(nows[n] for n in paired) / len(paired)
        if mean_now - mean_before >= PSFS_POINTS:
            found.append(f"your activity score rose from {mean_before:.1f} to {mean_now:.1f}")
        else:
            not_found.append(f"your activity score went from {mean_before:.1f} to "
                             f"{mean_now:.1f} (not up by {PSFS_POINTS} points)")
    if found:
        return True, "; ".join(found)
    if not_found:
        return False, "; ".join(not_found)
    return None, "nothing was answered that could be compared with the first visit"


# --------------------------------------------------------------------------- dates

def review_date(first_visit: _dt.date, first_assessment: Assessment) -> _dt.date | None:
    """The first visit's date plus its review_in_days; None on urgent and emergency."""
    days = first_assessment.review_in_days
    return None if days is None else first_visit + _dt.timedelta(days=days)


def check_in_due(first_visit: _dt.date, first_assessment: Assessment, today: _dt.date) -> bool:
    """Whether a check-in is due: today is the review date or later."""
    due = review_date(first_visit, first_assessment)
    return due is not None and today >= due


def missed_check_in(first_visit: _dt.date, first_assessment: Assessment,
                    check_ins: Sequence[CheckIn], today: _dt.date) -> bool:
    """Today is after the review date, and no check-in is dated on or after it."""
    due = review_date(first_visit, first_assessment)
    if due is None or today <= due:
        return False
    return not any(due <= c.date <= today for c in check_ins)


# --------------------------------------------------------------------------- the series

class SeriesPoint:
    """One point of the course: the first visit or a check-in."""
    __slots__ = ("date", "label", "pain", "psfs_mean", "activities", "change")

    def __init__(self, date: _dt.date, label: str, pain: int | None, psfs_mean: float | None,
                 activities: tuple, change: str | None):
        self.date, self.label, self.pain, self.psfs_mean = date, label, pain, psfs_mean
        self.activities, self.change = tuple(activities), change

    @property
    def change_label(self) -> str | None:
        return GRC_LABELS.get(self.change) if self.change else None

    @property
    def date_label(self) -> str:
        """1 Dec 2026."""
        return f"{self.date.day} {self.date:%b %Y}"

    def to_dict(self) -> dict:
        return {"date": self.date.isoformat(), "date_label": self.date_label,
                "label": self.label, "pain": self.pain,
                "psfs_mean": self.psfs_mean,
                "activities": [{"name": name, "score": score} for name, score in self.activities],
                "change": self.change, "change_label": self.change_label}

    def __repr__(self):
        return (f"SeriesPoint({self.date!r}, {self.label!r}, pain={self.pain!r}, "
                f"psfs_mean={self.psfs_mean!r}, change={self.change!r})")


def series_of(first_answers: Mapping[str, Any], check_ins: Sequence[CheckIn],
              first_visit: _dt.date) -> tuple[SeriesPoint, ...]:
    """The course for the chart and the table: the first visit, then each check-in by date."""
    activities = activities_of(first_answers)
    pain = first_answers.get("pain_score")
    points = [SeriesPoint(first_visit, "First visit",
                          pain if isinstance(pain, int) and not isinstance(pain, bool) else None,
                          psfs_mean(a.score for a in activities),
                          tuple((a.name, a.score) for a in activities), None)]
    for i, check_in in enumerate(sorted(check_ins, key=lambda c: c.date), start=1):
        scores = check_in.activity_scores
        row = tuple((a.name, scores.get(a.number)) for a in activities)
        points.append(SeriesPoint(check_in.date, f"Check-in {i}", check_in.pain,
                                  psfs_mean(score for _, score in row), row, check_in.change))
    return tuple(points)


# --------------------------------------------------------------------------- the review

class FollowUpOutcome:
    """What the check-ins change: see ``review_check_in``."""
    __slots__ = ("assessment", "first", "escalated", "why", "improved", "improvement_why",
                 "review_date", "missed", "new_signs", "series", "reasons")

    def __init__(self, assessment, first, escalated, why, improved, improvement_why,
                 review_date, missed, new_signs, series, reasons=()):
        self.assessment, self.first, self.escalated, self.why = assessment, first, escalated, \
            tuple(why)
        self.improved, self.improvement_why = improved, improvement_why
        self.review_date, self.missed = review_date, missed
        self.new_signs, self.series = tuple(new_signs), tuple(series)
        self.reasons = tuple(reasons)  # the follow-up's own reasons (Reason, ids FU-...)

    @property
    def urgency(self) -> str:
        return self.assessment.urgency

    def to_dict(self) -> dict:
        return {"urgency": self.urgency, "first_urgency": self.first.urgency,
                "escalated": self.escalated, "why": list(self.why), "improved": self.improved,
                "improvement_why": self.improvement_why,
                "review_date": self.review_date.isoformat() if self.review_date else None,
                "missed": self.missed, "new_signs": list(self.new_signs),
                "reasons": [r.to_dict() for r in self.reasons],
                "assessment": self.assessment.to_dict(),
                "series": [p.to_dict() for p in self.series]}

    def __repr__(self):
        return (f"FollowUpOutcome(urgency={self.urgency!r}, escalated={self.escalated!r}, "
                f"why={self.why!r})")


def _typed_check_ins(check_ins: Sequence[CheckIn], questions: Questionnaire) -> list[CheckIn]:
    out = []
    for check_in in sorted(check_ins, key=lambda c: c.date):
        answers = _parse_with(questions, check_in.answers,
                              f"check-in of {check_in.date.isoformat()}")
        out.append(CheckIn(check_in.date, answers))
    return out


def _new_signs(first: Mapping[str, Any], updated: Mapping[str, Any], questionnaire) -> list[str]:
    """Warning-sign questions alarming or unknown now that were neither at the first visit."""
    out = []
    for qid in questionnaire.red_flag_questions:
        q = questionnaire.questions[qid]
        now, before = updated.get(qid), first.get(qid)
        now_alarming = now is not None and _is_alarming(q, now)
        before_alarming = before is not None and _is_alarming(q, before)
        if now_alarming and not before_alarming:
            out.append(qid)
        elif now is None and before is not None and not before_alarming:
            out.append(qid)  # was answered no, now not sure
    return out


def _sign_sentence(q: Question, value) -> str:
    if value is None:
        return f"{q.label}: now not sure (counts as a possible warning sign)"
    if q.type == "choice":
        return f"{q.label}: {dict(q.choices).get(value, value)}"
    return f"{q.label}: yes"


def review_check_in(first_answers: Mapping[str, Any], check_ins: Sequence[CheckIn], rulebook,
                    today: _dt.date, *, first_visit: _dt.date) -> FollowUpOutcome:
    """Re-triage after the check-ins made up to `today` (see the module's docstring).

    The outcome's assessment is the re-triage of the first visit's answers updated by every
    check-in, with its urgency raised to the highest of the first visit's and of the review
    after each check-in (never lowered). Its reasons are the rules' own; the follow-up's
    reasons (ids FU-...) are the outcome's ``reasons``, and ``why`` says in plain words why the
    urgency went up."""
    from .engine import assess

    questionnaire = rulebook.questionnaire
    first = assess(first_answers, rulebook, source="first visit")
    questions = check_in_questionnaire(rulebook, first_answers)
    given_first = _first_given(first_answers, questionnaire)
    kept = [c for c in check_ins if c.date <= today]
    for c in kept:
        if c.date < first_visit:
            raise AnswersError(f"dated {c.date.isoformat()}, before the first visit "
                               f"({first_visit.isoformat()})", file="check-ins")
    typed = _typed_check_ins(kept, questions)
    due = review_date(first_visit, first)
    series = series_of(given_first, typed, first_visit)
    missed = missed_check_in(first_visit, first, typed, today)
    if not typed:
        return FollowUpOutcome(first, first, False, (), None, "no check-in yet", due, missed,
                               (), series)

    best_rank = URGENCY_RANK[first.urgency]
    best_step = None  # the review (after some check-in) that set the highest urgency, if any
    step = None
    for k in range(1, len(typed) + 1):
        step = _review_step(given_first, typed[:k], rulebook, first, due, first_visit)
        if URGENCY_RANK[step["urgency"]] > best_rank:
            best_rank, best_step = URGENCY_RANK[step["urgency"]], step
    latest = step
    assert latest is not None
    urgency = next(u for u, r in URGENCY_RANK.items() if r == best_rank)
    retriaged = latest["assessment"]
    why: list[str] = list(best_step["why"]) if best_step is not None else []
    reasons = [Reason(rid, text) for rid, text in latest["reasons"]]
    if urgency != latest["urgency"]:
        earlier = "the first visit" if best_step is None else \
            f"the check-in of {best_step['date'].isoformat()}"
        reasons.append(Reason("FU-KEPT", f"The urgency stays at {urgency.replace('_', '-')}, "
                                         f"as after {earlier}: a check-in never lowers it (a "
                                         f"clinician can)."))
    assessment = retriaged.replace(
        urgency=urgency,
        stretches=[] if urgency in NO_STRETCHES_AT else list(retriaged.stretches),
        review_in_days=_review_days(rulebook, urgency, retriaged))
    improved, improvement_why = improvement(given_first, typed[-1])
    return FollowUpOutcome(assessment, first, best_rank > URGENCY_RANK[first.urgency], why,
                           improved, improvement_why, due, missed,
                           _new_signs(given_first, latest["answers"], questionnaire), series,
                           reasons)


def _review_days(rulebook, urgency: str, retriaged: Assessment) -> int | None:
    if urgency in NO_STRETCHES_AT:
        return None
    if retriaged.review_in_days is not None:
        return retriaged.review_in_days
    parameter = rulebook.parameters.get("review_days")
    return None if parameter is None else int(parameter.value)


def _review_step(given_first: dict, check_ins: list[CheckIn], rulebook, first: Assessment,
                 due: _dt.date | None, first_visit: _dt.date) -> dict:
    """The review after the last of `check_ins`: the re-triage, the time rule, and why."""
    from .engine import assess

    questionnaire = rulebook.questionnaire
    answers = updated_answers(given_first, check_ins, rulebook, first_visit=first_visit)
    latest = check_ins[-1]
    retriaged = assess(answers, rulebook, source=f"check-in of {latest.date.isoformat()}")
    urgency = retriaged.urgency
    why: list[str] = []
    reasons: list[tuple[str, str]] = []
    signs = _new_signs(given_first, answers, questionnaire)
    if signs:
        listed = "; ".join(_sign_sentence(questionnaire.questions[qid], answers.get(qid))
                           for qid in signs)
        text = f"New at a check-in: {listed}."
        reasons.append(("FU-RESCREEN", text))
        if URGENCY_RANK[urgency] > URGENCY_RANK[first.urgency]:
            why.append(f"{text} With it the rules now say {urgency.replace('_', '-')}.")
    if URGENCY_RANK[urgency] > URGENCY_RANK[first.urgency] and not signs:
        fired_before = {r.id for r in first.reasons}
        new = [r.text for r in retriaged.reasons if r.id not in fired_before]
        why.append("With the answers of the check-in (pain now, how it has changed, and the "
                   "weeks since it began) the rules now say " + urgency.replace('_', '-')
                   + (": " + " ".join(new) if new else "."))
    if urgency == "self_care" and due is not None and latest.date >= due:
        improved, how = improvement(given_first, latest)
        if improved is not True:
            urgency = "soon"
            text = (f"Not clearly better by the review date ({due.isoformat()}): {how}. Self-care "
                    f"was the plan until then; now book an appointment with a doctor or "
                    f"physiotherapist.")
            why.append(text)
            reasons.append(("FU-NO-IMPROVEMENT", text))
    return {"urgency": urgency, "assessment": retriaged, "why": why, "reasons": reasons,
            "answers": answers, "date": latest.date}
