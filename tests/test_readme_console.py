"""The README's console examples are what the program prints (issue 10, item 14).

Every ```console block of README.md that shows output is run here, in a scratch directory holding
a copy of examples/, at a terminal width of 80 columns, and what it prints must be exactly what the
README shows. An HTML comment on the line before a block can say how to run it:

    <!-- console-example: input="34\nfemale\n2\nn\n" lines="1-3,10-16" without="weasyprint" -->

* `input`: what is typed (a Python string literal), for `triage ask`;
* `lines`: which lines of the output the README shows (1-based ranges); a line `...` stands for
  the lines left out between them;
* `without`: a module that is made impossible to import (the PDF extra not installed);
* `setup`: `my-rules` makes ./rules, a copy of the shipped rules, and ./my-rules, the same with
  chronic_weeks 13 (the change rules/README.md walks through).

To regenerate the README's examples after the program changed:

    python tests/test_readme_console.py --write
"""
from __future__ import annotations

import ast
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"(?:<!-- console-example:(?P<directive>[^\n]*?)-->\n)?"
                   r"(?P<fence>```console\n)(?P<body>.*?)```", re.S)
OPTION = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*")')


def examples(text: str):
    """(match, options, command, shown output) for each console block that shows output."""
    out = []
    for match in BLOCK.finditer(text):
        lines = match["body"].splitlines()
        if not lines or not lines[0].startswith("$ "):
            continue
        commands = [line for line in lines if line.startswith("$ ")]
        if len(commands) != 1 or (len(lines) == 1 and match["directive"] is None):
            continue  # a list of commands to try, with nothing printed to compare
        options = {key: ast.literal_eval(value)
                   for key, value in OPTION.findall(match["directive"] or "")}
        out.append((match, options, lines[0][2:], "\n".join(lines[1:])))
    return out


def _my_rules(directory: Path) -> None:
    from triage.resources import rules_dir

    if not (directory / "rules").exists():
        shutil.copytree(rules_dir(), directory / "rules")
    shutil.copytree(rules_dir(), directory / "my-rules")
    rulebook = directory / "my-rules" / "rulebook.yaml"
    text = rulebook.read_text(encoding="utf-8")
    start = text.index("  chronic_weeks:")
    value = text.index("value: 12", start)
    rulebook.write_text(text[:value] + "value: 13" + text[value + len("value: 12"):],
                        encoding="utf-8")


def run_example(command: str, options: dict, directory: Path, monkeypatch) -> str:
    """What the command prints (standard output and error, as a terminal shows them)."""
    from triage.cli import main_group

    words = shlex.split(command.split("  #", 1)[0])
    assert words[0] == "triage", f"the test can only run triage commands, not {command!r}"
    if options.get("setup") == "my-rules" and not (directory / "my-rules").exists():
        _my_rules(directory)
    monkeypatch.chdir(directory)
    # the review date (policy version 3: "not clearly better by DATE") is printed: fix the day
    import datetime

    monkeypatch.setattr("triage.assessment._today", lambda: datetime.date(2026, 12, 7))
    if options.get("without"):
        monkeypatch.setitem(sys.modules, options["without"], None)
    result = CliRunner().invoke(main_group, words[1:], input=options.get("input", ""),
                                env={"COLUMNS": "80", "NO_COLOR": "1"})
    if options.get("without"):
        monkeypatch.delitem(sys.modules, options["without"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def shown(output: str, lines: str | None) -> str:
    """The lines of `output` the README shows, with '...' for each gap."""
    all_lines = output.rstrip("\n").splitlines()
    if not lines:
        return "\n".join(all_lines)
    keep: list[str] = []
    last = 0
    for part in lines.split(","):
        first, dash, end = part.partition("-")  # "3-" runs to the last line
        first = int(first)
        end = int(end) if end else (len(all_lines) if dash else first)
        if first > last + 1:
            keep.append("...")
        keep += all_lines[first - 1:end]
        last = end
    if last < len(all_lines):
        keep.append("...")
    return "\n".join(keep)


EXAMPLES = examples(README.read_text(encoding="utf-8"))


@pytest.fixture
def scratch(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def test_the_readme_has_console_examples_to_check():
    commands = [command for _, _, command, _ in EXAMPLES]
    assert any(c.startswith("triage ask") for c in commands)
    assert any(c.startswith("triage assess") for c in commands)
    assert len(commands) >= 5


@pytest.mark.parametrize("index", range(len(EXAMPLES)),
                         ids=[command for _, _, command, _ in EXAMPLES])
def test_each_console_example_prints_what_the_readme_shows(index, scratch, monkeypatch):
    _, options, command, expected = EXAMPLES[index]
    printed = shown(run_example(command, options, scratch, monkeypatch), options.get("lines"))
    assert printed == expected, (
        f"$ {command}\n--- the README shows:\n{expected}\n--- the program prints:\n{printed}\n"
        f"(regenerate with: python tests/test_readme_console.py --write)")


def write_readme() -> int:  # pragma: no cover - a maintainer's tool
    """Rewrite README.md's console examples from what the program prints now."""
    import tempfile

    from _pytest.monkeypatch import MonkeyPatch

    text = README.read_text(encoding="utf-8")
    changed = 0
    for match, options, command, expected in reversed(examples(text)):
        with tempfile.TemporaryDirectory() as directory:
            shutil.copytree(ROOT / "examples", Path(directory) / "examples")
            patch = MonkeyPatch()
            try:
                output = run_example(command, options, Path(directory), patch)
            finally:
                patch.undo()
        printed = shown(output, options.get("lines"))
        if printed != expected:
            changed += 1
            start = match.start("body")
            text = text[:start] + f"$ {command}\n{printed}\n" + text[match.end("body"):]
    README.write_text(text, encoding="utf-8")
    print(f"{changed} example(s) rewritten in {README}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_readme_console.py --write")
    sys.exit(write_readme())
