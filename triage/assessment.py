"""The outcome of one assessment (contract section 2) and its plain-text rendering."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

URGENCY_WORDS = {
    "emergency": "EMERGENCY: call the emergency number or go to the emergency department now.",
    "urgent": "URGENT: see a doctor today.",
    "soon": "SOON: book an appointment with a doctor or physiotherapist within two weeks.",
    "self_care": "SELF-CARE: targeted stretches and staying active; see a professional if it is "
                 "not improving.",
}

NOT_A_DIAGNOSIS = ("This is not a diagnosis and not a substitute for a clinician: it is a rule-based "
                   "triage of the answers given.")


@dataclass(frozen=True)
class Reason:
    id: str
    text: str

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text}


@dataclass(frozen=True)
class Assessment:
    urgency: str
    duration_class: str
    red_flags: list
    causes: list
    stretches: list
    reasons: list
    unanswered_red_flags: list = field(default_factory=list)
    posture_signs: list = field(default_factory=list)
    avoided_stretches: list = field(default_factory=list)
    rulebook_version: str = ""
    answers: dict = field(default_factory=dict)

    @property
    def see_professional(self) -> bool:
        return self.urgency != "self_care"

    def to_dict(self) -> dict[str, Any]:
        """The JSON of contract section 2, plus compatible extensions (see the README)."""
        return {
            "urgency": self.urgency,
            "duration_class": self.duration_class,
            "red_flags": list(self.red_flags),
            "causes": list(self.causes),
            "see_professional": self.see_professional,
            "stretches": list(self.stretches),
            "reasons": [r.to_dict() for r in self.reasons],
            "unanswered_red_flags": list(self.unanswered_red_flags),
            "posture_signs": list(self.posture_signs),
            "avoided_stretches": list(self.avoided_stretches),
            "rulebook_version": self.rulebook_version,
        }


def format_text(assessment: Assessment, rulebook) -> str:
    """Readable in a terminal, urgency first."""
    a = assessment
    lines = [URGENCY_WORDS[a.urgency], ""]
    lines.append(f"Duration:      {a.duration_class} - {rulebook.label('duration_class', a.duration_class)}")
    if a.red_flags:
        lines.append("Red flags:     " + "; ".join(rulebook.label("red_flag", f) for f in a.red_flags))
    if a.unanswered_red_flags:
        lines.append("Unanswered warning-sign questions (treated as unknown, not as no): "
                     + ", ".join(q.replace("_", " ") for q in a.unanswered_red_flags))
    lines.append("Likely causes: " + "; ".join(rulebook.label("cause", c) for c in a.causes))
    if "muscle_imbalance" in a.causes:
        lines.append("               (muscle imbalance is a possible contributing factor, "
                     "not a diagnosis)")
    if a.stretches:
        lines.append("Stretches:     " + ", ".join(rulebook.stretches[s].name for s in a.stretches))
    elif a.urgency in ("emergency", "urgent"):
        lines.append("Stretches:     none until a clinician has seen you")
    lines += ["", "Why:"]
    lines += [f"  {r.id}  {r.text}" for r in a.reasons]
    lines.append("")
    lines += [f"{net.title}: {'; '.join(net.signs)}." for net in rulebook.safety_net]
    lines += [NOT_A_DIAGNOSIS, f"Rulebook version {a.rulebook_version}."]
    return "\n".join(lines) + "\n"
