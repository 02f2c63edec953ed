"""The decision cache (triage/engine/decisions.py) changes no output: proof of exactness.

* Byte-identical JSON, cached and uncached, on every clinical vignette and on 100,000 generated
  cases of each benchmark workload (benchmarks/workloads.py: realistic and uniform). The uncached
  path runs the experta engine and the cross-check on every case, about a millisecond each, so
  the generated cases are shared out over two processes (the CI machine's two cores); each
  process compares both paths on its share, with its own cache, as a `triage batch` worker does.
  TRIAGE_EXACTNESS_CASES sets another count (e.g. 1000 while iterating).
* Two cases with the same atom vector get the same fired rules and conclusions, each decided by
  the engine and cross-checked (hypothesis).
* The compiled validation agrees with the questionnaire's own, message for message.
* The cache is bounded, and every distinct pattern it stores went through the cross-check.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from triage.engine import decisions, rete as engine
from triage.conditions import AnswerTest
from triage.errors import AnswersError
from triage.rulebook import load_rulebook
from triage.clinician.vignettes import load_vignettes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from workloads import generate  # noqa: E402  (the benchmarks' own generators)
from support import depth

SHIPPED = load_rulebook()
CASES = int(os.environ.get("TRIAGE_EXACTNESS_CASES", "100000"))


def _line(answers, rulebook, cache, n=0):
    return engine.assess_json(answers, rulebook, source="test", cache=cache,
                              head={"case_id": f"case-{n}", "line": n})


# --------------------------------------------------------------------------- byte for byte

def test_every_vignette_gives_the_same_bytes_cached_and_uncached():
    vignettes = load_vignettes(ROOT / "tests" / "cases")
    assert len(vignettes) > 50
    for _ in range(2):  # the second round is served from the cache
        for n, vignette in enumerate(vignettes):
            uncached = _line(vignette.answers, SHIPPED, False, n)
            assert _line(vignette.answers, SHIPPED, True, n) == uncached, vignette.id
            assert (json.dumps(engine.assess(vignette.answers, SHIPPED).to_dict())
                    == json.dumps(engine.assess(vignette.answers, SHIPPED, cache=False)
                                  .to_dict())), vignette.id
    hits, misses = decisions.cache_stats()
    assert hits > misses  # the second round really did come from the cache


def _compare_share(job) -> tuple:
    """(cases, mismatches, first mismatch, cache hits) for one process's share of a workload."""
    workload, share, shares, count = job
    rulebook = load_rulebook()
    cases = generate(workload, rulebook.questionnaire, count, seed=2026)
    mismatches, first = 0, None
    for n in range(share, count, shares):
        cached = _line(cases[n], rulebook, True, n)
        uncached = _line(cases[n], rulebook, False, n)
        if cached != uncached:
            mismatches += 1
            first = first or (cases[n], cached, uncached)
    return len(range(share, count, shares)), mismatches, first, decisions.cache_stats()[0]


@pytest.mark.deep  # 100,000 cases per workload through the engine: CI's run, not the quick loop
@pytest.mark.parametrize("workload", ["realistic", "uniform"])
def test_generated_cases_give_the_same_bytes_cached_and_uncached(workload):
    shares = 2
    context = multiprocessing.get_context("fork")
    with context.Pool(shares) as pool:
        results = pool.map(_compare_share, [(workload, s, shares, CASES) for s in range(shares)])
    assert sum(r[0] for r in results) == CASES
    for _, mismatches, first, _ in results:
        assert mismatches == 0, first
    assert sum(r[3] for r in results) > 0  # some cases were served from the cache


def test_an_emergency_found_by_the_cache_reads_its_own_answers():
    """The cached decision is shared; the words of the reasons are the case's own."""
    calm = {"age": 30, "duration_weeks": 2, "trauma": "none", "saddle_numbness": True}
    first = engine.assess(calm, SHIPPED)
    second = engine.assess({**calm, "duration_weeks": 3}, SHIPPED)  # same atoms: a cache hit
    assert decisions.cache_stats() == (1, 1)
    assert first.urgency == second.urgency == "emergency"
    assert [r.id for r in first.reasons] == [r.id for r in second.reasons]
    weeks = SHIPPED.questionnaire.questions["duration_weeks"].label.lower()  # reasons use labels
    assert f"{weeks}: 2" in " ".join(r.text for r in first.reasons)
    assert f"{weeks}: 3" in " ".join(r.text for r in second.reasons)
    assert second.answers["duration_weeks"] == 3


# --------------------------------------------------------------------------- same atoms, same rules

def _thresholds() -> dict:
    """question -> the numbers its atoms compare with."""
    out: dict = {}
    for leaf in decisions.rule_atoms(SHIPPED.active_rules):
        if isinstance(leaf, AnswerTest) and leaf.op in (">=", ">", "<", "<="):
            out.setdefault(leaf.question, set()).add(leaf.operand)
    return out


THRESHOLDS = _thresholds()
QUESTIONS = SHIPPED.questionnaire.questions


def _values_of(q):
    if q.type == "bool":
        return st.booleans()
    if q.type == "choice":
        return st.sampled_from(q.values)
    if q.type == "text":
        return st.sampled_from(["", "sore after gardening"])
    low = 0 if q.min is None else q.min
    high = 120 if q.max is None else q.max
    near = sorted({v for t in THRESHOLDS.get(q.id, ()) for v in (t - 1, t, t + 1)
                   if low <= v <= high} | {low, high})
    if q.type == "integer":
        return st.one_of(st.sampled_from([int(v) for v in near]),
                         st.integers(int(low), int(high)))
    return st.one_of(st.sampled_from(near), st.floats(low, high, allow_nan=False))


@st.composite
def cases(draw):
    answers = {}
    for q in QUESTIONS.values():
        if q.required or draw(st.booleans()):
            answers[q.id] = draw(_values_of(q))
    return answers


@st.composite
def same_atoms_pairs(draw):
    """A case and another with each number moved within the same interval of its thresholds,
    optional answers added or dropped where no atom reads them, and the text changed."""
    first = draw(cases())
    second = dict(first)
    for qid, value in first.items():
        q = QUESTIONS[qid]
        if q.type in ("integer", "number"):
            cuts = sorted(THRESHOLDS.get(qid, ()))
            low = max([c for c in cuts if c <= value], default=q.min if q.min is not None else 0)
            above = [c for c in cuts if c > value]
            high = (min(above) - (1 if q.type == "integer" else 1e-6) if above
                    else (q.max if q.max is not None else 120))
            if q.type == "integer":
                second[qid] = draw(st.integers(int(low), int(high)))
            else:
                second[qid] = draw(st.floats(low, high, allow_nan=False))
        elif q.type == "text":
            second[qid] = draw(st.sampled_from(["", "worse when sitting"]))
    return first, second


@settings(max_examples=depth(150), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.filter_too_much])
@given(same_atoms_pairs())
def test_cases_with_the_same_atom_vector_fire_the_same_rules(pair):
    first, second = pair
    plan = decisions.plan_for(SHIPPED)[0]
    valid = [SHIPPED.questionnaire.validate(case) for case in pair]
    vectors = [plan.bits(decisions.facts_of(SHIPPED, v)) for v in valid]
    assume(vectors[0] == vectors[1])  # a derived quantity may still differ; most pairs agree
    decided = [engine.decide(v, SHIPPED, plan) for v in valid]  # engine + cross-check, each
    assert decided[0].fired == decided[1].fired
    assert decided[0].findings == decided[1].findings
    assert decided[0].outcome == decided[1].outcome
    # and the second case, served from the first one's decision, reads as if decided itself
    decisions.clear_caches()
    engine.assess(first, SHIPPED)
    assert (json.dumps(engine.assess(second, SHIPPED).to_dict())
            == json.dumps(engine.assess(second, SHIPPED, cache=False).to_dict()))


def test_the_atoms_cover_every_leaf_that_reads_the_case():
    """Generic over the grammar: every leaf of every active rule is either an atom or a test of a
    conclusion (which the atoms decide through the rules)."""
    from triage.conditions import CountTest, FindingTest, iter_leaves

    atoms = set(decisions.rule_atoms(SHIPPED.active_rules))
    for rule in SHIPPED.active_rules:
        for leaf in iter_leaves(rule.when):
            assert leaf in atoms or isinstance(leaf, (FindingTest, CountTest)), (rule.id, leaf)


def _atom_values():
    """Each value a leaf compares with, one either side of each number, and unknown (None)."""
    values: dict = {}
    for leaf in decisions.rule_atoms(SHIPPED.active_rules):
        if isinstance(leaf, AnswerTest):
            operands = leaf.operand if isinstance(leaf.operand, tuple) else (leaf.operand,)
            for operand in operands:
                near = [operand] + ([operand - 1, operand + 1] if isinstance(operand, int)
                                    and not isinstance(operand, bool) else [])
                values.setdefault(leaf.question, {None, True, False}).update(near)
        for question in getattr(leaf, "questions", ()):
            values.setdefault(question, {None, True, False})
    return {question: sorted(found, key=repr) for question, found in values.items()}


ATOM_VALUES = _atom_values()


@settings(max_examples=depth(300), deadline=None)
@given(st.fixed_dictionaries({}, optional={q: st.sampled_from(v) for q, v in ATOM_VALUES.items()}))
def test_each_bit_of_the_atom_vector_is_its_leaf_as_the_tree_walk_reads_it(facts):
    """The generated atom vector (one local per question read) against conditions.evaluate on each
    atom: a question missing, unknown (None), or at, below or above each value a rule names."""
    from triage.conditions import evaluate

    plan = decisions.plan_for(SHIPPED)[0]
    bits = plan.bits(facts)
    for n, leaf in enumerate(plan.atoms):
        assert bool(bits >> n & 1) == evaluate(leaf, facts, {}), (leaf, facts)


def _rulebook_with_every_operation():
    """The shipped rulebook with extra derived quantities using each operation of the grammar
    (rulebook.yaml `derived:`), nested, so the compiled facts are checked beyond age at onset."""
    from triage.conditions import Derived, parse_expression

    questions = SHIPPED.questionnaire.questions
    params = {name: p.value for name, p in SHIPPED.parameters.items()}
    extra = {
        "sum_of_three": {"plus": ["age", "duration_weeks", "sitting_hours"]},
        "product": {"times": ["sitting_hours", "weeks_per_year"]},
        "nested": {"minus": [{"plus": ["age", "sitting_hours"]},
                             {"divided_by": ["duration_weeks", "weeks_per_year"]}]},
    }
    derived = dict(SHIPPED.derived)
    for name, raw in extra.items():
        expression = parse_expression(raw, questions, params)
        derived[name] = Derived(name, name, "", "", expression, ())
    return SHIPPED.replace(derived=derived)


EVERY_OPERATION = _rulebook_with_every_operation()
NUMBERS = st.one_of(st.none(), st.integers(-3, 130), st.floats(-1e3, 1e3, allow_nan=False),
                    st.sampled_from([0, 0.0, -0.0, 52, 0.1]))


@settings(max_examples=depth(300), deadline=None)
@given(st.fixed_dictionaries({}, optional={"age": NUMBERS, "duration_weeks": NUMBERS,
                                           "sitting_hours": NUMBERS, "fever": st.booleans()}))
def test_the_compiled_derived_quantities_are_the_tree_walks(answers):
    """plan.facts (one generated function) against Rulebook.with_derived (conditions.compute):
    the same facts, the same types (1 is not 1.0 in a reason's words), in the same order; a
    quantity with an unanswered input is left out."""
    for rulebook in (SHIPPED, EVERY_OPERATION):
        compiled = decisions._derived_function(rulebook)(answers)
        walked = rulebook.with_derived(answers)
        assert list(compiled.items()) == list(walked.items())
        assert [type(v) for v in compiled.values()] == [type(v) for v in walked.values()]
        # -0.0 == 0.0, but the words differ
        assert [repr(v) for v in compiled.values()] == [repr(v) for v in walked.values()]


# --------------------------------------------------------------------------- validation

RAW_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 200),
                       st.floats(-5, 200), st.sampled_from([float("nan"), float("inf")]),
                       st.sampled_from(["", " ", "yes", "no", "None", "Gradual", "gradual ",
                                        "none", "minor", "major", "42", "4.5", "x",
                                        "below_knee", "female"]),
                       st.lists(st.integers(), max_size=2))


@settings(max_examples=depth(400), deadline=None)
@given(st.dictionaries(st.sampled_from(list(QUESTIONS) + ["agee", "Fever"]), RAW_VALUES))
def test_the_compiled_validation_agrees_with_the_questionnaire(raw):
    _assert_validation_agrees(raw)


def _assert_validation_agrees(raw):
    """The compiled validator and Questionnaire.validate: the same answers in the same order and
    types, or the same message."""
    validator = decisions.FastValidator(SHIPPED.questionnaire)
    try:
        expected = SHIPPED.questionnaire.validate(dict(raw), source="x")
    except AnswersError as exc:
        with pytest.raises(AnswersError) as caught:
            validator.validate(dict(raw), source="x")
        assert caught.value.message == exc.message
        return
    got = validator.validate(dict(raw), source="x")
    assert got == expected
    assert list(got) == list(expected)  # the same order: reports list answers in it
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def _proper_answer(q):
    """A strategy for an answer already in its proper type (the compiled path's case)."""
    if q.type == "bool":
        return st.booleans()
    if q.type == "choice":
        return st.sampled_from(list(q.values))
    if q.type == "text":
        return st.text(max_size=20)
    low, high = q.min or 0, 200 if q.max is None else q.max
    if q.type == "integer":
        return st.integers(int(low), int(high))
    return st.one_of(st.integers(int(low), int(high)), st.floats(low, high))


@st.composite
def nearly_valid_answers(draw):
    """Mostly proper answers, the usual input of `triage batch`: each question proper, left
    out or null, and in half the cases one answer of another type or out of range, so that
    both paths get exercised."""
    raw = {}
    for qid, q in QUESTIONS.items():
        kind = draw(st.sampled_from(["proper"] * 18 + ["absent", "null"]))
        if kind == "proper":
            raw[qid] = draw(_proper_answer(q))
        elif kind == "null":
            raw[qid] = None
    if draw(st.booleans()):
        raw[draw(st.sampled_from(list(QUESTIONS)))] = draw(RAW_VALUES)
    return raw


_BASE = generate("realistic", SHIPPED.questionnaire, 1, seed=11)[0]


@pytest.mark.parametrize("change", [
    # values the compiled path must leave to the questionnaire: out of range, wrong type
    {"age": 121}, {"age": -1}, {"age": 40.0}, {"age": True}, {"sitting_hours": 24.5},
    {"duration_weeks": -0.5}, {"duration_weeks": float("nan")}, {"duration_weeks": float("inf")},
    {"fever": 1}, {"sex": "Male"},
    {"notes": "sore"}, {"notes": ""}, {"notes": 5}, {"notes": ["a"]}, {"agee": 40},
    # skip logic: implied only from answers given, never from an unknown (contract section 2)
    {"sex": "female", "pregnant": None, "pregnancy_symptoms": None},
    {"sex": "male", "pregnant": None, "pregnancy_symptoms": None},
    {"sex": None, "pregnant": None, "pregnancy_symptoms": None},
    {"sex": "female", "pregnant": False, "pregnancy_symptoms": True},
    {"leg_pain": "none", "leg_numbness": False, "leg_weakness": "none", "both_legs": None},
    {"leg_pain": "none", "leg_numbness": None, "leg_weakness": "none", "both_legs": None},
])
def test_the_compiled_validation_agrees_on_each_corner(change):
    raw = {**_BASE, **change}
    _assert_validation_agrees(raw)


@settings(max_examples=depth(400), deadline=None)
@given(nearly_valid_answers())
def test_the_compiled_validation_agrees_on_nearly_valid_answers(raw):
    """Skip logic included: what the questionnaire implies must be implied alike, in order."""
    _assert_validation_agrees(raw)


# --------------------------------------------------------------------------- the cache itself

def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = decisions.DecisionCache(size=3)
    for key in range(3):
        cache.put(key, f"decision {key}")
    assert cache.get(0) == "decision 0"  # 0 is now the most recently used
    cache.put(3, "decision 3")
    assert len(cache) == 3
    assert cache.get(1) is None and cache.get(0) == "decision 0"


def _counting(monkeypatch, name):
    """Count the calls of engine.<name> (each call's first argument, the case's answers)."""
    seen = []
    original = getattr(engine, name)

    def counting(*args, **kwargs):
        seen.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, name, counting)
    return seen


def test_every_distinct_pattern_goes_through_the_cross_check(monkeypatch):
    """The atom vector that brings a new engine key is cross-checked in full (_cross_check, which
    also gives the evidence of the reasons); every other new atom vector is checked against its
    own answers (_check_vector). Together: once per distinct atom vector, no vector skipped."""
    full = _counting(monkeypatch, "_cross_check")
    vector = _counting(monkeypatch, "_check_vector")
    # enough cases that some share an engine key but not an atom vector (both paths taken): at
    # 300, the questionnaire of issue 25 made every one of them a new engine key
    cases = generate("realistic", SHIPPED.questionnaire, 600, seed=7)
    for case in cases:
        engine.assess(case, SHIPPED)
    plan = decisions.plan_for(SHIPPED)[0]
    distinct = {plan.bits(decisions.facts_of(SHIPPED, SHIPPED.questionnaire.validate(c)))
                for c in cases}
    assert len(full) == len(set(_engine_keys(cases))) < len(distinct)
    assert len(full) + len(vector) == len(distinct) == decisions.cache_stats()[1]
    # each check saw a different atom vector: none was checked twice, so none was left out
    checked = {plan.bits(decisions.facts_of(SHIPPED, SHIPPED.questionnaire.validate(
        {k: v for k, v in answers.items() if k in SHIPPED.questionnaire.questions})))
        for answers in full + vector}
    assert checked == distinct


def _engine_keys(cases):
    plan = decisions.plan_for(SHIPPED)[0]
    e = engine.engine_for(SHIPPED)
    return [e.key_of(plan.bits(decisions.facts_of(SHIPPED, SHIPPED.questionnaire.validate(c))))
            for c in cases]


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_the_engine_runs_once_per_engine_key_and_every_atom_vector_is_cross_checked(
        monkeypatch):
    runs = _counting(monkeypatch, "run_rules")
    full = _counting(monkeypatch, "_cross_check")
    vector = _counting(monkeypatch, "_check_vector")
    cases = generate("realistic", SHIPPED.questionnaire, 2000, seed=11)
    for case in cases:
        engine.assess(case, SHIPPED)
    keys = set(_engine_keys(cases))
    _, vectors = decisions.cache_stats()  # misses: one per distinct atom vector
    assert len(runs) == len(keys) == len(full) < vectors == len(full) + len(vector)


def test_cases_sharing_an_engine_key_get_what_the_engine_concludes_for_each_alone():
    """The engine reads a case only through its engine key: cases with different atom vectors
    but one key, each run alone through the engine (uncached), fire the same rules. (Realistic
    answers: with policy version 3's 61 questions, 3000 uniformly random cases no longer share
    an engine key at all; realistic ones share about a hundred.)"""
    cases = generate("realistic", SHIPPED.questionnaire, 3000, seed=5)
    plan = decisions.plan_for(SHIPPED)[0]
    groups: dict = {}
    for case, key in zip(cases, _engine_keys(cases)):
        bits = plan.bits(decisions.facts_of(SHIPPED, SHIPPED.questionnaire.validate(case)))
        groups.setdefault(key, {}).setdefault(bits, case)
    shared = [list(group.values())[:3] for group in groups.values() if len(group) > 1]
    assert len(shared) > 20  # the coarser key really does merge atom vectors
    for group in shared[:60]:
        alone = [engine.assess(case, SHIPPED, cache=False) for case in group]
        assert len({(tuple(r.id for r in a.reasons), a.urgency, tuple(a.red_flags),
                     tuple(a.causes), tuple(a.stretches)) for a in alone}) == 1


def _lose_the_tests_of(monkeypatch, rule_id):
    """Make the engine key lose the tests of the answers of one rule (they always read false);
    returns an example case on which the rule fires."""
    from triage.engine import engine_tests

    rules = SHIPPED.active_rules
    rule = next(r for r in rules if r.id == rule_id)
    tests = engine_tests(rules)
    mask = 0
    for conjunction in engine._conjunctions(rule):
        conds = [atom[1] for atom in conjunction if atom[0] == "answers"]
        if conds:
            mask |= 1 << tests[engine._answers_node(conds)]
    assert mask
    e = engine.engine_for(SHIPPED)
    honest = e.key_of
    monkeypatch.setattr(e, "key_of", lambda bits: honest(bits) & ~mask)
    return next(ex for ex in rule.examples if ex.fires).answers


KEY_RULES = ["RF-CES-01", "RF-FRACTURE-01", "DUR-CHRONIC-01", "PS-HIPFLEX-01"]


@pytest.mark.parametrize("rule_id", KEY_RULES)
def test_a_wrong_engine_key_is_caught_by_the_cross_check(monkeypatch, rule_id):
    """Should the engine key ever lose a test of the answers (here: the tests of one rule's
    conditions always read false), the cross-check of the case refuses to give advice."""
    from triage.engine import EngineInconsistency

    case = _lose_the_tests_of(monkeypatch, rule_id)
    with pytest.raises(EngineInconsistency, match=rule_id):
        engine.assess(case, SHIPPED)


# (without DUR-CHRONIC-01, whose loss leaves the wrong key with no duration class at all: that
# result is refused as it is made, before any case could be served it)
@pytest.mark.parametrize("rule_id", ["RF-CES-01", "RF-FRACTURE-01", "PS-HIPFLEX-01", "UR-NIGHT-01"])
@pytest.mark.parametrize("path", ["assess", "outcome"])
def test_a_wrong_engine_key_is_caught_even_when_that_key_was_decided_before(monkeypatch,
                                                                             rule_id, path):
    """Only the first case with an engine key goes through the engine; a later case with another
    atom vector but the same key is served the key's result. That case is checked on its own
    answers too (engine._check_vector), for advice (assess) and for `rules diff` (outcome): here
    the key loses a rule's tests and the wrong key's result is already known, as if an earlier
    case had brought it, and the case on which the rule holds must still be refused."""
    from triage.engine import EngineInconsistency

    case = _lose_the_tests_of(monkeypatch, rule_id)
    plan = decisions.plan_for(SHIPPED)[0]
    valid = SHIPPED.questionnaire.validate(case)
    with monkeypatch.context() as earlier:  # the wrong key decided, its full check passed
        earlier.setattr(engine, "_cross_check", lambda *args, **kwargs: {})
        engine._engine_result(SHIPPED, valid, plan.bits(decisions.facts_of(SHIPPED, valid)))
    with pytest.raises(EngineInconsistency, match=rule_id):
        if path == "assess":
            engine.assess(case, SHIPPED)
        else:
            engine.assess_outcome(case, SHIPPED)


def test_no_cache_switch_sends_every_case_through_the_engine(monkeypatch):
    monkeypatch.setenv("TRIAGE_NO_CACHE", "1")
    calm = {"age": 30, "duration_weeks": 2, "trauma": "none"}
    engine.assess(calm, SHIPPED)
    engine.assess(calm, SHIPPED)
    assert decisions.cache_stats() == (0, 0)


# --------------------------------------------------------------------------- start-up and logging

def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_engine_leaves_the_programs_logging_alone():
    out = _python("import logging, triage.engine.rete as e, triage.engine.decisions\n"
                  "root = logging.getLogger()\n"
                  "e.assess({'age': 30, 'duration_weeks': 2, 'trauma': 'none'},"
                  " e.load_rulebook() if hasattr(e, 'load_rulebook') else"
                  " __import__('triage').load_rulebook())\n"
                  "import experta.watchers as w\n"
                  "print(len(root.handlers), root.level,"
                  " any(getattr(w, n).propagate for n in w.ALL))")
    assert out == f"0 {30} False"  # no handler added, WARNING as Python left it, nothing leaks


def test_experta_watchers_still_log_each_firing_when_turned_on():
    """The engine's own run() builds experta's per-firing log line only when it would be written;
    turned on for debugging (experta.watchers.watch), it still names each rule as it fires."""
    out = _python("import logging, io, triage.engine.rete as e, triage\n"
                  "import experta.watchers as w\n"
                  "stream = io.StringIO()\n"
                  "w.RULES.addHandler(logging.StreamHandler(stream))\n"
                  "w.watch('RULES')\n"
                  "print(e.run_rules({'age': 30, 'duration_weeks': 2, 'trauma': 'none'},"
                  " triage.load_rulebook())[0][0])\n"
                  "print(stream.getvalue().splitlines()[0])")
    first_rule, first_line = out.splitlines()
    assert first_line.startswith(f"FIRE 1 {first_rule}: ")


def test_help_does_not_import_the_engine():
    out = _python("import sys\nsys.argv = ['triage', '--help']\n"
                  "from triage.cli import main_group\n"
                  "try:\n    main_group.main(standalone_mode=False)\nexcept SystemExit:\n    pass\n"
                  "print(sorted(m for m in sys.modules if m.startswith(('experta', 'triage.engine',"
                  " 'triage.rulebook', 'yaml', 'sqlalchemy'))))")
    assert out.splitlines()[-1] == "[]"


def test_help_lists_the_lazy_commands_as_their_own_help_would():
    """`triage --help` reads the lazy commands' docstrings from source; the listing must be what
    importing them would show."""
    import click

    from triage.cli import LAZY_COMMANDS, _lazy_help, main_group

    for name, target in LAZY_COMMANDS.items():
        command = main_group.get_command(click.Context(main_group), name)
        assert command is not None, name
        assert (click.Command(name, help=_lazy_help(target)).get_short_help_str(300)
                == command.get_short_help_str(300)), name


# --------------------------------------------------------------------------- the rulebook on disk

@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_the_rulebook_cache_returns_what_the_rule_files_say(tmp_path, monkeypatch):
    import shutil

    from triage import rules_cache
    from triage.rulebook import _load

    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path / "cache"))
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    built = []

    def build():
        built.append(1)
        return _load(rules)

    first = rules_cache.load(rules, build)
    second = rules_cache.load(rules, build)
    assert len(built) == 1  # the second came from the cache...
    assert second == first and second.rules == first.rules  # ...and is the same rulebook
    assert [r.when for r in second.rules] == [r.when for r in first.rules]
    # editing a rule file is a new key: the files are read again
    meta = rules / "rulebook.yaml"
    meta.write_text(meta.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    rules_cache.load(rules, build)
    assert len(built) == 2


def test_the_rulebook_cache_never_unpickles_anything_but_a_rulebook(tmp_path, monkeypatch):
    import pickle

    from triage import rules_cache

    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path))
    rules = ROOT / "rules"
    path = tmp_path / f"rulebook-{rules_cache._key(rules.resolve())}.pickle"

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path.write_bytes(pickle.dumps(Evil()))
    rulebook = rules_cache.load(rules.resolve(), lambda: "read from the YAML")
    assert rulebook == "read from the YAML"
    assert not (tmp_path / "pwned").exists()


def test_a_kind_matched_for_any_value_and_for_one_value_chains_as_in_the_tree_walk(tmp_path):
    """Each kind of conclusion that rules match as a fact is a fact type of its own, per value,
    or per kind when some rule matches any value of it ("any red flag"); then the rules that
    want one value test it. A rulebook with both shapes for red flags: every case's engine run
    agrees with the plain-Python cross-check (assess raises otherwise), and the rule reading any
    red flag fires exactly when a red flag was concluded."""
    import shutil

    import yaml

    directory = tmp_path / "rules"
    shutil.copytree(SHIPPED.directory, directory)
    plan_file = directory / "stretch_plan.yaml"
    rules = yaml.safe_load(plan_file.read_text(encoding="utf-8"))
    model = rules["rules"][0]
    rules["rules"].append({**model, "id": "ST-ANYFLAG-01", "title": "No bridging with a warning sign",
                           "when": {"red_flag": "any"}, "then": {"avoid_stretch": ["glute_bridge"]},
                           "examples": []})
    plan_file.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    rulebook = load_rulebook(directory)
    reads = engine._positive_reads(rulebook.active_rules)
    assert ("red_flag", None) in reads and ("red_flag", "fracture") in reads
    flagged = 0
    for case in generate("uniform", rulebook.questionnaire, 400, seed=13):
        for cache in (True, False):
            result = engine.assess(case, rulebook, cache=cache)
            fired = [reason.id for reason in result.reasons]
            assert ("ST-ANYFLAG-01" in fired) == bool(result.red_flags)
        flagged += bool(result.red_flags)
    assert 0 < flagged < 400
