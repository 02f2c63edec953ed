"""Where the shipped rule files and report templates are.

In a wheel they are inside the package (``triage/rules``, ``triage/templates``, see pyproject.toml);
in a source checkout they are at the top of the repository (``rules/``, ``reports/templates/``).
Worked out with ``os.path``: `triage assess` finds its rules without importing pathlib (about 3
ms of its start); ``rules_dir`` and ``templates_dir`` give the same as ``Path`` objects.
"""
from __future__ import annotations

import os

_PACKAGE = os.path.dirname(os.path.realpath(__file__))


def _first_existing(*candidates: str) -> str:
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    return candidates[0]


def rules_directory() -> str:
    """The default rule files (the policy of contract section 3), as a string."""
    return _first_existing(os.path.join(_PACKAGE, "rules"),
                           os.path.join(os.path.dirname(_PACKAGE), "rules"))


def rules_dir():
    """The default rule files, as a ``pathlib.Path``."""
    from pathlib import Path

    return Path(rules_directory())


def templates_dir():
    """The Jinja report templates, as a ``pathlib.Path``."""
    from pathlib import Path

    return Path(_first_existing(os.path.join(_PACKAGE, "templates"),
                                os.path.join(os.path.dirname(_PACKAGE), "reports", "templates")))
