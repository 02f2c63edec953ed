"""`triage ask --follow-up SESSION` and `triage report SESSION --follow-up` (issue 25): the check-in
asked in the terminal flow (CliRunner with one answer a line, and one real run in a pty), kept
beside the session file without touching it, what the outcome says, and the mistakes a person
can make (exit 2, one line). Clinical facts as in tests/test_followup.py (contract section 3;
Ostelo et al. 2008 for what counts as better)."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys

import pytest
from click.testing import CliRunner

from triage.cli import main_group
from triage.followup import check_in_questionnaire
from triage.rulebook import load_rulebook
from test_followup import FIRST

RULEBOOK = load_rulebook()
TODAY = dt.date.today()
FIRST_DAY = TODAY - dt.timedelta(days=20)  # the review date (day 14) has passed
QUESTIONS = check_in_questionnaire(RULEBOOK, FIRST)
ORDER = [qid for section in QUESTIONS.sections for qid in section.questions]


def typed(value) -> str:
    if value is True:
        return "y"
    if value is False:
        return "n"
    return "" if value is None else str(value)


def script(answers: dict) -> list[str]:
    """The lines a person types to give `answers` at the check-in, in its order; every warning
    sign not in `answers` answered no."""
    lines, so_far = [], {}
    for qid in ORDER:
        if QUESTIONS.is_skipped(qid, so_far):
            continue
        q = QUESTIONS.questions[qid]
        value = answers.get(qid, "none" if qid == "leg_weakness" else
                            False if q.red_flag else None)
        lines.append(typed(value))
        if value is not None:
            so_far[qid] = value
    return lines


def session_file(tmp_path, answers=FIRST) -> str:
    path = tmp_path / "my-back.json"
    path.write_text(json.dumps(answers, indent=2) + "\n", encoding="utf-8")
    return str(path)


def run(args, lines=(), cwd=None):
    runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return runner.invoke(main_group, args, input="".join(f"{line}\n" for line in lines))
    finally:
        os.chdir(old)


def follow_up(tmp_path, lines, *extra):
    session = session_file(tmp_path) if not (tmp_path / "my-back.json").exists() \
        else str(tmp_path / "my-back.json")
    return run(["ask", "--follow-up", session, "--first-visit", FIRST_DAY.isoformat(),
                "--no-color", *extra], lines)


def check_ins(tmp_path) -> dict:
    return json.loads((tmp_path / "my-back-check-ins.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the flow

def test_a_check_in_keeps_the_session_file_and_saves_the_check_in_beside_it(tmp_path):
    session = session_file(tmp_path)
    before = (tmp_path / "my-back.json").read_bytes()
    # past the review date, pain 6 -> 5 and "about the same": no improvement (Ostelo 2008), so
    # self-care becomes soon (contract section 3's review date)
    result = follow_up(tmp_path, script({"pain_score": 5, "global_change": "same",
                                         "activity_1_score": 4, "activity_2_score": 5}) + [""])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "== Since your first visit ==" in out
    assert "it was self-care, it is now soon" in out
    assert "review date" in out
    assert "putting on socks" in out and "Check-in 1" in out  # the course as a table
    assert (tmp_path / "my-back.json").read_bytes() == before
    saved = check_ins(tmp_path)
    assert saved["first_visit"] == FIRST_DAY.isoformat() and "draft" not in saved
    [entry] = saved["check_ins"]
    assert entry["date"] == TODAY.isoformat()
    assert entry["answers"]["pain_score"] == 5 and entry["answers"]["saddle_numbness"] is False
    # the session file stays valid input for triage assess
    assert run(["assess", session, "--format", "json"]).exit_code == 0


def test_an_improved_check_in_keeps_self_care_and_says_why(tmp_path):
    # Ostelo 2008: 6 -> 3 is 3 points down
    result = follow_up(tmp_path, script({"pain_score": 3, "global_change": "better"}) + [""])
    assert result.exit_code == 0, result.output
    assert "The advice is the same as at the first visit: self-care." in result.output
    assert "Better: the pain fell by 3 points" in result.output


def test_a_new_emergency_sign_stops_the_check_in_at_the_emergency_screen(tmp_path):
    # contract section 3 (version 2): chest pain with the back pain is an emergency; the
    # check-in asks it first, and stops there as the first visit does
    result = follow_up(tmp_path, ["y"])
    assert result.exit_code == 0, result.output
    assert "EMERGENCY" in result.output and "not drive" in result.output
    assert "Question 2 of" not in result.output
    [entry] = check_ins(tmp_path)["check_ins"]
    assert entry["answers"] == {"chest_pain": True}


def test_new_saddle_numbness_in_the_terminal_is_an_emergency(tmp_path):
    # contract section 3: saddle numbness is cauda equina, an emergency; asked after the pain
    lines = script({"saddle_numbness": True, "pain_score": 2, "global_change": "better"})
    stop = ORDER.index("saddle_numbness") - sum(
        QUESTIONS.is_skipped(q, {}) for q in ORDER[:ORDER.index("saddle_numbness")])
    result = follow_up(tmp_path, lines[:stop + 1])
    assert result.exit_code == 0, result.output
    assert "EMERGENCY" in result.output
    assert check_ins(tmp_path)["check_ins"][0]["answers"]["saddle_numbness"] is True


def test_input_ending_mid_check_in_keeps_the_answers_and_the_next_run_continues(tmp_path):
    lines = script({"pain_score": 3, "global_change": "better"})
    result = follow_up(tmp_path, lines[:6])
    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert "your 6 answers so far are saved; continue with: triage ask --follow-up" in message
    assert len(check_ins(tmp_path)["draft"]["answers"]) == 6
    assert check_ins(tmp_path)["check_ins"] == []
    again = follow_up(tmp_path, lines[6:] + [""])
    assert again.exit_code == 0, again.output
    assert "Continuing the check-in of" in again.output
    saved = check_ins(tmp_path)
    assert "draft" not in saved and saved["check_ins"][0]["answers"]["pain_score"] == 3


def test_going_back_in_a_check_in_re_asks_the_answer(tmp_path):
    lines = script({"pain_score": 5, "global_change": "better"})
    at = lines.index("5")
    lines[at + 1:at + 1] = ["<", "2"]  # < goes back to the pain, which becomes 2
    result = follow_up(tmp_path, lines + [""])
    assert result.exit_code == 0, result.output
    assert check_ins(tmp_path)["check_ins"][0]["answers"]["pain_score"] == 2


def test_a_second_check_in_adds_to_the_first(tmp_path):
    follow_up(tmp_path, script({"pain_score": 5}) + [""])
    result = follow_up(tmp_path, script({"pain_score": 2, "global_change": "much_better"}) + [""])
    assert result.exit_code == 0, result.output
    assert "Check-in 2" in result.output
    assert len(check_ins(tmp_path)["check_ins"]) == 2
    # never lowered: soon after the first (no improvement by the review date) stays soon
    assert "it was self-care, it is now soon" in result.output


def test_the_report_option_writes_the_report_with_the_chart_and_its_table(tmp_path):
    report = tmp_path / "course.html"
    result = follow_up(tmp_path, script({"pain_score": 3, "global_change": "better"}) + [""],
                       "--report", str(report))
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    assert "Since the first visit" in html
    assert 'role="img"' in html and 'class="course-table"' in html
    assert "<script" not in html


def test_the_help_explains_the_follow_up_with_examples():
    result = run(["ask", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "triage ask --follow-up my-back.json" in text
    assert "SESSION-check-ins.json" in text and "never changed" in text


# --------------------------------------------------------------------------- mistakes

URGENT_FIRST = dict(FIRST, fever=True)  # contract section 3: fever is urgent


@pytest.mark.parametrize("case, extra, expected", [
    ("missing", [], "no such session file"),
    ("urgent", [], "check-ins follow self-care and soon advice"),
    ("incomplete", [], "finish the first visit first"),
    ("ok", ["--date", (TODAY + dt.timedelta(days=1)).isoformat()], "is in the future"),
    ("ok", ["--date", "next tuesday"], "is not a date"),
    ("ok", ["--date", (FIRST_DAY - dt.timedelta(days=1)).isoformat()], "before the first visit"),
    ("ok", ["--resume", "x.json"], "continues by itself"),
])
def test_a_mistake_exits_2_with_one_line_and_no_traceback(tmp_path, case, extra, expected):
    if case == "missing":
        session = str(tmp_path / "nothing.json")
    else:
        answers = {"ok": FIRST, "urgent": URGENT_FIRST,
                   "incomplete": {k: v for k, v in FIRST.items() if k != "trauma"}}[case]
        session = session_file(tmp_path, answers)
    result = run(["ask", "--follow-up", session, "--first-visit", FIRST_DAY.isoformat(),
                  *extra], ["n"])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "my-back-check-ins.json").exists() or case == "ok"


def test_date_options_without_follow_up_are_refused(tmp_path):
    result = run(["ask", "--date", TODAY.isoformat()], [])
    assert result.exit_code == 2 and "only with --follow-up" in result.output


def test_a_check_ins_file_given_as_the_session_is_refused(tmp_path):
    follow_up(tmp_path, ["y"])
    result = run(["ask", "--follow-up", str(tmp_path / "my-back-check-ins.json")], ["n"])
    assert result.exit_code == 2 and "this is a check-ins file" in result.output


def test_the_first_visit_date_cannot_change_after_the_first_check_in(tmp_path):
    follow_up(tmp_path, ["y"])
    result = run(["ask", "--follow-up", str(tmp_path / "my-back.json"), "--first-visit",
                  (FIRST_DAY - dt.timedelta(days=3)).isoformat()], ["n"])
    assert result.exit_code == 2 and "already dates the first visit" in result.output


# --------------------------------------------------------------------------- triage report

def test_triage_report_follow_up_writes_the_course_and_the_fhir_bundle(tmp_path):
    Bundle = pytest.importorskip("fhir.resources.R4B.bundle").Bundle
    follow_up(tmp_path, script({"pain_score": 3, "global_change": "better",
                                "activity_1_score": 6}) + [""])
    session = str(tmp_path / "my-back.json")
    result = run(["report", session, "--follow-up", "-o", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "Since the first visit" in text and "| Check-in 1 | 3 |" in text
    result = run(["report", session, "--follow-up", "-o", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    bundle = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    responses = [e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    assert len(responses) == 2
    assert all(r["basedOn"][0]["reference"].startswith("CarePlan/") for r in responses)


def test_triage_report_follow_up_without_check_ins_says_how_to_check_in(tmp_path):
    session = session_file(tmp_path)
    result = run(["report", session, "--follow-up", "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "no check-ins yet; check in with: triage ask --follow-up" in result.output


# --------------------------------------------------------------------------- a real terminal

@pytest.mark.skipif(sys.platform == "win32", reason="pexpect needs a POSIX pty")
def test_a_check_in_in_a_real_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    session_file(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm", COLUMNS="100", LINES="40", PYTHONIOENCODING="utf-8")
    child = pexpect.spawn(sys.executable, ["-m", "triage", "ask", "--follow-up", "my-back.json",
                                           "--first-visit", FIRST_DAY.isoformat()],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=15,
                          dimensions=(40, 100))
    lines = script({"pain_score": 2, "global_change": "much_better", "activity_1_score": 8,
                    "activity_2_score": 9})
    child.expect_exact("follow-up check-in")
    for n, line in enumerate(lines, start=1):
        child.expect_exact(f"Question {n} of")
        child.expect_exact("> ")
        child.sendline(line)
    child.expect_exact("Type a number to change that answer")
    child.expect_exact("> ")
    child.sendline("")
    child.expect_exact("Since your first visit")
    child.expect_exact("same as at the first visit: self-care")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    [entry] = check_ins(tmp_path)["check_ins"]
    assert entry["answers"]["activity_2_score"] == 9


def test_an_emergency_from_an_earlier_check_in_shows_again_without_a_new_check_in(tmp_path):
    # never lowered: the chest pain reported at the first check-in still stands
    follow_up(tmp_path, ["y"])
    result = follow_up(tmp_path, ["n"])
    assert result.exit_code == 0, result.output
    assert "EMERGENCY" in result.output and "still stands" in result.output
    assert len(check_ins(tmp_path)["check_ins"]) == 1
