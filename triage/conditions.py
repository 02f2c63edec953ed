"""The closed condition grammar of the rule files, and of the questionnaire's skip logic.

A condition is YAML, never code; nothing here is ever ``eval``'d. The forms::

    all: [COND, ...]                   every one holds
    any: [COND, ...]                   at least one holds
    not: COND                          it does not hold
    QUESTION: VALUE                    the answer equals VALUE (yes/no and choice questions)
    QUESTION: {equals: VALUE}
    QUESTION: {in: [VALUE, ...]}
    QUESTION: {">=": PARAMETER}        also ">", "<", "<="; numbers are always named parameters
    unanswered: [QUESTION, ...]        at least one of them was not answered
    KIND: VALUE | any                  a conclusion of an earlier rule, KIND one of
                                       duration_class, red_flag, cause, urgency, posture_sign,
                                       stretch, avoid_stretch, spa_feature, review
    KIND: {in: [VALUE, ...]}
    count_of: KIND                     at least that many different conclusions of KIND
    at_least: PARAMETER
    DERIVED: {">=": PARAMETER}         a derived quantity (``derived:`` in rulebook.yaml, e.g.
                                       age_at_onset) compared like a number question

A derived quantity is arithmetic on number answers and parameters, itself in a closed grammar
(``parse_expression``)::

    QUESTION | PARAMETER               a number question's answer, or a parameter's value
    {plus: [EXPR, EXPR, ...]}          the sum
    {minus: [EXPR, EXPR]}              the first less the second
    {times: [EXPR, EXPR]}              the product
    {divided_by: [EXPR, PARAMETER]}    the quotient; the divisor is a non-zero parameter

It is unknown (and every test on it false) when a question it reads was not answered. The rule
files never hold code: these four operations are all there is.

An answer test on a question that was not answered is false (and so ``not`` of it is true): rules
that care about unknown answers say so with ``unanswered``.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Mapping

from .errors import RulebookError
from .records import Record, fill as _fill, set_field as _set

COMPARISONS = {">=": operator.ge, ">": operator.gt, "<": operator.lt, "<=": operator.le}
COMPARISON_WORDS = {">=": "at least", ">": "over", "<": "under", "<=": "at most"}
FINDING_KINDS = ("duration_class", "red_flag", "cause", "urgency", "posture_sign", "stretch",
                 "avoid_stretch", "spa_feature", "review")


# --------------------------------------------------------------------------- the condition tree

class All(Record):
    _fields = ("children",)

    def __init__(self, children: tuple):
        _set(self, "children", children)


class AnyOf(Record):
    _fields = ("children",)

    def __init__(self, children: tuple):
        _set(self, "children", children)


class Not(Record):
    _fields = ("child",)

    def __init__(self, child: object):
        _set(self, "child", child)


class AnswerTest(Record):
    # question: a question id, or the name of a derived quantity; op: "equals", "in", or a
    # comparison; operand: the value, the tuple of values, or the parameter's value; parameter:
    # the named parameter of a comparison; reads: for a derived quantity, the questions it is
    # computed from
    _fields = ("question", "op", "operand", "parameter", "reads")

    def __init__(self, question: str, op: str, operand: Any, parameter: str | None = None,
                 reads: tuple = ()):
        _fill(self, question, op, operand, parameter, reads)


class Unanswered(Record):
    _fields = ("questions",)

    def __init__(self, questions: tuple):
        _set(self, "questions", questions)


class FindingTest(Record):
    # values: None for any value of the kind; else any one of these values
    _fields = ("kind", "values")

    def __init__(self, kind: str, values: tuple | None):
        _fill(self, kind, values)


class CountTest(Record):
    _fields = ("kind", "at_least", "parameter")

    def __init__(self, kind: str, at_least: int, parameter: str):
        _fill(self, kind, at_least, parameter)


# --------------------------------------------------------------------------- derived quantities

EXPRESSION_OPS = ("plus", "minus", "times", "divided_by")


class Quantity(Record):
    """A question's answer or a parameter's value, inside a derived quantity."""
    _fields = ("name", "is_parameter", "value")  # value: the parameter's value

    def __init__(self, name: str, is_parameter: bool, value: Any = None):
        _fill(self, name, is_parameter, value)


class Arithmetic(Record):
    _fields = ("op", "terms")  # op: one of EXPRESSION_OPS

    def __init__(self, op: str, terms: tuple):
        _fill(self, op, terms)


class Derived(Record):
    """A number computed from answers (``derived:`` in rulebook.yaml), e.g. the age at onset.

    Rules compare it with a parameter exactly like a number question; it has the attributes of a
    question that the rule grammar and the checker look at. ``reads``: the question ids it is
    computed from, in order of first mention; ``required``: known whenever the required answers
    are (all it reads is required)."""
    _fields = ("id", "label", "unit", "description", "expression", "reads", "required",
               "type", "min", "max", "values", "red_flag", "alarming")

    def __init__(self, id: str, label: str, unit: str, description: str,  # noqa: A002
                 expression: Any, reads: tuple, required: bool = False, type: str = "number",
                 min: float | None = None, max: float | None = None, values: tuple = (),
                 red_flag: bool = False, alarming: tuple = ()):
        _fill(self, id, label, unit, description, expression, reads, required, type, min, max,
              values, red_flag, alarming)

    def accepts(self, value) -> bool:
        return False

    def describe_values(self) -> str:
        return f"a number computed from {', '.join(self.reads)}"

    def compute(self, answers: Mapping[str, Any]):
        """Its value for these answers, or None when an answer it needs is missing."""
        return compute(self.expression, answers)


def compute(node, answers: Mapping[str, Any]):
    if isinstance(node, Quantity):
        return node.value if node.is_parameter else answers.get(node.name)
    values = [compute(term, answers) for term in node.terms]
    if any(v is None for v in values):
        return None
    if node.op == "plus":
        return sum(values)
    if node.op == "minus":
        return values[0] - values[1]
    if node.op == "times":
        return values[0] * values[1]
    return values[0] / values[1]


def parse_expression(raw: Any, questions: Mapping[str, Any], parameters: Mapping[str, Any], *,
                     file: str | None = None, where: str | None = None):
    """Turn the YAML of a derived quantity into a tree, or raise one RulebookError."""

    def fail(problem: str):
        raise RulebookError(problem, file=file, where=where)

    def parse(node):
        if isinstance(node, str):
            if node in parameters:
                return Quantity(node, True, parameters[node])
            if node in questions:
                q = questions[node]
                if q.type not in ("integer", "number"):
                    fail(f"'{node}' is a {q.type} question; only number answers can be computed "
                         f"with")
                return Quantity(node, False)
            fail(f"unknown question or parameter '{node}'")
        if isinstance(node, bool) or isinstance(node, (int, float)):
            fail(f"write numbers as named parameters (rulebook.yaml), not the literal {node!r}")
        if not isinstance(node, dict) or len(node) != 1:
            fail(f"an expression is a question, a parameter, or one of "
                 f"{', '.join(EXPRESSION_OPS)} with its list of terms; not {node!r}")
        (op, terms), = node.items()
        if op not in EXPRESSION_OPS:
            fail(f"unknown operation '{op}' (known: {', '.join(EXPRESSION_OPS)})")
        if not isinstance(terms, list) or len(terms) < 2 or (op != "plus" and len(terms) != 2):
            fail(f"'{op}' takes a list of {'two or more' if op == 'plus' else 'two'} terms")
        parsed = tuple(parse(t) for t in terms)
        if op == "divided_by":
            divisor = parsed[1]
            if not (isinstance(divisor, Quantity) and divisor.is_parameter):
                fail("'divided_by' divides by a named parameter only (never by an answer)")
            if not divisor.value:
                fail(f"'divided_by' by the parameter '{divisor.name}', which is zero")
        return Arithmetic(op, parsed)

    return parse(raw)


def expression_questions(node) -> list[str]:
    seen: dict[str, None] = {}

    def walk(n):
        if isinstance(n, Quantity):
            if not n.is_parameter:
                seen.setdefault(n.name)
        else:
            for t in n.terms:
                walk(t)
    walk(node)
    return list(seen)


def expression_parameters(node) -> list[str]:
    seen: dict[str, None] = {}

    def walk(n):
        if isinstance(n, Quantity):
            if n.is_parameter:
                seen.setdefault(n.name)
        else:
            for t in n.terms:
                walk(t)
    walk(node)
    return list(seen)


def describe_expression(node) -> str:
    """'age minus (duration weeks divided by weeks_per_year)'."""
    if isinstance(node, Quantity):
        return node.name if node.is_parameter else node.name.replace("_", " ")
    words = {"plus": " plus ", "minus": " minus ", "times": " times ", "divided_by": " divided by "}
    parts = [describe_expression(t) if isinstance(t, Quantity) else f"({describe_expression(t)})"
             for t in node.terms]
    return words[node.op].join(parts)


# --------------------------------------------------------------------------- parsing

class Vocabulary:
    """What a condition may name: questions (with their types), parameters, conclusion values."""

    def __init__(self, questions: Mapping[str, Any], parameters: Mapping[str, Any],
                 finding_values: Mapping[str, tuple], derived: Mapping[str, Derived] | None = None):
        self.questions = questions  # id -> Question (needs .type, .values, .accepts(value))
        self.parameters = parameters  # name -> number
        self.finding_values = finding_values  # kind -> allowed values
        self.derived = dict(derived or {})  # name -> Derived
        self.stretches: Mapping[str, Any] = {}  # id -> Stretch, for `{marked: MARK}`


def parse_condition(raw: Any, vocab: Vocabulary, *, file: str | None = None,
                    where: str | None = None):
    """Turn the YAML of a condition into a tree, or raise one RulebookError naming the problem."""

    def fail(problem: str):
        raise RulebookError(problem, file=file, where=where)

    def parse(node):
        if not isinstance(node, dict) or not node:
            fail(f"a condition must be a mapping such as {{fever: true}}, not {node!r}")
        if "count_of" in node or "at_least" in node:
            return parse_count(node)
        if len(node) != 1:
            keys = ", ".join(map(str, node))
            fail(f"a condition has one key (use all: [...] to combine), found: {keys}")
        (key, value), = node.items()
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                fail(f"'{key}' takes a non-empty list of conditions")
            children = tuple(parse(child) for child in value)
            return All(children) if key == "all" else AnyOf(children)
        if key == "not":
            return Not(parse(value))
        if key == "unanswered":
            questions = value if isinstance(value, list) else [value]
            for q in questions:
                if q not in vocab.questions:
                    fail(f"unknown question '{q}' in unanswered")
            return Unanswered(tuple(questions))
        if key in FINDING_KINDS:
            return parse_finding(key, value)
        if key in vocab.questions:
            return parse_answer(key, value)
        if key in vocab.derived:
            return parse_derived(key, value)
        fail(f"unknown question '{key}'")

    def parse_derived(name, value):
        quantity = vocab.derived[name]
        if getattr(quantity, "type", "number") == "choice":  # e.g. risk_group (instrument.py)
            if isinstance(value, dict) and set(value) == {"in"} and isinstance(value["in"], list) \
                    and value["in"]:
                for v in value["in"]:
                    if not quantity.accepts(v):
                        fail(f"'{v}' is not a value of '{name}' ({quantity.describe_values()})")
                return AnswerTest(name, "in", tuple(value["in"]), None, quantity.reads)
            if isinstance(value, dict) and set(value) == {"equals"}:
                value = value["equals"]
            if not quantity.accepts(value):
                fail(f"'{value}' is not a value of '{name}' ({quantity.describe_values()})")
            return AnswerTest(name, "equals", value, None, quantity.reads)
        if isinstance(value, dict) and len(value) == 1:
            (op, operand), = value.items()
            if op in COMPARISONS:
                return AnswerTest(name, op, resolve(operand, op), operand, quantity.reads)
        fail(f"'{name}' is a derived number: compare it with a named parameter, "
             f"e.g. {{{name}: {{'<': PARAMETER}}}}")

    def parse_finding(kind, value):
        allowed = vocab.finding_values.get(kind, ())
        if value == "any":
            return FindingTest(kind, None)
        if isinstance(value, dict) and set(value) == {"in"} and isinstance(value["in"], list):
            values = value["in"]
        elif isinstance(value, str):
            values = [value]
        else:
            fail(f"'{kind}' takes a value, 'any', or {{in: [...]}}, not {value!r}")
        for v in values:
            if v not in allowed:
                fail(f"unknown {kind} '{v}' (known: {', '.join(allowed)})")
        return FindingTest(kind, tuple(values))

    def parse_count(node):
        if set(node) != {"count_of", "at_least"}:
            fail("a count condition is exactly {count_of: KIND, at_least: PARAMETER}")
        kind, parameter = node["count_of"], node["at_least"]
        if kind not in FINDING_KINDS:
            fail(f"count_of: unknown conclusion kind '{kind}'")
        count = resolve(parameter, "at_least")
        if not float(count).is_integer() or not 1 <= count <= 100:
            fail(f"at_least: parameter '{parameter}' must be a whole number from 1 to 100 "
                 f"(it is {count})")
        return CountTest(kind, int(count), parameter)

    def resolve(parameter, op):
        if isinstance(parameter, bool) or not isinstance(parameter, str):
            fail(f"'{op}' compares with a named parameter, not the literal {parameter!r}; "
                 f"define it under parameters in rulebook.yaml")
        if parameter not in vocab.parameters:
            fail(f"unknown parameter '{parameter}'")
        return vocab.parameters[parameter]

    def check_value(question, value):
        q = vocab.questions[question]
        if not q.accepts(value):
            fail(f"'{value}' is not a possible answer to '{question}' ({q.describe_values()})")

    def parse_answer(question, value):
        q = vocab.questions[question]
        if isinstance(value, dict):
            if len(value) != 1:
                fail(f"'{question}' takes one test, found: {', '.join(map(str, value))}")
            (op, operand), = value.items()
            if op == "equals":
                check_value(question, operand)
                return AnswerTest(question, "equals", operand)
            if op == "in":
                if not isinstance(operand, list) or not operand:
                    fail(f"'{question}: in' takes a non-empty list of values")
                for v in operand:
                    check_value(question, v)
                return AnswerTest(question, "in", tuple(operand))
            if op in COMPARISONS:
                if q.type not in ("integer", "number"):
                    fail(f"'{op}' compares numbers, but '{question}' is a {q.type} question")
                return AnswerTest(question, op, resolve(operand, op), operand)
            fail(f"unknown test '{op}' on '{question}' (use equals, in, >=, >, <, <=)")
        if q.type in ("integer", "number"):
            fail(f"'{question}' is a number: compare it with a named parameter, "
                 f"e.g. {{{question}: {{'>=': PARAMETER}}}}")
        check_value(question, value)
        return AnswerTest(question, "equals", value)

    return parse(raw)


# --------------------------------------------------------------------------- evaluation

class Evidence(Record):
    """One leaf of a condition, whether it held, and the answer or conclusion it looked at.
    ``seen``: the answer (None if unanswered), the conclusions of a kind, or the unanswered ids;
    ``negated``: under an odd number of `not`s (it supports the rule when it fails)."""
    _fields = ("leaf", "held", "seen", "negated")

    def __init__(self, leaf: object, held: bool, seen: Any, negated: bool = False):
        _set(self, "leaf", leaf)  # one call each: made for every leaf of every cross-check
        _set(self, "held", held)
        _set(self, "seen", seen)
        _set(self, "negated", negated)

    @property
    def supports(self) -> bool:
        return self.held != self.negated


def evaluate(node, answers: Mapping[str, Any], findings: Mapping[str, Any]) -> bool:
    """Whether the condition holds for these answers and conclusions (kind -> set of values)."""
    # The same walk as _eval without collecting evidence, so it can stop at the first child that
    # decides: the engine's cross-check runs this on every rule of every case.
    if isinstance(node, All):
        for child in node.children:
            if not evaluate(child, answers, findings):
                return False
        return True
    if isinstance(node, AnyOf):
        for child in node.children:
            if evaluate(child, answers, findings):
                return True
        return False
    if isinstance(node, Not):
        return not evaluate(node.child, answers, findings)
    return _leaf(node, answers, findings)[0]


def compile_check(node) -> Callable[[Mapping[str, Any], Mapping[str, Any]], bool]:
    """``evaluate`` for one condition, as one Python expression generated from its tree and
    compiled once: a function of (answers, findings) giving exactly what ``evaluate`` gives,
    about five times faster. The engine's cross-check uses it on every rule of every distinct
    answer pattern; it shares no code with the engine's own compiled tests (engine/rete.py,
    decisions.py), so a fault in those cannot hide here. tests/test_conditions.py checks it
    against ``evaluate`` on every rule. Every value of the tree (question ids, operands) is
    passed in as a constant, never written into the source."""
    from .codecache import compiled, constant_pool  # kept on disk: the same source compiles once

    constants, const = constant_pool()
    source = f"lambda _a, _f: bool({_check_expression(node, const)})"
    namespace = {f"_k{i}": value for i, value in enumerate(constants)}
    return eval(compiled(source, "<condition>", "eval"), namespace)  # noqa: S307 (our own source)


def compile_checks(nodes) -> Callable[[Mapping[str, Any], Mapping[str, Any]], int]:
    """``compile_check`` for many conditions at once: one generated function of (answers,
    findings) giving an int whose bit i is set when condition i holds, as ``evaluate`` decides
    it. The engine's cross-check of each new answer pattern compares it with the rules that
    fired in one step (engine._check_vector); tests/test_conditions.py checks it against
    ``evaluate``."""
    from .codecache import constant_pool, generated_function

    constants, const = constant_pool()
    lines = ["mask = 0"]
    for n, node in enumerate(nodes):
        lines += [f"if {_check_expression(node, const)}:", f"    mask |= {1 << n}"]
    return generated_function("held", "_a, _f", lines + ["return mask"], constants)


def _check_expression(n, const) -> str:
    """A condition as a Python expression over answers ``_a`` and findings ``_f``, meaning
    exactly what ``evaluate`` means."""
    if isinstance(n, All):
        if not n.children:
            return "True"
        return "(" + " and ".join(_check_expression(c, const) for c in n.children) + ")"
    if isinstance(n, AnyOf):
        if not n.children:
            return "False"
        return "(" + " or ".join(_check_expression(c, const) for c in n.children) + ")"
    if isinstance(n, Not):
        return f"(not {_check_expression(n.child, const)})"
    if isinstance(n, AnswerTest):
        value = f"(_v := _a.get({const(n.question)})) is not None"
        if n.op == "equals":
            return f"({value} and _v == {const(n.operand)})"
        if n.op == "in":
            return f"({value} and _v in {const(n.operand)})"
        return f"({value} and {const(COMPARISONS[n.op])}(_v, {const(n.operand)}))"
    if isinstance(n, Unanswered):
        return ("(" + " or ".join(f"_a.get({const(q)}) is None" for q in n.questions) + ")"
                if n.questions else "False")
    if isinstance(n, FindingTest):
        kind = const(n.kind)
        if n.values is None:
            return f"bool(_f.get({kind}, ()))"
        return f"(not {const(frozenset(n.values))}.isdisjoint(_f.get({kind}, ())))"
    if isinstance(n, CountTest):
        return f"(len(_f.get({const(n.kind)}, ())) >= {const(n.at_least)})"
    # a leaf type added to the grammar later: evaluated by the tree walk itself
    return f"{const(lambda a, f, leaf=n: _leaf(leaf, a, f)[0])}(_a, _f)"


def evaluate_with_evidence(node, answers, findings) -> tuple[bool, list[Evidence]]:
    """Whether it holds, and the leaves that decided it (for reasons and near misses)."""
    evidence: list[Evidence] = []
    return _eval(node, answers, findings, evidence), evidence


def _eval(node, answers, findings, evidence):
    if isinstance(node, All):
        results = [(_eval(c, answers, findings, sub := ([] if evidence is not None else None)), sub)
                   for c in node.children]
        held = all(r for r, _ in results)
        _collect(evidence, results, want=True if held else False)
        return held
    if isinstance(node, AnyOf):
        results = [(_eval(c, answers, findings, sub := ([] if evidence is not None else None)), sub)
                   for c in node.children]
        held = any(r for r, _ in results)
        _collect(evidence, results, want=True if held else False)
        return held
    if isinstance(node, Not):
        sub = [] if evidence is not None else None
        held = not _eval(node.child, answers, findings, sub)
        if evidence is not None:
            evidence.extend(Evidence(e.leaf, e.held, e.seen, not e.negated) for e in sub)
        return held
    held, seen = _leaf(node, answers, findings)
    if evidence is not None:
        evidence.append(Evidence(node, held, seen))
    return held


def _collect(evidence, results, want):
    if evidence is None:
        return
    for result, sub in results:
        if result == want:
            evidence.extend(sub)


def _leaf(node, answers, findings):
    if isinstance(node, AnswerTest):
        value = answers.get(node.question)
        if value is None:
            return False, None
        if node.op == "equals":
            return value == node.operand, value
        if node.op == "in":
            return value in node.operand, value
        return COMPARISONS[node.op](value, node.operand), value
    if isinstance(node, Unanswered):
        missing = tuple(q for q in node.questions if answers.get(q) is None)
        return bool(missing), missing
    if isinstance(node, FindingTest):
        values = findings.get(node.kind, ())
        if node.values is None:
            return bool(values), tuple(sorted(values))
        return any(v in values for v in node.values), tuple(sorted(values))
    if isinstance(node, CountTest):
        values = findings.get(node.kind, ())
        return len(values) >= node.at_least, tuple(sorted(values))
    raise TypeError(f"not a condition: {node!r}")


def iter_leaves(node):
    if isinstance(node, (All, AnyOf)):
        for child in node.children:
            yield from iter_leaves(child)
    elif isinstance(node, Not):
        yield from iter_leaves(node.child)
    else:
        yield node


def questions_read(node) -> list[str]:
    """The question ids a condition reads, in order of first mention."""
    seen: dict[str, None] = {}
    for leaf in iter_leaves(node):
        if isinstance(leaf, AnswerTest) and leaf.reads:  # a derived quantity: what it reads
            for q in leaf.reads:
                seen.setdefault(q)
        elif isinstance(leaf, AnswerTest):
            seen.setdefault(leaf.question)
        elif isinstance(leaf, Unanswered):
            for q in leaf.questions:
                seen.setdefault(q)
    return list(seen)


def parameters_used(node) -> list[str]:
    seen: dict[str, None] = {}
    for leaf in iter_leaves(node):
        parameter = getattr(leaf, "parameter", None)
        if parameter:
            seen.setdefault(parameter)
    return list(seen)


# --------------------------------------------------------------------------- plain words

def show_value(value) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):  # e.g. a derived age at onset: 44.77, not 44.76923076923077
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value).replace("_", " ") if isinstance(value, str) else str(value)


def describe(node, *, negate: bool = False) -> str:
    """The condition as a plain sentence, e.g. 'saddle numbness is yes, or bladder bowel ...'."""
    if isinstance(node, All):
        parts = [describe(c) for c in node.children]
        text = " and ".join(_group(p) for p in parts)
        return f"not ({text})" if negate else text
    if isinstance(node, AnyOf):
        parts = [describe(c) for c in node.children]
        text = " or ".join(_group(p) for p in parts)
        return f"none of: {'; '.join(parts)}" if negate else text
    if isinstance(node, Not):
        return describe(node.child, negate=not negate)
    return describe_leaf(node, negate=negate)


def _group(text: str) -> str:
    return f"({text})" if (" and " in text or " or " in text) else text


def describe_leaf(leaf, *, negate: bool = False) -> str:
    if isinstance(leaf, AnswerTest):
        name = leaf.question.replace("_", " ")
        if leaf.op == "equals":
            verb = "is not" if negate else "is"
            return f"{name} {verb} {show_value(leaf.operand)}"
        if leaf.op == "in":
            values = ", ".join(show_value(v) for v in leaf.operand)
            return f"{name} is {'none' if negate else 'one'} of {values}"
        word = COMPARISON_WORDS[leaf.op]
        text = f"{name} is {word} {show_value(leaf.operand)} ({leaf.parameter})"
        return f"not ({text})" if negate else text
    if isinstance(leaf, Unanswered):
        names = ", ".join(q.replace("_", " ") for q in leaf.questions)
        if negate:
            return f"all of these were answered: {names}"
        return f"any of these was left unanswered: {names}"
    if isinstance(leaf, FindingTest):
        kind = leaf.kind.replace("_", " ")
        if leaf.values is None:
            return f"no {kind} was concluded" if negate else f"some {kind} was concluded"
        values = " or ".join(show_value(v) for v in leaf.values)
        verb = "was not" if negate else "was"
        return f"{kind} {values} {verb} concluded"
    if isinstance(leaf, CountTest):
        kind = leaf.kind.replace("_", " ")
        text = f"at least {leaf.at_least} ({leaf.parameter}) different {kind}s were concluded"
        return f"fewer than {leaf.at_least} ({leaf.parameter}) {kind}s were concluded" if negate else text
    raise TypeError(f"not a condition: {leaf!r}")


def _or_list(values) -> str:
    words = [show_value(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def question_words(qid: str, questions: Mapping | None = None) -> str:
    """A question as a person reads it in a sentence: its label from rules/questionnaire.yaml in
    lower case ('weeks of pain', 'injects drugs'), else its id in words."""
    question = (questions or {}).get(qid)
    label = getattr(question, "label", "") or qid.replace("_", " ")
    return label[:1].lower() + label[1:]


def answer_words(qid: str, value, questions: Mapping | None = None) -> str:
    """An answer in a sentence: yes/no, the number, or a choice's label up to its first colon
    ('below the knee', 'a major one'), else the value in words."""
    question = (questions or {}).get(qid)
    if question is not None and getattr(question, "type", None) == "choice":
        label = dict(question.choices).get(value)
        if label:
            label = label.split(":", 1)[0].strip()
            return label[:1].lower() + label[1:]
    return show_value(value)


def describe_evidence(evidence: Evidence, questions: Mapping | None = None) -> str:
    """What an answer or conclusion was, for a reason sentence: 'saddle numbness: yes',
    'weeks of pain: 2'. With the questionnaire's questions, answers are named by their labels."""
    leaf = evidence.leaf
    if isinstance(leaf, AnswerTest):
        name = question_words(leaf.question, questions)
        if evidence.seen is None:
            return f"{name}: not answered"
        return f"{name}: {answer_words(leaf.question, evidence.seen, questions)}"
    if isinstance(leaf, Unanswered):
        missing = evidence.seen or ()
        if missing:
            return "not answered: " + ", ".join(question_words(q, questions) for q in missing)
        return "all of " + ", ".join(question_words(q, questions) for q in leaf.questions) \
            + " answered"
    if isinstance(leaf, FindingTest):
        kind = leaf.kind.replace("_", " ")
        if leaf.values is None:
            values = ", ".join(show_value(v) for v in evidence.seen) or "none"
            return f"{kind}: {values}"
        if evidence.held:
            found = [v for v in leaf.values if v in evidence.seen] or list(leaf.values)
            return f"{kind} {_or_list(found)}"
        if leaf.kind == "urgency":
            return f"no rule raised the urgency to {_or_list(leaf.values)}"
        return f"no {kind} of {_or_list(leaf.values)} was found"
    if isinstance(leaf, CountTest):
        values = ", ".join(show_value(v) for v in evidence.seen) or "none"
        return f"{len(evidence.seen)} {leaf.kind.replace('_', ' ')}s ({values})"
    raise TypeError(f"not a condition: {leaf!r}")


# --------------------------------------------------------------------------- normal forms
# (the engine compiles a rule alternative by alternative; lint and review read them the same way)

def nnf(node, negated=False):
    """Push every `not` down to the leaves."""
    if isinstance(node, Not):
        return nnf(node.child, not negated)
    if isinstance(node, (All, AnyOf)):
        children = tuple(nnf(c, negated) for c in node.children)
        flip = isinstance(node, All) == negated  # De Morgan
        return AnyOf(children) if flip else All(children)
    return Not(node) if negated else node


def _answers_only(node) -> bool:
    if isinstance(node, (All, AnyOf)):
        return all(_answers_only(c) for c in node.children)
    if isinstance(node, Not):
        return _answers_only(node.child)
    return isinstance(node, (AnswerTest, Unanswered))


def dnf(node) -> list[list[tuple]]:
    """Conjunctions of atoms: ('answers', cond) | ('finding', kind, value) | ('closed', cond)."""
    if _answers_only(node):
        return [[("answers", node)]]
    if isinstance(node, FindingTest):  # "X or Y was concluded": one conjunction for each
        return [[("finding", node.kind, value)] for value in (node.values or (None,))]
    if isinstance(node, (CountTest, Not)):  # after nnf a Not wraps a finding or count leaf
        return [[("closed", node)]]
    if isinstance(node, AnyOf):
        return [conj for child in node.children for conj in dnf(child)]
    if isinstance(node, All):
        conjunctions: list[list[tuple]] = [[]]
        for child in node.children:
            conjunctions = [a + b for a in conjunctions for b in dnf(child)]
        return conjunctions
    raise TypeError(node)
