"""The clinical vignettes of tests/cases/: given answers, the outcome the contract's policy
(docs/contributors/policy.md sections 1-3) calls for, and the guideline fact behind it. Each vignette is one
test, named by its case id; `triage rules test` runs the same files through the same module."""
from pathlib import Path

import pytest

from triage.rulebook import load_rulebook
from triage.clinician.vignettes import check_vignette, load_vignettes

CASES_DIR = Path(__file__).parent / "cases"
RULEBOOK = load_rulebook()
VIGNETTES = load_vignettes(CASES_DIR)

# Cases where the program disagrees with the contract: case id -> the bug, as reported to the lead.
# Each is xfail(strict=True), so fixing the bug turns the test red until the entry is removed.
KNOWN_BUGS: dict[str, str] = {}


def _param(vignette):
    marks = ()
    if vignette.id in KNOWN_BUGS:
        marks = pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[vignette.id])
    return pytest.param(vignette, id=vignette.id, marks=marks)


def _explain(outcome) -> str:
    v = outcome.vignette
    head = f"{Path(v.file).name}: {v.id} ({v.basis})"
    if outcome.error:
        return f"{head}\n  the answers were rejected: {outcome.error}"
    lines = [f"  {key}: expected {expected!r}, got {actual!r}"
             for key, expected, actual in outcome.differences]
    return "\n".join([head, *lines, f"  fired: {outcome.actual.get('fired')}"])


@pytest.mark.parametrize("vignette", [_param(v) for v in VIGNETTES])
def test_vignette(vignette):
    outcome = check_vignette(vignette, RULEBOOK)
    assert outcome.passed, _explain(outcome)


def test_there_are_at_least_40_vignettes():
    assert len(VIGNETTES) >= 40, f"only {len(VIGNETTES)} vignettes in {CASES_DIR}"


def test_every_vignette_names_its_guideline_basis():
    missing = [v.id for v in VIGNETTES if len(v.basis.split()) < 5]
    assert not missing, f"vignettes without a real basis (guideline fact and source): {missing}"


def test_every_red_flag_of_the_contract_has_a_vignette_that_raises_it():
    from triage.contract import RED_FLAGS

    covered = set()
    for v in VIGNETTES:
        covered.update(v.expect.get("red_flags") or [])
        covered.update(v.expect.get("red_flags_include") or [])
    assert set(RED_FLAGS) <= covered, f"no vignette raises {sorted(set(RED_FLAGS) - covered)}"


def test_every_red_flag_question_has_an_unanswered_vignette():
    """Contract section 1: each warning-sign question, left unanswered on its own, is unknown."""
    questionnaire = RULEBOOK.questionnaire
    questions = questionnaire.red_flag_questions
    lone_unknown = set()
    for v in VIGNETTES:
        # an answer that skip logic implies (not pregnant: no pregnancy warning signs) is known
        known = questionnaire.apply_skip_logic(
            {q: a for q, a in v.answers.items() if a is not None})
        missing = [q for q in questions if known.get(q) is None]
        if len(missing) == 1 and v.expect.get("urgency_at_least") == "soon":
            lone_unknown.add(missing[0])
    assert set(questions) <= lone_unknown, \
        f"no vignette leaves only {sorted(set(questions) - lone_unknown)} unanswered"
