"""`triage rules check`: a broken copy of the rules gives each problem as one line,
FILE: RULE-ID: problem, and exit code 2; the shipped rules are clean (exit 0, one summary line)."""
import datetime as dt
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import main_group
from triage.clinician.lint import lint_rulebook
from triage.resources import rules_dir
from triage.rulebook import load_rulebook

SHIPPED = load_rulebook()
# A day on which every shipped rule is within its review period, whatever today's date is.
REVIEW_DAY = max(r.reviewed_on for r in SHIPPED.rules).isoformat()


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "rules"
    shutil.copytree(rules_dir(), target)
    return target


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def add_rule(directory: Path, rule_yaml: str) -> None:
    """Append a rule to urgency.yaml (its rules list runs to the end of the file)."""
    with open(directory / "urgency.yaml", "a", encoding="utf-8") as handle:
        handle.write("\n" + rule_yaml)


def check(directory, *extra):
    result = CliRunner().invoke(main_group, ["rules", "check", "--rules", str(directory),
                                             "--today", REVIEW_DAY, *extra])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def assert_problem(lines, file: Path, where: str, fragment: str):
    prefix = f"{file}: {where}: "
    hits = [line for line in lines if line.startswith(prefix) and fragment in line]
    assert hits, f"no line starting {prefix!r} containing {fragment!r} in:\n" + "\n".join(lines)


NEW_RULE = """\
  - id: UR-TEST-01
    title: A rule added by a test
    category: urgency
    status: active
    version: 1
    reviewed_by: test
    reviewed_on: {day}
    rationale: For the checker's tests.
    references: [none]
    when:
{when}
    then:
      urgency: soon
    examples:
      - fires: {{age: 40, duration_weeks: 2, trauma: none}}
      - silent: {{age: 40, duration_weeks: 2, trauma: none}}
"""


def new_rule(when: str) -> str:
    indented = "\n".join("      " + line for line in when.strip().splitlines())
    return NEW_RULE.format(day=REVIEW_DAY, when=indented)


# ------------------------------------------------------------------------------------------- clean

def test_shipped_rules_are_clean_with_a_one_line_summary():
    code, lines, _ = check(rules_dir())
    assert code == 0
    assert len(lines) == 1 and lines[0].startswith("No problems in ")
    assert f"{len(SHIPPED.rules)} rules" in lines[0]


# ------------------------------------------------------------------------- what the loader rejects

def test_schema_error_is_one_line_with_file_and_rule(copy):
    edit(copy / "red_flags.yaml", "    title: Possible abdominal aortic aneurysm\n", "")
    code, lines, stderr = check(copy)
    assert code == 2
    assert lines == [f"{copy / 'red_flags.yaml'}: RF-AAA-01: missing 'title'"]
    assert "do not load" in stderr


def test_invalid_yaml_names_the_line(copy):
    edit(copy / "causes.yaml", "    title: Pain after an injury", "    title: [Pain after")
    code, lines, _ = check(copy)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"{copy / 'causes.yaml'}: line ")


def test_duplicate_rule_id(copy):
    edit(copy / "urgency.yaml", "- id: UR-CHILD-01", "- id: UR-CHRONIC-01")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "urgency.yaml", "UR-CHRONIC-01", "duplicate rule id")


def test_unknown_question(copy):
    edit(copy / "red_flags.yaml", "        - saddle_numbness: true",
         "        - sadle_numbness: true")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-CES-01", "unknown question 'sadle_numbness'")


def test_unknown_answer_value(copy):
    edit(copy / "red_flags.yaml", "      trauma: major\n", "      trauma: severe\n")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-FRACTURE-01",
                   "'severe' is not a possible answer to 'trauma'")


def test_unknown_parameter(copy):
    edit(copy / "red_flags.yaml", '{">=": aaa_age}', '{">=": aneurysm_age}')
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-AAA-01", "unknown parameter 'aneurysm_age'")


def test_urgency_outside_the_catalogue(copy):
    edit(copy / "urgency.yaml", "      urgency: self_care", "      urgency: home_care")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "urgency.yaml", "UR-SELFCARE-01", "unknown urgency 'home_care'")


def test_stretch_outside_the_catalogue(copy):
    edit(copy / "stretch_plan.yaml", "stretch: [kneeling_hip_flexor,",
         "stretch: [hip_flexor_lunge,")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "stretch_plan.yaml", "ST-MI-01",
                   "stretch id outside the catalogue 'hip_flexor_lunge'")


def test_rule_without_references(copy):
    add_rule(copy, new_rule("fever: true").replace("    references: [none]\n", ""))
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "urgency.yaml", "UR-TEST-01", "missing 'references'")


# ---------------------------------------------------------------------------------------- examples

@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_rule_without_a_firing_example(copy):
    edit(copy / "red_flags.yaml",
         "      - fires: {age: 30, duration_weeks: 0.5, trauma: major}\n"
         "        expect: {urgency: emergency, red_flags: [fracture]}\n", "")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-FRACTURE-01", "no example where it fires")


def test_rule_without_a_silent_example(copy):
    edit(copy / "red_flags.yaml",
         "      - silent: {age: 30, duration_weeks: 0.5, trauma: minor}\n", "")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-FRACTURE-01",
                   "no example where it stays silent")


def test_failing_example_says_which_condition_was_not_met(copy):
    # NICE NG156: the aneurysm rule starts at aaa_age (50), so a 45-year-old example cannot fire it.
    edit(copy / "red_flags.yaml",
         "      - fires: {age: 50, duration_weeks: 0.5, trauma: none, abdominal_pain: true}",
         "      - fires: {age: 45, duration_weeks: 0.5, trauma: none, abdominal_pain: true}")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-AAA-01",
                   "example 1 (fires) fails: it did not fire (not met: age is at least 50 years "
                   "(aaa_age))")


def test_example_with_an_unknown_question(copy):
    edit(copy / "red_flags.yaml",
         "      - fires: {age: 30, duration_weeks: 0.5, trauma: major}",
         "      - fires: {age: 30, duration_weeks: 0.5, trauma: major, feverr: true}")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-FRACTURE-01",
                   "example 1 (fires) fails: invalid answers: example 1: feverr: unknown question")


# ----------------------------------------------------------------------- rules that can never fire

@pytest.mark.parametrize("when, fragment", [
    ("all:\n  - duration_weeks: {\">=\": chronic_weeks}\n"
     "  - duration_weeks: {\"<\": subacute_weeks}",
     'no answer to "duration weeks" meets all of'),
    ("all:\n  - leg_pain: below_knee\n  - not: {leg_pain: {in: [below_knee, above_knee]}}",
     'no answer to "leg pain" meets all of'),
    ("all:\n  - fever: true\n  - unanswered: [fever]", 'no answer to "fever" meets all of'),
    ("unanswered: [age]", '"age" is required, so it is never left unanswered'),
    ("all:\n  - age: {\">=\": edge}\n  - age: {\"<\": child_age}",
     'no answer to "age" meets all of'),
])
def test_rule_that_can_never_fire(copy, when, fragment):
    edit(copy / "rulebook.yaml", "parameters:\n",
         "parameters:\n  edge:\n    value: 15.5\n    unit: years\n    description: test\n")
    add_rule(copy, new_rule(when))
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "urgency.yaml", "UR-TEST-01", "can never fire: " + fragment)


@pytest.mark.parametrize("when", [
    # A number between 15.5 and 16 exists, though no whole number does (age is whole years).
    "all:\n  - duration_weeks: {\">=\": edge}\n  - duration_weeks: {\"<\": child_age}",
    # "not yes" also holds for an unanswered question, so this is possible.
    "all:\n  - not: {fever: true}\n  - unanswered: [fever]",
    "any:\n  - all: [{fever: true}, {fever: false}]\n  - night_pain: true",
])
def test_possible_rules_are_not_reported(copy, when):
    edit(copy / "rulebook.yaml", "parameters:\n",
         "parameters:\n  edge:\n    value: 15.5\n    unit: years\n    description: test\n")
    add_rule(copy, new_rule(when))
    _, lines, _ = check(copy)
    assert not [line for line in lines if "UR-TEST-01: can never fire" in line]


@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_rule_needing_a_conclusion_no_active_rule_draws(copy):
    # Only RF-INFLAM-01 concludes cause inflammatory; as a draft it does not run, so the
    # inflammatory stretch plan can never fire.
    title = ("  - id: RF-INFLAM-01\n    title: Possible inflammatory back pain (axial "
             "spondyloarthritis), NICE referral criteria met\n    category: red_flag\n")
    edit(copy / "red_flags.yaml", title + "    status: active", title + "    status: draft")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "stretch_plan.yaml", "ST-INFLAM-01",
                   "can never fire: it needs cause inflammatory, which only RF-INFLAM-01 "
                   "concludes, and it is draft")


# --------------------------------------------------------------- questionnaire, parameters, review

def test_red_flag_question_no_rule_tests(copy):
    # Only UR-LUMP-01 tests back_lump; retired, an answer of "back lump: yes" would change nothing
    # (RF-UNKNOWN-01 reads only whether it was answered).
    edit(copy / "urgency.yaml", "  - id: UR-LUMP-01\n"
         "    title: A new lump or a change in the shape of the back\n"
         "    category: urgency\n    status: active",
         "  - id: UR-LUMP-01\n    title: A new lump or a change in the shape of the back\n"
         "    category: urgency\n    status: retired")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "questionnaire.yaml", "back_lump",
                   "red-flag question that no active rule tests")


def test_parameter_no_rule_uses(copy):
    edit(copy / "rulebook.yaml", "parameters:\n",
         "parameters:\n  unused_weeks:\n    value: 3\n    unit: weeks\n    description: test\n")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "rulebook.yaml", "unused_weeks", "parameter that no rule uses")


def test_review_older_than_the_review_period(copy):
    reviewed = SHIPPED.rule("RF-CES-01").reviewed_on
    period = SHIPPED.review_period_days
    due = reviewed + dt.timedelta(days=period)
    code, lines, _ = check(copy, "--today", (due + dt.timedelta(days=1)).isoformat())
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-CES-01",
                   f"review overdue: last reviewed {reviewed}, more than {period} days ago")
    code, lines, _ = check(copy, "--today", due.isoformat())  # on the last day it is still fine
    assert not [line for line in lines if "RF-CES-01: review overdue" in line]


def test_rule_never_reviewed(copy):
    add_rule(copy, new_rule("fever: true").replace(f"    reviewed_on: {REVIEW_DAY}\n", ""))
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "urgency.yaml", "UR-TEST-01", "never reviewed")


def test_every_problem_is_reported_not_only_the_first(copy):
    edit(copy / "red_flags.yaml",
         "      - silent: {age: 30, duration_weeks: 0.5, trauma: minor}\n", "")
    edit(copy / "rulebook.yaml", "parameters:\n",
         "parameters:\n  unused_weeks:\n    value: 3\n    unit: weeks\n    description: test\n")
    code, lines, stderr = check(copy)
    assert code == 2
    assert len(lines) == 2
    assert "2 problems" in stderr


def test_lint_finds_no_rule_in_the_shipped_rules_that_can_never_fire():
    problems = lint_rulebook(SHIPPED, today=dt.date.fromisoformat(REVIEW_DAY))
    assert problems == []


def test_answers_on_which_the_rules_conclude_no_urgency(copy):
    # Without the self-care default, a case with every warning sign answered "no" gets no urgency.
    edit(copy / "urgency.yaml", "  - id: UR-SELFCARE-01\n    title: Self-care with targeted "
         "stretches\n    category: urgency\n    status: active",
         "  - id: UR-SELFCARE-01\n    title: Self-care with targeted stretches\n"
         "    category: urgency\n    status: retired")
    code, lines, _ = check(copy)
    assert code == 2
    hits = [line for line in lines if "the rules give no complete assessment" in line
            and "no rule concluded an urgency" in line]
    assert len(hits) == 1


def test_every_rule_that_does_not_load_is_reported_not_just_the_first(copy):
    """A clinician fixing a broken copy sees every broken rule at once, each on its own line."""
    edit(copy / "red_flags.yaml", "        - saddle_numbness: true", "        - sadle_numbness: true")
    edit(copy / "red_flags.yaml", "      trauma: major\n", "      trauma: huge\n")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "red_flags.yaml", "RF-CES-01", "unknown question 'sadle_numbness'")
    assert_problem(lines, copy / "red_flags.yaml", "RF-FRACTURE-01",
                   "'huge' is not a possible answer to 'trauma'")


def test_safety_net_sign_at_another_level_than_its_rule(copy):
    """The advice on what to do if a sign appears must not contradict the assessment of that same
    answer: a new lump is 'urgent' (UR-LUMP-01), so the safety net may not list it as a reason
    to book an appointment within two weeks. (Policy version 3 made weight loss alone 'soon', so
    the test moved from UR-WEIGHT-01 to UR-LUMP-01.)"""
    text = (copy / "rulebook.yaml").read_text(encoding="utf-8")
    lump = ('        - {text: "a new lump, or a new change in the shape of your back", '
            'rule: UR-LUMP-01}\n')
    assert lump in text
    text = text.replace(lump, "")
    soon = "      title: Book an appointment with a doctor or physiotherapist if\n      signs:\n"
    text = text.replace(soon, soon + lump)
    (copy / "rulebook.yaml").write_text(text, encoding="utf-8")
    code, lines, _ = check(copy)
    assert code == 2
    assert_problem(lines, copy / "rulebook.yaml", "safety_net.soon",
                   "listed as soon, but rule UR-LUMP-01 concludes urgent")
