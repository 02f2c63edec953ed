"""The Python versions the project claims are the same everywhere a user reads them: the README's
sentence, the docs' install section (docs/index.md), pyproject's classifiers and `requires-python` (so pip refuses a version nobody checked,
instead of failing half-way through installing the web framework, as 3.10 did)."""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _readme_versions() -> list[str]:
    match = re.search(r"^Python (3\.\d+), (3\.\d+) and (3\.\d+) \(each checked",
                      (ROOT / "README.md").read_text(), re.MULTILINE)
    assert match, "the README names the Python versions it was checked on"
    return list(match.groups())


def test_the_docs_name_the_same_versions_as_the_readme():
    match = re.search(r"^Python (3\.\d+), (3\.\d+) and (3\.\d+) \(each checked",
                      (ROOT / "docs" / "index.md").read_text(), re.MULTILINE)
    assert match, "docs/index.md names the Python versions it was checked on"
    assert list(match.groups()) == _readme_versions()


def test_readme_classifiers_and_requires_python_name_the_same_versions():
    named = _readme_versions()
    classified = [c.rsplit(" :: ", 1)[1] for c in PROJECT["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert classified == named
    allowed = SpecifierSet(PROJECT["requires-python"])
    minors = [f"3.{m}" for m in range(6, 20)]
    assert [v for v in minors if f"{v}.0" in allowed] == named


def test_the_running_interpreter_is_one_the_project_claims():
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in _readme_versions()
