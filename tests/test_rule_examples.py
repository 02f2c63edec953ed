"""Every rule's own examples (beside the rule in its YAML file) run from this one test: each rule
must fire on its `fires:` answers and stay silent on its `silent:` answers, and a `fires:` example
with an `expect:` block must conclude what it says (urgency, red flags, causes, stretches), so a
rule whose urgency is changed fails its own example."""
import pytest

from triage.engine import assess
from triage.rulebook import load_rulebook
from triage.clinician.vignettes import Vignette, check_vignette

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
    if example.expect:
        outcome = check_vignette(Vignette(rule.id, "", dict(example.answers),
                                          dict(example.expect)), RULEBOOK)
        assert outcome.passed, (f"{rule.id} fired on {example.answers} but concluded "
                                f"{outcome.differences}")


@pytest.mark.parametrize("rule", RULEBOOK.active_rules, ids=lambda r: r.id)
def test_every_rule_has_a_firing_and_a_silent_example(rule):
    kinds = {example.fires for example in rule.examples}
    assert kinds == {True, False}, f"{rule.id} needs one example where it fires and one where not"


URGENCY_RULES = [r for r in RULEBOOK.active_rules if r.urgency]


@pytest.mark.parametrize("rule", URGENCY_RULES, ids=lambda r: r.id)
def test_every_rule_that_concludes_an_urgency_states_it_in_a_firing_example(rule):
    """The `expect:` of at least one `fires:` example names exactly the urgency the rule
    concludes (as `urgency` or `urgency_at_least`): written beside the rule, so a rule whose
    urgency is changed fails here even where another rule masks the change in the outcome (the
    inflammatory rule is always chronic, which is soon anyway), and, where nothing masks it, its
    own example fails in test_rule_example."""
    stated = {e.expect.get("urgency") or e.expect.get("urgency_at_least")
              for e in rule.examples if e.fires and e.expect}
    assert rule.urgency in stated, (
        f"{rule.id} concludes {rule.urgency}, but no fires example expects it (stated: "
        f"{sorted(u for u in stated if u)})")
