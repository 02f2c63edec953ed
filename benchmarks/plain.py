"""A plain-Python reading of the rulebook: the floor the engine path is compared with.

No experta, no cross-check, no Assessment, no JSON: each rule's condition compiled once into a
Python closure (the engine's own compiler, ``engine._compile``), then, stratum by stratum, every
rule whose condition holds fires, until nothing new fires. It reads the same rule files, so it
follows every rule change; benchmarks/bench_batch.py checks on every case it times that it fires
the same rules as the engine, then divides the batch's time per case by this one's.
"""
from __future__ import annotations

from triage.engine.rete import _compile


class PlainReading:
    def __init__(self, rulebook):
        self.rulebook = rulebook
        strata: dict[int, list] = {}
        for rule in rulebook.active_rules:
            strata.setdefault(rule.stratum, []).append((rule.id, _compile(rule.when), rule.then))
        self.strata = [strata[s] for s in sorted(strata)]

    def fired(self, facts) -> tuple[set, dict]:
        """The rules that fire on these facts (answers plus derived quantities), and the
        findings (kind -> set of values)."""
        findings: dict = {}
        fired: set = set()
        for rules in self.strata:
            changed = True
            while changed:
                changed = False
                for rule_id, holds, then in rules:
                    if rule_id not in fired and holds(facts, findings):
                        fired.add(rule_id)
                        changed = True
                        for kind, value in then:
                            findings.setdefault(kind, set()).add(value)
        return fired, findings
