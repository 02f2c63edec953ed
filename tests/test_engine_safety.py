"""The engine is immune to experta 1.9.4's agenda bug, by construction, and checks itself.

The bug (shown on stock experta in part 1 below): when three or more activations share a salience and
the same facts -- typically rules whose only pattern is a NOT -- experta cancels only some of them
when the NOT stops holding, and the rest fire. A "no red flag, so self-care" rule written that way
can fire although the red flag is present.

This file shows, with one checker:
  1. the naive shape on stock experta does misfire (so the checker can catch the bug);
  2. the same policy written in our rule grammar, compiled by triage/engine/rete.py, never does, and the
     shipped rules never give self-care beside a red flag;
  3. why: no compiled rule holds a NOT (or EXISTS/FORALL, which experta builds from NOT nodes), and
     an assessment never retracts or modifies a fact, so no activation is ever cancelled;
  4. the second line of defence: when the engine and the plain-Python check disagree, assess raises
     EngineInconsistency and the command line exits 1 with "Internal error", printing no advice.
"""
from __future__ import annotations

import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage import _experta as xp
from triage import cli
from triage.engine import rete as engine
from triage.conditions import (All, AnswerTest, AnyOf, CountTest, FindingTest, Not, Unanswered,
                               compile_checks, evaluate, evaluate_with_evidence)
from triage.contract import RED_FLAGS
from triage.engine import EngineInconsistency, assess, run_rules
from triage.resources import rules_dir
from triage.rulebook import load_rulebook
from support import depth

SHIPPED = load_rulebook()
QUESTIONNAIRE = SHIPPED.questionnaire
RED_FLAG_QUESTIONS = QUESTIONNAIRE.red_flag_questions


# --------------------------------------------------------------------------- the one checker

@dataclass(frozen=True)
class RunResult:
    """What one run concluded: the red flags, and each piece of advice given with the red flags
    that forbid it (advice that is only safe when they are absent)."""
    red_flags: frozenset
    advice: dict  # advice -> frozenset of red flags, any one of which forbids it


def assert_no_advice_beside_red_flag(result: RunResult) -> None:
    wrong = {advice: sorted(forbidden & result.red_flags)
             for advice, forbidden in result.advice.items() if forbidden & result.red_flags}
    assert not wrong, f"advice given although a red flag forbidding it is present: {wrong}"


# --------------------------------------------------------------------------- 1. the naive shape

N_DEFAULT_RULES = 8


class Symptom(xp.Fact):
    pass


class RedFlag(xp.Fact):
    pass


class Advice(xp.Fact):
    pass


def naive_engine(n: int):
    """Rule i: Symptom(kind=i) -> RedFlag(kind=i), salience 100 + i; and the default rule
    "NOT RedFlag(kind=i) -> Advice(i)", all at salience 0: the shape of the repro."""
    return type(f"Naive{n}", (xp.KnowledgeEngine,), naive_rules(n))()


def naive_rules(n: int) -> dict:
    """The repro's rules, by name, to put on any engine class."""
    attrs = {}
    for i in range(n):
        def red(self, i=i):
            self.declare(RedFlag(kind=i))
        attrs[f"red_{i}"] = xp.Rule(Symptom(kind=i), salience=100 + i)(red)

        def advise(self, i=i):
            self.declare(Advice(n=i))
        attrs[f"advice_{i}"] = xp.Rule(xp.NOT(RedFlag(kind=i)), salience=0)(advise)
    return attrs


def run_naive(n: int) -> RunResult:
    e = naive_engine(n)
    e.reset()
    e.declare(*[Symptom(kind=i) for i in range(n)])  # every red flag is present
    e.run()
    facts = list(e.facts.values())
    return RunResult(
        red_flags=frozenset(f["kind"] for f in facts if isinstance(f, RedFlag)),
        advice={f"advice_{f['n']}": frozenset({f["n"]}) for f in facts if isinstance(f, Advice)})


def test_the_checker_catches_the_bug_on_stock_experta():
    """Each fresh engine orders its tied activations differently (they hash by identity), so how
    many misfire varies from run to run (1 to 6 of 8 here); for all 8 to be cancelled, each would
    have to sit in the two slots experta looks at, about 1 run in 300."""
    runs = [run_naive(N_DEFAULT_RULES) for _ in range(5)]
    with pytest.raises(AssertionError, match="advice given although a red flag"):
        for result in runs:
            assert_no_advice_beside_red_flag(result)


def test_the_checker_passes_a_correct_run():
    # One default rule alone is cancelled correctly even by stock experta: the checker is not
    # simply always failing.
    assert_no_advice_beside_red_flag(run_naive(1))


# --------------------------------------------------------------------------- 2. the same policy, ours

SYNTHETIC_FLAGS = RED_FLAGS  # 7 red flags
SYNTHETIC_QUESTIONS = [q for q in RED_FLAG_QUESTIONS if QUESTIONNAIRE.questions[q].type == "bool"
                       and QUESTIONNAIRE.questions[q].skip_if is None][:len(SYNTHETIC_FLAGS)]
STRETCHES = list(SHIPPED.stretches)
N_SYNTHETIC_DEFAULTS = min(len(STRETCHES), 10)


def _rule(rid, when, then):
    return {"id": rid, "title": rid, "status": "active", "version": 1,
            "rationale": "Synthetic rule for the agenda-bug test.",
            "references": ["tests/test_engine_safety.py (the agenda bug)"], "when": when, "then": then}


@pytest.fixture(scope="module")
def synthetic_rulebook(tmp_path_factory):
    """The repro's policy in our grammar: a red-flag rule per flag, and N >= 8 default rules
    "no red flag F -> recommend stretch S", all in the same stratum (the naive shape's equal
    salience), plus just enough to make a full assessment (a duration and an urgency)."""
    assert len(SYNTHETIC_QUESTIONS) == len(SYNTHETIC_FLAGS) and N_SYNTHETIC_DEFAULTS >= 8
    directory = tmp_path_factory.mktemp("synthetic_rules")
    shipped = rules_dir()
    for name in ("questionnaire.yaml", "stretches.yaml"):
        (directory / name).write_text((shipped / name).read_text(encoding="utf-8"),
                                      encoding="utf-8")
    meta = yaml.safe_load((shipped / "rulebook.yaml").read_text(encoding="utf-8"))
    meta["rule_files"] = ["synthetic.yaml"]
    meta.pop("instruments", None)  # no risk screen: the synthetic rules read none of its band
    (directory / "rulebook.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    rules = [_rule(f"RED-{i}", {question: True}, {"red_flag": flag})
             for i, (question, flag) in enumerate(zip(SYNTHETIC_QUESTIONS, SYNTHETIC_FLAGS))]
    rules += [_rule(f"DEFAULT-{j}", {"not": {"red_flag": SYNTHETIC_FLAGS[j % 7]}},
                    {"stretch": STRETCHES[j]}) for j in range(N_SYNTHETIC_DEFAULTS)]
    rules += [_rule("DURATION", {"trauma": {"in": ["none", "minor", "major"]}},
                    {"duration_class": "acute"}),
              _rule("URGENT", {"red_flag": "any"}, {"urgency": "urgent"}),
              _rule("SELFCARE", {"not": {"red_flag": "any"}}, {"urgency": "self_care"})]
    (directory / "synthetic.yaml").write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
    rulebook = load_rulebook(directory)
    defaults = [r for r in rulebook.active_rules if r.id.startswith("DEFAULT-")]
    assert len({r.stratum for r in defaults}) == 1  # all in one stratum, like the naive shape
    return rulebook


def synthetic_result(rulebook, answers) -> RunResult:
    fired, findings = run_rules(QUESTIONNAIRE.validate(answers), rulebook)
    forbidden_by = {STRETCHES[j]: frozenset({SYNTHETIC_FLAGS[j % 7]})
                    for j in range(N_SYNTHETIC_DEFAULTS)}
    advice = {s: forbidden_by[s] for s in findings.get("stretch", ())}
    if "SELFCARE" in fired:
        advice["SELFCARE"] = frozenset(SYNTHETIC_FLAGS)
    return RunResult(frozenset(findings.get("red_flag", ())), advice)


def test_the_same_policy_compiled_by_our_engine_never_misfires(synthetic_rulebook):
    every_flag = {"age": 40, "duration_weeks": 2, "trauma": "none",
                  **{q: True for q in SYNTHETIC_QUESTIONS}}
    for _ in range(50):
        result = synthetic_result(synthetic_rulebook, every_flag)
        assert result.red_flags == frozenset(SYNTHETIC_FLAGS)
        assert_no_advice_beside_red_flag(result)
        assert result.advice == {}
        assessment = assess(every_flag, synthetic_rulebook)  # and the cross-check agrees
        assert assessment.urgency == "urgent" and assessment.stretches == []


def test_each_subset_of_flags_cancels_exactly_its_defaults(synthetic_rulebook):
    """Every subset of the 7 flags: advice j is given exactly when flag j % 7 is absent."""
    for size in range(len(SYNTHETIC_QUESTIONS) + 1):
        for present in itertools.combinations(range(len(SYNTHETIC_QUESTIONS)), size):
            answers = {"age": 40, "duration_weeks": 2, "trauma": "none",
                       **{q: i in present for i, q in enumerate(SYNTHETIC_QUESTIONS)}}
            result = synthetic_result(synthetic_rulebook, answers)
            assert_no_advice_beside_red_flag(result)
            expected = {STRETCHES[j] for j in range(N_SYNTHETIC_DEFAULTS) if j % 7 not in present}
            assert set(result.advice) - {"SELFCARE"} == expected


def _calm_case(age=40, trauma="none") -> dict:
    """Every red-flag question answered with a non-alarming answer."""
    case = {"age": age, "duration_weeks": 2, "trauma": trauma}
    for qid in RED_FLAG_QUESTIONS:
        q = QUESTIONNAIRE.questions[qid]
        case[qid] = next(v for v in q.values if v not in q.alarming)
    return case


def _alarming_answers():
    return [(qid, value) for qid in RED_FLAG_QUESTIONS
            for value in QUESTIONNAIRE.questions[qid].alarming]


def shipped_result(answers) -> tuple[RunResult, object]:
    """Self-care is advice that any red flag forbids (contract section 3: self_care only when no
    other rule raises urgency; every red flag raises it)."""
    assessment = assess(answers, SHIPPED)
    advice = {}
    if assessment.urgency == "self_care":
        advice["urgency self_care"] = frozenset(RED_FLAGS)
    if any(r.id == "UR-SELFCARE-01" for r in assessment.reasons):
        advice["UR-SELFCARE-01"] = frozenset(RED_FLAGS)
    return RunResult(frozenset(assessment.red_flags), advice), assessment


@pytest.mark.parametrize("age, trauma", [(15, "none"), (40, "none"), (40, "minor"),
                                         (55, "none"), (75, "minor"), (40, "major")])
def test_shipped_rules_never_give_self_care_beside_a_red_flag(age, trauma):
    """Every alarming answer to every red-flag question, alone and in pairs, at ages on each side
    of the rules' age thresholds (aneurysm and cancer from 50, fragility fracture from 70)."""
    singles = [[a] for a in _alarming_answers()]
    pairs = [list(p) for p in itertools.combinations(_alarming_answers(), 2) if p[0][0] != p[1][0]]
    for alarming in singles + pairs:
        answers = {**_calm_case(age, trauma), **dict(alarming)}
        result, assessment = shipped_result(answers)
        assert_no_advice_beside_red_flag(result)
        if assessment.red_flags:
            assert assessment.urgency != "self_care"


def test_shipped_rules_flag_the_contract_red_flags_without_self_care():
    """A case per contract red flag (contract section 3), each run repeatedly: the agenda bug was
    "differently from run to run", so one clean run proves little."""
    cases = {
        "non_spinal": {"chest_pain": True},
        "cauda_equina": {"saddle_numbness": True},
        # policy version 3: past cancer alone is a prompt (soon, no flag); with night pain it is
        # the same-day malignancy row (NG234)
        "malignancy": {"cancer_history": True, "night_pain": True},
        "aaa": {"abdominal_pain": True, "age": 60},
        "fracture": {"trauma": "major"},
        "infection": {"fever": True},
        "progressive_neuro": {"leg_weakness": "worsening"},
        # policy version 3: NICE NG65's own criteria (4 features with onset before 45)
        "inflammatory": {"night_waking_late": True, "buttock_pain": True,
                         "better_with_exercise": True, "duration_weeks": 20, "age": 30},
    }
    assert set(cases) == set(RED_FLAGS)
    for flag, answers in cases.items():
        for _ in range(5):
            result, assessment = shipped_result({**_calm_case(), **answers})
            assert flag in assessment.red_flags
            assert_no_advice_beside_red_flag(result)


# --------------------------------------------------------------------------- 3. structure

def _walk_conditional_elements(element):
    yield element
    if isinstance(element, xp.ConditionalElement):  # Rule, AND, OR, NOT, TEST, EXISTS, FORALL
        for child in element:
            yield from _walk_conditional_elements(child)


def test_no_compiled_rule_uses_a_negation_element():
    e = engine.engine_for(SHIPPED)
    rules = e.get_rules()
    assert len(rules) >= len(SHIPPED.active_rules)
    negations = (xp.NOT, xp.EXISTS, xp.FORALL)  # experta builds EXISTS and FORALL from NOT nodes
    for rule in rules:
        bad = [type(el).__name__ for el in _walk_conditional_elements(rule)
               if isinstance(el, negations)]
        assert not bad, f"{rule.__name__} contains {bad}"
    # and so the Rete network experta built holds no NOT node at all
    nodes, pending = set(), [e.matcher.root_node]
    while pending:
        node = pending.pop()
        if id(node) not in nodes:
            nodes.add(id(node))
            assert type(node).__name__ != "NotNode"
            pending.extend(child.node for child in node.children)


def test_the_walker_does_see_a_negation():
    # the structural test above could pass vacuously if the walk never reached a NOT
    found = [el for rule in naive_engine(2).get_rules()
             for el in _walk_conditional_elements(rule) if isinstance(el, xp.NOT)]
    assert len(found) == 2


def _varied_cases():
    cases = [_calm_case(), {"age": 40, "duration_weeks": 2, "trauma": "none"}]
    cases += [{**_calm_case(age), qid: value} for age in (30, 75)
              for qid, value in _alarming_answers()]
    cases += [{**_calm_case(), "pelvis_tips_forward": True, "tight_hip_flexors": True},
              {**_calm_case(), "leg_pain": "below_knee", "duration_weeks": 14}]
    return cases


def test_an_assessment_never_retracts_or_modifies_a_fact(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a fact was retracted or modified during an assessment")

    e = engine.engine_for(SHIPPED)
    monkeypatch.setattr(type(e), "retract", refuse)
    monkeypatch.setattr(type(e), "modify", refuse)
    monkeypatch.setattr(type(e.facts), "retract", refuse)  # the fact list's own removal, too
    for case in _varied_cases():
        assess(case, SHIPPED)


def test_no_activation_is_ever_cancelled():
    """The strategy refuses to remove an activation (the path where the bug lives); assessing
    many varied cases therefore proves none was ever removed."""
    for case in _varied_cases():
        assess(case, SHIPPED)  # would raise EngineInconsistency on any removal


def test_a_naive_rule_in_our_engine_stops_instead_of_misfiring():
    """Should someone hand-write a NOT rule on our engine base, the strategy's guard stops the run
    at the first cancelled activation, rather than letting the stale ones fire."""
    guarded = type("Guarded", (engine._TriageEngine,), naive_rules(N_DEFAULT_RULES))()
    guarded.reset()
    guarded.declare(*[Symptom(kind=i) for i in range(N_DEFAULT_RULES)])
    with pytest.raises(EngineInconsistency, match="cancelled activations"):
        guarded.run()
    assert not any(isinstance(f, Advice) for f in guarded.facts.values())


# --------------------------------------------------------------------------- 4. the cross-check

RED_FLAG_CASE = {**_calm_case(), "saddle_numbness": True}


def _dropping(rule_id):
    def patched(answers, rulebook):
        fired, findings = run_rules(answers, rulebook)
        assert rule_id in fired, f"{rule_id} should fire on this case"
        return [r for r in fired if r != rule_id], findings
    return patched


def _adding(rule_id, kind, value):
    """What the agenda bug does: a default rule fires although its condition no longer holds."""
    def patched(answers, rulebook):
        fired, findings = run_rules(answers, rulebook)
        findings.setdefault(kind, set()).add(value)
        return fired + [rule_id], findings
    return patched


def test_the_cross_check_catches_a_rule_that_did_not_fire(monkeypatch):
    monkeypatch.setattr(engine, "run_rules", _dropping("RF-CES-01"))
    with pytest.raises(EngineInconsistency, match="RF-CES-01: the engine did not fire it"):
        assess(RED_FLAG_CASE, SHIPPED)


def test_the_cross_check_catches_a_stale_default_rule(monkeypatch):
    monkeypatch.setattr(engine, "run_rules", _adding("UR-SELFCARE-01", "urgency", "self_care"))
    with pytest.raises(EngineInconsistency, match="UR-SELFCARE-01: the engine fired it"):
        assess(RED_FLAG_CASE, SHIPPED)


def test_the_command_line_reports_an_inconsistency_as_an_internal_error(
        monkeypatch, capsys, tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(RED_FLAG_CASE), encoding="utf-8")
    monkeypatch.delenv("TRIAGE_DEBUG", raising=False)
    monkeypatch.setattr(engine, "run_rules", _dropping("RF-CES-01"))
    monkeypatch.setattr(sys, "argv", ["triage", "assess", str(answers), "--format", "json"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out, err = capsys.readouterr()
    assert exited.value.code == 1
    assert "Internal error" in err and "EngineInconsistency" in err and "RF-CES-01" in err
    assert out == ""  # no advice at all, rather than wrong advice


def test_without_tampering_the_same_case_assesses(capsys, tmp_path, monkeypatch):
    # the previous test's exit 1 comes from the tampering, not from the case
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(RED_FLAG_CASE), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["triage", "assess", str(answers), "--format", "json"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out)["urgency"] == "emergency"


# --------------------------------------------------------------------------- compiled tests

def _leaves():
    questions = list(QUESTIONNAIRE.questions.values())
    kinds = SHIPPED.finding_values

    def answer_test(q):
        if q.type in ("integer", "number"):
            return st.builds(lambda op, x: AnswerTest(q.id, op, x, "p"),
                             st.sampled_from([">=", ">", "<", "<="]),
                             st.sampled_from([0, 2, 6, 12, 16, 45, 50, 70, 120]))
        if q.type == "text":
            return st.just(AnswerTest(q.id, "equals", "x"))
        values = q.values
        return st.one_of(
            st.sampled_from(values).map(lambda v: AnswerTest(q.id, "equals", v)),
            st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)
            .map(lambda vs: AnswerTest(q.id, "in", tuple(vs))))

    kind = st.sampled_from(sorted(kinds))
    return st.one_of(
        st.sampled_from(questions).flatmap(answer_test),
        st.lists(st.sampled_from([q.id for q in questions]), min_size=1, max_size=4)
        .map(lambda qs: Unanswered(tuple(qs))),
        kind.flatmap(lambda k: st.one_of(
            st.just(FindingTest(k, None)),
            st.lists(st.sampled_from(kinds[k]), min_size=1, max_size=3, unique=True)
            .map(lambda vs: FindingTest(k, tuple(vs))))),
        st.builds(lambda k, n: CountTest(k, n, "p"), kind, st.integers(0, 4)))


CONDITIONS = st.recursive(
    _leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda c: All(tuple(c))),
        st.lists(children, min_size=1, max_size=4).map(lambda c: AnyOf(tuple(c))),
        children.map(Not)),
    max_leaves=12)


@st.composite
def answers_and_findings(draw):
    answers = {}
    for q in QUESTIONNAIRE.questions.values():
        if draw(st.booleans()):
            continue
        if q.type == "bool":
            answers[q.id] = draw(st.booleans())
        elif q.type == "choice":
            answers[q.id] = draw(st.sampled_from(q.values))
        elif q.type == "text":
            answers[q.id] = draw(st.text(max_size=3))
        else:
            answers[q.id] = draw(st.sampled_from([0, 0.5, 2, 5.5, 6, 11.9, 12, 16, 45, 50, 70, 95]))
    findings = {k: draw(st.sets(st.sampled_from(v), max_size=3))
                for k, v in SHIPPED.finding_values.items() if v and draw(st.booleans())}
    return answers, findings


@settings(max_examples=depth(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONDITIONS, answers_and_findings())
def test_compiled_tests_mean_what_the_grammar_means(condition, case):
    """The engine's compiled TESTs, conditions.evaluate (the cross-check) and the evidence walk
    (the reasons) are three implementations of one grammar: they must agree everywhere, or the
    cross-check would report a bug that is not there (or miss one that is)."""
    _assert_all_agree(condition, *case)


def _assert_all_agree(condition, answers, findings):
    expected = evaluate_with_evidence(condition, answers, findings)[0]
    assert evaluate(condition, answers, findings) == expected, condition
    assert engine._compile(condition)(answers, findings) == expected, condition
    frozen = {k: frozenset(v) for k, v in findings.items()}  # as a Snapshot holds them
    assert engine._compile(condition)(answers, frozen) == expected, condition


def _every_leaf():
    for q in QUESTIONNAIRE.questions.values():
        if q.type in ("integer", "number"):
            for op in (">=", ">", "<", "<="):
                for x in (1, 6, 12, 50):
                    yield AnswerTest(q.id, op, x, "p")
        elif q.values:
            for v in q.values:
                yield AnswerTest(q.id, "equals", v)
            yield AnswerTest(q.id, "in", tuple(q.values[:2]))
        yield Unanswered((q.id,))
    for kind, values in SHIPPED.finding_values.items():
        yield FindingTest(kind, None)
        for v in values:
            yield FindingTest(kind, (v,))
        yield FindingTest(kind, tuple(values[:2]))
        for n in range(min(4, len(values) + 1)):  # a count above the kind's values never holds
            yield CountTest(kind, n, "p")


def test_every_leaf_compiles_to_what_the_grammar_means():
    """Each leaf form, on its own and negated, over cases with and without the answer or finding
    it reads (hypothesis above combines them; this makes sure no leaf form is left out)."""
    import random

    rng = random.Random(7)
    cases = []
    for _ in range(150):
        answers = {q.id: rng.choice(list(q.values) or [0, 5, 6, 12, 49, 50, 80])
                   for q in QUESTIONNAIRE.questions.values() if rng.random() < 0.7}
        findings = {k: set(rng.sample(list(v), rng.randint(0, min(3, len(v)))))
                    for k, v in SHIPPED.finding_values.items() if v and rng.random() < 0.7}
        cases.append((answers, findings))
    for leaf in _every_leaf():
        outcomes = set()
        for answers, findings in cases:
            _assert_all_agree(leaf, answers, findings)
            _assert_all_agree(Not(leaf), answers, findings)
            outcomes.add(evaluate(leaf, answers, findings))
        if not isinstance(leaf, CountTest) or leaf.at_least:
            assert outcomes == {True, False}, f"{leaf} is never {'un' * (True in outcomes)}met"


def test_rules_directory_fixture_is_isolated(synthetic_rulebook):
    # the synthetic rules are a copy: the shipped rules directory was not touched
    assert Path(synthetic_rulebook.directory) != rules_dir().resolve()
    assert not any(r.id.startswith("DEFAULT-") for r in SHIPPED.rules)


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_threads_assessing_at_once_get_the_same_results_as_one_at_a_time():
    # triage serve assesses in its request threads; the engine's working memory is shared, so
    # without taking turns a case reads another's facts (the cross-check then raises)
    import random
    from concurrent.futures import ThreadPoolExecutor

    from triage.engine import assess
    from triage.rulebook import load_rulebook

    import importlib.util
    from pathlib import Path

    # benchmarks/cases.py: random valid answer sets, warning signs now and then
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "cases.py"
    spec = importlib.util.spec_from_file_location("bench_cases", path)
    generated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)
    rulebook = load_rulebook()
    rng = random.Random(7)
    answer_sets = [generated.random_answers(rulebook.questionnaire, rng) for _ in range(300)]
    for cache in (False, True):  # the engine itself, and the decision cache in front of it
        alone = [assess(a, rulebook, cache=cache).to_dict() for a in answer_sets]
        with ThreadPoolExecutor(max_workers=8) as pool:
            together = list(pool.map(lambda a: assess(a, rulebook, cache=cache).to_dict(),
                                     answer_sets))
        assert together == alone


# --------------------------------------------------------------------------- the cross-check's evaluator

def _answer_values(q):
    if q.type == "bool":
        return st.booleans()
    if q.type == "choice":
        return st.sampled_from(list(q.values))
    if q.type in ("integer", "number"):
        low, high = (q.min or 0), (q.max if q.max is not None else 120)
        return st.integers(int(low), int(high)) | st.floats(low, high, allow_nan=False)
    return st.text(max_size=5)


CONCLUSIONS = sorted({pair for rule in SHIPPED.active_rules for pair in rule.then}, key=repr)


@settings(max_examples=depth(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional={qid: st.none() | _answer_values(q)
                                           for qid, q in QUESTIONNAIRE.questions.items()}),
       st.sets(st.sampled_from(CONCLUSIONS)))
def test_the_cross_checks_compiled_conditions_mean_what_evaluate_means(answers, concluded):
    """The cross-check evaluates every rule with conditions.compile_check, and every rule at once
    with conditions.compile_checks (generated Python, for speed); on any answers and any
    conclusions they give what the tree walk (evaluate) gives."""
    from triage.conditions import compile_check, compile_checks, evaluate

    facts = SHIPPED.with_derived({k: v for k, v in answers.items() if v is not None})
    findings: dict = {}
    for kind, value in concluded:
        findings.setdefault(kind, set()).add(value)
    rules = SHIPPED.active_rules
    held = _ALL_RULES_AT_ONCE(facts, findings)
    for n, rule in enumerate(rules):
        expected = evaluate(rule.when, facts, findings)
        assert compile_check(rule.when)(facts, findings) == expected, rule.id
        assert bool(held & (1 << n)) == expected, rule.id
    assert held < 1 << len(rules)


_ALL_RULES_AT_ONCE = compile_checks(
    [rule.when for rule in SHIPPED.active_rules])


@pytest.mark.parametrize("node, facts, findings, expected", [
    (All(()), {}, {}, True),
    (AnyOf(()), {}, {}, False),
    (Not(AnswerTest("age", ">=", 50)), {}, {}, True),  # unanswered fails the test; not: holds
    (AnswerTest("trauma", "in", ("minor", "major")), {"trauma": "minor"}, {}, True),
    (AnswerTest("trauma", "equals", "major"), {"trauma": "minor"}, {}, False),
    (Unanswered(("fever", "night_pain")), {"fever": False}, {}, True),
    (Unanswered(("fever",)), {"fever": False}, {}, False),
    (FindingTest("red_flag", None), {}, {"red_flag": {"ces"}}, True),
    (FindingTest("red_flag", ("fracture", "ces")), {}, {"red_flag": {"ces"}}, True),
    (FindingTest("red_flag", ("fracture",)), {}, {}, False),
    (CountTest("cause", 2, "p"), {}, {"cause": {"a", "b"}}, True),
    (CountTest("cause", 2, "p"), {}, {"cause": {"a"}}, False),
])
def test_the_compiled_check_of_each_kind_of_leaf(node, facts, findings, expected):
    from triage.conditions import compile_check, compile_checks, evaluate

    assert evaluate(node, facts, findings) is expected
    assert compile_check(node)(facts, findings) is expected
    # among others, at any position of the mask
    assert compile_checks([AnyOf(()), node, All(())])(facts, findings) == (
        0b100 | (0b010 if expected else 0))
