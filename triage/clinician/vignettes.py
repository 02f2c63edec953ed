"""Clinical vignettes: given answers, the expected outcome, and the guideline fact behind it.

A vignette file (tests/cases/*.yaml, or a clinician's own) looks like::

    cases:
      - id: ces-saddle-numbness
        basis: NICE CKS Sciatica (2024): saddle numbness suggests cauda equina syndrome, an emergency
        answers: {age: 45, duration_weeks: 1, trauma: none, saddle_numbness: true}
        expect:
          urgency: emergency
          red_flags: [cauda_equina]

Expectation keys: urgency, duration_class, see_professional, review_in_days (exact; null for
none); red_flags, causes, stretches
(exact lists, order ignored); red_flags_include, causes_include, stretches_include,
stretches_exclude, fired_include, fired_exclude (subsets); urgency_at_least (a floor).
Both the test suite and `triage rules test` run vignettes through this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..contract import URGENCY_RANK
from ..errors import RulebookError
from ..rulebook import EXACT, EXACT_SETS, EXCLUDES, INCLUDES, KNOWN_KEYS


@dataclass
class Vignette:
    id: str
    basis: str
    answers: dict
    expect: dict
    file: str = ""
    note: str = ""


@dataclass
class Outcome:
    vignette: Vignette
    differences: list = field(default_factory=list)  # (key, expected, actual)
    actual: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.differences and self.error is None


def load_vignettes(path: str | Path) -> list[Vignette]:
    """Every vignette of a file, or of every *.yaml file under a directory (sorted)."""
    from ..questionnaire import read_yaml

    path = Path(path)
    files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise RulebookError("no vignette files (*.yaml) found", file=str(path))
    out: list[Vignette] = []
    seen: set[str] = set()
    for file in files:
        data = read_yaml(file)
        if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
            raise RulebookError("expected 'cases:', a list of vignettes", file=str(file))
        for index, raw in enumerate(data["cases"]):
            where = raw.get("id") if isinstance(raw, dict) else None
            where = str(where or f"case {index + 1}")
            if not isinstance(raw, dict):
                raise RulebookError("a case must be a mapping", file=str(file), where=where)
            for needed in ("id", "basis", "answers", "expect"):
                if not raw.get(needed):
                    raise RulebookError(f"missing '{needed}'", file=str(file), where=where)
            unknown = set(raw["expect"]) - KNOWN_KEYS
            if unknown:
                raise RulebookError(f"unknown expectation(s): {', '.join(sorted(unknown))}",
                                    file=str(file), where=where)
            if raw["id"] in seen:
                raise RulebookError("duplicate case id", file=str(file), where=where)
            seen.add(raw["id"])
            out.append(Vignette(str(raw["id"]), str(raw["basis"]).strip(), dict(raw["answers"]),
                                dict(raw["expect"]), str(file), str(raw.get("note", ""))))
    return out


def actual_outcome(answers: dict, rulebook) -> dict:
    """What the rules conclude for the answers, in the vocabulary of an `expect:` block."""
    from ..engine import assess

    result = assess(answers, rulebook)
    return {
        "urgency": result.urgency,
        "duration_class": result.duration_class,
        "see_professional": result.see_professional,
        "review_in_days": result.review_in_days,
        "red_flags": list(result.red_flags),
        "causes": list(result.causes),
        "stretches": list(result.stretches),
        "fired": [r.id for r in result.reasons],
    }


def check_vignette(vignette: Vignette, rulebook) -> Outcome:
    from ..errors import AnswersError

    try:
        actual = actual_outcome(vignette.answers, rulebook)
    except AnswersError as exc:
        return Outcome(vignette, error=exc.message)
    diffs = []
    expect = vignette.expect
    for key in EXACT:
        if key in expect and expect[key] != actual[key]:
            diffs.append((key, expect[key], actual[key]))
    for key in EXACT_SETS:
        if key in expect and sorted(expect[key] or []) != sorted(actual[key]):
            diffs.append((key, expect[key], actual[key]))
    for key, field_name in INCLUDES.items():
        missing = [v for v in expect.get(key) or [] if v not in actual[field_name]]
        if missing:
            diffs.append((key, expect[key], actual[field_name]))
    for key, field_name in EXCLUDES.items():
        present = [v for v in expect.get(key) or [] if v in actual[field_name]]
        if present:
            diffs.append((key, expect[key], actual[field_name]))
    if "urgency_at_least" in expect:
        floor = expect["urgency_at_least"]
        if URGENCY_RANK[actual["urgency"]] < URGENCY_RANK[floor]:
            diffs.append(("urgency_at_least", floor, actual["urgency"]))
    return Outcome(vignette, diffs, actual)


def suggested_expect(outcome: Outcome) -> dict:
    """The case's own `expect:` block, changed as little as possible so that it passes with the
    rules as they are now: exact keys take the actual value, an `_include` list keeps only what was
    concluded, an `_exclude` list drops what was, and a floor comes down to the actual urgency."""
    expect = dict(outcome.vignette.expect)
    actual = outcome.actual
    for key, _expected, _got in outcome.differences:
        if key in EXACT or key in EXACT_SETS:
            expect[key] = actual[key]
        elif key in INCLUDES:
            kept = [v for v in expect[key] if v in actual[INCLUDES[key]]]
            expect[key] = kept
            if not kept and INCLUDES[key] in EXACT_SETS:  # say what was concluded instead
                del expect[key]
                expect[INCLUDES[key]] = actual[INCLUDES[key]]
        elif key in EXCLUDES:
            expect[key] = [v for v in expect[key] if v not in actual[EXCLUDES[key]]]
        elif key == "urgency_at_least":
            expect[key] = actual["urgency"]
    return {k: v for k, v in expect.items() if v != []
            or k in EXACT_SETS}


def expect_yaml(expect: dict, *, indent: int = 4) -> str:
    """An `expect:` block in the layout of a vignette file (one key a line, lists in brackets),
    indented to paste in place of the case's own."""
    import yaml

    pad = " " * indent
    lines = [f"{pad}expect:"]
    for key, value in expect.items():
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000)
        text = text.removesuffix("\n").removesuffix("\n...")
        lines.append(f"{pad}  {key}: {text}")
    return "\n".join(lines) + "\n"
