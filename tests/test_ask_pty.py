"""`triage ask` as a person meets it: the real command in a pseudo-terminal (pexpect), so the
terminal-only paths run (line editing, colour, clearing the screen for an emergency, Ctrl-C)."""
from __future__ import annotations

import json
import os
import sys

import pytest

pexpect = pytest.importorskip("pexpect")
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="pexpect needs a POSIX pty"),
              pytest.mark.process]  # a real `triage ask` on a pseudo-terminal

TIMEOUT = 10
ANSI = "\x1b["


def spawn(tmp_path, *args, no_color=False):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm", COLUMNS="100", LINES="40", PYTHONIOENCODING="utf-8")
    if no_color:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(sys.executable, ["-m", "triage", "ask", *args], cwd=str(tmp_path),
                          env=env, encoding="utf-8", timeout=TIMEOUT, dimensions=(40, 100))
    return child


def answer(child, expected, reply):
    child.expect_exact(expected)
    child.expect_exact("> ")
    child.sendline(reply)


def test_a_terminal_session_shows_progress_and_stops_at_an_emergency(tmp_path):
    # contract section 3 (version 2): chest pain with the back pain is an emergency that is not in
    # the back; the question comes straight after age, sex and duration, so the questionnaire
    # stops there, before the injury question, and says not to drive
    child = spawn(tmp_path, "--save", "s.json")
    answer(child, "Question 1 of", "45")
    answer(child, "Question 2 of", "")  # Enter takes the default shown
    answer(child, "Question 3 of", "1")
    screen = child.before
    answer(child, "Question 4 of", "y")
    child.expect_exact("EMERGENCY")
    child.expect_exact("not drive")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert ANSI in screen  # a terminal gets colour
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["chest_pain"] is True and saved["age"] == 45
    assert "trauma" not in saved and "onset" not in saved


def test_no_color_in_a_terminal_turns_colour_off(tmp_path):
    child = spawn(tmp_path, "--save", "s.json", no_color=True)
    answer(child, "Question 1 of", "abc")
    child.expect_exact("Please try again")
    text = child.before
    child.sendline("45")
    child.expect_exact("Question 2 of")
    child.expect_exact("> ")  # at the prompt, where a person presses Ctrl-C
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert ANSI not in text


def test_ctrl_c_in_a_terminal_keeps_the_answers_and_says_how_to_resume(tmp_path):
    child = spawn(tmp_path, "--save", "s.json")
    answer(child, "Question 1 of", "45")
    answer(child, "Question 2 of", "female")
    child.expect_exact("Question 3 of")
    child.expect_exact("> ")
    child.sendintr()
    child.expect_exact("triage ask --resume s.json")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert json.loads((tmp_path / "s.json").read_text()) == {"age": 45, "sex": "female"}
    # ...and --resume carries on at question 3
    again = spawn(tmp_path, "--resume", "s.json")
    again.expect_exact("Question 3 of")
    again.expect_exact("> ")
    again.sendintr()
    again.expect(pexpect.EOF)
    again.close()
