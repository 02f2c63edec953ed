"""Every rule's own examples (beside the rule in its YAML file) run from this one test: each rule
must fire on its `fires:` answers and stay silent on its `silent:` answers."""
import pytest

from triage.engine import assess
from triage.rulebook import load_rulebook

RULEBOOK = load_rulebook()
EXAMPLES = [
    pytest.param(rule, example, id=f"{rule.id}-{'fires' if example.fires else 'silent'}-{n}")
    for rule in RULEBOOK.active_rules
    for n, example in enumerate(rule.examples, start=1)
]


@pytest.mark.parametrize("rule, example", EXAMPLES)
def test_rule_example(rule, example):
    result = assess(example.answers, RULEBOOK)
    fired = [reason.id for reason in result.reasons]
    if example.fires:
        assert rule.id in fired, f"{rule.id} should fire on {example.answers}; fired: {fired}"
    else:
        assert rule.id not in fired, f"{rule.id} should stay silent on {example.answers}"


@pytest.mark.parametrize("rule", RULEBOOK.active_rules, ids=lambda r: r.id)
def test_every_rule_has_a_firing_and_a_silent_example(rule):
    kinds = {example.fires for example in rule.examples}
    assert kinds == {True, False}, f"{rule.id} needs one example where it fires and one where not"
