"""The clinician's tools: reading, checking and changing the rules without reading Python.

- ``review``: a rule's condition in plain words, its own examples run, and why a rule fired or
  did not for one case (`triage rules show`, `triage explain`);
- ``lint``: every problem of a rulebook a reviewer should hear about (`triage rules check`);
- ``pack``: the review pack a clinician signs (`triage rules pack`);
- ``vignettes``: clinical cases with their expected outcome and guideline basis
  (`triage rules test`, and the test suite);
- ``impact``: what a change of the rules does to a population of cases (`triage rules diff`).

They read the rulebook and run the engine through its door (triage.engine); nothing below them
imports them.
"""
