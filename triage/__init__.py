"""triage: a rule-based expert system that triages lower back pain.

Python use::

    from triage import assess, load_rulebook
    result = assess({"age": 42, "duration_weeks": 2, "trauma": "none"}, load_rulebook())
    result.urgency  # 'soon': red-flag questions left unanswered are unknown, not "no"
"""
from __future__ import annotations

__all__ = ["__version__", "assess", "load_rulebook"]


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("triage")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "0.1.0"


def __getattr__(name):
    # Lazy, so that a command pays only for what it uses (reading the package metadata alone
    # costs about 16 ms of start-up).
    if name == "__version__":
        # read once: every report carries the version, and reading the metadata again at each
        # result page of `triage serve` cost it several milliseconds of CPU per patient
        globals()["__version__"] = version = _installed_version()
        return version
    if name == "assess":
        from .engine import assess
        return assess
    if name == "load_rulebook":
        from .rulebook import load_rulebook
        return load_rulebook
    raise AttributeError(name)
