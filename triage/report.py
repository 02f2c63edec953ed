"""The printable recommendation report: HTML (screen and print), PDF, Markdown and plain text.

All formats are rendered from one set of facts (``report_facts``) by the Jinja templates in
``reports/templates/`` through the project's one environment (triage/templating.py: autoescape
for HTML, StrictUndefined), so the formats cannot disagree. The PDF is the HTML printed by
WeasyPrint (the optional ``pdf`` extra).

The order of the report is fixed by issue 4: the verdict, the duration, the likely causes, the
stretch plan (none when the verdict is urgent or emergency), what to tell the clinician, why the
tool concluded this, when to get help urgently, the answers given and the person's own notes, and
the date, the rulebook version and what the report is not.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from . import wording
from .assessment import Assessment
from .contract import NO_STRETCHES_AT
from .errors import OutputError, TriageError

FORMATS = ("html", "markdown", "text", "pdf")
SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown",
            ".txt": "text", ".pdf": "pdf"}
TEMPLATES = {"html": "report.html.j2", "markdown": "report.md.j2", "text": "report.txt.j2"}
PAPER_SIZES = {"a4": "A4", "letter": "letter"}
PDF_HINT = ("PDF needs WeasyPrint, which is not installed: pip install 'triage[pdf]' (in a "
            "checkout of triage's source: pip install '.[pdf]')")

# --------------------------------------------------------------------------- the fixed wording
# In the project's own words; urgency wording as the contract (section 2) fixes it.

VERDICTS = {
    "emergency": {
        "label": "Emergency",
        "headline": "Call the emergency number or go to the emergency department now.",
        "when": "Now. Do not wait to see whether it passes, and do not drive yourself.",
        "todo": [
            "Call your local emergency number (for example 112, 999 or 911), or have someone "
            "take you to the nearest emergency department straight away.",
            "Take this report with you and show it to the staff.",
            "Do not do any stretches or exercises.",
        ],
    },
    "urgent": {
        "label": "Urgent",
        "headline": "See a doctor today.",
        "when": "Today. If your own doctor cannot see you today, go to an urgent care or "
                "walk-in service.",
        "todo": [
            "Phone your doctor's practice now and ask to be seen today; say which warning "
            "signs you have.",
            "Take this report with you.",
            "Do not start any new exercises until a doctor has seen you.",
        ],
    },
    "soon": {
        "label": "Soon",
        "headline": "Book an appointment with a doctor or physiotherapist within two weeks.",
        "when": "Within the next two weeks. Sooner if it gets worse; at once if a warning sign "
                "below appears.",
        "todo": [
            "Book an appointment with your doctor or a physiotherapist for the next two weeks.",
            "Keep moving: gentle activity helps more than bed rest.",
            "While you wait, try the gentle exercises below, within what is comfortable.",
        ],
    },
    "self_care": {
        "label": "Self-care",
        "headline": "Targeted stretches and staying active.",
        "when": "Start today. No appointment is needed now.",
        "todo": [
            "Keep up your daily activities: staying active helps the back recover sooner than "
            "rest.",
            "Do the stretches below once or twice a day, starting gently.",
            "See a doctor or physiotherapist if it is not clearly better within a few weeks.",
        ],
    },
}

DURATION_MEANING = {
    "acute": "Keep moving as normally as you can; that helps it settle.",
    "subacute": "The pain has lasted longer than most episodes. If it is not clearly improving, "
                "a professional can plan exercises with you.",
    "chronic": "Pain of three months or more is best managed with a professional's plan; "
               "exercise and staying active are still at its heart.",
}

CAUSE_NOTES = {
    "muscle_imbalance": "A possible contributing factor, not a diagnosis: the evidence linking "
                        "posture to back pain is weak (Laird et al. 2014).",
    "nonspecific": "Most back pain has no single cause that a scan would find; it usually "
                   "settles with time and movement.",
    "trauma": "The pain began after an injury.",
    "nerve_root": "An irritated nerve root in the lower back can send pain, numbness or tingling "
                  "down the leg. Most cases settle within about six weeks.",
    "inflammatory": "Inflammatory back pain needs a doctor's assessment and often a specialist "
                    "(rheumatologist).",
}

GENERAL_STOP = ("Stop an exercise and get advice if pain spreads down a leg, if new numbness, "
                "tingling or weakness appears, or if the pain turns sharp.")

NOT_THIS = ("This report is not a diagnosis and not a substitute for a clinician. It was produced "
            "by fixed rules from the answers above; nobody has examined you. If your symptoms "
            "change or you feel worse, act on that rather than on this report.")


# --------------------------------------------------------------------------- the facts

def _today(today) -> _dt.date:
    if today is None:
        return _dt.date.today()
    if isinstance(today, _dt.datetime):
        return today.date()
    return today


def _long_date(day: _dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _number(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _duration_words(weeks) -> str:
    if weeks < 1:
        days = max(1, round(weeks * 7))
        return f"about {days} day{'s' if days != 1 else ''}"
    return f"{_number(weeks)} week{'s' if weeks != 1 else ''}"


# Short labels for the answers table where the question id does not read well on its own; any
# other question is labelled by its id in words.
def _humanise(question_id: str, rulebook) -> str:
    """The question's short label from rules/questionnaire.yaml, e.g. 'Injects drugs'."""
    return rulebook.questionnaire.questions[question_id].label


def _answer_words(question, value) -> str:
    if value == "not_applicable":  # a follow-up that does not apply (policy version 3)
        return "does not apply"
    if question.type == "bool":
        return "yes" if value else "no"
    if question.type == "choice":  # "A minor one: lifting, ..." is "A minor one"
        return dict(question.choices).get(value, str(value)).split(":", 1)[0]
    if question.type in ("integer", "number"):
        return _number(value)
    return str(value)


def _is_alarming(question, value) -> bool:
    return bool(question.red_flag and question.alarming and value in question.alarming)


def _drawing(name: str) -> Markup | None:
    """The stretch's SVG drawing (reports/templates/drawings/<name>.svg), or None if there is none
    (a clinic's own stretch catalogue may name drawings the project does not ship)."""
    from jinja2 import TemplateNotFound

    from .templating import environment

    if not name or not re.fullmatch(r"[a-z0-9_-]+", name):
        return None
    try:
        svg = environment().get_template(f"drawings/{name}.svg").render()
    except TemplateNotFound:
        return None
    return Markup(svg.strip())


def _stretch_plan(assessment: Assessment, rulebook) -> dict | None:
    """The stretch plan, or None on an urgent or emergency verdict: then the report has no plan
    section at all (the verdict says to do no exercises until a clinician has seen the person)."""
    if assessment.urgency in NO_STRETCHES_AT:
        return None
    stretches = [rulebook.stretches[s] for s in assessment.stretches]
    # Stop signs every stretch shares are said once, above the plan; each card adds its own.
    shared = [s for s in (stretches[0].stop_if if stretches else ())
              if all(s in other.stop_if for other in stretches)]
    cards = []
    for number, stretch in enumerate(stretches, start=1):
        cards.append({
            "number": number,
            "id": stretch.id,
            "name": stretch.name,
            "target": stretch.target,
            "steps": list(stretch.steps),
            "hold": stretch.hold,
            "repetitions": stretch.repetitions,
            "cautions": list(stretch.cautions),
            "stop_if": list(stretch.stop_if),
            "extra_stop_if": [s for s in stretch.stop_if if s not in shared],
            "drawing": _drawing(stretch.drawing),
        })
    if assessment.urgency == "soon":
        intro = ("Gentle exercises that are safe to try until you are seen. Keep within what is "
                 "comfortable; your clinician may change the plan.")
        title = "While you wait for your appointment"
    else:
        intro = ("Once or twice a day. Start with fewer repetitions and build up over a few "
                 "days. A mild stretch is normal; pain is not.")
        title = "Your stretch plan"
    return {"title": title, "intro": intro, "cards": cards, "shared_stop_if": shared,
            "general_stop": GENERAL_STOP}


NOT_ASKED = "not asked (the questions stopped at the emergency)"


def not_reached(assessment, rulebook) -> list[str]:
    """At an emergency, the questions never asked because the questionnaire stopped there: those
    after the last question answered, in the questionnaire's order, when that last answer is one
    an emergency rule that fired reads (the flow asks in that order and stops at the answer that
    makes it an emergency; answers that go on past it did not stop there). Empty otherwise."""
    if assessment.urgency != "emergency":
        return []
    from .emergency import emergency_rule_ids

    order = [qid for section in rulebook.questionnaire.sections for qid in section.questions]
    answered = [n for n, qid in enumerate(order) if qid in assessment.answers]
    if not answered:
        return []
    last = order[max(answered)]
    fired = set(emergency_rule_ids(assessment, rulebook))
    if not any(rule.id in fired for rule in rulebook.readers.get(last, ())):
        return []
    return [qid for qid in order[max(answered) + 1:] if qid not in assessment.answers]


def as_asked(a: Assessment, rulebook) -> Assessment:
    """The assessment as a person and a clinician read it: a question never asked (the
    questionnaire stopped at the emergency) is not "unanswered". It leaves the unanswered
    warning signs, and a reason that lists unanswered questions names it "not asked" instead
    (dropped when it named only such questions)."""
    stopped = not_reached(a, rulebook)
    if not stopped:
        return a
    import re

    from .assessment import Reason
    from .conditions import question_words

    questions = rulebook.questionnaire.questions
    unasked = {question_words(q, questions) for q in stopped}
    reasons = []
    for reason in a.reasons:
        found = re.search(r"not answered: ([^.;)]*)", reason.text)
        if not found:
            reasons.append(reason)
            continue
        names = [n.strip() for n in found.group(1).split(",")]
        kept = [n for n in names if n not in unasked]
        if not kept:
            continue  # the rule found only questions that were never asked
        if len(kept) < len(names):
            text = (reason.text[:found.start()] + "not answered: " + ", ".join(kept) + "; "
                    + NOT_ASKED + ": " + ", ".join(n for n in names if n in unasked)
                    + reason.text[found.end():])
            reason = Reason(reason.id, text)
        reasons.append(reason)
    return a.replace(unanswered_red_flags=[q for q in a.unanswered_red_flags if q not in stopped],
                     reasons=reasons)


def _answers_table(answers: dict, rulebook, stopped: list[str] = (),
                   leave_out: frozenset = frozenset()) -> list[dict]:
    """The answers given, by questionnaire section, so a clinician can check them. Each section
    lists its answers, then the questions left unanswered in one run (warning-sign questions
    apart: unknown, not no), so a short session does not fill a page with "not answered"."""
    questionnaire = rulebook.questionnaire
    instrument = getattr(rulebook, "instrument", None)
    screen_items = set(instrument.questions) if instrument is not None else set()
    sections = []
    for section in questionnaire.sections:
        if section.id == ACTIVITIES_SECTION:
            continue  # one line of the clinician's summary (_activities_line)
        rows, unknown, blank, unasked, no, not_applicable = [], [], [], [], [], []
        screen_yes, screen_no = [], []  # the risk screen's yes/no items, each answer one run
        for qid in section.questions:
            question = questionnaire.questions[qid]
            if question.type == "text" or qid in leave_out:
                continue  # the notes get their own place; left-out answers are shown elsewhere
            if qid in stopped and qid not in answers:
                unasked.append(_humanise(qid, rulebook))
                continue
            if qid in answers and answers[qid] == "not_applicable":
                not_applicable.append(_humanise(qid, rulebook))
                continue
            if qid in answers and question.red_flag and answers[qid] is False:
                # policy version 3 asks over 30 warning signs: the reassuring answers of a
                # section are one run, so the alarming and unknown ones stand out
                no.append(_humanise(qid, rulebook))
                continue
            if qid in screen_items and question.type == "bool" and answers.get(qid) is not None:
                (screen_yes if answers[qid] else screen_no).append(_humanise(qid, rulebook))
                continue
            if answers.get(qid) is not None:  # "not sure" (None) is listed as unanswered
                value = answers[qid]
                words = _answer_words(question, value)
                if (question.value_if_skipped is not None and value == question.value_if_skipped
                        and questionnaire.is_skipped(qid, answers)):
                    words += " (implied by earlier answers)"
                state = "alarming" if _is_alarming(question, value) else "answered"
            else:
                # the questions left unanswered are listed together, after the answers
                (unknown if question.red_flag else blank).append(_humanise(qid, rulebook))
                continue
            rows.append({"id": qid, "label": _humanise(qid, rulebook), "question": question.text,
                         "answer": words, "state": state})
        for label, items in (("Yes to", screen_yes), ("No to", screen_no)):
            if items:
                rows.append({"id": "", "label": label, "question": "risk screen questions",
                             "answer": ", ".join(items), "state": "answered"})
        if no:
            alarming = any(row["state"] == "alarming" for row in rows)
            every = sum(1 for qid in section.questions
                        if questionnaire.questions[qid].red_flag) == len(no)
            rows.append({"id": "", "label": "No to", "question": "warning signs answered no",
                         # when every warning sign of the section was answered no, the count
                         # says it (the clinician's summary says so too); otherwise each is named
                         "answer": (f"all {len(no)} warning-sign questions" if every
                                    and not alarming and len(no) > 3 else ", ".join(no)),
                         "state": "answered"})
        if not_applicable:
            rows.append({"id": "", "label": "Does not apply", "question": "follow-up questions "
                         "that the other answers make not applicable",
                         "answer": ", ".join(not_applicable), "state": "answered"})
        if rows or unknown or blank or unasked:
            sections.append({"title": section.title, "rows": rows,
                             "unknown": unknown, "blank": blank, "not_asked": unasked})
    return sections


ACTIVITIES_SECTION = "activities"  # rules/questionnaire.yaml: activities the pain makes hard


def _activities_line(answers) -> str | None:
    """The activities named at the first visit with their scores (issue 25), in one line."""
    named = []
    for n in range(1, 4):
        name = answers.get(f"activity_{n}")
        if isinstance(name, str) and name.strip():
            score = answers.get(f"activity_{n}_score")
            named.append(" ".join(name.split())
                         + (f" {_number(score)}/10" if isinstance(score, (int, float))
                            and not isinstance(score, bool) else " (not scored)"))
    if not named:
        return None
    return ("Activities the pain makes hard (0 = cannot do, 10 = as before): "
            + "; ".join(named) + ".")


def _listing(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _clinician_summary(a: Assessment, rulebook) -> list[str]:
    """A short summary for the clinician: episode, warning signs, legs, key answers, plan."""
    answers = a.answers
    questions = rulebook.questionnaire.questions
    lines = []

    who = [f"Age {answers['age']}"] if "age" in answers else []
    if answers.get("sex") in ("female", "male", "other"):
        who.append(answers["sex"])
    episode = f"Low back pain for {_duration_words(answers['duration_weeks'])}" \
        if "duration_weeks" in answers else "Low back pain"
    episode += f" ({a.duration_class})"
    bits = []
    if answers.get("onset") == "sudden":
        bits.append("began suddenly")
    elif answers.get("onset") == "gradual":
        bits.append("came on gradually")
    if answers.get("trauma") == "none":
        bits.append("no injury before it")
    elif answers.get("trauma") in ("minor", "major"):
        bits.append(f"began after a {answers['trauma']} injury")
    lines.append("; ".join([", ".join(who) + ". " + episode] + bits) + "." if who else
                 "; ".join([episode] + bits) + ".")

    alarming = [_humanise(q.id, rulebook).lower() + ("" if q.type == "bool" else
                                            f" ({_answer_words(q, answers[q.id]).lower()})")
                for q in questions.values() if q.id in answers and _is_alarming(q, answers[q.id])]
    if a.red_flags:
        lines.append("Warning signs: " + "; ".join(rulebook.label("red_flag", f)
                                                    for f in a.red_flags) + ".")
    if alarming:
        lines.append("Warning-sign answers: " + _listing(alarming) + ".")
    if not a.red_flags and not alarming:
        answered = [q for q in rulebook.questionnaire.red_flag_questions if q in answers]
        if answered and not a.unanswered_red_flags:
            lines.append(f"No warning signs reported: all {len(answered)} warning-sign "
                         f"questions answered no.")
        elif answered:
            lines.append("No warning signs among the questions answered.")
    if len(a.unanswered_red_flags) > 8:
        # policy version 3 asks 34 warning signs: a long list is given once, with the answers
        lines.append(f"Not answered, so unknown (not no): {len(a.unanswered_red_flags)} "
                     f"warning-sign questions, each named under the answers given; ask them.")
    elif a.unanswered_red_flags:
        lines.append("Not answered, so unknown (not no): "
                     + _listing([_humanise(q, rulebook).lower() for q in a.unanswered_red_flags]) + ".")

    leg_keys = [k for k in ("leg_pain", "leg_numbness", "leg_weakness", "both_legs")
                if k in questions]
    if leg_keys:
        legs = []
        if answers.get("leg_pain") in ("above_knee", "below_knee"):
            legs.append("pain spreading " + answers["leg_pain"].replace("_", " ") + "")
        if answers.get("leg_numbness") is True:
            legs.append("numbness or tingling")
        if answers.get("leg_weakness") in ("stable", "worsening"):
            legs.append(_answer_words(questions["leg_weakness"], answers["leg_weakness"]).lower())
        if answers.get("both_legs") is True:
            legs.append("on both sides")
        if legs:
            lines.append("Leg symptoms: " + "; ".join(legs) + ".")
        elif all(k in answers for k in leg_keys):
            lines.append("No leg pain, numbness or weakness.")
        elif not any(k in answers for k in leg_keys):
            if not set(leg_keys) <= set(not_reached(a, rulebook)):  # else: never asked
                lines.append("Leg symptoms: not answered.")
        else:
            missing = [_humanise(k, rulebook).lower() for k in leg_keys if k not in answers]
            lines.append("No leg symptoms reported; not answered: " + _listing(missing) + ".")

    key = []
    plan = a.urgency not in NO_STRETCHES_AT  # daily-life details matter only with a plan
    if plan and "sitting_hours" in answers:
        key.append(f"sits about {_number(answers['sitting_hours'])} hours a day")
    if plan and a.posture_signs:
        key.append("posture signs: " + _listing(
            [rulebook.label("posture_sign", s) for s in a.posture_signs]))
    for qid, words in (("morning_stiffness", "morning stiffness over 30 minutes"),
                       ("better_with_exercise", "pain eases with exercise rather than rest"),
                       ("osteoporosis", "known osteoporosis"),
                       ("long_term_steroids", "long-term steroids")):
        if answers.get(qid) is True and not _is_alarming(questions[qid], True):
            key.append(words)
    if key:
        text = "; ".join(key)
        lines.append(text[:1].upper() + text[1:] + ".")

    activities = _activities_line(answers)
    if activities:
        lines.append(activities)
    causes = [line.label for line in wording.causes(a, rulebook)
              if not line.rule_out]  # the warning signs have their own line above
    if causes and a.urgency not in NO_STRETCHES_AT:  # on one-page reports, said once, above
        lines.append("Likely causes (rule-based): " + "; ".join(causes) + ".")
    if a.stretches:
        lines.append("Exercises suggested: " + _listing(
            [rulebook.stretches[s].name for s in a.stretches]) + ".")
    if a.avoided_stretches and plan:
        why = [r.id for r in a.reasons
               if ("avoid_stretch" in rulebook.rule(r.id).concludes)]
        lines.append("Left out on purpose: " + _listing(
            [rulebook.stretches[s].name for s in a.avoided_stretches])
            + (f" (rule {', '.join(why)})." if why else "."))
    return lines


def _cause_note(cause: str, a: Assessment) -> str:
    """The note under a cause. With a warning sign or on an urgent verdict, reassurance about the
    usual course would mislead, so only the muscle-imbalance caveat stays (it is not a
    diagnosis), and the stretches are recommended only where there is a plan."""
    if cause == "muscle_imbalance":
        return CAUSE_NOTES[cause] + ("" if wording.firm(a.urgency)
                                     else " The stretches are worth trying either way.")
    if a.red_flags or wording.firm(a.urgency):
        return ""
    return CAUSE_NOTES.get(cause, "")


def _strip_title(text: str, title: str) -> str:
    prefix = f"{title}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _reasons(a: Assessment, rulebook) -> list[dict]:
    """The reasons a person is shown (on urgent and emergency, not the stretch-plan rules)."""
    out = []
    for reason in wording.shown_reasons(a, rulebook):
        try:
            rule = rulebook.rule(reason.id)
        except KeyError:  # pragma: no cover - reasons come from the same rulebook
            out.append({"id": reason.id, "title": reason.text, "evidence": "",
                        "rationale": "", "note": ""})
            continue
        # On urgent and emergency the report must fit one page: only the rules that set the
        # verdict's urgency are explained there; the rest are listed with what they found.
        explain = rule.urgency == a.urgency if wording.firm(a.urgency) else True
        # an NG65 feature rule's title already says the answer it counted (policy version 3)
        evidence = "" if rule.category == "feature" else \
            _strip_title(reason.text, rule.title).rstrip(".")
        out.append({"id": reason.id, "title": rule.title,
                    "evidence": evidence,
                    "rationale": _rationale(rule) if explain else "", "note": ""})
    return out


DECISIONS = ("urgency", "red_flag", "cause")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _rationale(rule) -> str:
    """Why a rule that decides something for the person (an urgency, a red flag, a cause) decided
    it: the first sentence of its rationale, which states the reason; the rest (thresholds,
    guideline detail) is for clinicians. Intermediate rules (duration class, posture signs,
    stretch choice) are explained by their title and the answers they read. This keeps a report
    on two pages; every full rationale is in `triage rules show` and the review pack."""
    if not any(kind in rule.concludes for kind in DECISIONS):
        return ""
    return _SENTENCE_END.split(" ".join(rule.rationale.split()), maxsplit=1)[0]


def _follow_up_facts(follow_up) -> dict | None:
    """The course since the first visit (issue 25), from a ``followup.FollowUpOutcome``: None
    without one or before any check-in."""
    if follow_up is None or len(follow_up.series) < 2:
        return None
    from .chart import KEY, course_rows, course_text

    header, rows, names = course_rows(follow_up.series)
    first_day = follow_up.series[0].date
    first_label = VERDICTS[follow_up.first.urgency]["label"].lower()
    label = VERDICTS[follow_up.urgency]["label"].lower()
    checks = len(follow_up.series) - 1
    if follow_up.escalated:
        summary = (f"At the first visit on {_long_date(first_day)} the advice was {first_label}. "
                   f"After {checks} check-in{'s' if checks != 1 else ''} it is now {label}.")
    else:
        summary = (f"At the first visit on {_long_date(first_day)} the advice was {first_label}. "
                   f"After {checks} check-in{'s' if checks != 1 else ''} it is still {label}.")
    latest = ""
    if follow_up.improved is True:
        latest = f"Better at the latest check-in: {follow_up.improvement_why}."
    elif follow_up.improved is False:
        latest = f"Not clearly better at the latest check-in: {follow_up.improvement_why}."
    return {"series": list(follow_up.series), "header": header, "rows": rows,
            "activity_names": names, "key": KEY,
            "text_table": course_text(follow_up.series).split("\n\n")[0].split("\n"),
            "summary": summary + "".join(" " + r.text for r in follow_up.reasons
                                         if r.id == "FU-KEPT"),
            "escalated": follow_up.escalated, "why": list(follow_up.why),
            "latest": latest}


FOLLOW_UP_RATIONALE = {
    "FU-RESCREEN": "A warning sign new at a check-in counts as it would at a first visit, and "
                   "stays counted (docs/clinicians/follow-up.md).",
    "FU-NO-IMPROVEMENT": "Self-care lasts until the review date; not clearly better by then "
                         "(pain down by 2 points or 30%, Ostelo et al. 2008; a rating of better; "
                         "or activities up by 2 points) means book an appointment.",
    "FU-KEPT": "A check-in never lowers the urgency; a clinician can.",
}


def _follow_up_reasons(follow_up) -> list[dict]:
    """The follow-up's own reasons (ids FU-...), after the rules' in the report's list."""
    if follow_up is None or len(follow_up.series) < 2:
        return []
    return [{"id": r.id, "title": r.text.rstrip("."), "evidence": "",
             "rationale": FOLLOW_UP_RATIONALE.get(r.id, ""), "note": ""}
            for r in follow_up.reasons]


def risk_facts(a: Assessment, rulebook) -> dict | None:
    """The risk screen's band for the report (triage/instrument.py): its label, what it means
    for the person, sources, and a line for the clinician; None when the rulebook has no active
    screen or the urgency makes it irrelevant (urgent, emergency: risk_group null)."""
    instrument = getattr(rulebook, "instrument", None)
    if instrument is None or a.urgency in ("urgent", "emergency"):
        return None
    caveat = "" if instrument.validated else (
        "This short screen is the tool's own and has not been validated: treat it as a guide.")
    if a.risk_group is None:
        unanswered = [_humanise(i.question, rulebook).lower() for i in instrument.items
                      if i.question not in a.answers]
        return {"band": None, "label": "Not scored", "answers": _screen_answers(a, rulebook),
                "advice": "Some of the questions about how you are coping were not answered, "
                          "so the tool could not tell your risk of a slow recovery.",
                "references": [], "caveat": caveat, "cites": [], "scores": "",
                "clinician": f"Risk screen ({instrument.id}): not scored"
                             + (f"; not answered: {_listing(unanswered)}." if unanswered
                                else ".")}
    band = next(b for b in instrument.bands if b.band == a.risk_group)
    cites = []
    for ref in band.references:  # "NICE NG59 (2016)": the short form for the printed report
        year = re.search(r"\b(19|20)\d\d\b", ref)
        cites.append(ref.split(",")[0] + (f" ({year.group(0)})" if year else ""))
    scores = instrument.score(a.answers)
    words = ", ".join(f"{k} {v}" for k, v in scores.items()) if scores else ""
    shown = f" ({words})" if words else ""
    return {"band": band.band, "label": band.label, "advice": band.advice,
            "answers": _screen_answers(a, rulebook),
            "references": list(band.references), "caveat": caveat, "cites": cites,
            "scores": words,
            "clinician": f"Risk screen ({instrument.id}, "
                         f"{'validated' if instrument.validated else 'not validated'}): "
                         f"{band.band}{shown}."}


def _shows_risk(a: Assessment, rulebook) -> bool:
    return getattr(rulebook, "instrument", None) is not None and a.urgency not in (
        "urgent", "emergency")


def _screen_answers(a: Assessment, rulebook) -> str:
    """The risk screen's answers in one line: 'Bothered by it: a lot; yes to fear of harm; ...'."""
    instrument = rulebook.instrument
    questions = rulebook.questionnaire.questions
    parts, yes, no, blank = [], [], [], []
    for item in instrument.items:
        q = questions[item.question]
        value = a.answers.get(q.id)
        name = _humanise(q.id, rulebook)
        if value is None:
            blank.append(name)
        elif q.type == "bool":
            (yes if value else no).append(name)
        else:
            parts.append(f"{name}: {_answer_words(q, value)}")
    parts += [f"yes to {', '.join(yes)}"] if yes else []
    parts += [f"no to {', '.join(no)}"] if no else []
    parts += [f"not answered: {', '.join(blank)}"] if blank else []
    return "; ".join(parts)


def advice_facts(a: Assessment, rulebook) -> list[dict]:
    """The self-management advice topics shown at this urgency (rules/advice.yaml)."""
    from .advice import advice_for

    return [{"id": t.id, "title": t.title, "points": list(t.points),
             "sources": [s.text + (" (to confirm on the live page)" if s.confirm else "")
                         for s in t.sources],
             "cites": [s.cite for s in t.sources]}
            for t in advice_for(rulebook, a.urgency)]


def report_facts(assessment: Assessment, rulebook, *, today=None, paper: str | None = None,
                 follow_up=None) -> dict[str, Any]:
    """Everything a report says, as plain values: the one source for every format.
    `follow_up`: a ``followup.FollowUpOutcome`` whose course the report shows (its chart and
    table), when there has been a check-in; `assessment` is then its re-triaged assessment."""
    from . import __version__

    stopped = not_reached(assessment, rulebook)
    a = as_asked(assessment, rulebook)
    day = _today(today)
    answers = a.answers
    notes = str(answers.get("notes", "") or "").strip()
    verdict = dict(VERDICTS[a.urgency])
    if a.urgency == "emergency":  # what to do now: the emergency screen's words (rulebook.yaml)
        from .emergency import emergency_screen

        verdict["todo"] = [*emergency_screen(a, rulebook).actions,
                           "Take this report with you and show it to the staff."]
    review = wording.review_sentence(a, day)
    if review:  # contract section 3 (version 3): a date, not "a few weeks"
        verdict["todo"] = [review if "within a few weeks" in line or
                           line.startswith("Book an appointment") else line
                           for line in verdict["todo"]]
        if a.urgency == "soon":
            verdict["when"] = (f"By {wording.long_date(a.review_date(day))}. Sooner if it gets "
                               "worse; at once if a warning sign below appears.")
    verdict["urgency"] = a.urgency
    verdict["review_in_days"] = a.review_in_days
    verdict["review"] = review
    verdict["see_professional"] = a.see_professional
    verdict["because"] = [rulebook.label("red_flag", f) for f in a.red_flags]
    verdict["unanswered"] = [_humanise(q, rulebook).lower() for q in a.unanswered_red_flags]
    verdict["unanswered_note"] = wording.unanswered_note(
        a, rulebook, names=verdict["unanswered"], listed_under="What to tell the clinician")
    shown_causes = [line for line in wording.causes(a, rulebook) if not line.rule_out]
    if a.urgency in NO_STRETCHES_AT:
        meaning = ("How long it has lasted matters less than the warning signs above."
                   if a.red_flags or a.unanswered_red_flags else
                   "How long it has lasted changes little here: a doctor should see you today.")
    elif a.red_flags:
        meaning = ""
    else:
        meaning = DURATION_MEANING.get(a.duration_class, "")
    return {
        "verdict": verdict,
        # on urgent and emergency, the duration is said in the clinician's summary only
        "show_duration": not wording.firm(a.urgency),
        "one_page": wording.firm(a.urgency),  # urgent and emergency fit one A4 or Letter page
        "duration": {"class": a.duration_class,
                     "label": rulebook.label("duration_class", a.duration_class),
                     "weeks": (_duration_words(answers["duration_weeks"])
                               if "duration_weeks" in answers else None),
                     "meaning": meaning},
        "red_flags": [{"id": f, "label": rulebook.label("red_flag", f)} for f in a.red_flags],
        "causes": [{"id": c.id, "label": rulebook.label("cause", c.id),
                    # with a warning sign, reassurance about the usual course would mislead
                    "note": _cause_note(c.id, a)}
                   for c in shown_causes],
        "posture_signs": [rulebook.label("posture_sign", s) for s in a.posture_signs],
        "plan": _stretch_plan(a, rulebook),
        "risk": risk_facts(a, rulebook),
        "advice": advice_facts(a, rulebook),
        "clinician": _clinician_summary(a, rulebook) + (
            [f"Not asked: the questions stopped at the emergency before {len(stopped)} more "
             f"question{'s' if len(stopped) != 1 else ''}."] if stopped else []),
        "reasons": _reasons(a, rulebook) + _follow_up_reasons(follow_up),
        "safety_net": [{"level": level, "title": title, "signs": signs}  # rules/rulebook.yaml
                       for level, title, signs in wording.safety_net(rulebook, a, day)],
        "advice_sources_note": ("Sources in short; the text and Markdown versions of this report "
                                "give each in full, with its section."),
        "answers": _answers_table(answers, rulebook, stopped),
        # the printed report shows the risk screen's answers beside its band, on the advice page
        "answers_printed": _answers_table(
            answers, rulebook, stopped,
            frozenset(rulebook.instrument.questions) if _shows_risk(a, rulebook) else frozenset()),
        "not_asked": [_humanise(q, rulebook).lower() for q in stopped],
        "notes": notes,
        "date": day.isoformat(),
        "date_long": _long_date(day),
        "rulebook": {"name": rulebook.name, "version": a.rulebook_version or rulebook.version},
        "tool_version": __version__,
        "not_this": NOT_THIS,
        "paper": PAPER_SIZES.get((paper or "").lower(), "auto"),
        "follow_up": _follow_up_facts(follow_up),
    }


# --------------------------------------------------------------------------- rendering

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|~])")
_MD_LIST_MARK = re.compile(r"^(\s*)([-+=])", re.MULTILINE)
_MD_NUMBER_MARK = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def markdown_escape(text: str) -> str:
    """User text in Markdown: HTML-escaped (a Markdown viewer passes raw HTML through) and with
    Markdown's punctuation backslash-escaped, so a note can neither inject markup nor format."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_LIST_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _MD_NUMBER_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def render_report(assessment: Assessment, rulebook, fmt: str = "html", *, today=None,
                  paper: str | None = None, reference: str | None = None,
                  follow_up=None) -> str:
    """The report as text in `fmt`: "html", "markdown" or "text"; `reference`: the web
    submission's reference, printed under the title (issue 24); `follow_up`: a
    ``followup.FollowUpOutcome``, whose course since the first visit the report shows."""
    from .templating import environment

    if fmt not in TEMPLATES:
        raise TriageError(f"unknown report format '{fmt}' (use one of: "
                          f"{', '.join(TEMPLATES)}; PDF is written with write_report)")
    facts = report_facts(assessment, rulebook, today=today, paper=paper, follow_up=follow_up)
    facts["reference"] = reference
    template = environment(markdown=fmt == "markdown").get_template(TEMPLATES[fmt])
    return template.render(report=facts, md=markdown_escape)


def render_pdf(assessment: Assessment, rulebook, *, today=None, paper: str | None = None,
               reference: str | None = None, follow_up=None) -> bytes:
    """The HTML report printed to PDF by WeasyPrint (the optional 'pdf' extra)."""
    html = render_report(assessment, rulebook, "html", today=today, paper=paper,
                         reference=reference, follow_up=follow_up)
    return html_to_pdf(html)


def check_pdf():
    """WeasyPrint, or a TriageError saying how to install it (the `pdf` extra)."""
    try:
        import weasyprint
    except ImportError:
        raise TriageError(PDF_HINT) from None
    except OSError as exc:  # WeasyPrint is there but the Pango libraries it needs are not
        raise TriageError(f"PDF needs WeasyPrint and the Pango libraries it uses, which did not "
                          f"load ({exc}); install Pango (e.g. apt-get install libpango-1.0-0) "
                          f"and pip install 'triage[pdf]'") from None
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    weasyprint = check_pdf()
    # No base URL and no fetching: the report is self-contained, and must stay so. WeasyPrint's
    # warnings (CSS it does not know, such as screen-only media queries) are not the user's concern.
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return weasyprint.HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
    finally:
        logger.setLevel(level)


def _refuse_fetch(url, *args, **kwargs):
    raise ValueError(f"the report must be self-contained, but it refers to {url}")


def format_for_path(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The report format: `fmt` if given, else from the file's suffix."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise TriageError(f"unknown report format '{fmt}' (use one of: "
                              f"{', '.join(FORMATS)})", file=str(path))
        return fmt
    if str(path) == "-":
        raise TriageError("cannot tell the report format when writing to standard output; "
                          "give --format html, markdown, text or pdf")
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise TriageError(f"cannot tell the report format from the suffix "
                          f"'{suffix or '(none)'}'; use .html, .md, .txt or .pdf, or give "
                          f"--format", file=str(path))
    return SUFFIXES[suffix]


def write_report(path: str | os.PathLike, assessment: Assessment, rulebook,
                 fmt: str | None = None, *, today=None, paper: str | None = None,
                 follow_up=None) -> str:
    """Write the report to `path` ('-' for standard output) atomically; return the format used.

    The format comes from the suffix (.html/.htm, .md, .txt, .pdf) unless `fmt` is given. Raises
    TriageError for a suffix it cannot place, for a PDF without WeasyPrint, and for a file that
    cannot be written; an existing file is never left half-written.
    """
    from .fileio import atomic_write

    fmt = format_for_path(path, fmt)
    if fmt == "pdf":
        data: str | bytes = render_pdf(assessment, rulebook, today=today, paper=paper,
                                       follow_up=follow_up)
    else:
        data = render_report(assessment, rulebook, fmt, today=today, paper=paper,
                             follow_up=follow_up)
    try:
        atomic_write(path, data)
    except OutputError as exc:
        raise OutputError(exc.reason, file=exc.file, what="write the report") from None
    return fmt
