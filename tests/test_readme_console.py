"""The console examples of README.md and of the docs site (docs/) are what the program prints
(issue 10, item 14; issue 23: the docs' examples are run as the README's are).

Every ```console block of README.md and docs/**/*.md that shows output is run here, in a scratch
directory holding a copy of examples/, at a terminal width of 80 columns, and what it prints must be
exactly what the page shows. A block of commands with no output shown (a list of commands to try)
is run too, each line by a real shell with `triage` on its PATH, and must exit 0, or with the
code its comment names ("(exit 2)"); the scratch directory then also holds answers.json and
answers.yaml (the desk worker's answers), tests/cases (the vignettes) and rest.txt (the rest of the desk worker's answers, one a
line, after the first three). The rules guide's blocks (rules/README.md, shown in the site as
docs/rules/README.md) are its worked example, run step by step by tests/test_rules_cli.py.
An HTML comment on the line before a block can say how to run it:

    <!-- console-example: input="34\nfemale\n2\nn\n" lines="1-3,10-16" without="weasyprint" -->

* `input`: what is typed (a Python string literal), for `triage ask`;
* `lines`: which lines of the output the README shows (1-based ranges); a line `...` stands for
  the lines left out between them;
* `without`: a module that is made impossible to import (the PDF extra not installed);
* `setup`: `my-rules` makes ./rules, a copy of the shipped rules, and ./my-rules, the same with
  chronic_weeks 13 (the change rules/README.md walks through).

To regenerate the pages' examples after the program changed:

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
# the pages of the site that are the project's own (docs/examples and docs/rules link to the
# repository's examples/ and rules/ folders)
PAGES = [README] + sorted(path for path in (ROOT / "docs").rglob("*.md")
                          if path.relative_to(ROOT / "docs").parts[0] not in ("examples", "rules"))
BLOCK = re.compile(r"(?:<!-- console-example:(?P<directive>[^\n]*?)-->\n)?"
                   r"(?P<fence>```console\n)(?P<body>.*?)```", re.S)
OPTION = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*")')


def shell_examples(text: str) -> list[tuple[int, str]]:
    """(block number, command) for each command of each console block that shows no output: a
    list of commands to try (a block may sit indented in a list)."""
    out = []
    for number, match in enumerate(BLOCK.finditer(text)):
        lines = [line.strip() for line in match["body"].splitlines() if line.strip()]
        commands = [line for line in lines if line.startswith("$ ")]
        if commands and len(commands) == len(lines) and not (len(lines) == 1 and match["directive"]):
            out += [(number, line[2:]) for line in commands]
    return out


def examples(text: str):
    """(match, options, command, shown output) for each console block that shows output."""
    out = []
    for match in BLOCK.finditer(text):
        lines = match["body"].splitlines()
        if not lines or not lines[0].startswith("$ "):
            continue
        commands = [line for line in lines if line.startswith("$ ")]
        if len(commands) != 1 or (len(lines) == 1 and match["directive"] is None):
            continue  # a list of commands to try, with nothing printed to compare: shell_examples
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


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


EXAMPLES = [(page, *example) for page in PAGES
            for example in examples(page.read_text(encoding="utf-8"))]
SHELL = [(page, block, command) for page in PAGES
         for block, command in shell_examples(page.read_text(encoding="utf-8"))]


@pytest.fixture
def scratch(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def _desk_worker_lines() -> list[str]:
    """What a person types to give examples/desk_worker.yaml's answers, question by question."""
    from triage.questionnaire import read_answers_file
    from triage.rulebook import load_rulebook

    questionnaire = load_rulebook().questionnaire
    answers = read_answers_file(str(ROOT / "examples" / "desk_worker.yaml"))
    lines, so_far = [], {}
    for section in questionnaire.sections:
        for qid in section.questions:
            if questionnaire.is_skipped(qid, so_far):
                continue
            value = answers.get(qid)
            lines.append({True: "y", False: "n", None: ""}.get(value, str(value))
                         if isinstance(value, (bool, type(None))) else str(value))
            if value is not None:
                so_far[qid] = value
    return lines


def test_the_pages_have_console_examples_to_check():
    commands = [command for _, _, _, command, _ in EXAMPLES]
    assert any(c.startswith("triage ask") for c in commands)
    assert any(c.startswith("triage assess") for c in commands)
    assert len(commands) >= 5
    assert any(page == README for page, *_ in EXAMPLES), "README.md shows no example"
    assert any(page != README for page, *_ in EXAMPLES), "the docs show no example"


@pytest.mark.parametrize("index", range(len(EXAMPLES)),
                         ids=[f"{_name(page)}: {command}" for page, _, _, command, _ in EXAMPLES])
def test_each_console_example_prints_what_the_page_shows(index, scratch, monkeypatch):
    page, _, options, command, expected = EXAMPLES[index]
    printed = shown(run_example(command, options, scratch, monkeypatch), options.get("lines"))
    assert printed == expected, (
        f"$ {command}\n--- {_name(page)} shows:\n{expected}\n--- the program prints:\n{printed}\n"
        f"(regenerate with: python tests/test_readme_console.py --write)")


@pytest.mark.parametrize("index", range(len(SHELL)),
                         ids=[f"{_name(page)}: {command}" for page, _, command in SHELL])
def test_each_command_to_try_runs(index, scratch):
    """The commands shown without output, run in order of the page by a real shell."""
    import os
    import subprocess

    page, block, command = SHELL[index]
    # the commands before it in the same block run first (a later one may read what they wrote)
    earlier = [c for p, b, c in SHELL[:index] if (p, b) == (page, block)]
    shutil.copytree(ROOT / "tests" / "cases", scratch / "tests" / "cases")  # the vignettes
    shutil.copy(ROOT / "examples" / "desk_worker.yaml", scratch / "answers.yaml")
    from triage.questionnaire import read_answers_file
    import json

    answers = read_answers_file(str(ROOT / "examples" / "desk_worker.yaml"))
    (scratch / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
    (scratch / "rest.txt").write_text("".join(line + "\n" for line in _desk_worker_lines()[3:])
                                      + "\n", encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           "COLUMNS": "80", "NO_COLOR": "1"}
    for before in earlier:
        subprocess.run(["bash", "-c", before], cwd=scratch, env=env, capture_output=True,
                       timeout=120)
    expected = int(re.search(r"\(exit (\d+)\)", command)[1]) if "(exit " in command else 0
    done = subprocess.run(["bash", "-c", command], cwd=scratch, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == expected, (
        f"{_name(page)}: $ {command}\nexit {done.returncode}, expected {expected}\n{done.stderr}")


def write_readme() -> int:  # pragma: no cover - a maintainer's tool
    """Rewrite the console examples of README.md and docs/ from what the program prints now."""
    return sum(write_page(page) for page in PAGES) * 0


def write_page(page: Path) -> int:  # pragma: no cover - a maintainer's tool
    import tempfile

    from _pytest.monkeypatch import MonkeyPatch

    text = page.read_text(encoding="utf-8")
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
    page.write_text(text, encoding="utf-8")
    print(f"{changed} example(s) rewritten in {_name(page)}")
    return changed


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_readme_console.py --write")
    sys.exit(write_readme())
