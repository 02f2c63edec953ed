"""The rules in plain words: for `triage rules show`, `triage explain` and the review pack.

Nothing here changes what the rules decide. It turns a rule's condition into sentences a clinician
can check (with the question and parameter it names), runs a rule's own examples, and explains why a
rule fired or did not for one case (the "near miss"). The review pack built from these is in
pack.py.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..conditions import (COMPARISON_WORDS, All, AnswerTest, AnyOf, CountTest, FindingTest, Not,
                         Unanswered, evaluate, parameters_used, show_value)
from ..errors import AnswersError

# --------------------------------------------------------------------------- plain words

_NEGATED_COMPARISON = {">=": "under", ">": "at most", "<": "at least", "<=": "over"}


def _words(name: str) -> str:
    return name.replace("_", " ")


def _or_list(values) -> str:
    shown = [show_value(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _amount(value, parameter, rulebook) -> str:
    """'12 weeks (chronic_weeks)': the threshold with its unit and the parameter that holds it."""
    spec = rulebook.parameters.get(parameter) if rulebook is not None and parameter else None
    unit = f" {spec.unit}" if spec is not None and spec.unit else ""
    return f"{show_value(value)}{unit} ({parameter})" if parameter else show_value(value)


def phrase(leaf, rulebook=None, *, negate: bool = False) -> str:
    """One condition as a plain sentence, e.g. '"saddle numbness" answered yes' or
    'age is under 16 years (child_age)'. With `negate`, the sentence of its opposite, which for
    an answer test also holds when the question was not answered."""
    if isinstance(leaf, Not):
        return phrase(leaf.child, rulebook, negate=not negate)
    if isinstance(leaf, AnswerTest) and leaf.question == "risk_group":  # the screen's band
        values = (leaf.operand,) if leaf.op == "equals" else leaf.operand
        if negate:
            return (f"the risk screen's band (risk_group) is not {_or_list(values)} (another "
                    f"band, or not scored)")
        return f"the risk screen's band (risk_group) is {_or_list(values)}"
    if isinstance(leaf, AnswerTest):
        name = _words(leaf.question)
        question = None
        if rulebook is not None:
            question = (rulebook.questionnaire.questions.get(leaf.question)
                        or rulebook.derived.get(leaf.question))
        unknown = "" if question is not None and question.required else ", or not answered"
        if leaf.op in ("equals", "in"):
            values = (leaf.operand,) if leaf.op == "equals" else leaf.operand
            if negate:
                return f'"{name}" not answered {_or_list(values)} (another answer{unknown})'
            return f'"{name}" answered {_or_list(values)}'
        amount = _amount(leaf.operand, leaf.parameter, rulebook)
        if negate:
            return f"{name} is {_NEGATED_COMPARISON[leaf.op]} {amount}{unknown}"
        return f"{name} is {COMPARISON_WORDS[leaf.op]} {amount}"
    if isinstance(leaf, Unanswered):
        names = ", ".join(f'"{_words(q)}"' for q in leaf.questions)
        if len(leaf.questions) == 1:
            return f"{names} was answered" if negate else f"{names} was left unanswered"
        if negate:
            return f"every one of these was answered: {names}"
        return f"at least one of these was left unanswered: {names}"
    if isinstance(leaf, FindingTest):
        kind = _words(leaf.kind)
        if leaf.values is None:
            return f"no {kind} was concluded" if negate else f"some {kind} was concluded"
        values = _or_list(leaf.values)
        return (f"no rule concluded {kind} {values}" if negate
                else f"{kind} {values} was concluded")
    if isinstance(leaf, CountTest):
        kind = _words(leaf.kind)
        amount = _amount(leaf.at_least, leaf.parameter, None)
        if negate:
            return f"fewer than {amount} different {kind}s were concluded"
        return f"at least {amount} different {kind}s were concluded"
    raise TypeError(f"not a condition: {leaf!r}")


@dataclass
class ConditionNode:
    """A condition as an outline: 'any of:' with children, or one sentence; `met` when shown
    against a case."""
    text: str
    children: list = field(default_factory=list)
    met: bool | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"text": self.text}
        if self.met is not None:
            out["met"] = self.met
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


def outline(node, rulebook=None, answers=None, findings=None) -> ConditionNode:
    """The condition as a nested outline of sentences; with answers, each part marked met or not."""
    met = evaluate(node, answers, findings or {}) if answers is not None else None
    if isinstance(node, (All, AnyOf)):
        head = "all of:" if isinstance(node, All) else "any of:"
        return ConditionNode(head, [outline(c, rulebook, answers, findings) for c in node.children],
                             met)
    if isinstance(node, Not) and isinstance(node.child, (All, AnyOf)):
        head = "not all of:" if isinstance(node.child, All) else "none of:"
        return ConditionNode(head, [outline(c, rulebook, answers, findings)
                                    for c in node.child.children], met)
    if isinstance(node, Not) and isinstance(node.child, Not):
        inner = outline(node.child.child, rulebook, answers, findings)
        inner.met = met
        return inner
    return ConditionNode(phrase(node, rulebook), [], met)


def outline_lines(node: ConditionNode, *, lead: str = "When", marks: bool = False) -> list[str]:
    """Text lines for an outline: 'When any of:' then indented '- ' items. With `marks`, a first
    column says whether each part was met."""
    def mark(n):
        if not marks:
            return ""
        return "[met]      " if n.met else "[not met]  "

    lines: list[str] = []

    def walk(n, depth):
        lines.append(f"{mark(n)}{'    ' * depth}  - {n.text}")
        for child in n.children:
            walk(child, depth + 1)

    if node.children:
        lines.append(f"{mark(node)}{lead} {node.text}")
        for child in node.children:
            walk(child, 0)
    else:
        lines.append(f"{mark(node)}{lead}: {node.text}")
    return lines


def outline_sentence(node: ConditionNode) -> str:
    """An outline on one line: 'all of: A; B; (any of: C; D)'."""
    if not node.children:
        return node.text
    parts = [f"({outline_sentence(c)})" if c.children else c.text for c in node.children]
    return f"{node.text} {'; '.join(parts)}"


# --------------------------------------------------------------------------- conjunctions

class TooComplex(Exception):
    """A condition whose expansion into alternatives is too large to analyse."""


MAX_ALTERNATIVES = 4096


def literal_alternatives(node, *, split_unanswered: bool = False) -> list[tuple]:
    """The condition (in negation normal form: `not` only on single conditions) as alternatives,
    each a tuple of single conditions that must all hold. With `split_unanswered`, "at least one
    of A, B left unanswered" becomes one alternative per question."""
    if isinstance(node, All):
        out: list[tuple] = [()]
        for child in node.children:
            out = [a + b for a in out
                   for b in literal_alternatives(child, split_unanswered=split_unanswered)]
            if len(out) > MAX_ALTERNATIVES:
                raise TooComplex()
        return out
    if isinstance(node, AnyOf):
        out = [alt for child in node.children
               for alt in literal_alternatives(child, split_unanswered=split_unanswered)]
        if len(out) > MAX_ALTERNATIVES:
            raise TooComplex()
        return out
    if split_unanswered and isinstance(node, Unanswered) and len(node.questions) > 1:
        return [(Unanswered((q,)),) for q in node.questions]
    return [(node,)]


@dataclass
class Check:
    """One condition of a rule checked against a case: the sentence, whether it held, and what
    the case had."""
    text: str
    met: bool
    seen: str

    def to_dict(self) -> dict:
        return {"condition": self.text, "met": self.met, "seen": self.seen}


def seen_text(leaf, answers, findings) -> str:
    """What the case had that the condition looked at: 'age: 55', 'urgency: soon, urgent'."""
    if isinstance(leaf, Not):
        return seen_text(leaf.child, answers, findings)
    if isinstance(leaf, AnswerTest):
        value = answers.get(leaf.question)
        shown = "not answered" if value is None else show_value(value)
        return f"{_words(leaf.question)}: {shown}"
    if isinstance(leaf, Unanswered):
        missing = [_words(q) for q in leaf.questions if answers.get(q) is None]
        return "unanswered: " + ", ".join(missing) if missing else "all answered"
    if isinstance(leaf, (FindingTest, CountTest)):
        values = sorted(findings.get(leaf.kind, ()))
        return f"{_words(leaf.kind)}: {', '.join(show_value(v) for v in values) or 'none'}"
    raise TypeError(f"not a condition: {leaf!r}")


def closest_alternative(when, rulebook, answers, findings) -> list[Check]:
    """The alternative of the condition that came nearest to holding (all of it holds when the
    rule fired): fewest conditions unmet, then most met."""
    from ..conditions import nnf

    try:
        alternatives = literal_alternatives(nnf(when))
    except TooComplex:
        alternatives = [(when,)]
    best = None
    for alternative in alternatives:
        checks = [Check(phrase(leaf, rulebook), evaluate(leaf, answers, findings),
                        seen_text(leaf, answers, findings)) for leaf in alternative]
        unmet = sum(not c.met for c in checks)
        key = (unmet, -(len(checks) - unmet))
        if best is None or key < best[0]:
            best = (key, checks)
    return best[1] if best else []


# --------------------------------------------------------------------------- examples

@dataclass
class ExampleResult:
    number: int  # 1-based, in the rule's list
    example: Any
    passed: bool | None  # None: not run (a retired rule)
    detail: str = ""

    @property
    def kind(self) -> str:
        return "fires" if self.example.fires else "silent"


def run_case(answers: Mapping, rulebook, *, source: str = "answers") -> tuple[dict, list, dict]:
    """Validate and run the active rules: (the facts the rules read, i.e. the valid answers with
    the derived quantities, fired rule ids, findings)."""
    from ..engine import run_rules

    valid = rulebook.questionnaire.validate(answers, source=source)
    fired, findings = run_rules(valid, rulebook)
    return rulebook.with_derived(valid), fired, findings


def check_examples(rule, rulebook) -> list[ExampleResult]:
    """Run a rule's own examples: it must fire on `fires:` answers and stay silent on `silent:`.
    A draft rule is not in the engine, so its condition is checked against what the active rules
    concluded; a retired rule's examples are not run."""
    results = []
    for number, example in enumerate(rule.examples, start=1):
        if rule.status == "retired":
            results.append(ExampleResult(number, example, None, "retired: not run"))
            continue
        try:
            valid, fired, findings = run_case(example.answers, rulebook,
                                              source=f"example {number}")
        except AnswersError as exc:
            results.append(ExampleResult(number, example, False, f"invalid answers: {exc.message}"))
            continue
        if rule.status == "active":
            did_fire = rule.id in fired
        else:
            did_fire = evaluate(rule.when, valid, findings)
        if did_fire == example.fires:
            problem = _expect_problem(example, rulebook) if rule.status == "active" else None
            results.append(ExampleResult(number, example, problem is None, problem or ""))
            continue
        if example.fires:
            unmet = [c.text for c in closest_alternative(rule.when, rulebook, valid, findings)
                     if not c.met]
            detail = "it did not fire" + (f" (not met: {'; '.join(unmet)})" if unmet else "")
        else:
            met = [c.text for c in closest_alternative(rule.when, rulebook, valid, findings)
                   if c.met]
            detail = "it fired" + (f" (met: {'; '.join(met)})" if met else "")
        results.append(ExampleResult(number, example, False, detail))
    return results


def _expect_problem(example, rulebook) -> str | None:
    """Whether the assessment of an example (firing or silent: the two sides of an edge)
    concludes what its `expect:` says."""
    if not example.expect:
        return None
    from ..errors import RulebookError
    from .vignettes import Vignette, check_vignette

    try:
        outcome = check_vignette(Vignette("example", "", dict(example.answers),
                                          dict(example.expect)), rulebook)
    except RulebookError:  # no complete assessment: reported once by the outcome check (lint)
        return None
    if outcome.passed:
        return None
    if outcome.error:
        return f"invalid answers: {outcome.error}"
    parts = [f"{key} expected {expected!r}, got {actual!r}"
             for key, expected, actual in outcome.differences]
    return "it fired, but " + "; ".join(parts)


def flow_yaml(mapping: Mapping) -> str:
    """A mapping on one line as the rule files write it: {age: 40, fever: true}."""
    import yaml

    return yaml.safe_dump(dict(mapping), default_flow_style=True, sort_keys=False,
                          width=10_000).strip()


# --------------------------------------------------------------------------- one rule, described

def waits_for(rule, rulebook) -> list[str]:
    """The active rules that must all have run before this rule's absences and counts are
    decided ("absences are decided after the rules that could conclude them")."""
    from ..rulebook import closed_world_reads

    wanted = set(closed_world_reads(rule.when))
    out = []
    for other in rulebook.active_rules:
        if other.id == rule.id:
            continue
        for kind, value in other.then:
            if (kind, value) in wanted or (kind, None) in wanted:
                out.append(other.id)
                break
    return out


def review_due(rule, rulebook) -> _dt.date | None:
    if rule.reviewed_on is None:
        return None
    return rule.reviewed_on + _dt.timedelta(days=rulebook.review_period_days)


def rule_card(rule, rulebook, *, today: _dt.date | None = None) -> dict:
    """Everything a reviewer needs about one rule, as plain data (for `rules show` and the pack)."""
    today = today or _dt.date.today()
    due = review_due(rule, rulebook)
    questions = rulebook.questionnaire.questions
    return {
        "id": rule.id, "title": rule.title, "category": rule.category, "status": rule.status,
        "version": rule.version, "file": rule.file, "stratum": rule.stratum,
        "reviewed_by": rule.reviewed_by, "reviewed_on": str(rule.reviewed_on or ""),
        "review_due": str(due or ""), "overdue": bool(due and due < today),
        "condition": outline(rule.when, rulebook),
        "concludes": [{"kind": kind, "value": value,
                       "label": rulebook.label(kind, value) if kind not in (
                           "stretch", "avoid_stretch") else rulebook.stretches[value].name}
                      for kind, value in rule.then],
        "parameters": [{"name": p, "value": show_value(rulebook.parameters[p].value),
                        "unit": rulebook.parameters[p].unit,
                        "description": rulebook.parameters[p].description}
                       for p in parameters_used(rule.when)],
        "questions": [{"id": q, "text": questions[q].text} for q in rule.questions],
        "waits_for": waits_for(rule, rulebook),
        "rationale": rule.rationale,
        "references": list(rule.references),
        "examples": [{"kind": r.kind, "answers": flow_yaml(r.example.answers),
                      "note": r.example.note, "passed": r.passed, "detail": r.detail}
                     for r in check_examples(rule, rulebook)],
    }


# --------------------------------------------------------------------------- explaining a case

@dataclass
class RuleExplanation:
    rule: Any
    fired: bool
    closest: list  # of Check: the alternative that held, or came nearest

    @property
    def unmet(self) -> list:
        return [c for c in self.closest if not c.met]

    @property
    def holds(self) -> bool:
        """Whether its condition holds on the case (for an active rule: whether it fired)."""
        return bool(self.closest) and all(c.met for c in self.closest)

    @property
    def near_miss(self) -> bool:
        """Did not fire, but only one of its conditions failed and at least one held."""
        return not self.fired and len(self.unmet) == 1 and len(self.closest) > 1

    def to_dict(self) -> dict:
        return {"id": self.rule.id, "title": self.rule.title, "status": self.rule.status,
                "fired": self.fired, "holds": self.holds, "near_miss": self.near_miss,
                "concludes": [{"kind": k, "value": v} for k, v in self.rule.then],
                "conditions": [c.to_dict() for c in self.closest]}


@dataclass
class CaseExplanation:
    assessment: Any
    answers: dict
    findings: dict
    fired: list  # rule ids in firing order
    rules: list  # RuleExplanation for every active rule, in rulebook order

    def rule(self, rule_id: str) -> RuleExplanation:
        for r in self.rules:
            if r.rule.id == rule_id:
                return r
        raise KeyError(rule_id)

    def drawn_by(self) -> list[tuple[str, str, list]]:
        """(kind, value, [rule ids]) for every conclusion, in firing order."""
        out: dict[tuple, list] = {}
        for rule_id in self.fired:
            for kind, value in next(r.rule for r in self.rules if r.rule.id == rule_id).then:
                out.setdefault((kind, value), []).append(rule_id)
        return [(k, v, ids) for (k, v), ids in out.items()]


def explain_case(answers: Mapping, rulebook, *, source: str = "answers") -> CaseExplanation:
    """Why each conclusion was reached for these answers, and how close each other rule came."""
    from ..engine import assess

    assessment = assess(answers, rulebook, source=source)
    valid, fired, findings = run_case(answers, rulebook, source=source)
    fired_set = set(fired)
    explanations = [RuleExplanation(rule, rule.id in fired_set,
                                    closest_alternative(rule.when, rulebook, valid, findings))
                    for rule in rulebook.active_rules]
    return CaseExplanation(assessment, valid, findings, fired, explanations)
