"""`triage rules list/show/test/diff/doc`, and the worked example of rules/README.md performed step
by step exactly as written there."""
import csv
import datetime as dt
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from triage.cli import rules as rules_cli
from triage.cli import main_group
from triage.resources import rules_dir
from triage.rulebook import load_rulebook
from support import NO_WARNING_SIGNS

SHIPPED = load_rulebook()
REVIEW_DAY = max(r.reviewed_on for r in SHIPPED.rules).isoformat()
README = Path(rules_dir()) / "README.md"


def run(*args, input=None):
    return CliRunner().invoke(main_group, [str(a) for a in args], input=input)


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(rules_dir(), target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# -------------------------------------------------------------------------------------------- help

@pytest.mark.parametrize("command", [["rules"], ["rules", "list"], ["rules", "show"],
                                     ["rules", "check"], ["rules", "test"], ["rules", "diff"],
                                     ["rules", "doc"], ["explain"]])
def test_every_command_has_help_with_examples(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output


# -------------------------------------------------------------------------------------------- list

def test_list_has_one_row_per_rule_with_its_columns():
    result = run("rules", "list", "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in rows] == [r.id for r in SHIPPED.rules]
    by_id = {r["id"]: r for r in rows}
    # contract section 3: saddle numbness is an emergency
    assert by_id["RF-CES-01"]["urgency"] == "emergency"
    assert by_id["RF-CES-01"]["category"] == "red_flag"
    assert by_id["RF-CES-01"]["last_reviewed"] == str(SHIPPED.rule("RF-CES-01").reviewed_on)


def test_list_table_and_filters():
    result = run("rules", "list", "--category", "duration")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "TITLE", "CATEGORY", "URGENCY", "STATUS", "VERSION",
                                "LAST", "REVIEWED"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == [r.id for r in SHIPPED.rules if r.category == "duration"]


def test_list_shows_a_draft_rule(copy):
    head = "  - id: UR-PSYCH-01\n    title: High risk of a slow recovery\n"
    edit(copy / "urgency.yaml", head + "    category: urgency\n    status: active",
         head + "    category: urgency\n    status: draft")
    rows = json.loads(run("rules", "list", "--format", "json", "--status", "draft",
                          "--rules", copy).stdout)
    assert [r["id"] for r in rows] == ["UR-PSYCH-01"]


# -------------------------------------------------------------------------------------------- show

def test_show_renders_conditions_parameters_and_examples():
    result = run("rules", "show", "RF-AAA-01")
    assert result.exit_code == 0
    out = result.stdout
    aaa_age = SHIPPED.parameters["aaa_age"]
    assert "Fires when all of:" in out
    assert '- "abdominal pain" answered yes' in out
    assert f"age is at least {aaa_age.value:g} years (aaa_age)" in out
    assert f"aaa_age = {aaa_age.value:g} years" in out
    assert "abdominal_pain: " + SHIPPED.questionnaire.questions["abdominal_pain"].text in out
    for ref in SHIPPED.rule("RF-AAA-01").references:
        assert ref[:40] in out
    examples = [line for line in out.splitlines() if line.startswith("  pass ")]
    assert len(examples) == len(SHIPPED.rule("RF-AAA-01").examples)


def test_show_follows_a_changed_parameter_and_flags_a_failing_example(copy):
    edit(copy / "rulebook.yaml", "  aaa_age:\n    value: 50", "  aaa_age:\n    value: 60")
    out = run("rules", "show", "RF-AAA-01", "--rules", copy).stdout
    assert "age is at least 60 years (aaa_age)" in out
    # the rule's firing example is a 50-year-old: with the threshold at 60 it no longer fires
    assert re.search(r"^  FAIL +fires +\{age: 50,", out, re.M)
    assert "not met: age is at least 60 years (aaa_age)" in out


def test_show_an_unknown_rule_is_exit_2_with_a_suggestion():
    result = run("rules", "show", "RF-AAA-1")
    assert result.exit_code == 2
    assert "RF-AAA-1: no such rule (did you mean RF-AAA-01?)" in result.stderr


def test_show_json():
    card = json.loads(run("rules", "show", "RF-CES-01", "--format", "json").stdout)
    assert card["id"] == "RF-CES-01"
    assert card["condition"]["text"] == "any of:"
    assert all(e["passed"] for e in card["examples"])


# -------------------------------------------------------------------------------- test (vignettes)

VIGNETTES = """\
cases:
  - id: saddle-numbness
    basis: NICE CKS Sciatica (2024), saddle numbness suggests cauda equina syndrome
    answers: {age: 45, duration_weeks: 1, trauma: none, saddle_numbness: true}
    expect:
      urgency: emergency
      red_flags: [cauda_equina]
  - id: chronic-at-twelve-weeks
    basis: COST B13 (Airaksinen 2006), chronic from 12 weeks
    answers: {age: 40, duration_weeks: 12, trauma: none}
    expect:
      duration_class: chronic
      urgency_at_least: soon
"""


def test_rules_test_passes_and_reports_coverage(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text(VIGNETTES)
    result = run("rules", "test", cases)
    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed, 0 errors, of 2 cases" in result.stdout
    assert result.stdout.startswith("pass  saddle-numbness\npass  chronic-at-twelve-weeks\n")
    assert "No case makes these rules fire:" in result.stdout
    # RF-CES-01 fires in the first case, so it is covered; the aneurysm rule is not
    uncovered = result.stdout.split("No case makes these rules fire:")[1]
    assert "RF-CES-01 " not in uncovered
    assert "RF-AAA-01 " in uncovered


def test_rules_test_failure_prints_a_block_that_passes_when_pasted_back(tmp_path, copy):
    # With chronic from 13 weeks, the 12-week case is subacute (and the floor still holds:
    # its warning-sign questions are unanswered, so it is at least soon).
    edit(copy / "rulebook.yaml", "  chronic_weeks:\n    value: 12",
         "  chronic_weeks:\n    value: 13")
    cases = tmp_path / "cases.yaml"
    cases.write_text(VIGNETTES)
    result = run("rules", "test", cases, "--rules", copy, "--no-coverage")
    assert result.exit_code == 2
    out = result.stdout
    assert f"FAIL  chronic-at-twelve-weeks ({cases})" in out
    assert "duration_class: expected chronic, got subacute" in out
    block = re.search(r"^(    expect:\n(?:      .*\n)+)", out, re.M).group(1)
    text = cases.read_text()
    old = "    expect:\n      duration_class: chronic\n      urgency_at_least: soon\n"
    cases.write_text(text.replace(old, block))
    again = run("rules", "test", cases, "--rules", copy, "--no-coverage")
    assert again.exit_code == 0, again.output
    assert yaml.safe_load(cases.read_text())["cases"][1]["expect"]["duration_class"] == "subacute"


def test_rules_test_reports_a_case_with_invalid_answers(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text(VIGNETTES.replace("trauma: none, saddle", "trauma: nonee, saddle"))
    result = run("rules", "test", cases)
    assert result.exit_code == 2
    assert "ERROR saddle-numbness" in result.stdout and "trauma" in result.stdout
    assert "1 passed, 0 failed, 1 errors" in result.stdout


def test_rules_test_bad_vignette_file_is_exit_2(tmp_path):
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - id: x\n    answers: {age: 4}\n")
    result = run("rules", "test", cases)
    assert result.exit_code == 2
    assert f"{cases}: x: missing 'basis'" in result.stderr


# -------------------------------------------------------------------------------------------- diff

# A small set of cases with known outcomes under chronic_weeks 12 and 13 (COST B13: chronic from
# 12 weeks; NICE NG65: inflammatory back pain needs 3 months or more, so it follows the threshold).
KNOWN_SET = [
    # 12 weeks, getting better, every warning sign answered no: chronic/soon -> subacute/self_care
    # (policy version 3: subacute pain that is not getting better would stay soon)
    dict(case_id="twelve", age=40, duration_weeks=12, trauma="none", pain_trend="better",
         **NO_WARNING_SIGNS),
    # 12.5 weeks with warning signs unanswered: duration changes, urgency stays soon (unknown flags)
    dict(case_id="twelve-and-a-half", age=40, duration_weeks=12.5, trauma="none"),
    # inflammatory pattern at 12 weeks: no longer chronic, so no inflammatory flag or cause
    # (policy version 3: NICE NG65's count, here 4 features with onset before 35)
    dict(case_id="inflammatory", age=30, duration_weeks=12, trauma="none", night_waking_late=True,
         buttock_pain=True, better_with_exercise=True),
    # unaffected: acute, and long-standing
    dict(case_id="acute", age=40, duration_weeks=2, trauma="none"),
    dict(case_id="long", age=40, duration_weeks=20, trauma="none", **NO_WARNING_SIGNS),
]


@pytest.fixture
def thirteen_weeks(copy):
    edit(copy / "rulebook.yaml", "  chronic_weeks:\n    value: 12",
         "  chronic_weeks:\n    value: 13")
    return copy


def test_diff_counts_on_a_known_set(tmp_path, thirteen_weeks):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(c) + "\n" for c in KNOWN_SET))
    result = run("rules", "diff", rules_dir(), thirteen_weeks, "--cases", cases, "--format", "json")
    assert result.exit_code == 0, result.output
    impact = json.loads(result.stdout)
    assert impact["cases"] == 5 and impact["changed"] == 3
    assert impact["counts"] == {"urgency": 1, "duration_class": 3, "red_flags": 1, "causes": 1,
                                "stretches": 1}
    assert impact["transitions"]["urgency"] == [{"from": "soon", "to": "self_care", "count": 1}]
    assert impact["transitions"]["duration_class"] == [
        {"from": "chronic", "to": "subacute", "count": 3}]
    assert impact["removed"]["red_flags"] == {"inflammatory": 1}
    assert [c["case_id"] for c in impact["changed_cases"]] == ["twelve", "twelve-and-a-half",
                                                                 "inflammatory"]


def test_diff_reads_csv_and_prints_a_transition_table(tmp_path, thirteen_weeks):
    cases = tmp_path / "cases.csv"
    columns = ["case_id"] + sorted({k for c in KNOWN_SET for k in c} - {"case_id"})
    with open(cases, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for case in KNOWN_SET:
            writer.writerow({k: ("yes" if v is True else "no" if v is False else v)
                             for k, v in case.items()})
    result = run("rules", "diff", rules_dir(), thirteen_weeks, "--cases", cases)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"^  soon -> self_care +1$", out, re.M)
    assert re.search(r"^  chronic -> subacute +3$", out, re.M)
    assert re.search(r"^  duration class +3$", out, re.M)
    assert "3 cases change (60.0%)" in out
    assert re.search(r"^  line 2 \(twelve\): urgency soon -> self_care; duration class chronic "
                     r"-> subacute$", out, re.M)


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_diff_of_identical_rules_changes_nothing(tmp_path, copy):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(c) + "\n" for c in KNOWN_SET))
    impact = json.loads(run("rules", "diff", rules_dir(), copy, "--cases", cases,
                            "--format", "json").stdout)
    assert impact["changed"] == 0 and impact["changed_cases"] == []


def test_diff_reads_stdin_and_reports_bad_rows_with_exit_2(thirteen_weeks):
    bad = '{"age": "old", "duration_weeks": 1, "trauma": "none"}\n'
    lines = json.dumps(KNOWN_SET[0]) + "\n" + bad
    result = run("rules", "diff", rules_dir(), thirteen_weeks, "--cases", "-", input=lines)
    assert result.exit_code == 2
    assert "line 2: old rules: age:" in result.stdout
    assert "1 case changes" in result.stdout
    assert "1 of 2 cases could not be assessed" in result.stderr


def test_diff_with_a_missing_rules_directory_is_exit_2(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(KNOWN_SET[0]) + "\n")
    result = run("rules", "diff", rules_dir(), tmp_path / "nope", "--cases", cases)
    assert result.exit_code == 2
    assert "nope" in result.stderr


# --------------------------------------------------------------------------------------------- doc

def test_review_pack_html_lists_every_rule_and_is_self_contained(tmp_path):
    pack = tmp_path / "pack.html"
    result = run("rules", "doc", "-o", pack, "--today", REVIEW_DAY)
    assert result.exit_code == 0, result.output
    html = pack.read_text()
    for rule in SHIPPED.rules:
        assert f'<article class="card" id="{rule.id}">' in html
        assert f"<tr><td><code>{rule.id}</code></td><td>{rule.version}</td>" in html  # sign-off
    for name in SHIPPED.parameters:
        assert f"<code>{name}</code>" in html
    for stretch in SHIPPED.stretches.values():
        assert f'id="stretch-{stretch.id}"' in html
    for qid in SHIPPED.questionnaire.questions:
        assert f"<code>{qid}</code>" in html
    assert "<style>" in html
    assert not re.search(r'(src|href)="(https?:)?//|<link|@import', html)
    assert "found no problems" in html


def test_review_pack_markdown_by_suffix(tmp_path):
    pack = tmp_path / "pack.md"
    assert run("rules", "doc", "-o", pack, "--today", REVIEW_DAY).exit_code == 0
    text = pack.read_text()
    for rule in SHIPPED.rules:
        assert f"### {rule.id}: {rule.title}" in text
        assert f"| `{rule.id}` | {rule.version} | | | | |" in text
    assert "## Sign-off" in text


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_review_pack_shows_a_failing_example_and_escapes_html(tmp_path, copy):
    edit(copy / "red_flags.yaml", "title: Possible abdominal aortic aneurysm",
         "title: Possible <b>aneurysm</b>")
    edit(copy / "red_flags.yaml",
         "      - fires: {age: 50, duration_weeks: 0.5, trauma: none, abdominal_pain: true}",
         "      - fires: {age: 45, duration_weeks: 0.5, trauma: none, abdominal_pain: true}")
    pack = tmp_path / "pack.html"
    assert run("rules", "doc", "-o", pack, "--rules", copy, "--today", REVIEW_DAY).exit_code == 0
    html = pack.read_text()
    assert "Possible &lt;b&gt;aneurysm&lt;/b&gt;" in html and "<b>aneurysm" not in html
    card = html.split('id="RF-AAA-01">')[1].split("</article>")[0]
    assert '<span class="fail">FAIL</span>' in card
    assert "RF-AAA-01: example 1 (fires) fails" in html  # in the automatic-check section


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_review_pack_needs_a_known_suffix_or_format(tmp_path):
    result = run("rules", "doc", "-o", tmp_path / "pack.txt")
    assert result.exit_code == 2
    assert "use a .html or .md suffix" in result.stderr
    assert not (tmp_path / "pack.txt").exists()
    result = run("rules", "doc", "-o", tmp_path / "no-such-dir" / "pack.html")
    assert result.exit_code == 2
    assert "no-such-dir/pack.html: cannot write the review pack" in result.stderr
    printed = run("rules", "doc", "-o", "-", "--format", "markdown")
    assert printed.exit_code == 0 and printed.stdout.startswith("# Clinical review pack")


# --------------------------------------------------------------------- the README's worked example

WORKED_STEP = re.compile(r"<!-- worked-example: (?P<what>[^>]*?) -->\n```\w*\n(?P<body>.*?)```",
                         re.S)


def _expected_pattern(expected: str) -> str:
    """The README's output as a pattern: '...' alone on a line stands for any lines, and inside a
    line for any text (like doctest's ELLIPSIS)."""
    parts = []
    for line in expected.splitlines():
        if line.strip() == "...":
            parts.append(r"(?:.*\n)*")
        else:
            parts.append(re.escape(line).replace(re.escape("..."), ".*") + "\n")
    return "".join(parts)


def _commands(body: str):
    command, output = None, []
    for line in body.splitlines():
        if line.startswith("$ "):
            if command:
                yield command, "\n".join(output)
            command, output = line[2:], []
        else:
            output.append(line)
    if command:
        yield command, "\n".join(output)


def _apply_diff(path: Path, body: str):
    for hunk in re.split(r"^@@.*\n", body, flags=re.M):
        lines = hunk.splitlines()
        old = "".join(line[1:] + "\n" for line in lines if line[:1] in (" ", "-"))
        new = "".join(line[1:] + "\n" for line in lines if line[:1] in (" ", "+"))
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"README diff hunk does not match {path} exactly once:\n{old}"
        path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_readme_worked_example_does_what_it_says(tmp_path, monkeypatch):
    steps = list(WORKED_STEP.finditer(README.read_text(encoding="utf-8")))
    assert len(steps) >= 5, "rules/README.md lost its worked example"
    shutil.copytree(rules_dir(), tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    # review dates are checked against a fixed day, so the example does not expire
    monkeypatch.setattr(rules_cli, "_today", lambda value: dt.date.fromisoformat(REVIEW_DAY))
    ran = []
    for step in steps:
        what, body = step["what"].split(), step["body"]
        if what[0] == "file":
            Path(what[1]).write_text(body, encoding="utf-8")
        elif what[0] == "edit":
            _apply_diff(Path(what[1]), body)
        else:
            for command, expected in _commands(body):
                words = shlex.split(command)
                if words[:2] == ["cp", "-r"]:
                    shutil.copytree(words[2], words[3])
                    continue
                assert words[0] == "triage", f"the test cannot run {command!r}"
                result = CliRunner().invoke(main_group, words[1:])
                assert re.fullmatch(_expected_pattern(expected), result.output), (
                    f"$ {command}\n--- README says:\n{expected}\n--- it printed:\n{result.output}")
                ran.append(command)
    assert "triage rules diff rules my-rules --cases twelve-weeks.jsonl" in ran
    # What the README claims in words: the value goes from 12 to 13, and the 12-week case moves.
    rulebook = load_rulebook(tmp_path / "my-rules")
    assert SHIPPED.parameters["chronic_weeks"].value == 12
    assert rulebook.parameters["chronic_weeks"].value == 13
