"""The core's layers show (issue 23): dependencies run one way, and no module of the core
imports, directly or through others, a module that imports it back.

The layers are declared once, in pyproject.toml ([tool.importlinter]), and checked here with
import-linter; the circle check reads the same import graph (grimp, which import-linter is built
on), counting imports inside functions too, since a lazy import is still a dependency.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
# the web front end's own modules are one application, not the core this test guards
CORE_EXCLUDES = ("triage.web", "triage.cli")


def _circles(graph) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan)."""
    modules = [m for m in graph.modules if not m.startswith(CORE_EXCLUDES)]
    edges = {m: {d for d in graph.find_modules_directly_imported_by(m)
                 if d != m and not d.startswith(CORE_EXCLUDES)} for m in modules}
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    found: list = []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_import_circle_among_the_core_modules():
    assert _circles(grimp.build_graph("triage")) == []


def test_the_circle_check_sees_a_circle_made_through_a_lazy_import(tmp_path, monkeypatch):
    """The check itself can fail: a package whose modules import each other, one of them only
    inside a function, is reported."""
    package = tmp_path / "circular_example"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def f():\n    from . import high\n    return high\n")
    (package / "high.py").write_text("from . import low\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _circles(grimp.build_graph("circular_example")) == [
        ["circular_example.high", "circular_example.low"]]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_declared_layers_are_kept():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_an_import_against_the_layers_breaks_the_contract(tmp_path):
    """The contract binds: a copy of the package where the condition grammar reads the engine
    (an upward import) is refused, naming both modules."""
    import shutil

    shutil.copytree(ROOT / "triage", tmp_path / "triage",
                    ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    grammar = tmp_path / "triage" / "conditions.py"
    grammar.write_text(grammar.read_text() + "\n\ndef _upward():\n    from .engine import assess\n"
                       "    return assess\n")
    done = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode != 0, done.stdout
    assert "triage.conditions -> triage.engine" in done.stdout, done.stdout
