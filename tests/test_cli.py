"""The command line as a user meets it: `triage assess` and `triage batch`, their output, every exit
code of contract section 4 and the one-line messages that say what is wrong and where."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import triage
from triage.assessment import NOT_A_DIAGNOSIS
from triage.cli import main_group
from triage.cli.common import run_main
from triage.contract import CAUSES, DURATION_CLASSES, RED_FLAGS, URGENCIES
from triage.resources import rules_dir
from support import ALL_CLEAR, NO_WARNING_SIGNS

SHIPPED_RULES = rules_dir()

# Contract section 3: two posture signs (6+ hours of sitting, tight hip flexors) make muscle
# imbalance; nothing raises the urgency, so self-care with the kneeling hip-flexor stretch.
DESK_WORKER = {**ALL_CLEAR, "sitting_hours": 8, "tight_hip_flexors": True}
# Contract section 3: saddle numbness is cauda equina, an emergency.
SADDLE = {**ALL_CLEAR, "saddle_numbness": True}
# Contract section 3: fever is a possible infection, urgent.
FEVER = {**ALL_CLEAR, "fever": True}


@pytest.fixture
def runner():
    return CliRunner()


def write(path: Path, content) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def assert_one_error_line(result, *fragments):
    """Contract section 4: exit 2, one message on standard error naming what is wrong, nothing on
    standard output (no partial assessment), no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert "Traceback" not in result.output


# =========================================================================== triage assess: exit 0

def test_assess_text_puts_the_urgency_first(runner, tmp_path):
    result = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", SADDLE)])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert "emergency" in first.lower()
    assert NOT_A_DIAGNOSIS in " ".join(result.stdout.split())  # wrapped to the terminal


def test_assess_text_for_self_care_names_the_stretch(runner, tmp_path):
    result = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", DESK_WORKER)])
    assert result.exit_code == 0, result.output
    assert "self" in result.stdout.splitlines()[0].lower()
    assert "hip-flexor" in result.stdout.lower()


def test_assess_json_has_the_contract_fields_and_types(runner, tmp_path):
    result = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", DESK_WORKER),
                                        "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["urgency"] in URGENCIES
    assert data["duration_class"] in DURATION_CLASSES
    assert isinstance(data["red_flags"], list) and set(data["red_flags"]) <= set(RED_FLAGS)
    assert isinstance(data["causes"], list) and set(data["causes"]) <= set(CAUSES)
    assert isinstance(data["see_professional"], bool)
    assert isinstance(data["stretches"], list) and all(isinstance(s, str) for s in data["stretches"])
    assert isinstance(data["reasons"], list) and data["reasons"]
    for reason in data["reasons"]:
        assert isinstance(reason["id"], str) and reason["id"]
        assert isinstance(reason["text"], str) and reason["text"].strip()
    # and the values the contract's policy gives this case
    assert data["urgency"] == "self_care" and data["see_professional"] is False
    assert data["duration_class"] == "acute"
    assert data["causes"] == ["muscle_imbalance"]
    assert "kneeling_hip_flexor" in data["stretches"]


def test_assess_json_for_an_emergency_has_no_stretches(runner, tmp_path):
    result = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", SADDLE),
                                        "--format", "json"])
    data = json.loads(result.stdout)
    assert (data["urgency"], data["red_flags"], data["stretches"]) == \
        ("emergency", ["cauda_equina"], [])
    assert data["see_professional"] is True


def test_assess_reasons_name_the_unanswered_red_flag_questions(runner, tmp_path):
    """Contract section 1: with warning-sign questions unanswered, never self-care, and the
    reasons name the unanswered questions."""
    answers = {k: v for k, v in ALL_CLEAR.items() if k not in ("fever", "night_pain")}
    result = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", answers),
                                        "--format", "json"])
    data = json.loads(result.stdout)
    assert data["urgency"] != "self_care"
    reasons = " ".join(r["text"] for r in data["reasons"])
    for question in ("fever", "night_pain"):
        assert question in reasons or question.replace("_", " ") in reasons


def test_assess_reads_yaml_as_well_as_json(runner, tmp_path):
    as_json = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", FEVER),
                                         "--format", "json"])
    yaml_text = "\n".join(f"{k}: {json.dumps(v)}" for k, v in FEVER.items()) + "\n"
    as_yaml = runner.invoke(main_group, ["assess", write(tmp_path / "a.yaml", yaml_text),
                                         "--format", "json"])
    assert as_yaml.exit_code == 0, as_yaml.output
    assert as_yaml.stdout == as_json.stdout
    assert json.loads(as_yaml.stdout)["urgency"] == "urgent"


def test_assess_reads_standard_input(runner):
    result = runner.invoke(main_group, ["assess", "-", "--format", "json"],
                           input=json.dumps(FEVER))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["red_flags"] == ["infection"]


def test_assess_with_a_rules_copy_gives_the_same_answer(runner, tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES, copy)
    answers = write(tmp_path / "a.json", FEVER)
    shipped = runner.invoke(main_group, ["assess", answers, "--format", "json"])
    copied = runner.invoke(main_group, ["assess", answers, "--format", "json",
                                        "--rules", str(copy)])
    assert copied.exit_code == 0, copied.output
    assert copied.stdout == shipped.stdout


# =========================================================================== triage assess: exit 2

BAD_ANSWERS = [
    pytest.param({**ALL_CLEAR, "sadle_numbness": True},
                 ["sadle_numbness", "unknown question", "did you mean 'saddle_numbness'"],
                 id="unknown-question-did-you-mean"),
    pytest.param({**ALL_CLEAR, "age": 130}, ["age", "130", "out of range"], id="age-out-of-range"),
    pytest.param({**ALL_CLEAR, "duration_weeks": -1}, ["duration_weeks", "out of range"],
                 id="negative-duration"),
    pytest.param({**ALL_CLEAR, "sitting_hours": 25}, ["sitting_hours", "out of range"],
                 id="sitting-over-24-hours"),
    pytest.param({**ALL_CLEAR, "age": "forty"}, ["age", "'forty'", "whole number"],
                 id="age-not-a-number"),
    pytest.param({**ALL_CLEAR, "age": 40.5}, ["age", "whole number"], id="age-not-whole"),
    pytest.param({**ALL_CLEAR, "fever": "maybe"}, ["fever", "'maybe'", "yes or no"],
                 id="bool-not-yes-or-no"),
    pytest.param({**ALL_CLEAR, "trauma": "severe"}, ["trauma", "'severe'", "none, minor, major"],
                 id="choice-not-a-choice"),
    pytest.param({**ALL_CLEAR, "leg_weakness": True}, ["leg_weakness"], id="choice-given-a-bool"),
    pytest.param({**ALL_CLEAR, "notes": 42}, ["notes", "text"], id="notes-not-text"),
    pytest.param({k: v for k, v in ALL_CLEAR.items() if k != "trauma"},
                 ["trauma", "required"], id="missing-required-trauma"),
    pytest.param({k: v for k, v in ALL_CLEAR.items() if k != "age"},
                 ["age", "required"], id="missing-required-age"),
    pytest.param('{"age": 40, "duration_weeks": 2,', ["not valid JSON"], id="invalid-json"),
    pytest.param("age: [40\ntrauma: none\n", ["not valid", "YAML"], id="invalid-yaml"),
    pytest.param("", ["empty"], id="empty-file"),
    pytest.param("   \n\n", ["empty"], id="blank-file"),
    pytest.param("[1, 2, 3]", ["mapping", "list"], id="a-list-not-a-mapping"),
    pytest.param('"just text"', ["mapping"], id="a-string-not-a-mapping"),
]


@pytest.mark.parametrize("content, fragments", BAD_ANSWERS)
def test_assess_rejects_bad_answers_with_one_line_naming_file_and_problem(
        runner, tmp_path, content, fragments):
    path = write(tmp_path / "answers.json", content)
    result = runner.invoke(main_group, ["assess", path, "--format", "json"])
    assert_one_error_line(result, path, *fragments)


def test_assess_names_standard_input_when_it_is_bad(runner):
    result = runner.invoke(main_group, ["assess", "-"], input='{"age": 40, "trauma": "none"}')
    assert_one_error_line(result, "<stdin>", "duration_weeks", "required")


def test_assess_missing_file(runner, tmp_path):
    path = str(tmp_path / "nowhere.json")
    assert_one_error_line(runner.invoke(main_group, ["assess", path]), path, "no such file")


def test_assess_with_a_misspelt_question_in_a_rules_copy_names_file_and_rule(runner, tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES, copy)
    red_flags = copy / "red_flags.yaml"
    text = red_flags.read_text(encoding="utf-8")
    assert "        - saddle_numbness: true\n" in text  # inside RF-CES-01's condition
    red_flags.write_text(text.replace("        - saddle_numbness: true\n",
                                      "        - sadle_numbness: true\n", 1), encoding="utf-8")
    result = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", ALL_CLEAR),
                                        "--rules", str(copy)])
    assert_one_error_line(result, "red_flags.yaml", "RF-CES-01", "sadle_numbness")


def test_assess_with_a_rules_directory_that_does_not_exist(runner, tmp_path):
    missing = str(tmp_path / "no-rules")
    result = runner.invoke(main_group, ["assess", write(tmp_path / "a.json", ALL_CLEAR),
                                        "--rules", missing])
    assert_one_error_line(result, missing)


@pytest.mark.parametrize("args, fragment", [
    (["assess"], "Missing argument"),
    (["assess", "a.json", "--format", "xml"], "--format"),
    (["assess", "a.json", "--no-such-option"], "--no-such-option"),
    (["asses", "a.json"], "No such command"),
    (["batch", "in.jsonl"], "-o"),
    (["batch", "in.jsonl", "-o", "out.jsonl", "--workers", "-1"], "--workers"),
], ids=["no-file", "bad-format", "unknown-option", "unknown-command", "batch-without-output",
        "negative-workers"])
def test_usage_errors_exit_2_and_point_to_help(runner, args, fragment):
    result = runner.invoke(main_group, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "--help" in result.stderr
    assert result.stdout == ""


# =========================================================================== exit 1

def test_an_unexpected_failure_exits_1_with_one_line_and_no_traceback(
        tmp_path, monkeypatch, capsys):
    """Contract section 4: a bug is exit 1 with a plain message, never a partial assessment."""
    import triage.engine.rete

    def broken(*_args, **_kwargs):
        raise RuntimeError("simulated fault in the engine")

    monkeypatch.setattr(triage.engine.rete, "run_rules", broken)
    monkeypatch.delenv("TRIAGE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["triage", "assess", write(tmp_path / "a.json", ALL_CLEAR)])
    with pytest.raises(SystemExit) as exited:
        run_main(main_group)
    out, err = capsys.readouterr()
    assert exited.value.code == 1
    assert out == ""
    assert "Internal error" in err and "simulated fault in the engine" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_user_mistake_through_run_main_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["triage", "assess", str(tmp_path / "missing.json")])
    with pytest.raises(SystemExit) as exited:
        run_main(main_group)
    _, err = capsys.readouterr()
    assert exited.value.code == 2
    assert "missing.json" in err and "no such file" in err and "Traceback" not in err


# =========================================================================== real processes

def _triage_script() -> str:
    script = Path(sys.executable).with_name("triage")
    return str(script) if script.exists() else shutil.which("triage") or "triage"


def _run(args, *, cwd, stdin=""):
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    return subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=60)


def test_installed_script_prints_its_version(tmp_path):
    proc = _run([_triage_script(), "--version"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert triage.__version__ in proc.stdout


def test_python_m_triage_from_another_directory_reads_stdin(tmp_path):
    proc = _run([sys.executable, "-m", "triage", "assess", "-", "--format", "json"],
                cwd=tmp_path, stdin=json.dumps(SADDLE))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["urgency"] == "emergency"


def test_real_process_error_is_one_line_exit_2(tmp_path):
    proc = _run([_triage_script(), "assess", "missing.json"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["Error: missing.json: no such file"]


def test_real_process_internal_error_is_exit_1_without_traceback(tmp_path):
    code = ("import triage.engine.rete as engine\n"
            "def broken(*a, **k):\n"
            "    raise RuntimeError('simulated fault')\n"
            "engine.run_rules = broken\n"
            "import sys\n"
            "sys.argv = ['triage', 'assess', '-']\n"
            "from triage.cli import main\n"
            "main()\n")
    proc = _run([sys.executable, "-c", code], cwd=tmp_path, stdin=json.dumps(ALL_CLEAR))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Internal error" in proc.stderr and "Traceback" not in proc.stderr


# =========================================================================== triage batch

def jsonl(*rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_batch_jsonl_keeps_order_and_echoes_case_ids(runner, tmp_path):
    source = write(tmp_path / "cases.jsonl", jsonl({"case_id": "A", **SADDLE},
                                                   {"case_id": "B", **ALL_CLEAR},
                                                   {"case_id": "C", **FEVER}))
    out = tmp_path / "results.jsonl"
    result = runner.invoke(main_group, ["batch", source, "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert [(r["case_id"], r["line"], r["urgency"]) for r in rows] == \
        [("A", 1, "emergency"), ("B", 2, "self_care"), ("C", 3, "urgent")]
    assert result.stdout == ""  # the results went to the file
    assert "3 of 3" in result.stderr


def test_batch_csv_reads_words_and_blank_cells(runner, tmp_path):
    """A CSV has one column per question id; yes/no are answers, a blank cell is unanswered (so,
    contract section 1, that case cannot be self-care)."""
    header = ["case_id", "age", "duration_weeks", "trauma", *NO_WARNING_SIGNS]

    def row(case_id, **changes):
        values = {**ALL_CLEAR, **changes}
        cells = [case_id] + [values[k] for k in header[1:]]
        return ",".join("yes" if c is True else "no" if c is False else str(c) for c in cells)

    lines = [",".join(header), row("clear"), row("fever", fever=True),
             row("blank-fever", fever="")]
    source = write(tmp_path / "clinic.csv", "\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main_group, ["batch", source, "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert [r["case_id"] for r in rows] == ["clear", "fever", "blank-fever"]
    assert [r["urgency"] for r in rows[:2]] == ["self_care", "urgent"]
    assert rows[2]["urgency"] != "self_care" and "fever" in rows[2]["unanswered_red_flags"]


def test_batch_bad_row_gets_an_error_record_and_the_others_are_assessed(runner, tmp_path):
    source = write(tmp_path / "cases.jsonl",
                   jsonl({"case_id": "ok-1", **ALL_CLEAR}, {"case_id": "old", **ALL_CLEAR,
                                                            "age": 200})
                   + "this is not json\n" + jsonl({"case_id": "ok-2", **FEVER}))
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main_group, ["batch", source, "-o", str(out)])
    assert result.exit_code == 2
    rows = read_jsonl(out)
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["urgency"] == "self_care" and rows[3]["urgency"] == "urgent"
    assert rows[1]["case_id"] == "old" and "urgency" not in rows[1]
    assert "line 2" in rows[1]["error"] and "age" in rows[1]["error"]
    assert "line 3" in rows[2]["error"] and "JSON" in rows[2]["error"]
    assert "2 with errors" in result.stderr
    assert "Traceback" not in result.output


def test_batch_unknown_csv_column_writes_nothing(runner, tmp_path):
    source = write(tmp_path / "clinic.csv", "case_id,age,duration_weeks,trauma,fevr\n"
                                            "A,40,2,none,no\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main_group, ["batch", source, "-o", str(out)])
    assert_one_error_line(result, "clinic.csv", "fevr")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.csv"]  # no temporary file left


def test_batch_failing_early_leaves_an_existing_output_file_as_it_was(runner, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("yesterday's results\n", encoding="utf-8")
    source = write(tmp_path / "clinic.csv", "age,duration_weeks,trauma,sadle_numbness\n40,2,none,no\n")
    result = runner.invoke(main_group, ["batch", source, "-o", str(out)])
    assert result.exit_code == 2
    assert out.read_text(encoding="utf-8") == "yesterday's results\n"


@pytest.mark.parametrize("content, fragment", [
    (None, "no such file"),
    ("", "no rows"),
    ("\n\n", "no rows"),
], ids=["missing", "empty", "blank-lines"])
def test_batch_input_without_rows_is_exit_2(runner, tmp_path, content, fragment):
    source = tmp_path / "cases.jsonl"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main_group, ["batch", str(source), "-o", str(out)])
    assert_one_error_line(result, str(source), fragment)
    assert not out.exists()


def test_batch_interrupted_leaves_an_existing_output_file_as_it_was(tmp_path, monkeypatch, capsys):
    """Ctrl-C half way through: exit 130, the old results intact, no temporary file left."""
    import triage.batch

    real = triage.batch.assess_row

    def interrupt_on_third(row):
        if row.line == 3:
            raise KeyboardInterrupt
        return real(row)

    monkeypatch.setattr(triage.batch, "assess_row", interrupt_on_third)
    out = tmp_path / "out.jsonl"
    out.write_text("yesterday's results\n", encoding="utf-8")
    source = write(tmp_path / "cases.jsonl", jsonl(*[ALL_CLEAR] * 5))
    monkeypatch.setattr(sys, "argv", ["triage", "batch", source, "-o", str(out)])
    with pytest.raises(SystemExit) as exited:
        run_main(main_group)
    assert exited.value.code == 130
    assert "Interrupted" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "yesterday's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl", "out.jsonl"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_batch_into_a_named_pipe_writes_through_the_pipe(runner, tmp_path):
    """`-o /dev/null` or `-o some-pipe` must write into it, not replace it; a named pipe stands in
    for /dev/null here, which a test must not risk."""
    import stat

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer need not wait
    try:
        source = write(tmp_path / "cases.jsonl", jsonl({"case_id": "p", **FEVER}))
        result = runner.invoke(main_group, ["batch", source, "-o", str(pipe)])
        assert result.exit_code == 0, result.output
        assert stat.S_ISFIFO(os.stat(pipe).st_mode), "the pipe was replaced by a regular file"
        assert json.loads(os.read(reader, 1 << 16))["case_id"] == "p"
    finally:
        os.close(reader)


def test_batch_to_standard_output(runner, tmp_path):
    source = write(tmp_path / "cases.jsonl", jsonl({"case_id": 7, **SADDLE}, ALL_CLEAR))
    result = runner.invoke(main_group, ["batch", source, "-o", "-"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["case_id"], r["urgency"]) for r in rows] == [(7, "emergency"), (None, "self_care")]
    assert "standard output" in result.stderr


def test_batch_from_standard_input(runner, tmp_path):
    result = runner.invoke(main_group, ["batch", "-", "-o", "-"],
                           input=jsonl({"case_id": "x", **FEVER}))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["red_flags"] == ["infection"]


def test_batch_csv_from_standard_input_is_detected(runner):
    text = "case_id,age,duration_weeks,trauma,saddle_numbness\nq,50,1,none,yes\n"
    result = runner.invoke(main_group, ["batch", "-", "-o", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["urgency"] == "emergency"


def test_batch_two_workers_give_the_same_output_as_one(runner, tmp_path, monkeypatch):
    import triage.batch

    monkeypatch.setattr(triage.batch, "CHUNK", 4)  # several chunks, so both workers take part
    cases = [SADDLE, ALL_CLEAR, FEVER, DESK_WORKER, {**ALL_CLEAR, "age": 200}]
    rows = [{"case_id": n, **cases[n % len(cases)]} for n in range(30)]
    source = write(tmp_path / "cases.jsonl", jsonl(*rows))
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.jsonl"
        result = runner.invoke(main_group, ["batch", source, "-o", str(out), "--workers", workers])
        assert result.exit_code == 2  # the age-200 rows are errors
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    assert [r["case_id"] for r in map(json.loads, outputs[1].splitlines())] == list(range(30))


# =========================================================================== help

def _all_commands(group, ctx, path=()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _all_commands(command, click.Context(command, parent=ctx), (*path, name))


COMMANDS = list(_all_commands(main_group, click.Context(main_group)))


def test_the_core_commands_are_there():
    names = {path[0] for path, _ in COMMANDS}
    assert {"assess", "batch"} <= names


@pytest.mark.parametrize("path", [()] + [path for path, _ in COMMANDS],
                         ids=lambda path: " ".join(path) or "triage")
def test_every_command_has_help_with_examples(runner, path):
    result = runner.invoke(main_group, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "Examples" in result.stdout, f"`triage {' '.join(path)} --help` shows no examples"
