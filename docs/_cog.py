"""Text the docs generate with cog (https://cog.readthedocs.io), so that it cannot drift from the
code: the command-line reference from each command's own `--help`, and the policy's rule table
from the rule files. Run `cog -r docs/reference/cli.md docs/contributors/policy.md` after a change;
tests/test_docs.py runs `cog --check` on every file that holds a cog block.

Not a page of the site (mkdocs.yml excludes it)."""
from __future__ import annotations

import click
from click.testing import CliRunner


def _commands(group: click.Group, ctx: click.Context, prefix: list[str]):
    """(words, command) for the group and every command and subcommand under it, in order."""
    yield prefix, group
    if isinstance(group, click.Group):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            sub = click.Context(command, info_name=name, parent=ctx)
            yield from _commands(command, sub, prefix + [name])


def cli_reference(out) -> None:
    """One section per command, its `--help` as printed at 80 columns."""
    from triage.cli import main_group

    ctx = click.Context(main_group, info_name="triage")
    for words, command in _commands(main_group, ctx, []):
        title = " ".join(["triage"] + words)
        result = CliRunner().invoke(main_group, words + ["--help"], prog_name="triage",
                                    terminal_width=80,
                                    env={"COLUMNS": "80", "NO_COLOR": "1"})
        assert result.exit_code == 0, (title, result.output)
        level = "##" if len(words) < 2 else "###"
        out(f"{level} `{title}`\n\n```text\n$ {title} --help\n{result.output.rstrip()}\n```\n")


def _reference(text: str) -> str:
    # the rule files cite the product contract as "shared/contract.md section N", a file kept
    # outside this repository; its policy is stated on docs/contributors/policy.md, whose
    # sections keep the same numbers, so the citation is shown as that page
    return text.replace("shared/contract.md", "this policy,")


def rule_table(out) -> None:
    """Every rule of the shipped rulebook: id, title, category, the urgency it sets, references.
    The counts are those `triage rules check` prints."""
    from triage.rulebook import load_rulebook

    book = load_rulebook()
    active = sum(rule.status == "active" for rule in book.rules)
    out(f"The shipped rulebook, version {book.version}, has {len(book.rules)} rules "
        f"({active} active).\n")
    out("| id | title | category | urgency it sets | references |")
    out("|---|---|---|---|---|")
    for rule in book.rules:
        urgency = f"`{rule.urgency}`" if rule.urgency else ""
        refs = "<br>".join(_reference(str(r)).replace("|", "\\|") for r in rule.references)
        status = "" if rule.status == "active" else f" ({rule.status})"
        out(f"| `{rule.id}` | {rule.title}{status} | {rule.category} | {urgency} | {refs} |")


def question_table(out) -> None:
    """Every question of the shipped questionnaire, section by section: id, label, type, values,
    and whether it is a warning-sign question or required."""
    from triage.rulebook import load_rulebook

    questionnaire = load_rulebook().questionnaire
    questions = questionnaire.questions
    warning = sum(q.red_flag for q in questions.values())
    out(f"{len(questions)} questions in {len(questionnaire.sections)} sections, "
        f"{warning} of them warning-sign questions.\n")
    out("| id | label | answer | |")
    out("|---|---|---|---|")
    for section in questionnaire.sections:
        out(f"| **{section.title}** | | | |")
        for qid in section.questions:
            q = questions[qid]
            if q.type == "choice":
                answer = ", ".join(f"`{value}`" for value, _ in q.choices)
            elif q.type in ("integer", "number"):
                answer = (("whole number" if q.type == "integer" else "number")
                      + (f", {_num(q.min)} to {_num(q.max)}" if q.max is not None
                         else f", {_num(q.min)} or more"))
            elif q.type == "bool":
                answer = "yes or no"
            else:
                answer = q.type
            marks = ", ".join(word for word, on in (("required", q.required),
                                                    ("warning sign", q.red_flag)) if on)
            out(f"| `{q.id}` | {q.label} | {answer} | {marks} |")


def _num(value) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def layer_table(out) -> None:
    """The layers of pyproject.toml's [tool.importlinter] contract, top to bottom, each module
    with the first sentence of its docstring (read from the source, not imported)."""
    import ast
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contract = config["tool"]["importlinter"]["contracts"][0]
    out("| layer (1 is the top) | module | what it is |")
    out("|---|---|---|")
    for number, layer in enumerate(contract["layers"], 1):
        for module in (name.strip() for name in layer.split("|")):
            path = root / Path(*module.split("."))
            source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
            doc = ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))) or ""
            first = " ".join(doc.split("\n\n")[0].split())
            sentence = first.split(". ")[0].rstrip(".")
            kind = "package" if path.is_dir() else "module"
            sentence = sentence.replace("shared/contract.md", "the triage policy").replace('|', '/')
            out(f"| {number} | `{module}` ({kind}) | {sentence} |")


def vignette_summary(out) -> None:
    """How many vignettes each file of tests/cases holds, and the coverage `triage rules test`
    reports for them."""
    import re
    from pathlib import Path

    from triage.cli import main_group
    from triage.clinician.vignettes import load_vignettes

    cases = Path(__file__).resolve().parent.parent / "tests" / "cases"
    files = sorted(cases.glob("*.yaml"))
    counts = {path.name: len(load_vignettes(path)) for path in files}
    result = CliRunner().invoke(main_group, ["rules", "test", str(cases)])
    coverage = re.search(r"Coverage: (\d+) of (\d+) active rules", result.output)
    out(f"{sum(counts.values())} cases in {len(files)} files ("
        + ", ".join(f"`{name}` {n}" for name, n in counts.items()) + "). "
        f"Together they make {coverage[1]} of the {coverage[2]} active rules fire "
        "(`triage rules test tests/cases` reports the coverage).")
