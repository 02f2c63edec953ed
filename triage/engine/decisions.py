"""Decide each distinct answer pattern once: the atom vector, and a bounded cache of decisions.

Why this is exact
-----------------
A rule reads a case only through the *atoms* of the condition grammar: each test of an answer (or
of a derived quantity such as the age at onset) against a value or a named parameter, and each
"unanswered" test. Everything else a rule reads -- "X was concluded", "no X was concluded", counts
-- is a conclusion of other rules, so it too is decided by the atoms. Two cases whose atoms all
come out the same therefore fire the same rules in the same order and conclude the same things.

``AtomPlan`` walks every active rule's condition tree once and collects its atoms (every leaf
that is not a test of a conclusion: new leaf types of the grammar count as atoms automatically).
Per case it computes the tuple of their truth values, the *atom vector*; ``DecisionCache`` maps a
vector to the ``Decision`` reached for the first case with that vector (which rules fired, what
they concluded, and which parts of each fired rule's condition support it). A second, coarser
cache maps the engine's own key (one bit per test of the answers that the rules make, computed
from the atoms: see engine/rete.py) to the experta engine's ``EngineResult``, so the engine runs once
per distinct engine key, and the plain-Python cross-check once per distinct atom vector. A case
whose vector was already decided gets the same conclusions, and its reasons are rendered from its
*own* answers (``age: 52``), exactly as the engine path renders them (``describe_evidence``).

tests/test_decisions.py proves it: cached and uncached output are byte-identical on every
vignette and on 100,000 generated cases, and two cases with the same atom vector get the same
fired rules and conclusions (hypothesis).

The cache
---------
One per rulebook (and per process: each ``triage batch`` worker has its own), least recently used
entries dropped beyond ``TRIAGE_CACHE_SIZE`` entries (default ``DEFAULT_CACHE_SIZE``, 32,768), for
the decisions and for the engine results alike, so memory stays flat however many cases pass.
``TRIAGE_NO_CACHE=1`` or ``--no-cache`` runs every case through the engine instead.
"""
from __future__ import annotations

import json
import json.encoder
import math
import os
import weakref
import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping

from ..assessment import Assessment, Reason, risk_group_of
from ..codecache import constant_pool, generated_function  # compiled code kept on disk
from ..instrument import RESULT
from ..conditions import (AnswerTest, CountTest, Evidence, FindingTest, Quantity, Unanswered,
                         _leaf, describe_evidence, expression_questions, iter_leaves)

DEFAULT_CACHE_SIZE = 32_768
_MEMO_LIMIT = 4_096  # rendered evidence texts kept per leaf (an answer's value -> its words)
_NO_FINDINGS: Mapping = {}
# what json.dumps(text, ensure_ascii=False) writes for a str
_ENCODE_STR = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring


def cache_enabled(explicit: bool | None = None) -> bool:
    """Whether to use the decision cache: `explicit` if given, else not when TRIAGE_NO_CACHE is
    set to anything but '', '0' or 'false'."""
    if explicit is not None:
        return explicit
    value = os.environ.get("TRIAGE_NO_CACHE", "").strip().lower()
    return value in ("", "0", "false", "no")


def cache_size() -> int:
    raw = os.environ.get("TRIAGE_CACHE_SIZE", "").strip()
    if raw:
        try:
            size = int(raw)
        except ValueError:
            size = DEFAULT_CACHE_SIZE
        return max(size, 1)
    return DEFAULT_CACHE_SIZE


def facts_of(rulebook, answers: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the rules read: the validated answers plus any derived quantities."""
    with_derived = getattr(rulebook, "with_derived", None)
    return with_derived(answers) if with_derived is not None else answers


# --------------------------------------------------------------------------- atoms

def _reads_conclusions(leaf) -> bool:
    return isinstance(leaf, (FindingTest, CountTest))


def rule_atoms(rules) -> tuple:
    """Every distinct leaf of the rules' conditions that reads the case, not a conclusion: answer
    tests, derived-quantity comparisons, unanswered tests, and any leaf type added later."""
    seen: dict = {}
    for rule in rules:
        for leaf in iter_leaves(rule.when):
            if not _reads_conclusions(leaf):
                seen.setdefault(leaf, None)
    return tuple(seen)


_OPERATORS = {">=": ">=", ">": ">", "<": "<", "<=": "<="}  # the grammar's comparisons, as Python


def _atom_expression(leaf, const: Callable[[Any], str], read: Callable[[str], str]) -> str:
    """The leaf's truth on a case's facts (``_f``) as a Python expression, exactly as
    ``conditions.evaluate`` decides it. Values of the rules (question ids, operands) come in as
    constants (``const``), never as source text; ``read(question)`` is the name of a local
    holding ``_f.get(question)``, read once for all the atoms."""
    if isinstance(leaf, AnswerTest):
        value, operand, op = read(leaf.question), leaf.operand, leaf.op
        if op == "equals":
            # None (unanswered) equals nothing a rule may name: bools and choices only
            return f"{value} == {const(operand)}"
        if op == "in":
            return f"({value} is not None and {value} in {const(operand)})"
        if op in _OPERATORS:
            return f"({value} is not None and {value} {_OPERATORS[op]} {const(operand)})"
    if isinstance(leaf, Unanswered):
        return " or ".join(f"{read(q)} is None" for q in leaf.questions) or "False"
    # a leaf type added later: the tree walk's own reading of it
    return f"{const(lambda facts: bool(_leaf(leaf, facts, _NO_FINDINGS)[0]))}(_f)"


class AtomPlan:
    """The atoms of one rulebook, compiled once, and the fast checks around the engine."""

    def __init__(self, rulebook):
        self.rulebook_version = rulebook.version
        self.atoms = rule_atoms(rulebook.active_rules)
        constants, const = constant_pool()
        read, reads = _local_reads(const, "_f")
        tests = []
        for n, leaf in enumerate(self.atoms):
            tests += [f"if {_atom_expression(leaf, const, read)}:", f"    vector |= {1 << n}"]
        lines = reads()
        # bits(facts): the atom vector as an int, bit n set when atom n holds for these facts
        bits = generated_function("atom_vector", "_f", lines + ["vector = 0"] + tests
                                  + ["return vector"], constants)
        self.bits = bits
        # facts(answers): rulebook.with_derived compiled (the cross-check keeps the tree's own)
        self.facts = _derived_function(rulebook)
        questionnaire = rulebook.questionnaire
        self.questions = questionnaire.questions  # reasons name answers by their labels
        self.red_flag_questions = tuple(questionnaire.red_flag_questions)
        self.red_flag_set = frozenset(self.red_flag_questions)
        self._renderers: dict = {}
        self.validator = FastValidator(questionnaire)
        # engine key -> EngineResult: the experta engine runs once per distinct key (engine/rete.py)
        self.engine_results = DecisionCache()
        # (engine key, the atom vector's bits that the fired rules read) -> Decision: everything a
        # reason's plan depends on, so atom vectors that differ only elsewhere share one
        self.by_evidence = DecisionCache()
        # atom vector -> EngineResult, for `triage rules diff` (which needs no reasons)
        self.outcomes = DecisionCache()
        # each atom's bit, for the atoms that a rule's condition reads (its evidence mask)
        position = {leaf: n for n, leaf in enumerate(self.atoms)}
        self.rule_atom_masks = {
            rule.id: sum({1 << position[leaf] for leaf in iter_leaves(rule.when)
                          if leaf in position})
            for rule in rulebook.active_rules}
        # each active rule's bit, in rulebook order (conditions.compile_checks gives the same)
        self.rule_bits = {rule.id: 1 << n for n, rule in enumerate(rulebook.active_rules)}

    def masks(self, fired) -> tuple[int, int]:
        """(fired_mask, evidence_mask) of an engine result that fired these rules: one bit per
        rule that fired, and one per atom that those rules read."""
        fired_mask = evidence_mask = 0
        for rule_id in fired:
            fired_mask |= self.rule_bits[rule_id]
            evidence_mask |= self.rule_atom_masks[rule_id]
        return fired_mask, evidence_mask

    def renderer(self, evidence: Evidence):
        """A function of the case's facts giving this supporting leaf's words, for a reason."""
        leaf = evidence.leaf
        if _reads_conclusions(leaf):  # decided by the conclusions: the same words every time
            key = (id(leaf), evidence.held, evidence.negated, evidence.seen)
            found = self._renderers.get(key)
            if found is None:
                text = describe_evidence(evidence, self.questions)
                found = self._renderers[key] = lambda facts: text
                found.seen_in = None  # reads nothing of the case
            return found
        # by identity: the leaves live as long as the rulebook, and hashing a leaf hashes its
        # whole tree (an "unanswered" leaf lists every warning-sign question)
        key = (id(leaf), evidence.held, evidence.negated)
        found = self._renderers.get(key)
        if found is None:
            found = self._renderers[key] = _answer_renderer(leaf, evidence.held,
                                                            evidence.negated, self.questions)
        return found


def _local_reads(const, mapping: str):
    """(read, reads) for a generated function: ``read(question)`` names the local that holds
    ``mapping.get(question)``, and ``reads()`` is the lines that set those locals, each question
    read once however many tests use it."""
    names: dict = {}

    def read(question: str) -> str:
        name = names.get(question)
        if name is None:
            name = names[question] = f"_a{len(names)}"
        return name

    def reads() -> list:
        return [f"{name} = {mapping}.get({const(question)})" for question, name in names.items()]
    return read, reads


def _derived_function(rulebook) -> Callable[[Mapping], dict]:
    """``rulebook.with_derived`` as one generated function: the answers, plus each derived
    quantity whose inputs are all answered, computed with the same operations in the same order
    as ``conditions.compute`` (``sum`` for plus, then -, * and /). Parameters are finite numbers
    (checked when the rules are read), so only an answer can be missing."""
    constants, const = constant_pool()
    read, reads = _local_reads(const, "_r")

    def term(node) -> str:
        if isinstance(node, Quantity):
            return const(node.value) if node.is_parameter else read(node.name)
        parts = [term(t) for t in node.terms]
        if node.op == "plus":
            return f"sum(({', '.join(parts)},))"
        operator = {"minus": "-", "times": "*"}.get(node.op, "/")
        return f"({parts[0]} {operator} {parts[1]})"

    body = []
    for name, quantity in getattr(rulebook, "derived", {}).items():
        expression = term(quantity.expression)
        known = " and ".join(f"{read(q)} is not None"
                             for q in expression_questions(quantity.expression)) or "True"
        body += [f"if {known}:", f"    _f[{const(name)}] = {expression}"]
    instrument = getattr(rulebook, "instrument", None)
    if instrument is not None:  # the screen's band, the fact `risk_group` (instrument.py)
        body += [f"_band = {const(instrument.band)}(_r)", "if _band is not None:",
                 f"    _f[{const(RESULT)}] = _band"]
    return generated_function("with_derived", "_r", ["_f = dict(_r)"] + reads() + body
                              + ["return _f"], constants)


def _answer_renderer(leaf, held: bool, negated: bool, questions=None):
    """describe_evidence for this leaf with the case's own answer, memoised by that answer."""
    if isinstance(leaf, AnswerTest):
        question = leaf.question

        def seen_in(facts):
            return facts.get(question)
    else:
        def seen_in(facts):
            return _leaf(leaf, facts, _NO_FINDINGS)[1]

    memo: dict = {}

    def render(facts):
        seen = seen_in(facts)
        try:
            return memo[seen]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: just describe it
            return describe_evidence(Evidence(leaf, held, seen, negated), questions)
        text = describe_evidence(Evidence(leaf, held, seen, negated), questions)
        if len(memo) < _MEMO_LIMIT:
            memo[seen] = text
        return text
    render.seen_in = seen_in  # what of the case its words depend on (_ReasonWriter)
    return render


class _ReasonWriter:
    """One reason of a decision's plan as its JSON object, ``{"id": ..., "text": ...}``, for a
    case: rendered from the case's own answers, memoised by the values its words depend on (the
    answers its supporting leaves show), so a value seen before costs one lookup."""

    __slots__ = ("rule_id", "title", "renderers", "inputs", "memo")

    def __init__(self, rule_id: str, title: str, renderers: tuple):
        self.rule_id, self.title, self.renderers = rule_id, title, renderers
        self.inputs = tuple(r.seen_in for r in renderers if r.seen_in is not None)
        self.memo: dict = {}

    def render(self, facts) -> str:
        text = reason_text(self.title, [render(facts) for render in self.renderers])
        return f'{{"id": {_encode_str(self.rule_id)}, "text": {_encode_str(text)}}}'

    def __call__(self, facts) -> str:
        inputs = self.inputs
        key = inputs[0](facts) if len(inputs) == 1 else tuple([seen(facts) for seen in inputs])
        memo = self.memo
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: just render it
            return self.render(facts)
        written = self.render(facts)
        if len(memo) < _MEMO_LIMIT:
            memo[key] = written
        return written


def reason_text(title: str, shown) -> str:
    """A reason's sentence from its rule's title and the words of its supporting evidence."""
    shown = list(dict.fromkeys(shown))
    return f"{title}: {'; '.join(shown)}." if shown else f"{title}."


# --------------------------------------------------------------------------- decisions

_SHARED: dict = {}  # equal parts of engine results, kept once (bounded: see _shared)
_SHARED_LIMIT = 4 * DEFAULT_CACHE_SIZE


def _shared(key, value):
    """One object for every equal `value` (identified by the hashable `key`): the rules fired,
    the outcome and the plan of the reasons repeat across keys far more than the keys themselves,
    so a full cache holds each of them once. Forgotten all at once past a bound, never unbounded."""
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= _SHARED_LIMIT:
            _SHARED.clear()
        found = _SHARED[key] = value
    return found


class EngineResult:
    """What the experta engine concluded for one engine key (see engine/rete.py): the rules that
    fired, in order, the findings, and the outcome they make (urgency, duration class, red flags,
    causes, stretches...: the Assessment fields that follow from the conclusions alone). Shared
    by every Decision with that engine key; the rules fired and the outcome are shared with equal
    ones (_shared)."""

    __slots__ = ("fired", "findings", "outcome", "_outcome_key", "fired_mask", "evidence_mask",
                 "_frame")

    def __init__(self, fired, findings, outcome: dict, *, fired_mask: int = 0,
                 evidence_mask: int = 0):
        # fired_mask: one bit per active rule that fired (engine._check_vector compares it with
        # the rules that hold on a case); evidence_mask: the atoms that the fired rules' conditions
        # read, all that a reason's plan depends on besides the findings (engine.decide)
        self.fired_mask, self.evidence_mask = fired_mask, evidence_mask
        self._frame = None
        fired = tuple(fired)
        self.fired = _shared(("fired", fired), fired)
        self.findings = {kind: frozenset(values) for kind, values in findings.items()}
        key = tuple((name, tuple(value) if isinstance(value, list) else value)
                    for name, value in outcome.items())
        self._outcome_key = key
        self.outcome = _shared(("outcome", key), outcome)

    def frame(self, answers: Mapping) -> tuple:
        """The assessment JSON (after the head) as constant text around two slots, _REASONS and
        _UNANSWERED, whose lists are the case's own; made once per distinct outcome, and kept by
        each result that has it (every case of the result asks for it)."""
        if self._frame is not None:
            return self._frame
        key = ("frame", self._outcome_key)
        frame = _SHARED.get(key)
        if frame is None:
            o = self.outcome  # the case's own parts are left empty: they are the slots
            segments = _segments(Assessment(
                urgency=o["urgency"], duration_class=o["duration_class"],
                red_flags=o["red_flags"], causes=o["causes"], stretches=o["stretches"],
                reasons=[], unanswered_red_flags=[], posture_signs=o["posture_signs"],
                avoided_stretches=o["avoided_stretches"], rulebook_version=o["rulebook_version"],
                answers=answers, review_in_days=o["review_in_days"]))
            pieces: list = []
            text: list = []
            for index, (name, constant) in enumerate(segments):
                separator = ", " if index else ""
                if constant is not None:
                    text.append(separator + constant)
                    continue
                text.append(f"{separator}{_encode_key(name)}: [")
                pieces += ["".join(text), _REASONS if name == "reasons" else _UNANSWERED]
                text = ["]"]
            pieces.append("".join(text))
            frame = _shared(key, tuple(pieces))
        self._frame = frame
        return frame


_REASONS = object()  # the slots of a frame: the case's reasons,
_UNANSWERED = object()  # and its unanswered warning-sign questions


class Decision:
    """What was decided for one atom vector: the engine's result for its engine key, and the plan
    of its reasons (which parts of each fired rule's condition support it). Everything of an
    assessment but the parts that are the case's own (its answers, its unanswered warning-sign
    questions, the words of its reasons, which are rendered from its answers)."""

    __slots__ = ("result", "reason_plan", "writers")

    def __init__(self, result: EngineResult, reason_plan: tuple, writers: tuple):
        self.result = result
        self.reason_plan = reason_plan  # ((rule id, title, (renderer, ...)), ...)
        self.writers = writers  # one _ReasonWriter per reason, for json_line

    @property
    def fired(self) -> tuple:
        return self.result.fired

    @property
    def findings(self) -> dict:
        return self.result.findings

    @property
    def outcome(self) -> dict:
        return self.result.outcome

    def reasons(self, facts) -> list:
        return [Reason(rule_id, reason_text(title, [render(facts) for render in renderers]))
                for rule_id, title, renderers in self.reason_plan]

    def assessment(self, plan: AtomPlan, answers: Mapping, facts: Mapping) -> Assessment:
        o = self.result.outcome
        return Assessment(
            urgency=o["urgency"], duration_class=o["duration_class"],
            red_flags=list(o["red_flags"]), causes=list(o["causes"]),
            stretches=list(o["stretches"]), reasons=self.reasons(facts),
            unanswered_red_flags=[q for q in plan.red_flag_questions if q not in answers],
            posture_signs=list(o["posture_signs"]),
            avoided_stretches=list(o["avoided_stretches"]),
            rulebook_version=o["rulebook_version"], answers=dict(answers),
            review_in_days=o["review_in_days"],
            risk_group=risk_group_of(o["urgency"], facts.get(RESULT)))

    def json_line(self, plan: AtomPlan, answers: Mapping, facts: Mapping, head: dict) -> str:
        """``json.dumps({**head, **assessment.to_dict()}, ensure_ascii=False)``, byte for byte,
        without building the Assessment: the parts decided by the conclusions are encoded once
        per engine result, the case's own parts (reasons, unanswered warning signs) per case."""
        parts = ["{"]
        parts += [f"{_encode_key(key)}: {_encode_value(value)}, " for key, value in head.items()]
        for piece in self.result.frame(answers):
            if piece.__class__ is str:
                parts.append(piece)
            elif piece is _REASONS:
                parts.append(", ".join([write(facts) for write in self.writers]))
            elif not plan.red_flag_set <= answers.keys():  # unanswered warning-sign questions
                parts.append(", ".join(_encode_str(q) for q in plan.red_flag_questions
                                       if q not in answers))
        # the risk screen's band is the case's own (not decided by the atoms): the last key
        risk_group = risk_group_of(self.result.outcome["urgency"], facts.get(RESULT))
        parts.append(f", {_encode_str('risk_group')}: {_encode_value(risk_group)}}}")
        return "".join(parts)


# The Assessment fields that are the case's own (everything else follows from the decision).
# json_line renders these two per case; a field added to Assessment.to_dict() that depends on
# the answers must be added here (tests/test_decisions.py compares the two paths byte for byte).
PER_CASE_KEYS = ("reasons", "unanswered_red_flags")
# ...and risk_group, the last key, which json_line writes itself after the frame
LAST_KEY = "risk_group"


def _segments(assessment: Assessment) -> tuple:
    return tuple((key, None) if key in PER_CASE_KEYS
                 else (key, f"{_encode_key(key)}: {_encode_value(value)}")
                 for key, value in assessment.to_dict().items() if key != LAST_KEY)


def _encode_str(text: str) -> str:
    return _ENCODE_STR(text)


def _encode_key(key) -> str:
    return _ENCODE_STR(key) if isinstance(key, str) else json.dumps(str(key))


def _encode_value(value) -> str:
    if value.__class__ is str:
        return _ENCODE_STR(value)
    if value.__class__ is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def make_decision(plan: AtomPlan, rules_by_id, result: EngineResult, evidence) -> Decision:
    reason_plan = tuple(
        (rule_id, rules_by_id[rule_id].title,
         tuple(plan.renderer(e) for e in evidence[rule_id] if e.supports))
        for rule_id in result.fired)
    reason_plan = _shared(("reasons", reason_plan), reason_plan)
    # a reason's writer (and its memo) is shared by every decision that gives that reason
    writers = tuple(_SHARED.get(("writer", entry)) or _shared(("writer", entry),
                                                             _ReasonWriter(*entry))
                    for entry in reason_plan)
    return Decision(result, reason_plan, writers)


def cached_decision(answers: Mapping[str, Any], rulebook, source: str, decide_new: Callable):
    """Validate the answers, compute the atom vector, and return (plan, valid answers, facts,
    decision): the decision from this process's cache, or ``decide_new(valid, plan, bits,
    facts)``, which is then kept. The one cache step of ``engine.assess``/``assess_json`` (whose
    decide_new runs the engine) and of ``engine.store.assess`` (whose decide_new first looks on
    disk, and imports no experta when it finds the result there)."""
    plan, decisions = plan_for(rulebook)
    valid = plan.validator.validate(answers, source=source)
    facts = plan.facts(valid)
    bits = plan.bits(facts)
    decision = decisions.get(bits)
    if decision is None:
        decision = decide_new(valid, plan, bits, facts)
        decisions.put(bits, decision)
    return plan, valid, facts, decision


class DecisionCache:
    """A bounded least-recently-used map: atom vector -> Decision, or engine key -> EngineResult.
    Safe to share between threads (triage serve's request threads): a lookup and its reordering
    are one step."""

    def __init__(self, size: int | None = None):
        self.size = size or cache_size()
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key):
        with self._lock:
            entries = self._entries
            decision = entries.get(key)
            if decision is None:
                self.misses += 1
                return None
            self.hits += 1
            entries.move_to_end(key)
            return decision

    def put(self, key, decision: Decision) -> None:
        with self._lock:
            entries = self._entries
            entries[key] = decision
            if len(entries) > self.size:
                entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


# id(rulebook) -> (weak reference to it, (plan, cache)); see engine._ENGINES for why not a
# WeakKeyDictionary.
_PLANS: dict[int, tuple] = {}


def plan_for(rulebook) -> tuple[AtomPlan, DecisionCache]:
    entry = _PLANS.get(id(rulebook))
    if entry is not None and entry[0]() is rulebook:
        return entry[1]
    value = (AtomPlan(rulebook), DecisionCache())
    key = id(rulebook)

    def forget(ref, key=key):
        if _PLANS.get(key, (None,))[0] is ref:
            del _PLANS[key]

    _PLANS[key] = (weakref.ref(rulebook, forget), value)
    return value


def clear_caches() -> None:
    """Forget every decision (tests that tamper with the engine start from an empty cache)."""
    for _, (plan, cache) in list(_PLANS.values()):
        cache.clear()
        plan.engine_results.clear()
        plan.by_evidence.clear()
        plan.outcomes.clear()


def cache_stats() -> tuple[int, int]:
    """(hits, misses) over every rulebook's cache in this process."""
    hits = misses = 0
    for _, (_, cache) in list(_PLANS.values()):
        hits += cache.hits
        misses += cache.misses
    return hits, misses


# --------------------------------------------------------------------------- validation

class FastValidator:
    """``Questionnaire.validate`` compiled for the common case, as one generated function.

    When every answer is already in its proper type (a JSON true, a whole number in range, a
    listed choice, any text), every required question is answered and no unknown question
    appears, the answers are taken as they are, with the answers skip logic implies filled in (in question
    order, as ``Questionnaire.apply_skip_logic`` does). Anything else -- text for a number, an
    unknown question, a missing required answer -- sends the whole mapping to
    ``Questionnaire.validate``, so every message and every corner stays the questionnaire's own.
    tests/test_decisions.py checks that both agree, key order and value types included.
    """

    def __init__(self, questionnaire):
        from ..conditions import compile_check, questions_read

        self.questionnaire = questionnaire
        constants, const = constant_pool()
        known = const(frozenset(questionnaire.questions))
        lines = [f"if _r.__class__ is not dict or not _r.keys() <= {known}:", "    return None",
                 # an answer given as null is no answer (most rows have none: one copy in C)
                 "_a = {k: v for k, v in _r.items() if v is not None} "
                 "if None in _r.values() else _r.copy()"]
        # questions whose answers need only the right type (yes/no, text): all in one C pass
        by_type: dict = {}
        for qid, q in questionnaire.questions.items():
            if q.type in _TYPE_ONLY:
                by_type.setdefault(q.type, []).append(qid)
        for kind, qids in by_type.items():
            lines += [f"if not {const(_TYPE_ONLY[kind])}.issuperset("
                      f"map(type, map(_a.get, {const(tuple(qids))}))):", "    return None"]
        for qid, q in questionnaire.questions.items():
            if q.type in _TYPE_ONLY:
                continue
            wrong = _wrong_type(q, const)
            if wrong is not None:
                lines += [f"_v = _a.get({const(qid)})",
                          f"if _v is not None and ({wrong}):", "    return None"]
        for qid in questionnaire.required:
            lines += [f"if {const(qid)} not in _a:", "    return None"]
        from ..questionnaire import skip_decided

        for qid, q in questionnaire.questions.items():
            if q.skip_if is None or q.value_if_skipped is None:
                continue
            # the questionnaire's own three-valued reading (an unknown answer decides nothing)
            decided = const(lambda answers, _c=q.skip_if: skip_decided(_c, answers))
            lines += [f"if {const(qid)} not in _a and {decided}(_a):",
                      f"    _a[{const(qid)}] = {const(q.value_if_skipped)}"]
        # fast(raw): the validated answers, or None when the questionnaire must decide
        self._fast = generated_function("fast_validate", "_r", lines + ["return _a"], constants)

    def validate(self, raw, *, source: str = "answers") -> dict:
        answers = self._fast(raw)
        if answers is None:
            return self.questionnaire.validate(raw, source=source)
        return answers


# question type -> the classes its answers may have as they are (None: unanswered); the same
# rule as _wrong_type, checked for all such questions at once
_TYPE_ONLY = {"bool": frozenset({bool, type(None)}), "text": frozenset({str, type(None)})}


def _wrong_type(q, const) -> str | None:
    """A Python expression true when an answer ``_v`` (not None) to question `q` is not already
    in its proper type and range; None when every value must go the questionnaire's way."""
    if q.type == "bool":
        return "_v.__class__ is not bool"
    if q.type == "choice":
        fast = frozenset(v for v in q.values if v == v.strip().lower() and v.strip())
        return f"_v.__class__ is not str or _v not in {const(fast)}"
    if q.type in ("integer", "number"):
        low = -math.inf if q.min is None else q.min
        high = math.inf if q.max is None else q.max
        if q.type == "integer":
            kinds = "_v.__class__ is not int"
        else:  # a finite int or float
            kinds = (f"not (_v.__class__ is int or (_v.__class__ is float "
                     f"and {const(math.isfinite)}(_v)))")
        return f"{kinds} or not ({const(low)} <= _v <= {const(high)})"
    if q.type == "text":  # any text is taken as it is (Question.coerce), even empty
        return "_v.__class__ is not str"
    # a type added later: the questionnaire decides
    return "True"
