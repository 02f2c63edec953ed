"""triage: a rule-based expert system that triages lower back pain.

Python use::

    from triage import assess, load_rulebook
    result = assess({"age": 42, "duration_weeks": 2, "trauma": "none"}, load_rulebook())
    result.urgency  # 'soon': red-flag questions left unanswered are unknown, not "no"
"""
from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version as _version

    __version__ = _version("triage")
except PackageNotFoundError:  # running from a source checkout that was never installed
    __version__ = "0.1.0"

__all__ = ["__version__", "assess", "load_rulebook"]


def __getattr__(name):
    # Lazy, so that `triage --version` and `--help` do not pay for experta and the rule files.
    if name == "assess":
        from .engine import assess
        return assess
    if name == "load_rulebook":
        from .rulebook import load_rulebook
        return load_rulebook
    raise AttributeError(name)
