"""`triage ask` driven through click's CliRunner with scripted input (one answer per line, as from a
pipe), and `triage questions`. Clinical outcomes follow docs/contributors/policy.md section 3."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from triage.ask import AnswerStore, FileStore, Session
from triage.cli import main_group
from triage.errors import TriageError
from triage.rulebook import load_rulebook
from support import NO_WARNING_SIGNS

RULEBOOK = load_rulebook()
QUESTIONNAIRE = RULEBOOK.questionnaire
ORDER = [qid for section in QUESTIONNAIRE.sections for qid in section.questions]

# Nothing alarming: every warning sign answered no (contract section 1's red-flag questions).
# A desk worker: no warning signs, three posture signs and 8 hours of sitting. Contract section 3:
# two or more posture signs make muscle imbalance a cause, and with nothing raising urgency the
# outcome is self-care with the kneeling hip-flexor stretch.
DESK_WORKER = {
    "age": 34, "sex": "female", "duration_weeks": 3, "onset": "gradual", "trauma": "none",
    # policy version 3's questions that are not warning signs
    "pain_score": 3, "pain_trend": "same", "stops_daily_life": False, "diabetes": False,
    "morning_stiffness": False, **NO_WARNING_SIGNS, "leg_pain": "none", "leg_numbness": False,
    "sitting_hours": 8, "pelvis_tips_forward": True, "exaggerated_arch": True,
    "tight_hip_flexors": True, "weak_glutes": False,
    # the risk screen (rules/risk_screen.yaml): a little bothered, no distress item: low risk
    "back_bother": "a_little", "fear_of_harm": False, "pain_worry": False, "mood_low": False,
    "hard_to_move_about": False, "notes": "worse after long meetings",
}


def typed(value) -> str:
    """What a person types for an answer: y/n, a choice's value, a number, the text."""
    if value is True:
        return "y"
    if value is False:
        return "n"
    return "" if value is None else str(value)


def script(answers: dict, *, upto: str | None = None) -> list[str]:
    """The lines a person types to give `answers`, in the questionnaire's order, leaving out the
    questions that skip logic rules out (a blank line for a question not in `answers`).
    With `upto`, stop before that question."""
    lines, so_far = [], {}
    for qid in ORDER:
        if qid == upto:
            break
        if QUESTIONNAIRE.is_skipped(qid, so_far):
            continue
        lines.append(typed(answers.get(qid)))
        if answers.get(qid) is not None:
            so_far[qid] = answers[qid]
    return lines


def run(args, lines, **kwargs):
    text = "".join(line + "\n" for line in lines)
    return CliRunner().invoke(main_group, ["ask", *args], input=text, **kwargs)


def assess_json(path) -> dict:
    result = CliRunner().invoke(main_group, ["assess", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def flat(text: str) -> str:
    """The output with its line wrapping undone, to look for a sentence in it."""
    return " ".join(text.split())


def progress(output: str) -> list[tuple[int, int]]:
    return [(int(n), int(m)) for n, m in re.findall(r"Question (\d+) of (\d+)", output)]


# --------------------------------------------------------------------------- the whole flow

def test_a_complete_run_shows_the_assessment_and_saves_what_triage_assess_reads(tmp_path):
    session = tmp_path / "s.json"
    report = tmp_path / "r.json"
    result = run(["--save", str(session), "--report", str(report)], script(DESK_WORKER) + [""])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    # every answer was saved, in the format triage assess reads, and gives the same assessment
    saved = json.loads(session.read_text())
    assert {k: v for k, v in saved.items() if v is not None} == {
        k: v for k, v in DESK_WORKER.items() if not QUESTIONNAIRE.is_skipped(k, DESK_WORKER)}
    outcome = assess_json(session)
    assert json.loads(report.read_text()) == outcome
    assert outcome["urgency"] == "self_care" and "muscle_imbalance" in outcome["causes"]
    assert "kneeling_hip_flexor" in outcome["stretches"]
    # the terminal shows the urgency first, then the stretches by name and the reasons
    shown = result.output.split("== Your assessment ==", 1)[1]
    assert shown.lstrip().startswith("SELF-CARE")
    assert RULEBOOK.stretches["kneeling_hip_flexor"].name in shown
    assert "CAUSE-MI-01" in shown
    # progress counts up by one to "n of n"
    steps = progress(result.output)
    assert [n for n, _ in steps] == list(range(1, len(steps) + 1))
    assert steps[-1][0] == steps[-1][1]


def test_questions_come_in_the_files_order_with_its_wording(tmp_path):
    result = run(["--save", str(tmp_path / "s.json")], script(DESK_WORKER) + [""])
    positions = [flat(result.output).index(QUESTIONNAIRE.questions[qid].text)
                 for qid in ORDER if not QUESTIONNAIRE.is_skipped(qid, DESK_WORKER)]
    assert positions == sorted(positions)
    for section in QUESTIONNAIRE.sections:  # a section whose questions all do not apply
        if any(not QUESTIONNAIRE.is_skipped(q, DESK_WORKER) for q in section.questions):
            assert f"== {section.title} ==" in result.output


def test_skip_logic_leaves_out_both_legs_without_leg_symptoms(tmp_path):
    both_legs = QUESTIONNAIRE.questions["both_legs"].text
    without = run(["--save", str(tmp_path / "a.json")], script(DESK_WORKER) + [""])
    assert both_legs not in flat(without.output)
    # the summary shows the implied answer: no leg symptoms at all, so both legs does not apply
    # (policy version 3: not applicable, never "no" for a warning sign)
    label = QUESTIONNAIRE.questions["both_legs"].label  # the summary names questions by label
    assert re.search(label + r"\s+not\s+applicable\s+\(follows\s+from\s+your\s+other\s+answers\)",
                     without.output)
    sciatica = {**DESK_WORKER, "leg_pain": "below_knee", "both_legs": False}
    with_leg_pain = run(["--save", str(tmp_path / "b.json")], script(sciatica) + [""])
    assert with_leg_pain.exit_code == 0, with_leg_pain.output
    assert both_legs in flat(with_leg_pain.output)


def test_invalid_answers_are_asked_again_with_the_reason(tmp_path):
    lines = ["forty", "150", "45"] + script(DESK_WORKER)[1:] + [""]
    result = run(["--save", str(tmp_path / "s.json")], lines)
    assert result.exit_code == 0, result.output
    assert "expected a whole number from 0 to 120, got 'forty'" in result.output
    assert "150 is out of range" in result.output
    assert json.loads((tmp_path / "s.json").read_text())["age"] == 45
    # both refusals come while question 1 is still open
    assert result.output.index("150 is out of range") < result.output.index("Question 2 of")


def test_a_required_question_cannot_be_left_blank(tmp_path):
    result = run(["--save", str(tmp_path / "s.json")], ["", "45"])
    assert "this question needs an answer" in result.output
    assert json.loads((tmp_path / "s.json").read_text()) == {"age": 45}


def test_yes_and_no_accept_y_n_yes_no(tmp_path):
    answers = script(DESK_WORKER, upto="saddle_numbness")
    lines = answers + ["No", "NO", "n", "no", "N", "yes"]
    run(["--save", str(tmp_path / "s.json")], lines)
    saved = json.loads((tmp_path / "s.json").read_text())
    # the warning-sign questions of policy version 3, in the file's order
    assert [saved[q] for q in ("saddle_numbness", "bladder_change", "bowel_control",
                               "sexual_dysfunction", "walking_difficulty", "urine_burning")] \
        == [False] * 5 + [True]


def test_choices_by_number_name_or_unambiguous_start(tmp_path):
    # age, sex 2 (male: no pregnancy questions), duration, no chest pain, no sudden headache, no
    # stiff neck, no rash, no belly pain, onset... (policy version 3's first questions)
    lines = ["45", "2", "2", "n", "n", "n", "n", "n", "grad", "m", "mi"]  # "m": minor or major
    result = run(["--save", str(tmp_path / "s.json")], lines)
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["sex"] == "male" and saved["onset"] == "gradual" and saved["trauma"] == "minor"
    assert "could be minor or major" in result.output


def test_help_shows_the_help_text_and_the_rules_that_read_the_answer(tmp_path):
    lines = script(DESK_WORKER, upto="saddle_numbness") + ["?", "n"]
    result = run(["--save", str(tmp_path / "s.json")], lines)
    after = flat(result.output).split(QUESTIONNAIRE.questions["saddle_numbness"].text, 1)[1]
    assert QUESTIONNAIRE.questions["saddle_numbness"].help in after
    readers = [rule.id for rule in RULEBOOK.active_rules if "saddle_numbness" in rule.questions]
    assert readers and all(rule_id in after for rule_id in readers)


def test_why_asked_names_every_active_rule_that_reads_the_question_in_file_order(tmp_path):
    # the web's "why we ask this" and the prompt's help: Rulebook.readers is computed once, and
    # must give, for every question, what reading every active rule's conditions gives
    session = Session(RULEBOOK, tmp_path / "s.json")
    shown = 0
    for qid in ORDER:
        expected = [rule for rule in RULEBOOK.active_rules if qid in rule.questions]
        assert session.why_asked(qid) == expected, qid
        shown += bool(expected)
    assert shown > 20  # most questions are read by some rule


def test_going_back_reopens_the_previous_answer_and_keeps_the_rest(tmp_path):
    # age, sex, duration; then back twice to sex, change it, and go on: duration is asked again
    # with its answer kept (Enter keeps it), then the questions carry on where they were
    lines = ["45", "female", "3", "<", "<", "male", "", "n"]
    result = run(["--save", str(tmp_path / "s.json")], lines)
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved == {"age": 45, "sex": "male", "duration_weeks": 3, "chest_pain": False}
    assert [n for n, _ in progress(result.output)] == [1, 2, 3, 4, 3, 2, 3, 4, 5]
    assert "Enter keeps 3" in result.output


def test_back_at_the_first_question_says_so(tmp_path):
    result = run(["--save", str(tmp_path / "s.json")], ["<", "45"])
    assert "nothing to go back to" in result.output
    assert json.loads((tmp_path / "s.json").read_text()) == {"age": 45}


def test_an_unanswered_warning_sign_is_unknown_not_no(tmp_path):
    # contract section 1: an assessment with an unknown red flag is never self_care
    answers = {**DESK_WORKER, "night_pain": None}
    result = run(["--save", str(tmp_path / "s.json")], script(answers) + [""])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "s.json").read_text())
    assert "night_pain" in saved and saved["night_pain"] is None
    outcome = assess_json(tmp_path / "s.json")
    assert outcome["urgency"] != "self_care"
    assert "night_pain" in outcome["unanswered_red_flags"]
    assert "counts as unknown, not as no" in flat(result.output)


# --------------------------------------------------------------------------- the emergency stop

@pytest.mark.parametrize("answers, basis", [
    ({**DESK_WORKER, "trauma": "major"}, "contract section 3: major trauma is a possible "
                                         "fracture, emergency (NICE NG41)"),
    ({**DESK_WORKER, "bladder_change": True}, "contract section 3: new bladder trouble is "
                                              "possible cauda equina, emergency"),
], ids=["major-trauma", "bladder-bowel"])
def test_the_questionnaire_stops_at_the_first_emergency_answer(tmp_path, answers, basis):
    alarming = "trauma" if answers["trauma"] == "major" else "bladder_change"
    lines = script(answers, upto=alarming) + [typed(answers[alarming])] + ["n"] * 40
    report = tmp_path / "r.json"
    result = run(["--save", str(tmp_path / "s.json"), "--report", str(report)], lines)
    assert result.exit_code == 0, result.output
    assert "EMERGENCY" in result.output, basis
    # nothing after the alarming answer is asked
    following = ORDER[ORDER.index(alarming) + 1]
    assert QUESTIONNAIRE.questions[following].text not in flat(result.output)
    saved = json.loads((tmp_path / "s.json").read_text())
    assert list(saved)[-1] == alarming and saved[alarming] == answers[alarming]
    # the answers so far assess as an emergency, and the report is written
    assert assess_json(tmp_path / "s.json")["urgency"] == "emergency"
    assert json.loads(report.read_text())["urgency"] == "emergency"
    assert "call your local emergency number" in flat(result.output).lower()


def test_changing_an_answer_at_the_summary_to_an_emergency_stops_there(tmp_path):
    number_of_trauma = [qid for qid in ORDER
                        if not QUESTIONNAIRE.is_skipped(qid, DESK_WORKER)].index("trauma") + 1
    lines = script(DESK_WORKER) + [str(number_of_trauma), "major"]
    result = run(["--save", str(tmp_path / "s.json")], lines)
    assert result.exit_code == 0, result.output
    assert "== Your answers ==" in result.output
    assert "EMERGENCY" in result.output
    assert "== Your assessment ==" not in result.output
    assert json.loads((tmp_path / "s.json").read_text())["trauma"] == "major"


def test_the_summary_lets_an_answer_be_changed(tmp_path):
    number_of_sitting = [qid for qid in ORDER
                         if not QUESTIONNAIRE.is_skipped(qid, DESK_WORKER)].index(
                             "sitting_hours") + 1
    lines = script(DESK_WORKER) + [str(number_of_sitting), "2", "99", ""]
    result = run(["--save", str(tmp_path / "s.json")], lines)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s.json").read_text())["sitting_hours"] == 2
    assert "no answer numbered '99'" in result.output
    assert result.output.count("== Your answers ==") == 2


# --------------------------------------------------------------------------- nothing lost

def test_end_of_input_saves_and_says_how_to_continue(tmp_path):
    session = tmp_path / "s.json"
    result = run(["--save", str(session)], script(DESK_WORKER, upto="saddle_numbness"))
    assert result.exit_code == 2
    message = result.output  # standard error is part of it (click 8.1 and 8.2 alike)
    assert f"{session}: saddle_numbness: input ended" in flat(message)
    assert f"triage ask --resume {session}" in flat(message)
    assert json.loads(session.read_text())["trauma"] == "none"


def test_ctrl_c_saves_and_says_how_to_continue(tmp_path, monkeypatch):
    from triage.cli import ask as ask_cli

    read = ask_cli.Console.read

    def read_until_ctrl_c(self, prompt="> "):
        line = read(self, prompt)
        if line == "^C":
            raise KeyboardInterrupt
        return line

    monkeypatch.setattr(ask_cli.Console, "read", read_until_ctrl_c)
    session = tmp_path / "s.json"
    result = run(["--save", str(session)], ["45", "", "2", "^C"])
    assert result.exit_code == 130
    assert f"triage ask --resume {session}" in flat(result.output)
    assert json.loads(session.read_text()) == {"age": 45, "sex": "unsaid", "duration_weeks": 2}


def test_resume_asks_only_what_is_left(tmp_path):
    session = tmp_path / "s.json"
    first = script(DESK_WORKER, upto="saddle_numbness")
    run(["--save", str(session)], first)
    rest = script(DESK_WORKER)[len(first):]
    result = run(["--resume", str(session)], rest + [""])
    assert result.exit_code == 0, result.output
    assert QUESTIONNAIRE.questions["age"].text not in flat(result.output)
    assert progress(result.output)[0][0] == len(first) + 1
    assert assess_json(session)["urgency"] == "self_care"


def test_resume_to_another_file_leaves_the_first_as_it_was(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    run(["--save", str(first)], ["45"])
    before = first.read_text()
    result = run(["--resume", str(first), "--save", str(second)], ["", "2"])
    assert first.read_text() == before
    assert json.loads(second.read_text()) == {"age": 45, "sex": "unsaid", "duration_weeks": 2}
    assert result.exit_code == 2  # input ended before the questionnaire did


def test_an_existing_session_is_never_overwritten_by_default(tmp_path):
    session = tmp_path / "s.json"
    session.write_text('{"age": 70}')
    result = run(["--save", str(session)], ["45"])
    assert result.exit_code == 2
    assert "--resume" in result.output
    assert session.read_text() == '{"age": 70}'
    replaced = run(["--save", str(session), "--overwrite"], ["45"])
    assert replaced.exit_code == 2 and json.loads(session.read_text()) == {"age": 45}


def test_the_default_session_file_is_new_and_named_in_the_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.json").write_text("{}")
    result = run([], ["45"])
    created = [p for p in tmp_path.iterdir() if p.name.startswith("triage-session-")]
    assert len(created) == 1 and created[0].suffix == ".json"
    assert created[0].name in flat(result.output)
    assert json.loads(created[0].read_text()) == {"age": 45}


def test_resume_of_an_invalid_file_names_the_question(tmp_path):
    session = tmp_path / "s.json"
    session.write_text('{"age": 45, "sadle_numbness": true}')
    result = run(["--resume", str(session)], [])
    assert result.exit_code == 2
    assert "sadle_numbness: unknown question (did you mean 'saddle_numbness'?)" in result.output


def test_a_report_name_with_an_unknown_suffix_is_refused_before_any_question(tmp_path):
    result = run(["--save", str(tmp_path / "s.json"), "--report", str(tmp_path / "r.docx")],
                 ["45"])
    assert result.exit_code == 2
    assert QUESTIONNAIRE.questions["age"].text not in result.output
    assert not (tmp_path / "s.json").exists()


# --------------------------------------------------------------------------- colour

def test_no_colour_when_output_is_not_a_terminal(tmp_path):
    result = run(["--save", str(tmp_path / "s.json")], ["45"])
    assert "\x1b[" not in result.output


def test_colour_can_be_forced_and_no_color_is_honoured(tmp_path, monkeypatch):
    forced = run(["--save", str(tmp_path / "a.json"), "--color"], ["45"])
    assert "\x1b[" in forced.output
    monkeypatch.setenv("NO_COLOR", "1")
    plain = run(["--save", str(tmp_path / "b.json")], ["45"])
    assert "\x1b[" not in plain.output


# --------------------------------------------------------------------------- the session itself

def test_going_forward_after_going_back_twice_returns_to_the_reopened_question(tmp_path):
    session = Session(RULEBOOK, tmp_path / "s.json")
    for qid, value in (("age", 45), ("sex", "female"), ("duration_weeks", 3)):
        assert session.next_question().id == qid
        session.record(qid, value)
    assert session.back().id == "duration_weeks"
    assert session.back().id == "sex"
    session.record("sex", "male")
    assert session.next_question().id == "duration_weeks"  # re-opened on the way back
    session.record("duration_weeks", 3)
    assert session.next_question().id == "chest_pain"  # version 2: the first emergency check


def test_an_answer_that_skip_logic_later_rules_out_is_dropped(tmp_path):
    # both legs was answered while there was leg pain; with no leg symptoms at all it follows
    # that they are not on both sides, so the stored answer gives way to the implied one
    session = Session(RULEBOOK, tmp_path / "s.json",
                      {"age": 45, "duration_weeks": 2, "trauma": "none", "leg_pain": "below_knee",
                       "leg_numbness": False, "leg_weakness": "none", "both_legs": True})
    session.record("leg_pain", "none")
    assert "both_legs" not in json.loads((tmp_path / "s.json").read_text())
    assert session.assessment().answers["both_legs"] == "not_applicable"  # policy version 3


class MemoryStore:
    """An AnswerStore that is not a file, as the web's database store is not."""
    name = "memory"

    def __init__(self, answers=None):
        self.answers, self.saves = answers, 0

    def load(self):
        return self.answers

    def save(self, answers):
        self.answers, self.saves = json.loads(json.dumps(answers)), self.saves + 1


def test_a_session_saves_every_answer_to_any_store_and_continues_from_it():
    store = MemoryStore()
    assert isinstance(store, AnswerStore)
    session = Session(RULEBOOK, store)
    session.record("age", 45)
    session.record("sex", "female")
    assert store.answers == {"age": 45, "sex": "female"} and store.saves == 2
    again = Session.open(RULEBOOK, store)  # a new request, a new process: same place
    assert again.given == {"age": 45, "sex": "female"}
    assert again.next_question().id == session.next_question().id == "duration_weeks"


def test_a_store_holding_a_bad_answer_is_refused_with_the_store_named():
    with pytest.raises(TriageError, match="memory.*age"):
        Session.open(RULEBOOK, MemoryStore({"age": "old"}))


def test_a_file_name_is_a_file_store_and_writes_the_answers_format(tmp_path):
    session = Session(RULEBOOK, tmp_path / "s.json")
    assert isinstance(session.store, FileStore) and session.path == str(tmp_path / "s.json")
    session.record("age", 45)
    assert json.loads((tmp_path / "s.json").read_text()) == {"age": 45}
    assert Session.open(RULEBOOK, FileStore(tmp_path / "s.json")).given == {"age": 45}


# --------------------------------------------------------------------------- triage questions

def test_questions_json_lists_every_question_with_type_choices_and_skip_logic():
    result = CliRunner().invoke(main_group, ["questions", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    listed = {q["id"]: q for section in data["sections"] for q in section["questions"]}
    assert list(listed) == ORDER
    assert listed["trauma"]["type"] == "choice" and listed["trauma"]["required"] is True
    assert [c["value"] for c in listed["trauma"]["choices"]] == ["none", "minor", "major"]
    assert listed["both_legs"]["skip_if"] == QUESTIONNAIRE.questions["both_legs"].skip_if_raw
    assert listed["both_legs"]["value_if_skipped"] == "not_applicable"  # policy version 3


def test_questions_text_shows_every_question_and_writes_a_file(tmp_path):
    out = tmp_path / "q.txt"
    result = CliRunner().invoke(main_group, ["questions", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(out.read_text().split())
    for q in QUESTIONNAIRE.questions.values():
        assert q.id in text and " ".join(q.text.split()) in text
    assert "not asked when leg pain is not below knee" in text  # policy version 3


@pytest.mark.parametrize("command", ["ask", "questions"])
def test_help_has_examples(command):
    result = CliRunner().invoke(main_group, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"triage {command}" in result.output
