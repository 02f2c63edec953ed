"""The words of the emergency screen: what to do now, for the emergency that the answers show.

One function for every front end, so the terminal (`triage ask`) and the web's emergency page say
the same thing. The words are data in rules/rulebook.yaml (``emergency_screens``): a screen for
particular emergency rules (chest pain: call the emergency number and do not drive yourself;
pregnancy: the maternity unit or the emergency number; ...) and a default screen for the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EmergencyScreen:
    heading: str  # one line, e.g. "Possible heart or blood vessel emergency: get help now"
    actions: list = field(default_factory=list)  # what to do now, plain words, most important first
    call_number: bool = True  # whether the first thing to do is to call the emergency number
    reasons: list = field(default_factory=list)  # why: the emergency rules' reason sentences
    rule_ids: list = field(default_factory=list)  # the emergency rules behind it, in order

    def to_dict(self) -> dict:
        return {"heading": self.heading, "actions": list(self.actions),
                "call_number": self.call_number, "reasons": list(self.reasons),
                "rule_ids": list(self.rule_ids)}


def emergency_rule_ids(assessment, rulebook) -> list[str]:
    """The rules that concluded the emergency, in the order they fired."""
    emergency = {rule.id for rule in rulebook.active_rules if rule.urgency == "emergency"}
    return [reason.id for reason in assessment.reasons if reason.id in emergency]


def emergency_screen(assessment, rulebook, number: str | None = None) -> EmergencyScreen:
    """The emergency screen for an assessment whose urgency is ``emergency``.

    The heading is that of the first emergency rule (in rulebook order: the red flags are
    written most serious first) that has a screen of its own, else the default's. The actions
    are those of every matching screen, in that order, without repeats, then the default's when
    some emergency rule has no screen of its own, so two emergencies at once (say chest pain in
    pregnancy) give both sets of instructions.
    `number`: the one emergency number a clinic has set (`triage serve --emergency-number`): the
    actions then name it where the rule files list examples of numbers ("999 in the UK, 112 in
    ..."), so the words and the call button say the same number.
    Raises ValueError for an assessment that is not an emergency.
    """
    if assessment.urgency != "emergency":
        raise ValueError(f"not an emergency (urgency {assessment.urgency})")
    rule_ids = emergency_rule_ids(assessment, rulebook)
    screens = list(rulebook.emergency_screens)
    default = next(s for s in screens if not s.rules) if screens else None
    matching = [s for s in screens if s.rules and any(r in s.rules for r in rule_ids)]
    # in the order of the rules that fired, so the most serious (first-listed) leads
    matching.sort(key=lambda s: min(rule_ids.index(r) for r in s.rules if r in rule_ids))
    uncovered = [r for r in rule_ids if not any(r in s.rules for s in matching)]
    chosen = matching + ([default] if default is not None and (uncovered or not matching) else [])
    if not chosen:  # a rules directory without emergency_screens: still say what to do
        return EmergencyScreen(
            heading="Emergency: get medical help now",
            actions=["Call the emergency number or go to the nearest emergency department now."],
            call_number=True, reasons=_reasons(assessment, rule_ids), rule_ids=rule_ids)
    actions: list[str] = []
    examples = getattr(rulebook, "emergency_numbers", "")
    for screen in chosen:
        for action in screen.actions:
            if number and examples:
                action = action.replace(examples, number)
            if action not in actions:
                actions.append(action)
    return EmergencyScreen(heading=chosen[0].heading, actions=actions,
                           call_number=any(s.call_number for s in chosen),
                           reasons=_reasons(assessment, rule_ids), rule_ids=rule_ids)


def _reasons(assessment, rule_ids) -> list[str]:
    wanted = set(rule_ids)
    return [reason.text for reason in assessment.reasons if reason.id in wanted]
