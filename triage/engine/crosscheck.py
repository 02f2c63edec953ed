"""The plain-Python cross-check of an engine result, shared by the engine (engine/rete.py) and by the
engine results kept on disk (engine/store.py).

The experta engine's result for a case (which rules fired, in order, and what they concluded) is
trusted only once it is checked against the rules themselves, evaluated in plain Python on the
case's own answers and the final findings: a rule fired exactly when its condition holds, and no
rule fired twice. Any disagreement is an ``EngineInconsistency``: an internal error (exit 1),
never advice. This module imports nothing of experta, so that a result read back from disk is
checked without building the engine.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ..conditions import evaluate_with_evidence


class EngineInconsistency(RuntimeError):
    """The engine and the plain-Python check of the rules disagree: a bug, never shown as advice."""


def check_fired_rules(checks: Iterable[tuple[Any, Callable]], answers: Mapping[str, Any],
                      fired, findings) -> dict:
    """Check an engine result: for each (rule, holds_on) of `checks`, where ``holds_on(answers,
    findings)`` means what ``conditions.evaluate`` means for the rule's condition, the rule fired
    exactly when it holds on the final answers and findings. Returns the evidence of each fired
    rule (for its reason); raises EngineInconsistency on any disagreement."""
    fired_set = set(fired)
    evidence = {}
    for rule, holds_on in checks:
        if rule.id in fired_set:
            holds, evidence[rule.id] = evaluate_with_evidence(rule.when, answers, findings)
        else:
            holds = holds_on(answers, findings)
        if holds != (rule.id in fired_set):
            raise EngineInconsistency(
                f"{rule.id}: the engine {'fired' if rule.id in fired_set else 'did not fire'} "
                f"it, but its condition {'holds' if holds else 'does not hold'} on the final "
                f"facts")
    if len(fired_set) != len(fired):
        raise EngineInconsistency(f"a rule fired twice: {', '.join(fired)}")
    return evidence
