"""The review pack: every rule, question, parameter and stretch of a rulebook in one document.

`triage rules pack` renders it from the rule files through the project's one Jinja environment
(HTML or Markdown), with each rule's card (review.py) and the lint's findings (lint.py), so the
pack a clinician signs cannot drift from what runs.
"""
from __future__ import annotations

import datetime as _dt

from ..conditions import parameters_used, show_value
from ..errors import TriageError
from .lint import lint_rulebook
from .review import outline, outline_sentence, rule_card

def pack_format(path: str, declared: str | None) -> str:
    """'html' or 'markdown', from --format or else the output file's suffix."""
    if declared:
        return declared
    lower = path.lower()
    if lower.endswith((".html", ".htm")):
        return "html"
    if lower.endswith((".md", ".markdown")):
        return "markdown"
    raise TriageError("cannot tell the format from the file name: use a .html or .md suffix, "
                      "or --format html|markdown", file=path)


def pack_context(rulebook, *, today: _dt.date | None = None) -> dict:
    """What the review pack shows, as plain data."""
    today = today or _dt.date.today()
    cards = [rule_card(rule, rulebook, today=today) for rule in rulebook.rules]
    problems = lint_rulebook(rulebook, today=today)
    sections = []
    for section in rulebook.questionnaire.sections:
        questions = []
        for qid in section.questions:
            q = rulebook.questionnaire.questions[qid]
            readers = [r.id for r in rulebook.active_rules if qid in r.questions]
            questions.append({
                "id": q.id, "text": q.text, "help": q.help, "type": q.type,
                "answers": q.describe_values(), "required": q.required, "red_flag": q.red_flag,
                "alarming": ", ".join(show_value(v) for v in q.alarming),
                "skip_if": (outline_sentence(outline(q.skip_if, rulebook))
                            if q.skip_if is not None else ""),
                "value_if_skipped": show_value(q.value_if_skipped)
                if q.value_if_skipped is not None else "",
                "read_by": readers,
            })
        sections.append({"id": section.id, "title": section.title, "questions": questions})
    parameters = []
    for name, p in rulebook.parameters.items():
        users = [r.id for r in rulebook.rules if name in parameters_used(r.when)]
        parameters.append({"name": name, "value": show_value(p.value), "unit": p.unit,
                           "description": p.description, "references": list(p.references),
                           "used_by": users})
    stretches = [{"id": s.id, "name": s.name, "target": s.target, "steps": list(s.steps),
                  "hold": s.hold, "repetitions": s.repetitions, "cautions": list(s.cautions),
                  "stop_if": list(s.stop_if), "gentle": s.gentle,
                  "chosen_by": [r.id for r in rulebook.active_rules
                                if ("stretch", s.id) in r.then],
                  "avoided_by": [r.id for r in rulebook.active_rules
                                 if ("avoid_stretch", s.id) in r.then]}
                 for s in rulebook.stretches.values()]
    examples = [e for c in cards for e in c["examples"]]
    from .screen import instrument_card  # scored instruments (triage/instrument.py)

    instruments = [instrument_card(i, rulebook, today=today)
                   for i in getattr(rulebook, "instruments", ())]
    advice = [{"id": t.id, "title": t.title, "for": list(t.for_urgencies),
               "points": list(t.points),
               "sources": [s.text + (f" (to confirm: {s.confirm})" if s.confirm else "")
                           for s in t.sources]}
              for t in getattr(rulebook, "advice", ())]
    return {
        "rulebook": {"name": rulebook.name, "version": rulebook.version,
                     "directory": rulebook.directory,
                     "review_period_days": rulebook.review_period_days},
        "generated_on": today.isoformat(),
        "rules": cards,
        "counts": {status: sum(1 for c in cards if c["status"] == status)
                   for status in ("active", "draft", "retired")},
        "examples_passed": sum(1 for e in examples if e["passed"] is True),
        "examples_failed": sum(1 for e in examples if e["passed"] is False),
        "problems": [str(p) for p in problems],
        "parameters": parameters,
        "labels": {kind: dict(values) for kind, values in rulebook.labels.items()},
        "sections": sections,
        "stretches": stretches,
        "instruments": instruments,
        "advice": advice,
    }


def render_review_pack(rulebook, fmt: str, *, today: _dt.date | None = None) -> str:
    from ..templating import environment

    template = "review_pack.html.j2" if fmt == "html" else "review_pack.md.j2"
    return environment(markdown=fmt != "html").get_template(template).render(
        **pack_context(rulebook, today=today))
