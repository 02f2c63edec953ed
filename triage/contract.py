"""The fixed vocabulary of docs/contributors/policy.md, section 2.

Rule files may use these words and no others; the order of each tuple is the order in which the
assessment lists them (most serious or most likely first).
"""
from __future__ import annotations

# Highest first. "The highest urgency that any rule concludes wins."
URGENCIES = ("emergency", "urgent", "soon", "self_care")
URGENCY_RANK = {u: len(URGENCIES) - i for i, u in enumerate(URGENCIES)}  # emergency=4 ... self_care=1

DURATION_CLASSES = ("acute", "subacute", "chronic")

# Most serious first.
# Version 2 adds non_spinal: the pain may come from an organ (heart, great vessels, pregnancy,
# meningitis, the belly), not the back; it leads because those emergencies are the quickest to kill.
RED_FLAGS = ("non_spinal", "cauda_equina", "malignancy", "aaa", "fracture", "infection", "progressive_neuro",
             "inflammatory")

# Most likely first, when several apply: a recent injury or a nerve-root pattern explains the pain
# more directly than posture does; "nonspecific" is what is left. non_spinal (version 2) leads: a
# cause outside the back matters most to know.
CAUSES = ("non_spinal", "trauma", "nerve_root", "inflammatory", "muscle_imbalance", "nonspecific")

NO_STRETCHES_AT = ("emergency", "urgent")  # contract: stretches empty when urgent or emergency
