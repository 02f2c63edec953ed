"""Answers shared by the test modules, derived from the shipped questionnaire."""
from triage.rulebook import load_rulebook

_QUESTIONNAIRE = load_rulebook().questionnaire

# Every warning-sign question answered with its first reassuring value ("no", or no leg weakness):
# contract section 1, so that a case can reach self-care when nothing else raises the urgency.
NO_WARNING_SIGNS = {
    q.id: next(v for v in q.values if v not in q.alarming)
    for q in _QUESTIONNAIRE.questions.values() if q.red_flag
}
# A 40-year-old with two weeks of pain, no injury and no warning sign.
ALL_CLEAR = {"age": 40, "duration_weeks": 2, "trauma": "none", **NO_WARNING_SIGNS}


def depth(examples: int) -> int:
    """How many examples a hypothesis property tries: `examples` in a full run (CI's
    `pytest --all`, a run of named files, `-m ...`), a tenth of them (at least 10) in the quick
    loop of a bare `pytest` (tests/conftest.py decides which, once, in TRIAGE_TESTS)."""
    import os

    if os.environ.get("TRIAGE_TESTS") == "quick":
        return min(examples, max(10, examples // 10))
    return examples
