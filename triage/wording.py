"""What a person reads: the choices the terminal text and the report share.

Driven by the urgency and the rule files, never by a rule's or red flag's name, so a new red flag
or rule is covered without a change here:

* On `urgent` and `emergency` ("firm" urgencies) nothing suggests the advice may soften: no
  "answering them could change this advice", no "most episodes settle", no reassurance about the
  most common kind of back pain, and no stretch-plan reasoning (rules that conclude only stretch
  choices), since there is no stretch plan.
* With a warning sign, the likely causes lead with what must be ruled out (the red flags, in the
  contract's order), and the non-specific cause (what is left when nothing else explains the pain)
  is not offered beside it.
* A cause's words name only the posture signs the person reported (issue 10, item 3).
"""
from __future__ import annotations


from .contract import NO_STRETCHES_AT
from .records import Record, fill

# The cause that stands for "nothing more specific found" (contract section 2).
NONSPECIFIC = "nonspecific"
# Conclusions that belong to the stretch plan; a rule that concludes only these explains nothing
# when there is no plan.
PLAN_KINDS = frozenset({"stretch", "avoid_stretch"})

# What the duration class means for someone who may look after it themselves; never shown on an
# urgent or emergency verdict, nor beside a warning sign.
DURATION_NOTES = {
    "acute": "most such episodes settle within a few weeks",
    "subacute": "longer than most episodes last",
    "chronic": "worth a professional's plan",
}


def firm(urgency: str) -> bool:
    """Whether nothing may suggest this advice could soften (urgent, emergency)."""
    return urgency in NO_STRETCHES_AT


class CauseLine(Record):
    # rule_out: a warning sign to rule out first
    _fields = ("id", "label", "rule_out")

    def __init__(self, id: str, label: str, rule_out: bool = False):
        fill(self, id, label, rule_out)


def causes(assessment, rulebook) -> list[CauseLine]:
    """The likely causes as a person should read them: what to rule out first, then the rest."""
    a = assessment
    lines = [CauseLine(flag, rulebook.label("red_flag", flag), rule_out=True)
             for flag in a.red_flags]
    flagged = set(a.red_flags)
    for cause in a.causes:
        if cause in flagged:
            continue  # already said as a warning sign (e.g. inflammatory)
        if cause == NONSPECIFIC and (a.red_flags or firm(a.urgency)):
            continue  # "the most common kind" beside a warning sign would reassure wrongly
        lines.append(CauseLine(cause, cause_label(cause, a, rulebook)))
    return lines


def cause_label(cause: str, assessment, rulebook) -> str:
    """A cause's words, with the posture signs this person reported when it counts them."""
    label = rulebook.label("cause", cause)
    if cause == "muscle_imbalance" and assessment.posture_signs:
        signs = [rulebook.label("posture_sign", s) for s in assessment.posture_signs]
        label += " (signs you reported: " + ", ".join(signs) + ")"
    return label


def duration_note(assessment) -> str:
    """The reassurance that goes with the duration class, or "" where it would mislead."""
    if firm(assessment.urgency) or assessment.red_flags:
        return ""
    return DURATION_NOTES.get(assessment.duration_class, "")


def shown_reasons(assessment, rulebook) -> list:
    """The reasons a person is shown. On urgent and emergency there is no stretch plan, so the
    rules that only choose stretches are left out, and so is the rule behind a cause that is not
    shown (`--format json` and the assessment keep every rule that fired)."""
    a = assessment
    if not firm(a.urgency) and not a.red_flags:
        return list(a.reasons)
    shown_causes = {line.id for line in causes(a, rulebook)}
    out = []
    for reason in a.reasons:
        try:
            concludes = rulebook.rule(reason.id).concludes
        except KeyError:
            out.append(reason)
            continue
        kinds = set(concludes)
        if firm(a.urgency) and kinds and kinds <= PLAN_KINDS:
            continue
        if kinds == {"cause"} and not set(concludes["cause"]) & shown_causes:
            continue
        out.append(reason)
    return out


def unanswered_note(assessment, rulebook, *, names: list[str] | None = None,
                    listed_under: str = "") -> str:
    """What to say about warning-sign questions left unanswered (unknown, not no). On a firm
    urgency it must not suggest that answering them could soften the advice. With
    `listed_under`, the questions are counted here and named in that part of the report."""
    a = assessment
    if not a.unanswered_red_flags:
        return ""
    if listed_under and firm(a.urgency):
        count = len(a.unanswered_red_flags)
        return (f"{count} warning-sign question{'s were' if count > 1 else ' was'} not answered, "
                f"so {'they count' if count > 1 else 'it counts'} as unknown, not as no; "
                f"{'they are' if count > 1 else 'it is'} listed under {listed_under}.")
    if names is None:
        questions = rulebook.questionnaire.questions
        names = [questions[q].label.lower() if q in questions else q.replace("_", " ")
                 for q in a.unanswered_red_flags]
    listed = ", ".join(names)
    if firm(a.urgency):
        return (f"Some warning-sign questions were not answered; they count as unknown, not as "
                f"no: {listed}. Tell the clinician about them.")
    return (f"Some warning-sign questions were not answered, so they count as unknown, not as "
            f"no: {listed}. Answering them could change this advice.")


# --------------------------------------------------------------------------- review and safety net

REVIEW_DATE = "{review_date}"  # in a safety-net sign: the review date (rules/rulebook.yaml)


def long_date(day) -> str:
    """A date as people write it: 21 December 2026."""
    return f"{day.day} {day:%B %Y}"


def review_sentence(assessment, today=None) -> str | None:
    """Contract section 3 (version 3), review_in_days in words: "If it is not clearly better by
    DATE, book ...", or None on urgent and emergency (no date is promised before being seen)."""
    day = assessment.review_date(today)
    if day is None:
        return None
    if assessment.urgency == "soon":
        return (f"Book an appointment with a doctor or physiotherapist within "
                f"{assessment.review_in_days} days, by {long_date(day)}.")
    return (f"If it is not clearly better by {long_date(day)}, book an appointment with a "
            f"doctor or physiotherapist.")


def safety_net(rulebook, assessment, today=None) -> list[tuple[str, str, list[str]]]:
    """The safety-netting of rules/rulebook.yaml for this assessment: (level, title, signs),
    most urgent first, with the review date written in; a sign that names the review date is
    left out when there is none (urgent, emergency)."""
    day = assessment.review_date(today)
    out = []
    for net in rulebook.safety_net:
        signs = []
        for sign in net.signs:
            if REVIEW_DATE in sign:
                if day is None:
                    continue
                sign = sign.replace(REVIEW_DATE, long_date(day))
            signs.append(sign)
        if signs:
            out.append((net.level, net.title, signs))
    return out
