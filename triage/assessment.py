"""The outcome of one assessment (contract section 2) and its plain-text rendering."""
from __future__ import annotations

from typing import Any

from .records import NEW, Record, fill, set_field

URGENCY_WORDS = {
    "emergency": "EMERGENCY: call the emergency number or go to the emergency department now.",
    "urgent": "URGENT: see a doctor today.",
    "soon": "SOON: book an appointment with a doctor or physiotherapist within two weeks.",
    "self_care": "SELF-CARE: targeted stretches and staying active; see a professional if it is "
                 "not clearly better by the review date below.",
}

NOT_A_DIAGNOSIS = ("This is not a diagnosis and not a substitute for a clinician: it is a rule-based "
                   "triage of the answers given.")


RISK_GROUP_IRRELEVANT = ("urgent", "emergency")


def risk_group_of(urgency: str, band: str | None) -> str | None:
    """The assessment's `risk_group`: the risk screen's band (low, medium, high), or None when the
    screen is not scored (its unanswered items could change the band) or does not apply: at
    urgent and emergency the person is seen first, and a risk of slow recovery changes nothing."""
    return None if urgency in RISK_GROUP_IRRELEVANT else band


class Reason(Record):
    _fields = ("id", "text")

    def __init__(self, id: str, text: str):
        set_field(self, "id", id)
        set_field(self, "text", text)

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text}


class Assessment(Record):
    _fields = ("urgency", "duration_class", "red_flags", "causes", "stretches",
               "reasons", "unanswered_red_flags", "posture_signs", "avoided_stretches",
               "rulebook_version", "answers", "review_in_days", "risk_group")

    def __init__(self, urgency: str, duration_class: str, red_flags: list, causes: list,
                 stretches: list, reasons: list, unanswered_red_flags: list = NEW,
                 posture_signs: list = NEW, avoided_stretches: list = NEW,
                 rulebook_version: str = "", answers: dict = NEW,
                 review_in_days: int | None = None, risk_group: str | None = None):
        unanswered_red_flags = [] if unanswered_red_flags is NEW else unanswered_red_flags
        posture_signs = [] if posture_signs is NEW else posture_signs
        avoided_stretches = [] if avoided_stretches is NEW else avoided_stretches
        answers = {} if answers is NEW else answers
        fill(self, urgency, duration_class, red_flags, causes, stretches, reasons,
             unanswered_red_flags, posture_signs, avoided_stretches, rulebook_version, answers,
             review_in_days, risk_group)

    @property
    def see_professional(self) -> bool:
        return self.urgency != "self_care"

    def to_dict(self) -> dict[str, Any]:
        """The JSON of contract section 2, plus compatible extensions (docs/integrators/assessment-json.md)."""
        return {
            "urgency": self.urgency,
            "duration_class": self.duration_class,
            "red_flags": list(self.red_flags),
            "causes": list(self.causes),
            "see_professional": self.see_professional,
            "stretches": list(self.stretches),
            "reasons": [r.to_dict() for r in self.reasons],
            "unanswered_red_flags": list(self.unanswered_red_flags),
            "posture_signs": list(self.posture_signs),
            "avoided_stretches": list(self.avoided_stretches),
            "rulebook_version": self.rulebook_version,
            "review_in_days": self.review_in_days,
            "risk_group": self.risk_group,
        }

    def review_date(self, today=None):
        """The date `review_in_days` from `today` (default: today), or None on urgent and
        emergency: "if it is not clearly better by this date, book an appointment"."""
        if self.review_in_days is None:
            return None
        import datetime as _dt

        return (today or _today()) + _dt.timedelta(days=self.review_in_days)


def _today():
    """Today's date (one place, so a test of printed output can fix the day)."""
    import datetime as _dt

    return _dt.date.today()


def terminal_width() -> int:
    """The width to wrap terminal text to: the terminal's (or $COLUMNS), 40 to 100 columns, less
    two so that a line never touches the edge. 78 when it cannot be told (e.g. piped)."""
    return max(38, min(_terminal_columns(), 100) - 2)


def _terminal_columns(fallback: int = 80) -> int:
    """The columns of ``shutil.get_terminal_size((fallback, 24))``, step for step ($COLUMNS if a
    positive number, else standard output's terminal, else `fallback`), without importing shutil
    (which imports its archive modules: about 3 ms of a `triage assess`)."""
    import os
    import sys

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or fallback
    return columns


def _wrap(text: str, width: int, indent: str = "", hang: str | None = None) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, initial_indent=indent,
                         subsequent_indent=indent if hang is None else hang,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def risk_words(a: Assessment, rulebook) -> str:
    """`risk_group` in words for the terminal: the band's label and its advice, or why there
    is none; "" when there is no active risk screen or at urgent and emergency."""
    instrument = getattr(rulebook, "instrument", None)
    if instrument is None or a.urgency in RISK_GROUP_IRRELEVANT:
        return ""
    caveat = "" if instrument.validated else " (a short screen, not validated)"
    if a.risk_group is None:
        return (f"not scored{caveat}: some questions about how you are coping were not "
                "answered")
    band = next(b for b in instrument.bands if b.band == a.risk_group)
    return f"{a.risk_group}: {band.label.lower()}{caveat}. {band.advice}"


def format_text(assessment: Assessment, rulebook, *, width: int | None = None,
                source: str | None = None) -> str:
    """Readable in a terminal, urgency first, wrapped to `width` (default: the terminal's).
    `source` is the answers file, named in the hint to print the full report."""
    from . import wording

    a = assessment
    width = width or terminal_width()
    col = 15 if width >= 60 else 0  # labels in a column, or (narrow) each on its own line
    out: list[str] = []

    def field_(label: str, values: list[str]) -> None:
        if not col:
            out.append(f"{label}:")
        for n, value in enumerate(values):
            head = (f"{label}:".ljust(col) if n == 0 else " " * col) if col else "  "
            number = len(value.split(" ", 1)[0]) + 1 if value[:1].isdigit() else 0
            out.extend(_wrap(value, width, head, " " * (max(col, 2) + number)))

    out += _wrap(URGENCY_WORDS[a.urgency], width)
    out.append("")
    duration = f"{a.duration_class} ({rulebook.label('duration_class', a.duration_class)})"
    note = wording.duration_note(a)
    field_("Duration", [duration + (f"; {note}" if note else "")])
    if a.red_flags:
        field_("Warning signs", ["; ".join(rulebook.label("red_flag", f) for f in a.red_flags)])
    unanswered = wording.unanswered_note(a, rulebook)
    causes = []
    if a.red_flags:
        causes.append("first, the warning sign" + ("s" if len(a.red_flags) > 1 else "")
                      + " above must be ruled out")
    for line in wording.causes(a, rulebook):
        if line.rule_out:
            continue
        elif line.id == "muscle_imbalance":
            causes.append(f"{line.label}; not a diagnosis")
        else:
            causes.append(line.label)
    if not causes:
        causes = ["not clear from the answers; the clinician will look for it"]
    field_("Likely causes", causes)
    risk = risk_words(a, rulebook)
    if risk:
        field_("Risk", [risk])
    if a.stretches:
        names = []
        for n, stretch_id in enumerate(a.stretches, start=1):
            stretch = rulebook.stretches[stretch_id]
            target = stretch.target.split(" (")[0]
            names.append(f"{n}. {stretch.name} ({target[:1].lower() + target[1:]})")
        field_("Stretches", names)
        answers = source if source and source != "-" else "ANSWERS"
        out.append("")
        out += _wrap("How to do each one (steps, how long to hold, when to stop) is in the "
                     f"printable report: triage report {answers} -o plan.html", width)
    elif wording.firm(a.urgency):
        field_("Stretches", ["none until a clinician has seen you"])
    if unanswered:
        out.append("")
        out += _wrap(unanswered, width)
    out += ["", "Why:"]
    for reason in wording.shown_reasons(a, rulebook):
        head = f"  {reason.id}  "
        if len(head) > width // 2:
            out.append(head.rstrip())
            head = "    "
        out += _wrap(reason.text, width, head, " " * len(head))
    review = wording.review_sentence(a)
    if review:
        out.append("")
        out += _wrap(f"Review: {review}", width)
    out.append("")
    for _level, title, signs in wording.safety_net(rulebook, a):
        out += _wrap(f"{title}: {'; '.join(signs)}.", width, "", "  ")
    out += _wrap(NOT_A_DIAGNOSIS, width) + [f"Rulebook version {a.rulebook_version}."]
    return "\n".join(out) + "\n"
