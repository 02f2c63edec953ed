"""Where the shipped rule files and report templates are.

In a wheel they are inside the package (``triage/rules``, ``triage/templates``, see pyproject.toml);
in a source checkout they are at the top of the repository (``rules/``, ``reports/templates/``).
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def rules_dir() -> Path:
    """The default rule files (the policy of contract section 3)."""
    return _first_existing(_PACKAGE / "rules", _PACKAGE.parent / "rules")


def templates_dir() -> Path:
    """The Jinja report templates."""
    return _first_existing(_PACKAGE / "templates", _PACKAGE.parent / "reports" / "templates")
