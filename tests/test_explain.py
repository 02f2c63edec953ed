"""`triage explain`: why each conclusion was reached, and for a rule that did not fire, which of
its conditions held and which did not (the near miss)."""
import json
import shutil

import pytest
from click.testing import CliRunner

from triage.cli import main_group
from triage.engine import assess
from triage.resources import rules_dir
from triage.clinician.review import explain_case
from triage.rulebook import load_rulebook
from support import NO_WARNING_SIGNS

SHIPPED = load_rulebook()


def run(*args, input=None):
    return CliRunner().invoke(main_group, [str(a) for a in args], input=input)


@pytest.fixture
def answers_file(tmp_path):
    def write(answers):
        path = tmp_path / "answers.json"
        path.write_text(json.dumps(answers))
        return path
    return write


# NICE NG156: sudden belly pain with back pain from 50 is a possible aneurysm (emergency); below 50
# it is urgent without naming one. A 55-year-old fires the first and nearly fires the second.
AAA_55 = dict(NO_WARNING_SIGNS, age=55, duration_weeks=0.5, trauma="none", abdominal_pain=True)


def test_explain_names_the_rules_behind_each_conclusion(answers_file):
    result = run("explain", answers_file(AAA_55))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("EMERGENCY")
    conclusions = out.split("Conclusions, and the rules that drew them:")[1].split("\n\n")[0]
    assert any(line.split()[:3] == ["red", "flag", "aaa"] and line.endswith("<- RF-AAA-01")
               for line in conclusions.splitlines())
    fired = out.split("Rules that fired, in order")[1].split("Near misses")[0]
    assert "RF-AAA-01  Possible abdominal aortic aneurysm" in fired
    assert '"abdominal pain" answered yes  [abdominal pain: yes]' in fired
    assert "age is at least 50 years (aaa_age)  [age: 55]" in fired


def test_explain_shows_the_near_miss(answers_file):
    out = run("explain", answers_file(AAA_55)).stdout
    near = out.split("Near misses")[1]
    block = near.split("RF-AAA-02")[1].split("\n  RF-")[0]
    assert 'held    "abdominal pain" answered yes' in block
    assert "NOT MET age is under 50 years (aaa_age)  [age: 55]" in block


def test_explain_one_rule_marks_each_condition(answers_file):
    # Fear of movement with low mood (NICE NG59 risk stratification): only one of the two here.
    answers = dict(NO_WARNING_SIGNS, age=40, duration_weeks=2, trauma="none",
                   fear_of_movement=True, low_mood=False)
    result = run("explain", answers_file(answers), "--rule", "UR-PSYCH-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "[not met]  Fires when: the risk screen's band (risk_group) is high" in lines
    assert "It did not fire, so it did not conclude: urgency soon." in lines
    # the risk screen's own reading: one distress point, the rest unanswered, so not scored
    out = run("explain", answers_file(answers)).stdout
    assert "Risk screen RISK-SCREEN-01 (not validated):" in out
    assert "not scored: the unanswered items could change the band" in out


def test_explain_a_rule_that_fired(answers_file):
    out = run("explain", answers_file(AAA_55), "--rule", "RF-AAA-01").stdout
    assert "[met]      Fires when all of:" in out
    assert "It fired, concluding: red flag aaa, urgency emergency." in out


def test_explain_reads_standard_input():
    result = run("explain", "-", "--format", "json", input=json.dumps(AAA_55))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["assessment"]["urgency"] == "emergency"
    assert {"kind": "red_flag", "value": "aaa", "rules": ["RF-AAA-01"]} in data["conclusions"]
    near = next(r for r in data["rules"] if r["id"] == "RF-AAA-02")
    assert near["near_miss"] and not near["fired"]
    assert [c["met"] for c in near["conditions"]] == [True, False]


def test_explain_agrees_with_the_assessment_on_every_rule_example():
    """For every example in the rule files, explain's 'fired' is what the assessment's reasons
    say, and a fired rule's conditions all held."""
    for rule in SHIPPED.active_rules:
        for example in rule.examples:
            case = explain_case(example.answers, SHIPPED)
            reasons = [r.id for r in assess(example.answers, SHIPPED).reasons]
            assert [r.rule.id for r in case.rules if r.fired] == [
                r.id for r in SHIPPED.active_rules if r.id in reasons]
            for explanation in case.rules:
                if explanation.fired:
                    assert all(c.met for c in explanation.closest), explanation.rule.id
                else:
                    assert not all(c.met for c in explanation.closest), explanation.rule.id


def test_explain_a_draft_rule_is_shown_but_does_not_run(tmp_path, answers_file):
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)
    path = copy / "urgency.yaml"
    text = path.read_text()
    old = ("  - id: UR-PSYCH-01\n    title: High risk of a slow recovery\n"
           "    category: urgency\n    status: active")
    assert old in text
    path.write_text(text.replace(old, old.replace("status: active", "status: draft")))
    answers = dict(NO_WARNING_SIGNS, age=40, duration_weeks=2, trauma="none",
                   fear_of_movement=True, low_mood=True)
    result = run("explain", answers_file(answers), "--rules", copy, "--rule", "UR-PSYCH-01")
    assert result.exit_code == 0, result.output
    assert "This rule is draft, so it does not run" in result.stdout
    assert "Its conditions hold: if it were active it would fire, concluding: urgency soon." \
        in result.stdout
    # as a draft it changed nothing: self-care, since no warning sign or other reason applies
    assert run("explain", answers_file(answers), "--rules", copy).stdout.startswith("SELF-CARE")


def test_explain_unknown_rule_and_bad_answers_are_exit_2(answers_file):
    result = run("explain", answers_file(AAA_55), "--rule", "RF-AAA-99")
    assert result.exit_code == 2
    assert "RF-AAA-99: no such rule" in result.stderr  # (RF-AAA-03 exists in policy v3)
    bad = answers_file(dict(AAA_55, trauma="big"))
    result = run("explain", bad)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(f"{bad}: trauma: expected one of none, minor, major, "
                                          f"got 'big'")
    assert "Traceback" not in result.output
