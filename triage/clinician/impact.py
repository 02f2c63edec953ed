"""`triage rules diff`: what a change to the rules would change for a set of past cases.

Every case (a row of a JSONL or CSV file, read by the same readers as `triage batch`) is assessed
with the old rules and with the new ones; the outcomes are compared on urgency, duration class,
red flags, causes and stretches.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import AnswersError, RulebookError, TriageError

SCALARS = ("urgency", "duration_class")
LISTS = ("red_flags", "causes", "stretches")
FIELDS = SCALARS + LISTS
FIELD_WORDS = {"urgency": "urgency", "duration_class": "duration class", "red_flags": "red flags",
               "causes": "causes", "stretches": "stretches"}


@dataclass
class CaseChange:
    case_id: object
    line: int
    changes: dict  # field -> (old, new)

    @property
    def name(self) -> str:
        return f"line {self.line}" + (f" ({self.case_id})" if self.case_id not in (None, "")
                                      else "")

    def to_dict(self) -> dict:
        out: dict = {"case_id": self.case_id, "line": self.line, "changes": {}}
        for key, (old, new) in self.changes.items():
            if key in SCALARS:
                out["changes"][key] = {"old": old, "new": new}
            else:
                out["changes"][key] = {"old": old, "new": new,
                                       "added": [v for v in new if v not in old],
                                       "removed": [v for v in old if v not in new]}
        return out

    def text(self) -> str:
        parts = []
        for key, (old, new) in self.changes.items():
            if key in SCALARS:
                parts.append(f"{FIELD_WORDS[key]} {old} -> {new}")
            else:
                added = [v for v in new if v not in old]
                removed = [v for v in old if v not in new]
                change = ([f"+{v}" for v in added] + [f"-{v}" for v in removed]
                          or ["order changed"])
                parts.append(f"{FIELD_WORDS[key]} {' '.join(change)}")
        return "; ".join(parts)


@dataclass
class Impact:
    old: str  # the directories as the user named them
    new: str
    cases_file: str
    cases: int = 0
    changed: list = field(default_factory=list)  # CaseChange
    errors: list = field(default_factory=list)  # (case_id, line, message)
    counts: Counter = field(default_factory=Counter)  # field -> cases where it changed
    transitions: dict = field(default_factory=lambda: {k: Counter() for k in SCALARS})
    added: dict = field(default_factory=lambda: {k: Counter() for k in LISTS})
    removed: dict = field(default_factory=lambda: {k: Counter() for k in LISTS})

    def to_dict(self) -> dict:
        return {
            "old_rules": self.old, "new_rules": self.new, "cases_file": self.cases_file,
            "cases": self.cases, "assessed": self.cases - len(self.errors),
            "changed": len(self.changed),
            "counts": {k: self.counts.get(k, 0) for k in FIELDS},
            "transitions": {k: [{"from": a, "to": b, "count": n}
                                for (a, b), n in _ordered(self.transitions[k])]
                            for k in SCALARS},
            "added": {k: dict(sorted(self.added[k].items())) for k in LISTS},
            "removed": {k: dict(sorted(self.removed[k].items())) for k in LISTS},
            "changed_cases": [c.to_dict() for c in self.changed],
            "errors": [{"case_id": c, "line": line, "error": m} for c, line, m in self.errors],
        }

    def text(self, *, max_cases: int = 100) -> str:
        assessed = self.cases - len(self.errors)
        share = f" ({100 * len(self.changed) / assessed:.1f}%)" if assessed else ""
        lines = [f"Rules {self.old} -> {self.new}, on {assessed} case{_s(assessed)} from "
                 f"{self.cases_file}:",
                 f"  {len(self.changed)} case{_s(len(self.changed))} "
                 f"change{'s' if len(self.changed) == 1 else ''}{share}", ""]
        sections = [("Cases changed, by part of the outcome:",
                     [(FIELD_WORDS[k], self.counts.get(k, 0)) for k in FIELDS])]
        for key in SCALARS:
            if self.transitions[key]:
                sections.append((f"{FIELD_WORDS[key].capitalize()} transitions:",
                                 [(f"{a} -> {b}", n)
                                  for (a, b), n in _ordered(self.transitions[key])]))
        for key in LISTS:
            if self.added[key] or self.removed[key]:
                sections.append((f"{FIELD_WORDS[key].capitalize()} added (+) and removed (-):",
                                 [(f"+ {v}", n) for v, n in sorted(self.added[key].items())]
                                 + [(f"- {v}", n) for v, n in sorted(self.removed[key].items())]))
        pad = max(len(label) for _, rows in sections for label, _ in rows)
        digits = max(len(str(n)) for _, rows in sections for _, n in rows)
        for index, (title, rows) in enumerate(sections):
            lines += ([""] if index else []) + [title]
            lines += [f"  {label:<{pad}}  {n:>{digits}}" for label, n in rows]
        if self.changed:
            lines += ["", "Changed cases:"]
            shown = self.changed if max_cases == 0 else self.changed[:max_cases]
            lines += [f"  {c.name}: {c.text()}" for c in shown]
            if len(shown) < len(self.changed):
                lines.append(f"  ... and {len(self.changed) - len(shown)} more "
                             f"(--max-cases 0 lists them all; --format json gives every one)")
        if self.errors:
            lines += ["", f"Cases that could not be assessed ({len(self.errors)}):"]
            lines += [f"  line {line}{f' ({c})' if c not in (None, '') else ''}: {m}"
                      for c, line, m in self.errors]
        return "\n".join(lines) + "\n"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _ordered(counter: Counter) -> list:
    """Transitions most frequent first, then by name, so the output is stable."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def compare(old_rulebook, new_rulebook, cases_path: str, *, input_format: str = "auto",
            old_name: str | None = None, new_name: str | None = None, workers: int = 1,
            cache: bool | None = None) -> Impact:
    """Assess every case with both rulebooks and count what changes.

    `workers` processes share the cases (0: one per usable core), each with its own decision
    caches; the result is the same whatever their number."""
    from ..batch import open_rows, usable_cpus

    impact = Impact(old_name or old_rulebook.directory, new_name or new_rulebook.directory,
                    cases_path)
    questions = dict(old_rulebook.questionnaire.questions)
    questions.update(new_rulebook.questionnaire.questions)
    with open_rows(cases_path, input_format, questions) as (_fmt, rows):
        workers = workers or usable_cpus()
        for row, result in _compared(rows, (old_rulebook, new_rulebook, cache), workers):
            impact.cases += 1
            if result[0] == "error":
                impact.errors.append((row[0], row[1], result[1]))
                continue
            if result[0] == "same":
                continue
            old, new = result[1], result[2]
            changes = {}
            for key in FIELDS:
                if old[key] != new[key]:
                    changes[key] = (old[key], new[key])
                    impact.counts[key] += 1
                    if key in SCALARS:
                        impact.transitions[key][(old[key], new[key])] += 1
                    else:
                        impact.added[key].update(v for v in new[key] if v not in old[key])
                        impact.removed[key].update(v for v in old[key] if v not in new[key])
            impact.changed.append(CaseChange(row[0], row[1], changes))
    if impact.cases == 0:
        raise TriageError("no cases to compare", file=cases_path)
    return impact


CHUNK = 500  # rows sent to a worker at a time
_SETUP = None  # (old rulebook, new rulebook, cache) in this process
_SAME_QUESTIONS = False  # the two rulebooks' questionnaires are equal: validate once
_LIMITS = None  # the reading limits (reading.limits()), read once per comparison


def _compare_row(row) -> tuple:
    """("error", message) | ("same",) | ("changed", old outcome, new outcome) for one parsed
    row."""
    from ..engine import plan_for
    from ..engine import assess_outcome

    if row.error is not None:
        return ("error", row.error)
    old_rulebook, new_rulebook, cache = _SETUP
    outcomes = []
    valid = None
    if _SAME_QUESTIONS and not getattr(row, "stopped", False):
        # both rulebooks ask the same questions: validate the answers once
        try:
            valid = plan_for(old_rulebook)[0].validator.validate(row.answers,
                                                                 source="old rules")
        except AnswersError as exc:
            return ("error", exc.message)
    for label, rulebook in (("old", old_rulebook), ("new", new_rulebook)):
        try:
            if getattr(row, "stopped", False):  # a record that stopped at an emergency
                from ..batch import stopped_assessment

                result = stopped_assessment(row.answers, rulebook, f"{label} rules")
                outcome = {key: getattr(result, key) for key in FIELDS}
            else:
                outcome = assess_outcome(row.answers, rulebook, source=f"{label} rules",
                                         cache=cache, valid=valid)
        except AnswersError as exc:
            return ("error", exc.message)
        except RulebookError as exc:  # e.g. the new rules conclude no urgency
            return ("error", f"{label} rules: {exc.problem}")
        except TriageError as exc:
            return ("error", exc.message)
        except Exception as exc:  # noqa: BLE001 - one case must not end the comparison
            return ("error", f"{label} rules: internal error (a bug in triage; please report "
                             f"it): {type(exc).__name__}: {str(exc)[:200]}")
        outcomes.append({k: outcome[k] for k in FIELDS})
    old, new = outcomes
    return ("same",) if old == new else ("changed", old, new)


def _compare_keyed(row) -> tuple:
    row = row.parsed(_LIMITS)  # a JSON line is parsed here, in the worker
    return (row.case_id, row.line), _compare_row(row)


def _compare_chunk(rows: list) -> list:
    return [_compare_keyed(row) for row in rows]


def _init(setup) -> None:
    from ..engine import cache_enabled
    from ..reading import limits

    global _SETUP, _SAME_QUESTIONS, _LIMITS
    _LIMITS = limits()  # the environment is read once, not once per row
    old_rulebook, new_rulebook, cache = setup
    cache = cache_enabled(cache)
    _SETUP = old_rulebook, new_rulebook, cache
    _SAME_QUESTIONS = cache and old_rulebook.questionnaire == new_rulebook.questionnaire


def _init_pool_worker(setup) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C (and SIGHUP)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # how the parent's pool stops its workers
    _init(setup)


def _compared(rows, setup, workers: int):
    """(case id, line) and the comparison of each row, in input order."""
    from ..batch import _chunks

    if workers <= 1:
        _init(setup)
        for row in rows:
            yield _compare_keyed(row)
        return
    import multiprocessing
    import sys
    from collections import deque

    context = multiprocessing.get_context("spawn" if sys.platform == "win32" else "fork")
    with context.Pool(workers, initializer=_init_pool_worker, initargs=(setup,)) as pool:
        pending: deque = deque()
        for chunk in _chunks(rows, CHUNK):
            pending.append(pool.apply_async(_compare_chunk, (chunk,)))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
