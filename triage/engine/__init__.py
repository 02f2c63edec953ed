"""The engine, behind one door: answers and a rulebook in, an Assessment out.

Everything outside this package reads the engine through the names below (``from triage.engine
import assess``); what is behind the door is the engine's own business:

- ``rete``: the rulebook compiled into an experta knowledge engine (through ``triage._experta``),
  run once per distinct pattern of answers, and the Assessment read from what the rules concluded;
- ``decisions``: the speed machinery in front of it, the rule atoms computed as one vector and the
  engine's result kept per vector, so a batch runs experta once per pattern, not once per case;
- ``crosscheck``: every result from the machinery checked against the rule conditions themselves;
- ``store``: engine results kept on disk beside the cached rulebook, so a `triage assess` with
  everything cached does not import experta at all.

The names are looked up lazily: importing ``triage.engine.store`` must not pull in experta.
"""
from __future__ import annotations

# name -> the module behind the door that defines it
_DOOR = {
    "assess": "rete", "assess_json": "rete", "assess_outcome": "rete", "decide": "rete",
    "run_rules": "rete", "engine_tests": "rete", "REVIEW_PARAMETERS": "rete",
    "EngineInconsistency": "crosscheck",
    "cache_enabled": "decisions", "clear_caches": "decisions", "facts_of": "decisions",
    "plan_for": "decisions",
    # the same as assess, with engine results read from and kept on disk (store.py)
    "assess_cached": ("store", "assess"),
}

__all__ = sorted(_DOOR)


def __getattr__(name):
    where = _DOOR.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = where if isinstance(where, tuple) else (where, name)
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), attribute)
