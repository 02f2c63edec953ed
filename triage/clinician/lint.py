"""`triage rules check`: every problem of a rules directory, one line each, like a linter.

A rules directory that does not load (a schema error, an unknown question, value, parameter,
urgency or stretch, a duplicate id, a rule without references) gives the loader's one error. A
directory that loads is then checked for what the loader cannot see:

* a rule without an example where it fires and one where it stays silent, or an example that fails;
* a rule that can never fire (its conditions contradict one another, or it needs a conclusion that
  no active rule can draw);
* a red-flag question that no active rule tests, so an alarming answer would change nothing;
* a parameter that no rule uses;
* a rule never reviewed, or last reviewed longer ago than the rulebook's review period.

"Can never fire" is decided soundly and simply: the condition is split into alternatives the way
the engine splits it (conditions.nnf, conditions.dnf), and an alternative is impossible only when its
tests on one question cannot all hold at once (values of a choice, a range of numbers, answered
against unanswered), or when it needs a conclusion that no rule able to fire draws. Anything the
check cannot decide counts as possible, so it never reports a rule that can fire.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

from ..conditions import AnswerTest, CountTest, Not, Unanswered, iter_leaves, parameters_used
from ..errors import RulebookError
from .review import TooComplex, check_examples, literal_alternatives, phrase, review_due


@dataclass(frozen=True)
class Problem:
    file: str
    where: str | None
    problem: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.where, self.problem) if part)


@dataclass
class LintReport:
    directory: str
    problems: list
    rulebook: object = None  # None when the directory did not load

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.rulebook is None:
            return (f"{self.directory}: the rule files do not load; fix the "
                    f"problem{'s' if len(self.problems) > 1 else ''} above first.")
        rb = self.rulebook
        n = len(self.problems)
        counts = {s: sum(1 for r in rb.rules if r.status == s) for s in ("active", "draft",
                                                                          "retired")}
        examples = sum(len(r.examples) for r in rb.rules if r.status != "retired")
        what = (f"{len(rb.rules)} rules ({counts['active']} active, {counts['draft']} draft, "
                f"{counts['retired']} retired), {examples} examples, {len(rb.parameters)} "
                f"parameters, {len(rb.questionnaire.questions)} questions, "
                f"{len(rb.stretches)} stretches")
        instruments = getattr(rb, "instruments", ())
        if instruments:
            what += (f", {len(instruments)} scored instrument{'s' if len(instruments) > 1 else ''}"
                     f" ({sum(len(i.examples) for i in instruments)} examples)")
        if n:
            return f"{n} problem{'s' if n != 1 else ''} in {self.directory}."
        return f"No problems in {self.directory} ({rb.name} {rb.version}): {what}."


def lint_directory(directory=None, *, today: _dt.date | None = None) -> LintReport:
    """Load the rules of `directory` (default: the shipped ones) and check them."""
    from ..resources import rules_dir
    from ..rulebook import _display, load_rulebook

    shown = str(directory) if directory is not None else _display(rules_dir())
    try:
        rulebook = load_rulebook(directory)
    except RulebookError as exc:
        every = getattr(exc, "errors", [exc])  # RulebookErrors carries one per broken rule
        return LintReport(shown, [Problem(e.file or shown, e.where, e.problem) for e in every])
    return LintReport(shown, lint_rulebook(rulebook, today=today), rulebook)


def lint_rulebook(rulebook, *, today: _dt.date | None = None) -> list[Problem]:
    """Every problem of a loaded rulebook, in file order."""
    from ..rulebook import _display

    today = today or _dt.date.today()
    problems: list[Problem] = []
    never = never_firing(rulebook)
    for rule in rulebook.rules:
        if rule.status == "retired":
            continue
        problems += _example_problems(rule, rulebook)
        if rule.id in never:
            problems.append(Problem(rule.file, rule.id, f"can never fire: {never[rule.id]}"))
        problems += _review_problems(rule, rulebook, today)
    problems += _outcome_problems(rulebook)
    directory = Path(rulebook.directory)
    questionnaire = _display(directory / "questionnaire.yaml")
    tested = {leaf.question for rule in rulebook.active_rules for leaf in iter_leaves(rule.when)
              if isinstance(leaf, AnswerTest)}
    for qid in rulebook.questionnaire.red_flag_questions:
        if qid not in tested:
            problems.append(Problem(questionnaire, qid,
                                    "red-flag question that no active rule tests: an alarming "
                                    "answer would change nothing"))
    used = {p for rule in rulebook.rules if rule.status != "retired"
            for p in parameters_used(rule.when)}
    read_derived = {leaf.question for rule in rulebook.rules if rule.status != "retired"
                    for leaf in iter_leaves(rule.when) if isinstance(leaf, AnswerTest)
                    and leaf.question in rulebook.derived}
    used |= {p for name in read_derived for p in _params_of(rulebook.derived[name])}
    from ..engine import REVIEW_PARAMETERS  # read by the assessment's review_in_days

    used |= set(REVIEW_PARAMETERS)
    for name in rulebook.derived:
        if name not in read_derived:
            problems.append(Problem(_display(directory / "rulebook.yaml"), f"derived.{name}",
                                    "derived quantity that no rule reads"))
    meta = _display(directory / "rulebook.yaml")
    for name in rulebook.parameters:
        if name not in used:
            problems.append(Problem(meta, name, "parameter that no rule uses: changing it would "
                                                "change nothing"))
    problems += _safety_net_problems(rulebook, meta)
    problems += _emergency_screen_problems(rulebook, meta)
    from .screen import instrument_problems  # scored instruments (triage/instrument.py)

    problems += [Problem(f, where, text) for f, where, text in instrument_problems(rulebook, today)]
    return problems


def _emergency_screen_problems(rulebook, meta: str) -> list[Problem]:
    """An emergency screen must name active rules that conclude an emergency, so its words are
    shown exactly when that emergency is found."""
    out = []
    active = {r.id: r for r in rulebook.active_rules}
    for screen in rulebook.emergency_screens:
        for rule_id in screen.rules:
            rule = active.get(rule_id)
            if rule is None:
                out.append(Problem(meta, "emergency_screens", f"'{screen.heading}' names rule "
                                                              f"{rule_id}, which is not an active rule"))
            elif rule.urgency != "emergency":
                out.append(Problem(meta, "emergency_screens",
                                   f"'{screen.heading}' names rule {rule_id}, which concludes "
                                   f"{rule.urgency or 'no urgency'}, not emergency"))
    return out


def _params_of(quantity) -> list[str]:
    from ..conditions import expression_parameters

    return expression_parameters(quantity.expression)


def _safety_net_problems(rulebook, meta: str) -> list[Problem]:
    """A safety-net sign that names its rule must give that rule's urgency, so the advice on what
    to do if it appears never contradicts the assessment of the same answer."""
    out = []
    active = {r.id: r for r in rulebook.active_rules}
    for net in rulebook.safety_net:
        for text, rule_id in zip(net.signs, net.rules):
            if not rule_id:
                continue
            rule = active.get(rule_id)
            if rule is None:
                out.append(Problem(meta, f"safety_net.{net.level}",
                                   f"'{text}' names rule {rule_id}, which is not an active rule"))
            elif rule.urgency != net.level:
                out.append(Problem(meta, f"safety_net.{net.level}",
                                   f"'{text}' is listed as {net.level}, but rule {rule_id} "
                                   f"concludes {rule.urgency or 'no urgency'}"))
    return out


def _example_problems(rule, rulebook) -> list[Problem]:
    out = []
    kinds = {e.fires for e in rule.examples}
    if True not in kinds:
        out.append(Problem(rule.file, rule.id, "no example where it fires (add one under "
                                               "'examples:' as '- fires: {...}')"))
    if False not in kinds:
        out.append(Problem(rule.file, rule.id, "no example where it stays silent (add one under "
                                               "'examples:' as '- silent: {...}')"))
    for result in check_examples(rule, rulebook):
        if result.passed is False:
            out.append(Problem(rule.file, rule.id,
                               f"example {result.number} ({result.kind}) fails: {result.detail}"))
    return out


def _outcome_problems(rulebook) -> list[Problem]:
    """Answers on which the rules as a whole give no complete assessment (no urgency, not exactly
    one duration class, self-care with every stretch avoided), found by assessing every example;
    one line per kind of failure, at the first example that shows it."""
    from ..engine import assess
    from ..errors import AnswersError

    seen: dict[str, list] = {}
    for rule in rulebook.rules:
        if rule.status == "retired":
            continue
        for number, example in enumerate(rule.examples, start=1):
            try:
                assess(example.answers, rulebook)
            except AnswersError:
                continue  # reported with the example itself
            except RulebookError as exc:
                seen.setdefault(exc.problem, []).append((rule, number))
    out = []
    for problem, where in seen.items():
        rule, number = where[0]
        more = f" (and {len(where) - 1} other examples)" if len(where) > 1 else ""
        out.append(Problem(rule.file, rule.id, f"example {number}: the rules give no complete "
                                               f"assessment{more}: {problem}"))
    return out


def _review_problems(rule, rulebook, today) -> list[Problem]:
    if rule.reviewed_on is None:
        return [Problem(rule.file, rule.id, "never reviewed: add reviewed_by and reviewed_on")]
    if rule.reviewed_on > today:
        return [Problem(rule.file, rule.id, f"reviewed_on {rule.reviewed_on} is in the future")]
    due = review_due(rule, rulebook)
    if due < today:
        return [Problem(rule.file, rule.id,
                        f"review overdue: last reviewed {rule.reviewed_on}, more than "
                        f"{rulebook.review_period_days} days ago (review_period_days); "
                        f"it was due by {due}")]
    return []


# --------------------------------------------------------------------------- can it ever fire?

def never_firing(rulebook) -> dict[str, str]:
    """Active (and draft) rules that can never fire, with the reason. Starts by assuming every
    active rule can fire and removes those that cannot until nothing changes, so a rule is only
    reported when it is impossible even if every other rule that might fire does."""
    possible = {r.id for r in rulebook.active_rules}
    reasons: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for rule in rulebook.active_rules:
            if rule.id not in possible:
                continue
            reason = _impossible(rule, rulebook, possible)
            if reason:
                possible.discard(rule.id)
                reasons[rule.id] = reason
                changed = True
    for rule in rulebook.rules:
        if rule.status == "draft":
            reason = _impossible(rule, rulebook, possible)
            if reason:
                reasons[rule.id] = reason
    return reasons


def _impossible(rule, rulebook, possible) -> str | None:
    """Why no alternative of the rule's condition can hold, or None if one might."""
    from ..conditions import dnf, nnf

    why: list[str] = []
    for conjunction in dnf(nnf(rule.when)):
        reason = _conjunction_impossible(conjunction, rulebook, possible)
        if reason is None:
            return None
        if reason not in why:
            why.append(reason)
    return "; and ".join(why) if why else None


def _producers(rulebook, possible, kind, value=None):
    return [r for r in rulebook.active_rules if r.id in possible
            and any(k == kind and (value is None or v == value) for k, v in r.then)]


def _conjunction_impossible(conjunction, rulebook, possible) -> str | None:
    for atom in conjunction:
        if atom[0] == "finding":
            _, kind, value = atom
            if not _producers(rulebook, possible, kind, value):
                return _no_producer(rulebook, kind, value)
        elif atom[0] == "closed" and isinstance(atom[1], CountTest):
            test = atom[1]
            values = {v for r in _producers(rulebook, possible, test.kind)
                      for k, v in r.then if k == test.kind}
            if len(values) < test.at_least:
                return (f"it needs at least {test.at_least} ({test.parameter}) different "
                        f"{test.kind.replace('_', ' ')}s, but the rules that can fire conclude "
                        f"only {len(values)}")
    answer_conditions = [atom[1] for atom in conjunction if atom[0] == "answers"]
    if not answer_conditions:
        return None
    from ..conditions import All

    try:
        alternatives = literal_alternatives(All(tuple(answer_conditions)), split_unanswered=True)
    except TooComplex:
        return None
    first = None
    for literals in alternatives:
        reason = _answers_conflict(literals, rulebook)
        if reason is None:
            return None
        first = first or reason
    return first


def _no_producer(rulebook, kind, value) -> str:
    what = f"{kind.replace('_', ' ')} {value}" if value else f"any {kind.replace('_', ' ')}"
    others = [r.id for r in rulebook.rules if any(k == kind and (value is None or v == value)
                                                  for k, v in r.then)]
    inactive = [i for i in others if rulebook.rule(i).status != "active"]
    if not others:
        return f"it needs {what}, which no rule concludes"
    if inactive and len(inactive) == len(others):
        if len(inactive) == 1:
            status = rulebook.rule(inactive[0]).status
            return f"it needs {what}, which only {inactive[0]} concludes, and it is {status}"
        return f"it needs {what}, which only {', '.join(inactive)} conclude, and none is active"
    return f"it needs {what}, but the rules that conclude it ({', '.join(others)}) can never fire"


def _answers_conflict(literals, rulebook) -> str | None:
    """None if some answers make every literal hold, else why not (naming the question)."""
    by_question: dict[str, list] = {}
    for literal in literals:
        leaf = literal.child if isinstance(literal, Not) else literal
        if isinstance(leaf, AnswerTest):
            by_question.setdefault(leaf.question, []).append(literal)
        elif isinstance(leaf, Unanswered):
            for q in leaf.questions:
                by_question.setdefault(q, []).append(literal)
    for qid, qliterals in by_question.items():
        question = rulebook.quantity(qid)
        if not _question_satisfiable(question, qliterals):
            texts = "; ".join(dict.fromkeys(phrase(lit, rulebook) for lit in qliterals))
            if question.required and any(isinstance(lit, Unanswered) for lit in qliterals):
                return f'"{qid.replace("_", " ")}" is required, so it is never left unanswered'
            return f'no answer to "{qid.replace("_", " ")}" meets all of: {texts}'
    return None


def _question_satisfiable(question, literals) -> bool:
    positive = [lit for lit in literals if isinstance(lit, AnswerTest)]
    negative = [lit.child for lit in literals
                if isinstance(lit, Not) and isinstance(lit.child, AnswerTest)]
    must_be_unanswered = any(isinstance(lit, Unanswered) for lit in literals)
    must_be_answered = (question.required or bool(positive)
                        or any(isinstance(lit, Not) and isinstance(lit.child, Unanswered)
                               for lit in literals))
    if must_be_unanswered:
        return not must_be_answered  # an answer test never holds on an unanswered question
    if not must_be_answered:
        return True  # left unanswered, every negated answer test holds
    tests = positive + [_opposite(t) for t in negative]
    if question.type in ("integer", "number"):
        return _range_satisfiable(question, tests)
    if question.type in ("bool", "choice"):
        allowed = set(question.values)
        for test in tests:
            if isinstance(test, _NotIn):
                allowed -= set(test.operand)
            else:
                allowed &= {test.operand} if test.op == "equals" else set(test.operand)
        return bool(allowed)
    return True


@dataclass(frozen=True)
class _NotIn:
    """The opposite of an equals/in test on an answered question."""
    operand: tuple
    op: str = "not"


def _opposite(test: AnswerTest):
    if test.op == "equals":
        return _NotIn((test.operand,))
    if test.op == "in":
        return _NotIn(tuple(test.operand))
    flipped = {">=": "<", ">": "<=", "<": ">=", "<=": ">"}[test.op]
    return AnswerTest(test.question, flipped, test.operand, test.parameter)


def _range_satisfiable(question, tests) -> bool:
    low, low_open = (-math.inf if question.min is None else question.min), False
    high, high_open = (math.inf if question.max is None else question.max), False
    for test in tests:
        value = test.operand
        if test.op in (">=", ">"):
            is_open = test.op == ">"
            if value > low or (value == low and is_open):
                low, low_open = value, is_open
        elif test.op in ("<", "<="):
            is_open = test.op == "<"
            if value < high or (value == high and is_open):
                high, high_open = value, is_open
    if low > high or (low == high and (low_open or high_open)):
        return False
    if question.type == "integer" and not math.isinf(low):
        first = low + 1 if (low_open and low == math.floor(low)) else math.ceil(low)
        return first < high or (first == high and not high_open)
    return True
