"""The documentation site (issue 23): it builds without a warning, what it generates from the
code is current, every link and image it has resolves to a file in the repository, and the pages
for people with back pain are in plain words.

- `cog --check` on every file with a cog block (the command-line reference from each command's
  own --help, the policy's rule and question lists from the rule files, the layer table from
  pyproject.toml): a change to a command or a rule without `cog -r FILE` fails here.
- `mkdocs build --strict` into a temporary folder: a broken link, a missing anchor or a page left
  out of the nav fails here.
- Links: every Markdown link and image in README.md and docs/ that is not a web address must
  name a file (or folder) in the repository, and no page may send the reader outside it.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent
# the site's own pages (docs/examples and docs/rules are links to examples/ and rules/)
PAGES = sorted(p for p in DOCS.rglob("*.md")
               if p.relative_to(DOCS).parts[0] not in ("examples", "rules"))
COGGED = [p for p in [ROOT / "README.md", *PAGES] if "[[[cog" in p.read_text(encoding="utf-8")]
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*```.*?^\s*```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


def test_the_generated_parts_are_current():
    assert {p.name for p in COGGED} >= {"cli.md", "policy.md", "architecture.md"}
    done = subprocess.run([_tool("cog"), "--check", *map(str, COGGED)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{done.stdout}{done.stderr}\nregenerate with: cog -r "
        + " ".join(str(p.relative_to(ROOT)) for p in COGGED))


def test_the_cli_reference_covers_every_command_and_subcommand():
    import click

    from triage.cli import main_group

    text = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    ctx = click.Context(main_group, info_name="triage")
    missing = []
    for name in main_group.list_commands(ctx):
        command = main_group.get_command(ctx, name)
        names = [name]
        if isinstance(command, click.Group):
            sub = click.Context(command, info_name=name, parent=ctx)
            names += [f"{name} {s}" for s in command.list_commands(sub)]
        missing += [n for n in names if f"$ triage {n} --help\n" not in text]
    assert not missing, f"docs/reference/cli.md lacks: {missing}"


def test_the_policy_page_counts_the_rules_as_rules_check_does():
    from click.testing import CliRunner

    from triage.cli import main_group

    checked = CliRunner().invoke(main_group, ["rules", "check"])
    rules, active = re.search(r"(\d+) rules \((\d+) active", checked.output).groups()
    policy = (DOCS / "contributors" / "policy.md").read_text(encoding="utf-8")
    assert f"has {rules} rules ({active} active)" in policy
    listed = re.findall(r"^\| `([A-Z]+-[A-Z0-9-]+)` \|", policy, re.M)
    assert len(listed) == int(rules)


def test_the_site_builds_without_a_warning(tmp_path):
    done = subprocess.run([_tool("mkdocs"), "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(BIN) + ":/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").exists()
    # the screenshots and example reports are in the site, from the repository's examples/
    assert (tmp_path / "site" / "examples" / "web" / "start-phone.png").exists()


def _links(page: Path):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = CODE.sub("", text)
    for match in LINK.finditer(text):
        yield match[1]
    for match in re.finditer(r"<img[^>]+src=\"([^\"]+)\"", text):
        yield match[1]


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_image_resolves_to_a_file_in_the_repository(page):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path = target.split("#", 1)[0]
        if not path:
            continue  # an anchor on the same page (mkdocs --strict checks those)
        resolved = (page.parent / path).resolve()
        if not resolved.exists() or ROOT.resolve() not in (resolved, *resolved.parents):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to nothing in the repository: {broken}"


def test_no_page_points_outside_the_repository():
    for page in [ROOT / "README.md", *PAGES, ROOT / "rules" / "README.md"]:
        text = page.read_text(encoding="utf-8")
        assert "shared/" not in text, f"{page.relative_to(ROOT)} cites a file outside the repository"


def test_the_screenshots_the_docs_show_are_in_the_repository():
    shown = {target for page in [ROOT / "README.md", *PAGES] for target in _links(page)
             if target.endswith(".png")}
    assert len(shown) >= 20
    for target in shown:
        assert "examples/" in target


def _plain(text: str) -> str:
    """The words a reader reads: no code, tables, links' addresses or Markdown marks, and only
    the part for the patient (a page may go on with details for the clinic, after "## For the
    clinic" or "The rest of this page gives the details")."""
    text = text.split("\n## For the clinic")[0].split("The rest of this page gives the details")[0]
    text = re.sub(r'^!!! \w+ "([^"]*)"', r"\1.\n", text, flags=re.M)  # an admonition's title
    text = FENCE.sub("", text)
    text = CODE.sub("", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))
    return re.sub(r"[#*!>\[\]_]", " ", text)


@pytest.mark.parametrize("name, grade", [("patients/index.md", 8), ("patients/browser.md", 8),
                                         ("patients/terminal.md", 8), ("patients/report.md", 9)])
def test_the_pages_for_people_with_back_pain_are_in_plain_words(name, grade):
    """NHS content guidance: plain words, short sentences. Flesch-Kincaid grade at most about
    that of a 12-to-14-year-old reader on the pages a patient is sent to."""
    import textstat

    text = _plain((DOCS / name).read_text(encoding="utf-8"))
    assert textstat.flesch_kincaid_grade(text) <= grade, textstat.flesch_kincaid_grade(text)
    # a list item or a paragraph ends a sentence too
    parts = re.split(r"\n\s*\n|\n\s*(?:-|\d+\.)\s", text)
    sentences = [s for part in parts for s in re.split(r"(?<=[.!?:])\s+", " ".join(part.split()))
                 if s]
    longest = max(len(s.split()) for s in sentences)
    assert longest <= 30, f"a sentence of {longest} words in {name}"


def _sh_blocks(text: str) -> list[str]:
    return [m[1].strip() for m in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M)]


def test_the_readme_set_up_commands_are_the_ones_that_run():
    """The README's two set-up commands: the test command is exactly what CI runs (.ci/run), and
    the main job's `triage` command is a console example of the README, run and compared by
    tests/test_readme_console.py."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    main, tests = _sh_blocks(readme)[:2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert tests in ci, f"README's test command:\n{tests}\nis not a line of .ci/run:\n" + "\n".join(ci)
    install, _, command = main.rpartition(" && .venv/bin/")
    assert install == "python3 -m venv .venv && .venv/bin/pip install ."
    assert f"```console\n$ {command}\n" in readme
    assert len(readme.splitlines()) <= 260, "the README is meant to be read in five minutes"


def test_the_example_report_the_docs_show_is_current(tmp_path):
    """examples/report.md is what `triage report` writes today for examples/desk_worker.yaml (on
    the date examples/report.sh fixes): run `bash examples/report.sh` after changing the report
    or the rules, so the examples the docs link are current."""
    from click.testing import CliRunner

    from triage.cli import main_group

    script = (ROOT / "examples" / "report.sh").read_text(encoding="utf-8")
    date = re.search(r"^DATE=(\S+)", script, re.M)[1]
    out = tmp_path / "report.md"
    done = CliRunner().invoke(main_group, ["report", str(ROOT / "examples" / "desk_worker.yaml"),
                                           "-o", str(out), "--date", date])
    assert done.exit_code == 0, done.output
    assert out.read_text(encoding="utf-8") == (ROOT / "examples" / "report.md").read_text(
        encoding="utf-8"), "examples/report.md is stale: run bash examples/report.sh"
