"""The experta engine's results kept on disk, so that one `triage assess` need not start the engine.

Importing experta and building the engine's Rete network cost a `triage assess` about a third
of its time, for one case. A case's engine result (the rules that fired, in order, what they
concluded, and the outcome that follows) depends on its answers only through its atom vector
(triage/engine/decisions.py), so it can be kept: one small JSON file per atom vector, in a folder named
after a SHA-256 of everything a result depends on:

* the rulebook's own cache key (rules_cache.py: every rule file, the rules directory, the working
  directory, the Python version, the modules that read rules), so an edited rule file is a new
  folder, never a stale result;
* the modules that run the engine and make its outcome (``_ENGINE_SOURCES``), and every module
  of experta and frozendict as installed, each by path, modification time and size: what Python
  itself checks before running a module's compiled code (cachedir.source_stamp), so a new
  triage or an upgraded experta is a new folder.

How a stored result is trusted: exactly as a result the engine decided earlier in the same
process is. The plain-Python cross-check (crosscheck.py) runs on every case whose atom vector was
not decided in this process, stored result or not: each rule fired exactly when its condition
holds on this case's own answers and the stored findings. The stored findings must also be
exactly what the fired rules conclude. A file that fails either check, or does not parse, is
not used: the engine decides the case as usual (and cross-checks its own result), and the file is
written again. A result is written only after the engine's own cross-check passed, and only when
it reads back from JSON exactly as it was.

Only ``assess`` (used by `triage assess` and `triage report`) reads and writes the store; at most
``KEEP_ENTRIES`` results are kept per folder and ``rules_cache.KEEP`` folders (the oldest go).
``TRIAGE_NO_RULES_CACHE=1`` turns it off with the rulebook cache; ``--no-cache`` or
``TRIAGE_NO_CACHE=1`` (every case through the engine) also bypasses it. A folder that cannot be
read or written is ignored.
"""
from __future__ import annotations

import json
import os
import weakref
from typing import Any, Mapping

from .. import cachedir, rules_cache
from .crosscheck import EngineInconsistency, check_fired_rules
from .decisions import EngineResult, cache_enabled, cached_decision, make_decision

FORMAT = 3
KEEP_ENTRIES = 4096
# what an engine result depends on beyond the rulebook (whose key covers rulebook.py,
# conditions.py, questionnaire.py and rules_cache.py)
_ENGINE_SOURCES = ("rete.py", "decisions.py", "crosscheck.py", "store.py",
                   os.path.join(os.pardir, "_experta.py"), os.path.join(os.pardir, "contract.py"))
_LIBRARIES = ("experta", "frozendict")

# id(rulebook) -> (weak reference to it, the digest naming its folder, or None); see
# engine._ENGINES for why not a WeakKeyDictionary
_KEYS: dict[int, tuple] = {}


def assess(answers: Mapping[str, Any], rulebook, *, source: str = "answers",
           cache: bool | None = None):
    """``engine.assess``, with the engine's result for the case's atom vector read from the store
    when it is there (and cross-checked on this case), and written there when the engine had to
    decide it. The same Assessment, field for field."""
    folder = _folder(rulebook) if cache_enabled(cache) else None
    if folder is None:
        from .rete import assess as engine_assess

        return engine_assess(answers, rulebook, source=source, cache=cache)

    def stored_or_decided(valid, plan, bits, facts):
        decision = _stored_decision(folder, rulebook, plan, facts, bits)
        if decision is None:
            from .rete import decide  # the engine runs, and cross-checks its own result

            decision = decide(valid, rulebook, plan, bits, facts)
            _write(folder, bits, decision.result)
        return decision

    plan, valid, facts, decision = cached_decision(answers, rulebook, source, stored_or_decided)
    return decision.assessment(plan, valid, facts)


def _stored_decision(folder: str, rulebook, plan, facts, bits: int):
    """The Decision made from the stored result for `bits`, cross-checked on this case's facts;
    None when there is none, or it fails any check."""
    rules = rulebook.active_rules
    rules_by_id = {rule.id: rule for rule in rules}
    result = _read(folder, bits, rules_by_id, plan)
    if result is None:
        return None
    # conditions.evaluate (the tree walk) for the rules that did not fire: for one case it is
    # cheaper than compiling each condition as the engine's cross-check does, and it means the
    # same (tests/test_engine_safety.py compares the two)
    checks = [(rule, _evaluator(rule.when)) for rule in rules]
    try:
        evidence = check_fired_rules(checks, facts, result.fired, result.findings)
    except EngineInconsistency:
        return None  # not this case's result after all: the engine decides, and says so
    return make_decision(plan, rules_by_id, result, evidence)


def _evaluator(condition):
    from ..conditions import evaluate

    return lambda answers, findings: evaluate(condition, answers, findings)


# --------------------------------------------------------------------------- the files

def _folder(rulebook) -> str | None:
    """Where the results for `rulebook` are kept: None when it was not loaded through the rulebook
    cache, or the cache is off."""
    if not cachedir.enabled():
        return None
    entry = _KEYS.get(id(rulebook))
    if entry is None or entry[0]() is not rulebook:
        key = None
        rules_key = rules_cache.key_for(rulebook)
        if rules_key is not None:
            try:
                key = _key(rules_key)
            except (OSError, ImportError, ValueError):
                pass
        number = id(rulebook)

        def forget(ref, number=number):
            if _KEYS.get(number, (None,))[0] is ref:
                del _KEYS[number]

        entry = _KEYS[number] = (weakref.ref(rulebook, forget), key)
    # the folder is looked up each time (it follows TRIAGE_CACHE_DIR), the digest once
    return None if entry[1] is None else os.path.join(cachedir.cache_folder(),
                                                      f"engine-{entry[1]}")


def _key(rules_key: str) -> str:
    import importlib.util

    digest = cachedir.sha256(f"{FORMAT}\0{rules_key}\0".encode())
    here = os.path.dirname(os.path.realpath(__file__))
    for name in _ENGINE_SOURCES:
        digest.update(cachedir.source_stamp(os.path.join(here, name)))
    for library in _LIBRARIES:
        spec = importlib.util.find_spec(library)
        if spec is None or not spec.origin:
            raise ImportError(library)
        top = os.path.dirname(spec.origin)
        files = ([os.path.join(folder, name) for folder, _, names in os.walk(top)
                  for name in names if name.endswith(".py")]
                 if spec.submodule_search_locations else [spec.origin])
        for path in sorted(files):
            digest.update(cachedir.source_stamp(path))
    return digest.hexdigest()[:40]


def _read(folder: str, bits: int, rules_by_id: Mapping, plan) -> EngineResult | None:
    try:
        with open(os.path.join(folder, f"{bits:x}.json"), encoding="utf-8") as handle:
            data = json.load(handle)
        fired, findings, outcome = data["fired"], data["findings"], data["outcome"]
        if (data["format"] != FORMAT or data["bits"] != f"{bits:x}"
                or not isinstance(fired, list) or not isinstance(findings, dict)
                or not isinstance(outcome, dict)):
            return None
        # the findings must be exactly what the fired rules conclude (engine/rete.py: _rhs)
        concluded: dict[str, set] = {}
        for rule_id in fired:
            for kind, value in rules_by_id[rule_id].then:
                concluded.setdefault(kind, set()).add(value)
        if concluded != {kind: set(values) for kind, values in findings.items()}:
            return None
        # made from the fired rules, as engine._engine_result makes them (not read from disk)
        fired_mask, evidence_mask = plan.masks(fired)
        return EngineResult(fired, concluded, outcome, fired_mask=fired_mask,
                            evidence_mask=evidence_mask)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write(folder: str, bits: int, result: EngineResult) -> None:
    data = {"format": FORMAT, "bits": f"{bits:x}", "fired": list(result.fired),
            "findings": {kind: sorted(values) for kind, values in result.findings.items()},
            "outcome": result.outcome}
    try:
        text = json.dumps(data, ensure_ascii=False)
        back = json.loads(text)
    except (TypeError, ValueError):
        return  # a value JSON cannot hold (or sort): not stored
    if not (_same(back["outcome"], result.outcome) and back["fired"] == list(result.fired)
            and all(isinstance(v, str) for values in result.findings.values() for v in values)):
        return  # would not read back exactly as it is: not stored
    try:
        new_folder = not os.path.isdir(folder)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{bits:x}.json")
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
        _prune(folder, new_folder)
    except OSError:
        pass  # a read-only home or an odd file system: the engine decides next time too


def _same(a, b) -> bool:
    """Equal and of the same types all the way down (JSON gives back lists, never tuples)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _prune(folder: str, new_folder: bool) -> None:
    entries = list(os.scandir(folder))
    if len(entries) > KEEP_ENTRIES:
        entries.sort(key=lambda entry: entry.stat().st_mtime)
        for entry in entries[:-KEEP_ENTRIES]:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
    if new_folder:  # a new rulebook or a new triage: forget the oldest folders
        import shutil

        parent = os.path.dirname(folder)
        folders = sorted((os.path.join(parent, name) for name in os.listdir(parent)
                          if name.startswith("engine-")), key=os.path.getmtime)
        for stale in folders[:-rules_cache.KEEP]:
            shutil.rmtree(stale, ignore_errors=True)
