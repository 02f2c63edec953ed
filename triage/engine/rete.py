"""The rulebook compiled into an experta knowledge engine, and ``assess``.

How a rule becomes experta rules
--------------------------------
Facts are of three kinds: one ``Answers`` fact holding the case's *engine key*; a ``Finding(kind,
value)`` for each conclusion that some rule matches as a fact (the ``chronic`` duration class, the
causes that choose stretches); and a ``Snapshot`` of the conclusions, declared between strata.
Each kind of finding and each stratum's snapshot is a subclass of its own, so the network tells
them apart by type, its cheapest test.
Every conclusion, matched as a fact or not, is also kept in Python (``engine.findings``), which is
what the snapshots and the assessment are made from.

A rule's condition is put in disjunctive normal form over three sorts of atoms:

* tests on answers only (any mix of all/any/not): one ``TEST`` on the ``Answers`` fact, which
  reads one bit of the engine key;
* "X was concluded": a ``Finding[kind](value=...)`` pattern, so rules chain forward;
* "X was not concluded" and counts: a ``TEST`` on the ``Snapshot`` of the stratum before.

Each conjunction becomes one experta rule named after the rule id (``RF-CES-01``, or
``RF-CES-01/2`` for its second conjunction); a rule fires at most once however many of its
conjunctions match. A ``TEST`` runs the condition compiled once into a Python closure
(``_compile``). The engine class is built once per rulebook and reused for every case.

The engine key: what the engine sees of a case
-----------------------------------------------
The answers-only part of each conjunction is one *test of the answers* (``engine_tests``: 40 in
the shipped rules, numbered once per rulebook). A case's engine key has one bit per test, set when
the test holds; it is computed from the case's atoms (triage/engine/decisions.py: each comparison of an
answer or a derived quantity, each "unanswered" test) and it is all the Answers fact holds. So the
experta run is a function of the key alone, by construction: two cases with the same key fire the
same rules in the same order. The key is coarser than the atom vector (a test "age over 50 and a
history of cancer" has one bit, not two), so the engine runs once per distinct key
(``_engine_result``, a bounded cache beside the decisions); each distinct atom vector is still
cross-checked against its own answers (``decide``), and reasons are rendered from each case's own
answers. tests/test_decisions.py proves both, and shows a key that loses a test being caught.

Why the experta agenda bug cannot bite
--------------------------------------
No rule here contains a ``NOT`` element and the engine never retracts or modifies a fact, so the
set of matches only ever grows: no activation is ever taken off the agenda, and the faulty removal
in experta 1.9.4's ``DepthStrategy`` is never reached. Absences are decided on a ``Snapshot``
declared only after every rule that could conclude the absent thing has run (the strata computed
in rulebook.py). The engine's strategy refuses any removal outright (``_Strategy``), so should that
reasoning ever break, the run stops instead of firing stale activations. And ``assess`` re-checks,
in plain Python (``conditions.evaluate``, not the compiled tests), that every rule that fired holds
on the final facts and every rule that holds has fired; any disagreement is an internal error
(exit 1), never a quietly wrong answer. tests/test_engine_safety.py shows each of these.

Speed
-----
experta is used through its documented extension points only: ``__matcher__`` and
``__strategy__`` are subclasses that keep experta's results and order but skip repeated
bookkeeping (see each class). benchmarks/bench_batch.py measures the effect.
"""
from __future__ import annotations

import json
import logging
import threading
import weakref
from typing import Any, Mapping

from .. import _experta as xp
from ..assessment import Assessment, Reason, risk_group_of
from ..instrument import RESULT
from ..conditions import (All, AnswerTest, AnyOf, CountTest, FindingTest, Not, Unanswered, dnf, nnf,
                         compile_check, compile_checks,
                         describe_evidence, evaluate, evaluate_with_evidence, iter_leaves)
from ..codecache import generated_function
from .decisions import (Decision, EngineResult, cache_enabled, cached_decision, facts_of,
                        make_decision, plan_for, reason_text, rule_atoms)
from ..contract import CAUSES, NO_STRETCHES_AT, RED_FLAGS, URGENCY_RANK
from .crosscheck import EngineInconsistency, check_fired_rules
from ..errors import RulebookError
from ..rulebook import Rulebook, RuleSpec


class Answers(xp.Fact):
    """One case, as the rules see it: ``key``, its engine key, an int with one bit per test of the
    answers that the rules make (``engine_tests``); nothing else of the case reaches the engine."""

    def __repr__(self):  # experta builds this for a log line on every firing: keep it short
        return f"Answers(key={self.get('key', 0):#x})"

    __str__ = __repr__


class Finding(xp.Fact):
    """A conclusion (red_flag, cause, urgency, ...; and its value), as a fact of a subclass per
    kind and value (``finding_type``), so that a pattern tests nothing but the fact's type, which
    experta tests first (``_Matcher._dispatch_on_type``). Only when some rule matches any value of
    a kind is the subclass per kind, and the fact's one field its ``value``."""


class Snapshot(xp.Fact):
    """Every finding so far, declared once the rules of `stratum` have all run; a subclass per
    stratum (``snapshot_type``), for the same reason as Finding's."""


_FACT_TYPES: dict = {}  # (Finding or Snapshot, kind or stratum) -> its subclass, made once


def finding_type(kind: str, value=None, positive_reads: frozenset = frozenset()) -> type:
    """The Finding subclass that the conclusion (kind, value) is declared as, and matched by:
    one per kind and value (``Finding[cause=trauma]``), so a pattern tests nothing but the type;
    or one per kind (``Finding[cause]``) when some rule matches any value of that kind (its
    patterns for one value then test the value field too), or when `value` is None."""
    if value is None or (kind, None) in positive_reads:
        return _fact_type_of(Finding, kind)
    return _fact_type_of(Finding, f"{kind}={value}")


def snapshot_type(stratum: int) -> type:
    """The Snapshot subclass declared once the rules of `stratum` have all run."""
    return _fact_type_of(Snapshot, stratum)


def _fact_type_of(base: type, what) -> type:
    found = _FACT_TYPES.get((base, what))
    if found is None:
        found = _FACT_TYPES[(base, what)] = type(f"{base.__name__}[{what}]", (base,),
                                                 {"__module__": __name__})
    return found


# --------------------------------------------------------------------------- compiling

# --------------------------------------------------------------------------- compiled predicates

def _compile(node):
    """The condition as a Python function of (answers, findings) -> bool, built once per rule.

    It means exactly what ``conditions.evaluate`` means (an unanswered question fails every answer
    test; a missing kind of finding is empty); the engine's TESTs use it because it runs about
    three times faster than walking the tree. ``assess`` still re-checks every rule with
    ``conditions.evaluate`` itself, so the two implementations check each other on every case.
    """
    if isinstance(node, (All, AnyOf)):
        parts = tuple(_compile(child) for child in node.children)
        if len(parts) == 1:
            return parts[0]
        if isinstance(node, All):
            if len(parts) == 2:
                first, second = parts
                return lambda answers, findings: (first(answers, findings)
                                                  and second(answers, findings))
            return lambda answers, findings: all(p(answers, findings) for p in parts)
        if len(parts) == 2:
            first, second = parts
            return lambda answers, findings: (first(answers, findings)
                                              or second(answers, findings))
        return lambda answers, findings: any(p(answers, findings) for p in parts)
    if isinstance(node, Not):
        inner = _compile(node.child)
        return lambda answers, findings: not inner(answers, findings)
    if isinstance(node, AnswerTest):
        return _compile_answer_test(node)
    if isinstance(node, Unanswered):
        questions = node.questions

        def unanswered(answers, findings):
            get = answers.get
            for question in questions:
                if get(question) is None:
                    return True
            return False
        return unanswered
    if isinstance(node, FindingTest):
        kind, wanted = node.kind, node.values
        if wanted is None:
            return lambda answers, findings: bool(findings.get(kind))
        if len(wanted) == 1:
            (only,) = wanted
            return lambda answers, findings: only in findings.get(kind, ())
        return lambda answers, findings: any(v in findings.get(kind, ()) for v in wanted)
    if isinstance(node, CountTest):
        kind, at_least = node.kind, node.at_least
        return lambda answers, findings: len(findings.get(kind, ())) >= at_least
    raise TypeError(f"not a condition: {node!r}")


def _compile_answer_test(node: AnswerTest):
    question, operand = node.question, node.operand
    if node.op == "equals" and operand is not None:
        # an unanswered question reads as None, which equals no answer a rule may name
        return lambda answers, findings: answers.get(question) == operand
    if node.op == "in":
        return lambda answers, findings: (
            (value := answers.get(question)) is not None and value in operand)
    if node.op == ">=":
        return lambda answers, findings: (
            (value := answers.get(question)) is not None and value >= operand)
    if node.op == ">":
        return lambda answers, findings: (
            (value := answers.get(question)) is not None and value > operand)
    if node.op == "<":
        return lambda answers, findings: (
            (value := answers.get(question)) is not None and value < operand)
    if node.op == "<=":
        return lambda answers, findings: (
            (value := answers.get(question)) is not None and value <= operand)
    return lambda answers, findings: evaluate(node, answers, findings)


_NO_FINDINGS: Mapping = {}
_NO_ANSWERS: Mapping = {}


def _bits_expression(node, positions: Mapping) -> str:
    """An answers-only condition as a Python expression over the atom vector ``_b``
    (decisions.AtomPlan): each leaf is one bit, set when that test of the answers holds."""
    if isinstance(node, (All, AnyOf)):
        if not node.children:
            return "True" if isinstance(node, All) else "False"
        joiner = " and " if isinstance(node, All) else " or "
        return "(" + joiner.join(_bits_expression(c, positions) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"(not {_bits_expression(node.child, positions)})"
    return f"(_b & {1 << positions[node]})"


def _key_test(bit: int):
    """A rule's TEST of the answers: one bit of the engine key. experta passes a TEST's arguments
    by name from the matched facts, so the single parameter must be called exactly `answers`."""
    def test(answers):
        return answers["key"] & bit != 0
    test.key_bit = bit  # how _Matcher's dispatch tells which bit this TEST reads
    return test


def _answers_node(conditions):
    return conditions[0] if len(conditions) == 1 else All(tuple(conditions))


def engine_tests(rules) -> dict:
    """The distinct tests of the answers that the engine's rules make (the answers-only part of
    each conjunction), numbered in rule order: condition -> n."""
    tests: dict = {}
    for rule in rules:
        for conjunction in _conjunctions(rule):
            conds = [atom[1] for atom in conjunction if atom[0] == "answers"]
            if conds:
                tests.setdefault(_answers_node(conds), len(tests))
    return tests


def _snapshot_test(conditions):
    predicate = _compile(conditions[0] if len(conditions) == 1 else All(tuple(conditions)))

    def test(snapshot):
        return predicate(_NO_ANSWERS, snapshot)
    return test


def _conjunctions(rule: RuleSpec) -> list[list[tuple]]:
    return dnf(nnf(rule.when))


def _positive_reads(rules) -> frozenset:
    """The (kind, value) findings some rule matches as a Finding fact; (kind, None): any value."""
    return frozenset((atom[1], atom[2]) for rule in rules for conjunction in _conjunctions(rule)
                     for atom in conjunction if atom[0] == "finding")


def _rhs(rule: RuleSpec, name: str, positive_reads: frozenset):
    then = rule.then
    # A conclusion becomes a Finding fact only if some rule matches it as one; the rest are read
    # only through Snapshots (absences and counts) and are kept in `self.findings`. Declaring them
    # would change no match and cost a trip through the network each.
    declared = tuple((finding_type(kind, value, positive_reads), kind, value)
                     for kind, value in then
                     if (kind, value) in positive_reads or (kind, None) in positive_reads)

    def fire(self, **_context):
        if rule.id in self.fired_ids:
            return  # another conjunction of the same rule already fired
        self.fired_ids.add(rule.id)
        self.fired.append(rule.id)
        findings = self.findings
        for kind, value in then:
            values = findings.get(kind)
            if values is None:
                findings[kind] = {value}
            else:
                values.add(value)
        if declared:
            self.declare(*[of_kind(value=value) if of_kind is finding_type(kind) else of_kind()
                           for of_kind, kind, value in declared])
    fire.__name__ = fire.__qualname__ = name  # experta traces show the clinical rule id
    return fire


def _experta_rules(rule: RuleSpec, salience: int, positive_reads: frozenset,
                   tests: Mapping) -> dict:
    """The experta rules of one rulebook rule, by name: its id, then id/2, id/3... for the
    further conjunctions of its condition."""
    out = {}
    for n, conjunction in enumerate(_conjunctions(rule), start=1):
        name = rule.id if n == 1 else f"{rule.id}/{n}"
        patterns = []
        answer_conds = [atom[1] for atom in conjunction if atom[0] == "answers"]
        closed_conds = [atom[1] for atom in conjunction if atom[0] == "closed"]
        if answer_conds:
            bit = 1 << tests[_answers_node(answer_conds)]
            patterns += [xp.AS.answers << Answers(), xp.TEST(_key_test(bit))]
        for atom in conjunction:
            if atom[0] == "finding":
                _, kind, value = atom
                of_kind = finding_type(kind, value, positive_reads)
                patterns.append(of_kind(value=value) if of_kind is finding_type(kind)
                                and value is not None else of_kind())
        if closed_conds:
            patterns += [xp.AS.snapshot << snapshot_type(rule.stratum - 1)(),
                         xp.TEST(_snapshot_test(closed_conds))]
        # Within a cycle rules fire in rulebook order (salience), so the reasons read in the order
        # a clinician wrote them: duration, red flags, causes, urgency, stretches.
        out[name] = xp.Rule(*patterns, salience=salience)(_rhs(rule, name, positive_reads))
    return out


class _Matcher(xp.ReteMatcher):
    """experta's Rete matcher with its per-call bookkeeping done once (same network, same results).

    ``changes`` is called after every rule firing. The stock one walks the network to find its
    conflict-set nodes on every call when more than one engine exists (an ``lru_cache`` of size 1
    shared by all engines) and asks each of them for its changes; this one lists them once and asks
    only those with something to report, in the same order. ``reset`` clears each node's memory
    once instead of once per path that reaches it, and a conflict-set node's only when a token
    has reached it since the last reset (nothing else adds to that memory).
    """

    def __init__(self, engine):
        super().__init__(engine)
        self._conflict_set_nodes = tuple(self._get_conflict_set_nodes())
        nodes: dict[int, Any] = {}
        pending = [self.root_node]
        while pending:
            node = pending.pop()
            if id(node) not in nodes:
                nodes[id(node)] = node
                pending.extend(child.node for child in node.children)
        self._dirty: set[int] = set()
        self._track_conflict_sets(nodes.values())
        self._dispatch_on_key()
        self._dispatch_on_type()
        # nodes without memory (the root, alpha tests, TESTs) have nothing to clear; a
        # conflict-set node's memory is cleared only if a token reached it since the last reset
        no_memory = type(self.root_node)._reset
        conflict_sets = {id(node) for node in self._conflict_set_nodes}
        self._nodes = tuple(node for node in nodes.values()
                            if type(node)._reset is not no_memory and id(node) not in conflict_sets)
        self._touched: set[int] = set(range(len(self._conflict_set_nodes)))

    def _track_conflict_sets(self, nodes):
        """Note which conflict-set nodes a token reached, so that ``changes`` asks only those.

        ``changes`` runs after every declaration and every firing (about 16 times a case), and
        the stock one asks each of the rules' conflict-set nodes (one per experta rule) whether
        it has anything to report; in a case only a few have. Each edge into a conflict-set node
        gets a callback that records the node's position, then activates it exactly as before.
        """
        position = {id(node): n for n, node in enumerate(self._conflict_set_nodes)}
        dirty = self._dirty
        for parent in nodes:
            children = getattr(parent, "children", None)
            if not children:
                continue
            for index, child in enumerate(children):
                n = position.get(id(child.node))
                if n is not None:
                    children[index] = type(child)(child.node, _noting(dirty, n, child.callback))

    def _dispatch_on_type(self):
        """Send a new fact only down the alpha branch for its own type of fact.

        The root of experta's network passes every fact to one type test per kind of fact the
        rules match (Answers, Finding, Snapshot, experta's InitialFact), and all but one fail: a
        token copy, a log check and a type test each, for every fact of every case. The root gets
        one child instead, ``_TypeDispatch``, which activates the branches whose type test
        (``type(fact) == fact_type``, experta's TypeCheck) names the fact's type, exactly as they
        were (they still run their test), and any other branch unconditionally.
        """
        root = self.root_node
        if root.children:
            dispatch = _TypeDispatch(root.children)
            root.children = [type(root.children[0])(dispatch, dispatch.activate)]

    def _dispatch_on_key(self):
        """Send an Answers token only to the TESTs whose bit of the key is set.

        experta passes the token of the Answers fact to every rule's TEST of the answers (40 in
        the shipped rules), and most of them fail: a third of a run. Each such TEST reads one bit
        of the engine key (``_key_test``), so the node that binds the Answers fact gets one child
        instead: ``_KeyDispatch``, which activates the TEST nodes whose bit is set, exactly as
        they were (they still run their TEST), and any other child unconditionally. The same
        tokens reach the same nodes as before, minus the ones a failing TEST would have dropped.
        """
        for alpha in self.root_node.children:
            for capture in alpha.node.children:
                children = capture.node.children
                if any(_key_bit(child.node) for child in children):
                    dispatch = _KeyDispatch(children)
                    capture.node.children = [type(children[0])(dispatch, dispatch.activate)]

    def reset(self):
        for node in self._nodes:
            node._reset()
        nodes, touched = self._conflict_set_nodes, self._touched
        for n in touched | self._dirty:
            nodes[n]._reset()
        touched.clear()

    def changes(self, adding=None, deleting=None):
        root = self.root_node
        for fact in deleting or ():
            root.remove(fact)
        for fact in adding or ():
            root.add(fact)
        added: list = []
        removed: list = []
        dirty = self._dirty
        if dirty:
            nodes = self._conflict_set_nodes
            for n in sorted(dirty):  # in the stock order of the conflict-set nodes
                node = nodes[n]
                if node.added or node.removed:
                    node_added, node_removed = node.get_activations()
                    added.extend(node_added)
                    removed.extend(node_removed)
            self._touched |= dirty
            dirty.clear()
        return added, removed


def _noting(dirty: set, n: int, activate):
    def activate_noted(token):
        dirty.add(n)
        return activate(token)
    return activate_noted


class _TypeDispatch:
    """The one child of _Matcher's root (see _Matcher._dispatch_on_type): passes a fact's token
    to the branches whose type test names the fact's type, and to every other branch, in the
    root's order."""

    def __init__(self, children):
        self.children = list(children)  # the original ChildNodes: walks of the network see them
        self._tests = tuple((_fact_type(child.node), child.callback) for child in children)
        self._routes: dict = {}

    def _reset(self):  # no memory of its own
        pass

    def activate(self, token):
        for fact in token.data:  # a token from the root holds exactly one fact
            break
        kind = type(fact)
        routes = self._routes.get(kind)
        if routes is None:
            routes = self._routes[kind] = tuple(
                callback for fact_type, callback in self._tests
                if fact_type is None or fact_type == kind)
        for callback in routes:
            callback(token)


def _fact_type(node):
    """The type that an alpha node of the network tests facts for (experta's TypeCheck), or
    None for any other node."""
    matcher = getattr(node, "matcher", None)
    if type(matcher).__name__ == "TypeCheck" and hasattr(matcher, "fact_type"):
        return matcher.fact_type
    return None


def _key_bit(node) -> int:
    """The bit of the engine key that a TEST node of the network reads, or 0."""
    return getattr(getattr(getattr(node, "matcher", None), "test", None), "key_bit", 0)


class _KeyDispatch:
    """One node of _Matcher's network (see _Matcher._dispatch_on_key): passes a token on to each
    child whose TEST reads a bit set in the token's engine key, and to every other child."""

    def __init__(self, children):
        self.children = list(children)  # the original ChildNodes: walks of the network see them
        self._routes = tuple((_key_bit(child.node), child.callback) for child in children)

    def _reset(self):  # no memory of its own
        pass

    def activate(self, token):
        key = token.context["answers"]["key"]
        for bit, callback in self._routes:
            if not bit or key & bit:
                callback(token)


class _Strategy(xp.DepthStrategy):
    """experta's depth strategy, refusing to take an activation off the agenda.

    Removal is where experta 1.9.4's agenda bug lives. This engine never needs it (no NOT, no
    retract, no modify), so a removal can only mean that assumption broke: stop, don't guess.
    """

    def get_key(self, activation):
        # The same key as DepthStrategy's (salience, then the newest facts first), without its
        # lru_cache: a new activation's key is unset, so it never equals a cached one, and
        # activations of earlier cases that hash alike made each lookup compare rules and facts
        # only to miss (5% of a case).
        return (activation.rule.salience,
                sorted((fact["__factid__"] for fact in activation.facts), reverse=True))

    def update_agenda(self, agenda, added, removed):
        if removed:
            names = ", ".join(sorted(getattr(a.rule, "__name__", "?") for a in removed))
            raise EngineInconsistency(f"experta cancelled activations ({names}); this engine is "
                                      f"built never to need that")
        super().update_agenda(agenda, added, removed)


class _TriageEngine(xp.KnowledgeEngine):
    """Base of the generated engines: per-case bookkeeping and a cached deffacts lookup."""

    __matcher__ = _Matcher
    __strategy__ = _Strategy

    def start_case(self):
        self.fired: list[str] = []
        self.fired_ids: set[str] = set()
        self.findings: dict[str, set] = {}

    def get_deffacts(self):
        # experta looks deffacts up with inspect.getmembers on every reset(); they never change.
        cached = self.__dict__.get("_deffacts")
        if cached is None:
            cached = self.__dict__["_deffacts"] = super().get_deffacts()
        return cached

    def reset(self):
        """experta 1.9.4's ``reset()`` step for step (a new agenda and fact list, the matcher's
        memories cleared, the deffacts declared), minus its ``inspect.signature`` of each deffact
        on every call, which only sorts out keyword arguments: this engine never passes any, and
        experta then calls each deffact with none, as here."""
        self.agenda = xp.Agenda()
        self.facts = xp.FactList()
        self.matcher.reset()
        self._KnowledgeEngine__declare(*[fact for deffact in self.get_deffacts()
                                         for fact in deffact()])
        self.running = False

    def run(self, steps=float("inf")):
        """experta 1.9.4's ``run()`` step for step, except that the text of its log line for each
        firing (every fact of the activation turned into a string) is built only when that
        logger would write it (triage/_experta.py keeps experta's loggers quiet). Whether the
        AGENDA and RULES loggers write is asked once per call, not once per firing."""
        self.running = True
        execution = 0
        watchers = xp.watchers
        show_agenda = watchers.worth("AGENDA", "DEBUG")
        show_firings = watchers.RULES.isEnabledFor(logging.INFO)
        while steps > 0 and self.running:
            added, removed = self.get_activations()
            self.strategy.update_agenda(self.agenda, added, removed)
            if show_agenda:
                for index, pending in enumerate(self.agenda.activations):
                    watchers.AGENDA.debug("%d: %r %r", index, pending.rule.__name__,
                                          ", ".join(str(f) for f in pending.facts))
            activation = self.agenda.get_next()
            if activation is None:
                break
            steps -= 1
            execution += 1
            if show_firings:
                watchers.RULES.info("FIRE %s %s: %s", execution, activation.rule.__name__,
                                    ", ".join(str(f) for f in activation.facts))
            activation.rule(self, **{k: v for k, v in activation.context.items()
                                     if not k.startswith("__")})
        self.running = False


def build_engine_class(rulebook: Rulebook) -> type:
    """One experta KnowledgeEngine subclass for the rulebook's active rules."""
    rules = rulebook.active_rules
    positive_reads = _positive_reads(rules)
    positions = {leaf: n for n, leaf in enumerate(rule_atoms(rules))}
    tests = engine_tests(rules)
    lines = ["key = 0"]
    for node, n in tests.items():
        lines += [f"if {_bits_expression(node, positions)}:", f"    key |= {1 << n}"]
    # key_of(bits): the engine key of an atom vector, one bit per test of the answers
    key_of = generated_function("engine_key", "_b", lines + ["return key"], [])

    attrs: dict[str, Any] = {"rulebook_version": rulebook.version,
                             "key_of": staticmethod(key_of),
                             "snapshots": _snapshot_plan(rules),
                             "rules_by_id": {rule.id: rule for rule in rules},
                             # the cross-check's own evaluation of each rule (conditions.py)
                             "cross_checks": tuple((rule, compile_check(rule.when))
                                                   for rule in rules),
                             # ...and of all of them at once, one bit per rule (_check_vector)
                             "rules_holding": staticmethod(compile_checks(
                                 [rule.when for rule in rules]))}
    for index, rule in enumerate(rules):
        attrs.update(_experta_rules(rule, len(rules) - index, positive_reads, tests))
    return type("TriageEngine", (_TriageEngine,), attrs)


def _snapshot_plan(rules) -> tuple:
    """(stratum, kinds) for each stratum whose rules read absences or counts, lowest first.

    Snapshot(stratum=s - 1) is declared only when some rule of stratum s reads one, and it carries
    only the kinds of finding that those rules read.
    """
    kinds_by_stratum: dict[int, set] = {}
    for rule in rules:
        for conjunction in _conjunctions(rule):
            for atom in conjunction:
                if atom[0] == "closed":
                    kinds = kinds_by_stratum.setdefault(rule.stratum, set())
                    kinds.update(leaf.kind for leaf in iter_leaves(atom[1]))
    return tuple((stratum, tuple(sorted(kinds_by_stratum[stratum])))
                 for stratum in sorted(kinds_by_stratum))


# id(rulebook) -> (weak reference to it, its engine). Not a WeakKeyDictionary: that hashes the
# frozen Rulebook, i.e. every rule's condition tree, on every lookup (a tenth of a case's time).
_ENGINES: dict[int, tuple] = {}


def engine_for(rulebook: Rulebook):
    """The engine of a rulebook, built on first use and reused for every case after."""
    entry = _ENGINES.get(id(rulebook))
    if entry is not None and entry[0]() is rulebook:
        return entry[1]
    engine = build_engine_class(rulebook)()
    # one engine holds one case at a time: threads (the web server's request threads) take turns
    engine.case_lock = threading.Lock()
    key = id(rulebook)

    def forget(ref, key=key):
        if _ENGINES.get(key, (None,))[0] is ref:
            del _ENGINES[key]

    _ENGINES[key] = (weakref.ref(rulebook, forget), engine)
    return engine


# --------------------------------------------------------------------------- running

def run_rules(answers: Mapping[str, Any], rulebook: Rulebook) -> tuple[list[str], dict]:
    """Run the engine on validated answers: the rule ids in firing order, and the findings.

    The engine reads a case through its *engine key* only: one bit for each distinct test of the
    answers that its rules make (``engine_tests``), each computed from the case's atoms
    (triage/engine/decisions.py), which include the derived quantities such as the age at onset."""
    engine = engine_for(rulebook)
    plan = plan_for(rulebook)[0]
    return _run_key(engine, engine.key_of(plan.bits(facts_of(rulebook, answers))))


def _run_key(engine, key: int) -> tuple[list[str], dict]:
    """One run of the experta engine for an engine key."""
    with engine.case_lock:  # the engine's working memory is shared: one case at a time
        engine.reset()
        engine.start_case()
        engine.declare(Answers(key=key))
        engine.run()
        findings = engine.findings
        for stratum, kinds in engine.snapshots:
            engine.declare(snapshot_type(stratum - 1)(**{kind: frozenset(findings[kind])
                                                         for kind in kinds if kind in findings}))
            engine.run()
        return list(engine.fired), {k: set(v) for k, v in engine.findings.items()}


def _engine_result(rulebook: Rulebook, valid: Mapping[str, Any],
                   bits: int) -> tuple[EngineResult, dict | None]:
    """The engine's result for a case (its validated answers and atom vector), run once per
    distinct engine key. A new key is cross-checked on this case at once, and its evidence
    returned; a known key gives None for the evidence."""
    engine = engine_for(rulebook)
    key = engine.key_of(bits)
    plan = plan_for(rulebook)[0]
    result = plan.engine_results.get(key)
    if result is not None:
        return result, None
    fired, findings = run_rules(valid, rulebook)  # computes the same key again (one place to run)
    # the cross-check computes the derived quantities again, independently of the engine key
    evidence = _cross_check(rulebook.with_derived(valid), rulebook, fired, findings)
    fired_mask, evidence_mask = plan.masks(fired)
    result = EngineResult(fired, findings, _outcome(rulebook, findings), fired_mask=fired_mask,
                          evidence_mask=evidence_mask)
    plan.engine_results.put(key, result)
    return result, evidence


def _check_vector(facts: Mapping[str, Any], rulebook: Rulebook, result: EngineResult) -> None:
    """The cross-check of one new atom vector whose engine key was decided before: the rules
    that hold on this case's own facts (``conditions.compile_checks``: not the atom vector, nor
    the engine key, nor the engine's compiled tests) and the engine's conclusions must be exactly
    the rules that fired. On any difference the full cross-check names the rule and raises."""
    if engine_for(rulebook).rules_holding(facts, result.findings) != result.fired_mask:
        _cross_check(facts, rulebook, result.fired, result.findings)
        raise EngineInconsistency("the engine's rules and the plain-Python check of them "
                                  "disagree on this case")  # not reached: the line above raises

def assess(answers: Mapping[str, Any], rulebook: Rulebook, *, source: str = "answers",
           cache: bool | None = None) -> Assessment:
    """Assess one case. Raises AnswersError for answers that do not fit the questionnaire.

    With the decision cache (the default; ``cache=False`` or TRIAGE_NO_CACHE=1 turns it off) the
    engine and the cross-check run once per distinct atom vector (triage/engine/decisions.py); the
    result is the same, byte for byte."""
    if not cache_enabled(cache):
        valid = rulebook.questionnaire.validate(answers, source=source)
        fired, findings = run_rules(valid, rulebook)
        # the cross-check computes the derived quantities again, independently of run_rules
        evidence = _cross_check(rulebook.with_derived(valid), rulebook, fired, findings)
        return _assessment(valid, rulebook, fired, findings, evidence)
    plan, valid, facts, decision = _cached_decision(answers, rulebook, source)
    return decision.assessment(plan, valid, facts)


def assess_json(answers: Mapping[str, Any], rulebook: Rulebook, *, source: str = "answers",
                head: Mapping | None = None, cache: bool | None = None) -> str:
    """``json.dumps({**head, **assess(...).to_dict()}, ensure_ascii=False)``: one line of
    `triage batch`. With the cache, written from the decision without building an Assessment."""
    head = dict(head or {})
    if not cache_enabled(cache):
        head.update(assess(answers, rulebook, source=source, cache=False).to_dict())
        return json.dumps(head, ensure_ascii=False)
    plan, valid, facts, decision = _cached_decision(answers, rulebook, source)
    return decision.json_line(plan, valid, facts, head)


def _cached_decision(answers: Mapping[str, Any], rulebook: Rulebook, source: str):
    """decisions.cached_decision, the engine deciding each new atom vector (``decide``)."""
    return cached_decision(answers, rulebook, source, lambda valid, plan, bits, facts: decide(
        valid, rulebook, plan, bits, facts))


def assess_outcome(answers: Mapping[str, Any], rulebook: Rulebook, *, source: str = "answers",
                   cache: bool | None = None, valid: Mapping[str, Any] | None = None) -> dict:
    """The parts of the assessment that follow from the conclusions (urgency, duration class,
    red flags, causes, stretches, ...), for `triage rules diff`: no reasons are rendered.
    `valid`: the answers already validated by this rulebook's questionnaire (or an equal one)."""
    if not cache_enabled(cache):
        result = assess(answers, rulebook, source=source, cache=False)
        return {key: getattr(result, key) for key in ("urgency", "duration_class", "red_flags",
                                                       "causes", "stretches", "posture_signs",
                                                       "avoided_stretches", "review_in_days")}
    plan, decisions = plan_for(rulebook)
    if valid is None:
        valid = plan.validator.validate(answers, source=source)
    facts = plan.facts(valid)
    bits = plan.bits(facts)
    # the outcome follows from the engine's result alone (no reasons): atom vector -> result
    result = plan.outcomes.get(bits)
    if result is None:
        result, evidence = _engine_result(rulebook, valid, bits)
        if evidence is None:  # a known engine key: check it on this atom vector's own facts
            _check_vector(rulebook.with_derived(valid), rulebook, result)
        plan.outcomes.put(bits, result)
    return result.outcome


def decide(valid: Mapping[str, Any], rulebook: Rulebook, plan=None,
           bits: int | None = None, facts: Mapping[str, Any] | None = None) -> Decision:
    """The Decision for one case's atom vector: the engine's result for its engine key (run once
    per distinct key, and cross-checked in full on the case that first has it), checked against
    this case's own facts (``_check_vector``), with the plan of its reasons. The plan depends only
    on the findings and on the atoms that the fired rules read (``EngineResult.evidence_mask``),
    so it is made once per (engine key, those atoms) and shared."""
    if plan is None:
        plan = plan_for(rulebook)[0]
    if facts is None:
        facts = facts_of(rulebook, valid)
    if bits is None:
        bits = plan.bits(facts)
    result, evidence = _engine_result(rulebook, valid, bits)
    engine = engine_for(rulebook)
    shared_key = (engine.key_of(bits), bits & result.evidence_mask)
    if evidence is None:  # a known engine key: check its result against this case's facts
        # (derived quantities computed again by the tree walk, not by the compiled plan.facts)
        _check_vector(rulebook.with_derived(valid), rulebook, result)
        decision = plan.by_evidence.get(shared_key)
        if decision is not None:
            return decision
        rules_by_id, findings = engine.rules_by_id, result.findings
        evidence = {rule_id: evaluate_with_evidence(rules_by_id[rule_id].when, facts,
                                                    findings)[1]
                    for rule_id in result.fired}
    decision = make_decision(plan, engine.rules_by_id, result, evidence)
    plan.by_evidence.put(shared_key, decision)
    return decision


def _cross_check(answers, rulebook, fired, findings) -> dict:
    """Check the engine against plain Python: a rule fired exactly when its condition holds on the
    final answers and findings (``conditions.compile_check``, which means what
    ``conditions.evaluate`` means; not the engine's compiled tests). Returns the evidence of each
    fired rule, for its reason."""
    return check_fired_rules(engine_for(rulebook).cross_checks, answers, fired, findings)


def _outcome(rulebook: Rulebook, findings) -> dict:
    """The parts of an assessment decided by the conclusions alone (the same for every case with
    the same atom vector); a RulebookError when the rules concluded no usable outcome."""
    urgencies = findings.get("urgency", set())
    if not urgencies:
        raise RulebookError("no rule concluded an urgency for this case (the rulebook needs a "
                            "default self-care rule)", file=rulebook.directory)
    urgency = max(urgencies, key=URGENCY_RANK.__getitem__)
    durations = findings.get("duration_class", set())
    if len(durations) != 1:
        raise RulebookError(f"the rules concluded {len(durations)} duration classes "
                            f"({', '.join(sorted(durations)) or 'none'}); exactly one is needed",
                            file=rulebook.directory)
    avoid = findings.get("avoid_stretch", set())
    if urgency in NO_STRETCHES_AT:
        stretches: list[str] = []
    else:
        stretches = [s for s in rulebook.stretches
                     if s in findings.get("stretch", set()) and s not in avoid]
    if urgency == "self_care" and not stretches:
        raise RulebookError("self-care with no stretch left to recommend: the rules avoided every "
                            "stretch they chose", file=rulebook.directory)
    return {
        "urgency": urgency,
        "duration_class": next(iter(durations)),
        "red_flags": [f for f in RED_FLAGS if f in findings.get("red_flag", set())],
        "causes": [c for c in CAUSES if c in findings.get("cause", set())],
        "stretches": stretches,
        "posture_signs": sorted(findings.get("posture_sign", set())),
        "avoided_stretches": [s for s in rulebook.stretches if s in avoid],
        "rulebook_version": rulebook.version,
        "review_in_days": review_in_days(rulebook, urgency, findings),
    }


REVIEW_PARAMETERS = ("review_days", "review_days_sooner")


def review_in_days(rulebook: Rulebook, urgency: str, findings) -> int | None:
    """Contract section 3 (version 3): on self-care and soon, the days within which to see a
    professional if it is not clearly better (`soon`: book within that many days); None on urgent
    and emergency. The parameter review_days, or review_days_sooner when a rule concluded
    `review: sooner`. A rulebook without these parameters gives None (no date is promised)."""
    if urgency not in ("self_care", "soon"):
        return None
    name = "review_days_sooner" if "sooner" in findings.get("review", ()) else "review_days"
    parameter = rulebook.parameters.get(name)
    return None if parameter is None else int(parameter.value)


def _assessment(answers, rulebook: Rulebook, fired, findings, evidence=None) -> Assessment:
    outcome = _outcome(rulebook, findings)
    reasons = []
    rules_by_id = engine_for(rulebook).rules_by_id
    questions = rulebook.questionnaire.questions  # reasons name answers by their labels
    for rule_id in fired:
        rule = rules_by_id[rule_id]
        if evidence is not None and rule_id in evidence:
            leaves = evidence[rule_id]
        else:
            _, leaves = evaluate_with_evidence(rule.when, rulebook.with_derived(answers),
                                               findings)
        reasons.append(Reason(rule.id, reason_text(
            rule.title, [describe_evidence(e, questions) for e in leaves if e.supports])))
    red_flag_questions = rulebook.questionnaire.red_flag_questions
    return Assessment(
        reasons=reasons,
        unanswered_red_flags=[q for q in red_flag_questions if q not in answers],
        answers=dict(answers),
        risk_group=risk_group_of(outcome["urgency"],
                                 rulebook.with_derived(answers).get(RESULT)),
        **outcome,
    )
