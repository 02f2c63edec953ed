"""The words of the web's emergency page: the same as `triage ask`'s emergency screen."""
from __future__ import annotations


def screen_for(assessment, rulebook):
    """``triage.emergency.emergency_screen`` (the words kept as data in the rule files)."""
    try:
        from ..emergency import emergency_screen
    except ImportError:  # until the rule files carry the screens' words: the terminal's own
        return _terminal_screen(assessment, rulebook)
    return emergency_screen(assessment, rulebook)


def _terminal_screen(assessment, rulebook):
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class EmergencyScreen:
        heading: str
        actions: list = field(default_factory=list)
        call_number: bool = True
        reasons: list = field(default_factory=list)

    emergency_rules = {rule.id for rule in rulebook.active_rules if rule.urgency == "emergency"}
    return EmergencyScreen(
        heading="Emergency: get medical help now",
        actions=["Call your local emergency number or go to the nearest emergency department "
                 "now.",
                 "Do not wait to see whether it settles, and do not start any stretches.",
                 "Tell them what you answered here; show them this screen or the saved answers."],
        call_number=True,
        reasons=[r.text for r in assessment.reasons if r.id in emergency_rules])
