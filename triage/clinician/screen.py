"""A scored instrument in plain words, for `triage rules show`, the review pack, `triage rules
check` and `triage explain` (the instrument itself: triage/instrument.py)."""
from __future__ import annotations

import datetime as _dt

from ..conditions import answer_words, describe, show_value
from ..instrument import TOTAL, example_failures


def find_instrument(rulebook, instrument_id: str):
    for instrument in getattr(rulebook, "instruments", ()):
        if instrument.id.upper() == instrument_id.upper():
            return instrument
    return None


def _answer_label(question, value) -> str:
    if question.type == "bool":
        return "yes" if value else "no"
    return answer_words(question.id, value, {question.id: question})


def instrument_card(instrument, rulebook, *, today: _dt.date | None = None) -> dict:
    """Everything a clinician reads about one instrument, as plain data."""
    today = today or _dt.date.today()
    questions = rulebook.questionnaire.questions
    items = []
    for item in instrument.items:
        q = questions[item.question]
        scoring = [f"{_answer_label(q, value)}: {points}" for value, points in item.points]
        zero = [_answer_label(q, v) for v in q.values if item.score(v) == 0]
        items.append({"number": item.number, "question": q.id, "text": q.text,
                      "scores": "; ".join(scoring),
                      "zero": ", ".join(zero),
                      "subscales": [name for name, (_l, members) in instrument.subscales.items()
                                    if q.id in members],
                      "max": max(p for _v, p in item.points)})
    subscales = [{"name": name, "label": label, "items": list(members),
                  "max": sum(max(p for _v, p in i.points) for i in instrument.items
                             if i.question in members)}
                 for name, (label, members) in instrument.subscales.items()]
    bands = [{"band": b.band, "label": b.label, "when": describe(b.when), "advice": b.advice,
              "references": list(b.references),
              "read_by": [r.id for r in rulebook.active_rules
                          if any(getattr(leaf, "question", None) == "risk_group"
                                 and (leaf.operand == b.band or b.band in (leaf.operand or ()))
                                 for leaf in _leaves(r.when))]}
             for b in instrument.bands]
    failures = example_failures(instrument, rulebook.questionnaire)
    failed = {int(f.split(":", 1)[0].split()[-1]) for f in failures}
    examples = [{"band": ex.band or "not scored", "answers": _answers_text(ex.answers),
                 "note": ex.note, "passed": (n not in failed),
                 "detail": next((f for f in failures if f.startswith(f"example {n}:")), "")}
                for n, ex in enumerate(instrument.examples, start=1)]
    due = (instrument.reviewed_on + _dt.timedelta(days=rulebook.review_period_days)
           if instrument.reviewed_on else None)
    return {
        "id": instrument.id, "title": instrument.title, "version": instrument.version,
        "status": instrument.status, "validated": instrument.validated,
        "file": instrument.file, "licence": instrument.licence,
        "rationale": instrument.rationale, "references": list(instrument.references),
        "reviewed_by": instrument.reviewed_by,
        "reviewed_on": instrument.reviewed_on.isoformat() if instrument.reviewed_on else None,
        "review_due": due.isoformat() if due else None,
        "overdue": bool(due and due < today),
        "total_max": sum(i["max"] for i in items),
        "items": items, "subscales": subscales, "bands": bands,
        "parameters": [{"name": p.name, "value": show_value(p.value), "unit": p.unit,
                        "description": p.description, "references": list(p.references)}
                       for p in instrument.parameters.values()],
        "examples": examples,
        "gives": "risk_group" if instrument.status == "active" else None,
    }


def _leaves(node):
    from ..conditions import iter_leaves

    return iter_leaves(node)


def _answers_text(answers) -> str:
    return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in answers.items()) + "}"


def instrument_lines(card, wrap) -> list[str]:
    """The card as text lines (`wrap(text, indent, hang)` wraps one paragraph)."""
    lines = [f"{card['id']}  {card['title']}",
             f"  scored instrument, status {card['status']}, version {card['version']}, in "
             f"{card['file']}"]
    if not card["validated"]:
        lines += wrap("NOT VALIDATED: its questions and thresholds have not been tested against "
                      "how people recover; treat its band as a prompt, not a measurement.")
    if card["reviewed_on"]:
        overdue = " (OVERDUE)" if card["overdue"] else ""
        lines.append(f"  last reviewed {card['reviewed_on']} by {card['reviewed_by'] or 'unknown'}"
                     f"; next review due by {card['review_due']}{overdue}")
    if card["gives"]:
        lines += wrap("Its band is the fact risk_group that rules read (e.g. risk_group: high).")
    lines += ["", f"Items (total 0 to {card['total_max']} points):"]
    for item in card["items"]:
        sub = f" [{', '.join(item['subscales'])}]" if item["subscales"] else ""
        lines += wrap(f"{item['number']}. {item['question']}{sub}: {item['text']}", "  ", "     ")
        lines += wrap(f"scores {item['scores']}; {item['zero'] or 'no other answer'}: 0",
                      "     ", "     ")
    if card["subscales"]:
        lines += ["", "Subscales:"]
        for s in card["subscales"]:
            lines += wrap(f"{s['name']} ({s['label']}), 0 to {s['max']} points: items "
                          f"{', '.join(s['items'])}")
    lines += ["", "Bands (a band is given only when the answers decide it; otherwise not scored):"]
    for b in card["bands"]:
        lines += wrap(f"{b['band']}: {b['label']}, when {b['when']}", "  ", "    ")
        lines += wrap(f"advice: {b['advice']}", "    ", "    ")
        if b["read_by"]:
            lines += wrap(f"read by rule {', '.join(b['read_by'])}", "    ", "    ")
    if card["parameters"]:
        lines += ["", "Parameters (in this file):"]
        for p in card["parameters"]:
            lines += wrap(f"{p['name']} = {p['value']} {p['unit']}: {p['description']}")
    lines += ["", "Licence:"] + wrap(card["licence"])
    lines += ["", "Rationale:"] + wrap(card["rationale"])
    lines += ["", "References:"]
    for ref in card["references"]:
        lines += wrap(f"- {ref}", "  ", "    ")
    lines += ["", "Examples:"]
    for e in card["examples"]:
        status = "pass" if e["passed"] else "FAIL"
        lines += wrap(f"{status:<5} {e['band']:<11} {e['answers']}", "  ", " " * 20)
        if not e["passed"]:
            lines += wrap(e["detail"], "          ")
    if not card["examples"]:
        lines.append("  (none)")
    return lines


def instrument_problems(rulebook, today: _dt.date) -> list[tuple]:
    """(file, where, problem) for `triage rules check`: failing examples, an instrument without
    an example for each band, a review overdue."""
    out = []
    for instrument in getattr(rulebook, "instruments", ()):
        if instrument.status == "retired":
            continue
        for failure in example_failures(instrument, rulebook.questionnaire):
            out.append((instrument.file, instrument.id, failure))
        shown = {ex.band for ex in instrument.examples}
        missing = [b.band for b in instrument.bands if b.band not in shown]
        if missing:
            out.append((instrument.file, instrument.id,
                        f"no example for band(s) {', '.join(missing)}: each band needs one"))
        if instrument.reviewed_on is None:
            out.append((instrument.file, instrument.id, "never reviewed (reviewed_on)"))
        elif instrument.reviewed_on + _dt.timedelta(days=rulebook.review_period_days) < today:
            out.append((instrument.file, instrument.id,
                        f"review overdue (last reviewed {instrument.reviewed_on})"))
    return out


def screen_result(rulebook, answers) -> dict | None:
    """The active instrument's reading of one case: its band, its scores (when every item is
    answered), each item's answer and points, and the items left unanswered; None without one."""
    instrument = rulebook.instrument
    if instrument is None:
        return None
    questions = rulebook.questionnaire.questions
    items = []
    for item in instrument.items:
        value = answers.get(item.question)
        items.append({"question": item.question,
                      "answer": None if value is None else _answer_label(questions[item.question],
                                                                          value),
                      "points": None if value is None else item.score(value)})
    return {"id": instrument.id, "title": instrument.title, "validated": instrument.validated,
            "band": instrument.band(answers), "scores": instrument.score(answers),
            "items": items, "unanswered": [i["question"] for i in items if i["answer"] is None],
            "total_name": TOTAL}
