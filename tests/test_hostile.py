"""Issue 9: nothing lost, nothing hangs. One test (at least) per numbered item of the issue, each
written to fail before its fix. Hangs and blow-ups run in a real process with a memory cap and a
time limit, so a regression fails the test instead of the machine."""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage.cli import main_group
from triage.resources import rules_dir
from support import ALL_CLEAR

TRIAGE = str(Path(sys.executable).with_name("triage"))
pytestmark = pytest.mark.timeout(180)  # a hang fails its test, never the whole run
MEMORY_CAP = 1024 * 1024 * 1024  # 1 GiB of address space: an alias bomb needs several


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(args, *, stdin: bytes | None = b"", cwd=None, timeout=30, env=None, **kwargs):
    """`triage ARGS` in its own process, with at most 1 GiB of memory and `timeout` seconds."""
    environment = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    environment.update(env or {})
    return subprocess.run([TRIAGE, *args], input=stdin, capture_output=True, cwd=cwd,
                          env=environment, timeout=timeout, preexec_fn=_cap_memory, **kwargs)


def one_error_line(proc, *fragments, code=2):
    err = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else proc.stderr
    assert proc.returncode == code, (proc.returncode, err[-2000:])
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def cli(args, input=None, env=None):
    return CliRunner().invoke(main_group, args, input=input, env=env)


def cli_error(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def yaml_answers(**extra) -> str:
    answers = {**ALL_CLEAR, **extra}
    assert "saddle_numbness" in answers
    return "".join(f"{k}: {json.dumps(v)}\n" for k, v in answers.items())


def rules_copy(tmp_path) -> Path:
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)
    return copy


# =========================================================================== 1. duplicate keys

def test_1_a_duplicate_yaml_key_is_an_error_naming_the_key_and_both_lines(tmp_path):
    # saddle_numbness: yes then no used to assess as "soon": the later "no" silently won
    text = yaml_answers().replace("saddle_numbness: false\n", "")
    first = len(text.splitlines()) + 1
    text += "saddle_numbness: yes\nsaddle_numbness: no\n"
    (tmp_path / "a.yaml").write_text(text)
    message = cli_error(cli(["assess", str(tmp_path / "a.yaml")]), "saddle_numbness",
                        "twice")
    assert f"line {first}" in message and f"line {first + 1}" in message


def test_1_a_duplicate_json_key_is_an_error_naming_the_key_and_both_lines(tmp_path):
    body = json.dumps({k: v for k, v in ALL_CLEAR.items() if k != "saddle_numbness"}, indent=1)
    text = body[:-2] + ',\n "saddle_numbness": true,\n "saddle_numbness": false\n}'
    (tmp_path / "a.json").write_text(text)
    n = text.splitlines().index(' "saddle_numbness": true,') + 1
    message = cli_error(cli(["assess", str(tmp_path / "a.json")]), "saddle_numbness", "twice")
    assert f"line {n}" in message and f"line {n + 1}" in message


def test_1_a_duplicate_key_in_a_jsonl_batch_row_is_that_rows_error(tmp_path):
    good = json.dumps({**ALL_CLEAR, "case_id": "good"})
    bad = json.dumps(ALL_CLEAR)[:-1] + ', "fever": true, "fever": false}'
    (tmp_path / "in.jsonl").write_text(good + "\n" + bad + "\n")
    result = cli(["batch", str(tmp_path / "in.jsonl"), "-o", "-"])
    assert result.exit_code == 2
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["case_id"] == "good" and "urgency" in rows[0]
    assert rows[1]["line"] == 2 and "fever" in rows[1]["error"] and "twice" in rows[1]["error"]


def test_1_a_duplicate_csv_column_is_an_error_naming_both_columns(tmp_path):
    (tmp_path / "in.csv").write_text("age,duration_weeks,trauma,fever,fever\n40,2,none,yes,no\n")
    message = cli_error(cli(["batch", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o")]),
                        "fever", "twice")
    assert "column 4" in message and "column 5" in message
    assert not (tmp_path / "o").exists()


def test_1_a_duplicate_key_in_a_rule_file_is_an_error(tmp_path):
    copy = rules_copy(tmp_path)
    meta = copy / "rulebook.yaml"
    meta.write_text(meta.read_text().replace("review_period_days:",
                                             "review_period_days: 30\nreview_period_days:", 1))
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR))
    cli_error(cli(["assess", str(tmp_path / "a.json"), "--rules", str(copy)]),
              "review_period_days", "twice")


# =========================================================================== 7. parameters

@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "-5", "1.0e+9"])
def test_7_a_parameter_must_be_a_finite_number_in_range_at_load_time(tmp_path, value):
    # fragility_age: .nan turned an 85-year-old's minor fall from urgent into soon
    copy = rules_copy(tmp_path)
    meta = copy / "rulebook.yaml"
    text = meta.read_text()
    start = text.index("  fragility_age:\n    value: 70")
    meta.write_text(text[:start] + text[start:].replace("value: 70", f"value: {value}", 1))
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({**ALL_CLEAR, "age": 85, "trauma": "minor"}))
    cli_error(cli(["assess", str(answers), "--rules", str(copy)]), "fragility_age",
              "finite number")


# =========================================================================== 8, 9: alias bombs

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
notes: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_8_a_yaml_alias_bomb_as_an_answer_ends_at_once_with_exit_2(tmp_path):
    (tmp_path / "bomb.yaml").write_text(yaml_answers() + BOMB.replace("a: &a", "aa: &a"))
    proc = run(["assess", "bomb.yaml"], cwd=tmp_path, timeout=20)
    one_error_line(proc, "bomb.yaml", "alias")


def test_8_error_messages_shorten_the_values_they_quote(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({**ALL_CLEAR, "trauma": "x" * 1_000_000}))
    message = cli_error(cli(["assess", str(tmp_path / "a.json")]), "trauma",
                        "1000000 characters")
    assert len(message) < 300


def _fhir_alias_walk(depth: int) -> str:
    """A QuestionnaireResponse whose nested groups share their items through aliases: each
    level lists the one below twice, so a walk that follows aliases doubles with every level."""
    lines = ["resourceType: QuestionnaireResponse", "status: completed", "defs:"]
    lines.append("  l0: &l0 [{linkId: pain, item: []}]")
    for level in range(1, depth + 1):
        lines.append(f"  l{level}: &l{level} [{{linkId: pain, item: *l{level - 1}}}, "
                     f"{{linkId: pain, item: *l{level - 1}}}]")
    lines.append(f"item: *l{depth}")
    return "\n".join(lines) + "\n"


def test_9_fhir_yaml_with_shared_aliases_ends_at_once_with_exit_2(tmp_path):
    (tmp_path / "r.yaml").write_text(_fhir_alias_walk(40))
    proc = run(["assess", "r.yaml"], cwd=tmp_path, timeout=20)
    one_error_line(proc, "r.yaml", "alias")


# =========================================================================== 10. size caps

def test_10_assess_of_an_endless_file_stops_at_the_cap_and_says_so(tmp_path):
    proc = run(["assess", "/dev/zero"], timeout=20)
    one_error_line(proc, "/dev/zero", "1 MiB", "TRIAGE_MAX_FILE_BYTES")


def test_10_the_file_size_cap_can_be_raised(tmp_path):
    answers = {**ALL_CLEAR, "notes": "n" * (1024 * 1024)}
    (tmp_path / "big.json").write_text(json.dumps(answers))
    cli_error(cli(["assess", str(tmp_path / "big.json")]), "1 MiB")
    result = cli(["assess", str(tmp_path / "big.json")],
                 env={"TRIAGE_MAX_FILE_BYTES": str(4 * 1024 * 1024)})
    assert result.exit_code == 0, result.output


def test_10_a_batch_record_over_the_cap_is_that_rows_error(tmp_path):
    big = json.dumps({**ALL_CLEAR, "notes": "n" * 5000})
    good = json.dumps(ALL_CLEAR)
    (tmp_path / "in.jsonl").write_text(f"{good}\n{big}\n{good}\n")
    result = cli(["batch", str(tmp_path / "in.jsonl"), "-o", "-"],
                 env={"TRIAGE_MAX_RECORD_BYTES": "4096"})
    assert result.exit_code == 2, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in r) for r in rows] == [False, True, False]
    assert rows[1]["line"] == 2 and "4 KiB" in rows[1]["error"]


def test_10_batch_of_an_endless_line_stops_at_the_cap(tmp_path):
    proc = run(["batch", "/dev/zero", "--input-format", "jsonl", "-o", "out.jsonl"],
               cwd=tmp_path, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert b"Traceback" not in proc.stderr


# =========================================================================== 12. exit 2, not 1

@pytest.mark.parametrize("digits", [400, 5000])
def test_12_a_huge_integer_is_exit_2(tmp_path, digits):
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR)[:-1] + ', "sitting_hours": '
                                     + "9" * digits + "}")
    cli_error(cli(["assess", str(tmp_path / "a.json")]), "digits")
    (tmp_path / "a.yaml").write_text(yaml_answers() + "sitting_hours: " + "9" * digits + "\n")
    cli_error(cli(["assess", str(tmp_path / "a.yaml")]), "digits")


def test_12_an_integer_just_too_large_for_a_float_is_out_of_range(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({**ALL_CLEAR, "age": 10 ** 19}))
    cli_error(cli(["assess", str(tmp_path / "a.json")]), "age", "out of range")


@pytest.mark.parametrize("opener, closer", [("[", "]"), ('{"a":', "}")])
def test_12_json_nested_thousands_deep_is_exit_2(tmp_path, opener, closer):
    (tmp_path / "a.json").write_text('{"notes": ' + opener * 5000 + "1" + closer * 5000 + "}")
    cli_error(cli(["assess", str(tmp_path / "a.json")]), "nested")


def test_12_a_fhir_response_nested_deep_is_exit_2(tmp_path):
    nested = '{"linkId": "pain", "item": [' * 1200 + "]}" * 1200
    (tmp_path / "r.json").write_text('{"resourceType": "QuestionnaireResponse", "status": '
                                     '"completed", "item": [' + nested + "]}")
    proc = run(["assess", "r.json"], cwd=tmp_path)
    one_error_line(proc, "nested")


@pytest.mark.parametrize("data, fragment", [
    (b"age: 40\nnotes: caf\xe9\n", "not UTF-8"),
    ("age: 40\n".encode("utf-16"), "UTF-16"),
])
@pytest.mark.parametrize("command", ["assess", "report", "explain"])
def test_12_stdin_that_is_not_utf8_is_exit_2(data, fragment, command):
    args = [command, "-"] + (["-o", "-", "--format", "text"] if command == "report" else [])
    one_error_line(run(args, stdin=data), "<stdin>", fragment)


@pytest.mark.parametrize("args", [["assess", "-"], ["report", "-", "-o", "-", "--format", "text"],
                                  ["explain", "-"]])
def test_12_a_closed_stdin_is_exit_2(args):
    proc = subprocess.run([TRIAGE, *args], capture_output=True, timeout=30,
                          stdin=subprocess.DEVNULL, preexec_fn=_close_stdin)
    one_error_line(proc, "standard input")


def _close_stdin():
    os.close(0)


@pytest.mark.parametrize("fmt", ["html", "markdown", "pdf"])
def test_12_a_lone_surrogate_in_notes_is_exit_2(tmp_path, fmt):
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR)[:-1] + ', "notes": "a\\ud800b"}')
    out = tmp_path / f"r.{ {'markdown': 'md'}.get(fmt, fmt)}"
    cli_error(cli(["report", str(tmp_path / "a.json"), "-o", str(out)]), "surrogate")
    assert not out.exists()


def test_12_a_non_numeric_review_period_in_a_rules_copy_is_exit_2(tmp_path):
    copy = rules_copy(tmp_path)
    meta = copy / "rulebook.yaml"
    text = meta.read_text()
    start = text.index("review_period_days:")
    end = text.index("\n", start)
    meta.write_text(text[:start] + "review_period_days: soon" + text[end:])
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR))
    cli_error(cli(["assess", str(tmp_path / "a.json"), "--rules", str(copy)]),
              "review_period_days")


def test_12_an_infinite_count_parameter_is_exit_2(tmp_path):
    copy = rules_copy(tmp_path)
    meta = copy / "rulebook.yaml"
    text = meta.read_text()
    used = [f.read_text() for f in copy.glob("*.yaml")]
    import re

    name = next(m.group(1) for t in used
                for m in re.finditer(r"^\s+at_least:\s*(\w+)\s*$", t, re.MULTILINE))
    start = text.index(f"  {name}:")
    value = text.index("value:", start)
    end = text.index("\n", value)
    meta.write_text(text[:value] + "value: .inf" + text[end:])
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR))
    cli_error(cli(["assess", str(tmp_path / "a.json"), "--rules", str(copy)]), name)


def test_12_a_dangling_yaml_symlink_in_a_rules_copy_is_exit_2(tmp_path):
    copy = rules_copy(tmp_path)
    (copy / "extra.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR))
    cli_error(cli(["assess", str(tmp_path / "a.json"), "--rules", str(copy)]), "extra.yaml")


def test_12_not_nested_990_deep_in_a_rules_copy_is_exit_2(tmp_path):
    copy = rules_copy(tmp_path)
    target = copy / "red_flags.yaml"
    text = target.read_text()
    when = "{not: " * 990 + "{fever: true}" + "}" * 990
    rule = (f"\n  - id: DEEP-01\n    title: deep\n    status: active\n    version: 1\n"
            f"    rationale: x\n    references: [x]\n    when: {when}\n"
            f"    then: {{urgency: soon}}\n")
    target.write_text(text.rstrip("\n") + rule)
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR))
    proc = run(["assess", str(tmp_path / "a.json"), "--rules", str(copy)])
    one_error_line(proc, "red_flags.yaml", "nested")


# =========================================================================== 15. small things

def test_15_a_yaml_flow_mapping_on_stdin_is_read_as_yaml():
    text = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in ALL_CLEAR.items()) + "}"
    assert text.startswith("{age: 40")
    result = cli(["assess", "-", "--format", "json"], input=text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["urgency"] == "self_care"


def test_15_broken_json_still_says_not_valid_json():
    cli_error(cli(["assess", "-"], input='{"age": 40, "duration_weeks": 2,'), "not valid JSON")


def test_15_a_ten_megabyte_unknown_key_is_not_echoed_in_full(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({**ALL_CLEAR, "k" * 10_000_000: 1}))
    result = cli(["assess", str(tmp_path / "a.json")],
                 env={"TRIAGE_MAX_FILE_BYTES": str(20 * 1024 * 1024)})
    message = cli_error(result, "unknown question", "10000000 characters")
    assert len(message) < 300


@pytest.mark.parametrize("written", ["042", "0o52", "0x2a", "1:30", "4_2"])
def test_15_a_yaml_number_with_leading_zeros_or_another_base_is_refused(tmp_path, written):
    # YAML 1.1 reads 042 as 34 (octal) and 0:42 as 42 (base 60): never what a person meant
    (tmp_path / "a.yaml").write_text(yaml_answers().replace("age: 40", f"age: {written}"))
    cli_error(cli(["assess", str(tmp_path / "a.yaml")]), written)


# =========================================================================== 2. CSV records

def test_2_an_unclosed_csv_quote_swallows_no_later_row(tmp_path):
    # `a,34,2,none,"oops` then two more rows used to give "Assessed 1 of 1 rows" and exit 0
    (tmp_path / "in.csv").write_text("case_id,age,duration_weeks,trauma,notes\n"
                                     "a,34,2,none,fine\n"
                                     'b,34,2,none,"oops\n'
                                     "c,35,2,none,\n"
                                     "d,36,2,none,\n")
    result = cli(["batch", str(tmp_path / "in.csv"), "-o", "-"])
    assert result.exit_code == 2, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in rows] == [2, 3, 4, 5]
    assert "error" in rows[1] and "quote" in rows[1]["error"]
    assert [r.get("urgency") is not None for r in rows] == [True, False, True, True]
    assert [r["case_id"] for r in rows if "error" not in r] == ["a", "c", "d"]
    assert "Assessed 3 of 4 rows" in result.stderr


def test_2_a_stray_quote_inside_a_cell_is_that_rows_error(tmp_path):
    (tmp_path / "in.csv").write_text('age,duration_weeks,trauma\n40,2,none\n41,"2"x,none\n'
                                     "42,2,none\n")
    result = cli(["batch", str(tmp_path / "in.csv"), "-o", "-"])
    assert result.exit_code == 2
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in r) for r in rows] == [False, True, False]
    assert rows[1]["line"] == 3


# =========================================================================== 11. streaming

def test_11_batch_from_stdin_streams_instead_of_reading_everything_first(tmp_path):
    """200 rows (one chunk) are assessed and written while standard input is still open: the
    old reader sniffed the format by reading all of it, so nothing came out before the end."""
    row = json.dumps(ALL_CLEAR) + "\n"
    proc = subprocess.Popen([TRIAGE, "batch", "-", "-o", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_cap_memory)
    import selectors
    import threading

    def feed():  # in a thread: the pipes are small, and triage writes while we still feed it
        try:
            proc.stdin.write((row * 450).encode())
            proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=60), "no output while standard input stayed open"
        first = proc.stdout.readline()
        assert json.loads(first)["line"] == 1
        assert proc.poll() is None  # still running: standard input is still open
    finally:
        proc.kill()
        writer.join(timeout=10)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def test_11_csv_on_stdin_is_detected_from_its_first_record():
    result = cli(["batch", "-", "-o", "-"], input="age,duration_weeks,trauma\n40,2,none\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["urgency"]


# =========================================================================== 12. outputs

def test_12_an_output_in_a_missing_directory_is_exit_2(tmp_path):
    (tmp_path / "in.jsonl").write_text(json.dumps(ALL_CLEAR) + "\n")
    cli_error(cli(["batch", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "no" / "o.jsonl")]),
              "cannot write", "No such file or directory")
    cli_error(cli(["questions", "-o", str(tmp_path / "no" / "q.txt")]), "cannot write")


def test_12_an_output_under_a_file_is_exit_2(tmp_path):
    (tmp_path / "in.jsonl").write_text(json.dumps(ALL_CLEAR) + "\n")
    cli_error(cli(["batch", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "in.jsonl" / "o")]),
              "cannot write")


@pytest.mark.parametrize("args", [["batch", "IN", "-o", "/dev/full"],
                                  ["batch", "IN", "-o", "-"],
                                  ["questions"], ["questions", "-o", "/dev/full"],
                                  ["assess", "ANSWERS"], ["rules", "list"]])
def test_12_a_full_output_is_exit_2(tmp_path, args):
    (tmp_path / "in.jsonl").write_text(json.dumps(ALL_CLEAR) + "\n")
    (tmp_path / "a.json").write_text(json.dumps(ALL_CLEAR))
    args = [{"IN": "in.jsonl", "ANSWERS": "a.json"}.get(a, a) for a in args]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([TRIAGE, *args], stdout=full, stderr=subprocess.PIPE,
                              cwd=tmp_path, timeout=60)
    one_error_line(proc, "No space left on device")


# =========================================================================== 13. one bad row

BAD_ROWS = [
    json.dumps(ALL_CLEAR)[:-1] + ', "sitting_hours": ' + "9" * 400 + "}",
    json.dumps(ALL_CLEAR)[:-1] + ', "sitting_hours": ' + "9" * 5000 + "}",
    json.dumps(ALL_CLEAR)[:-1] + ', "notes": ' + "[" * 1500 + "]" * 1500 + "}",
    json.dumps(ALL_CLEAR)[:-1] + ', "notes": "\\ud800"}',
    json.dumps({**ALL_CLEAR, "sitting_hours": 1e308 * 10 if False else 10 ** 30}),
]


def test_13_each_hostile_row_is_its_own_error_record_and_the_batch_goes_on(tmp_path):
    good = json.dumps(ALL_CLEAR)
    lines = [good]
    for bad in BAD_ROWS:
        lines += [bad, good]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    result = cli(["batch", str(tmp_path / "in.jsonl"), "-o", "-"])
    assert result.exit_code == 2, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(lines)
    assert [("error" in r) for r in rows] == [i % 2 == 1 for i in range(len(lines))]
    assert all("internal error" not in r.get("error", "") for r in rows), rows


def test_13_rules_diff_cases_keeps_going_past_a_hostile_row(tmp_path):
    good = json.dumps(ALL_CLEAR)
    (tmp_path / "in.jsonl").write_text("\n".join([good, *BAD_ROWS, good]) + "\n")
    result = cli(["rules", "diff", str(rules_dir()), str(rules_dir()), "--cases",
                  str(tmp_path / "in.jsonl"), "--format", "json"])
    assert result.exit_code in (0, 2), result.output
    impact = json.loads(result.stdout)
    assert impact["cases"] == len(BAD_ROWS) + 2 and impact["assessed"] == 2


# =========================================================================== 14. signals

def _big_input(tmp_path, rows=4000) -> Path:
    path = tmp_path / "in.jsonl"
    row = json.dumps(ALL_CLEAR) + "\n"
    path.write_text(row * rows)
    return path


def _wait_for_temporary_file(tmp_path, proc, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(tmp_path.glob(".out.jsonl.*.tmp")):
            time.sleep(0.3)
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("batch never started writing")


@pytest.mark.parametrize("signame, code, workers", [("SIGTERM", 143, "1"), ("SIGHUP", 129, "1"),
                                                    ("SIGTERM", 143, "2"), ("SIGINT", 130, "2")])
def test_14_a_signal_during_batch_leaves_the_old_output_and_no_temporary_file(
        tmp_path, signame, code, workers):
    import signal

    _big_input(tmp_path)
    out = tmp_path / "out.jsonl"
    out.write_text("the old results\n")
    # --no-cache: the rows are all alike, and served from the decision cache the batch can end
    # before the signal arrives; through the engine every row takes about a millisecond
    proc = subprocess.Popen([TRIAGE, "batch", "in.jsonl", "-o", "out.jsonl", "--no-cache",
                             "--workers", workers], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_cap_memory)
    _wait_for_temporary_file(tmp_path, proc)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert b"Traceback" not in err, err.decode()
    assert len(err.decode().strip().splitlines()) == 1, err.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]
    assert out.read_text() == "the old results\n"


def test_14_timeout_during_batch_leaves_no_temporary_file(tmp_path):
    _big_input(tmp_path, rows=20000)
    # --no-cache, as above: 20,000 rows through the engine take far longer than the 2 seconds
    proc = subprocess.run(["timeout", "2", TRIAGE, "batch", "in.jsonl", "-o", "out.jsonl",
                           "--no-cache"],
                          cwd=tmp_path, capture_output=True, timeout=60)
    assert proc.returncode == 124, proc.stderr  # timeout's own code for "timed out"
    assert b"Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


# =========================================================================== 15. batch details

def test_15_tsv_is_read_with_tabs(tmp_path):
    (tmp_path / "in.tsv").write_text("case_id\tage\tduration_weeks\ttrauma\tnotes\n"
                                     "t1\t40\t2\tnone\tstiff, sore\n")
    result = cli(["batch", str(tmp_path / "in.tsv"), "-o", "-"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["case_id"] == "t1" and row["urgency"]


def test_15_a_multi_line_csv_record_reports_its_first_line(tmp_path):
    (tmp_path / "in.csv").write_text('age,duration_weeks,trauma,notes\n40,2,none,ok\n'
                                     '150,2,none,"one\ntwo\nthree"\n41,2,none,ok\n')
    result = cli(["batch", str(tmp_path / "in.csv"), "-o", "-"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in rows] == [2, 3, 6]
    assert rows[1]["error"].startswith("line 3:")


def test_15_batch_refuses_to_write_over_its_own_input(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(ALL_CLEAR) + "\n")
    before = source.read_text()
    cli_error(cli(["batch", str(source), "-o", str(source)]), "replace the input")
    assert source.read_text() == before


# =========================================================================== triage ask: 3-6

from test_ask import DESK_WORKER, script  # noqa: E402  (the answers a person types, in order)

SLOW_DISK = '''
import os, time
_fsync = os.fsync
def fsync(fd):
    time.sleep(float(os.environ.get("SLOW_FSYNC", "0.3")))
    return _fsync(fd)
os.fsync = fsync
'''


def _ask(tmp_path, *args, env=None, preexec=_cap_memory):
    environment = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    environment.update(env or {})
    return subprocess.Popen([TRIAGE, "ask", *args], cwd=tmp_path, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
                            preexec_fn=preexec)


def _read_until(stream, marker: bytes, timeout=60) -> bytes:
    import selectors
    import time

    seen = b""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, seen[-500:]
        if selector.select(timeout=1):
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, seen[-500:]
            seen += chunk
    return seen


@pytest.mark.parametrize("question", [4, 6, 9])
def test_3_ctrl_c_while_an_answer_is_being_saved_counts_what_the_file_holds(tmp_path, question):
    """On a slow disk (fsync made to take 0.3 s), Ctrl-C lands while the answer is being saved:
    the message used to count the answer although the file never got it."""
    import signal
    import time

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SLOW_DISK)
    path = os.pathsep.join(filter(None, [str(tmp_path / "site"), os.environ.get("PYTHONPATH")]))
    proc = _ask(tmp_path, "--save", "s.json", env={"PYTHONPATH": path})
    proc.stdin.write("".join(line + "\n" for line in script(DESK_WORKER)).encode())
    proc.stdin.flush()
    _read_until(proc.stdout, f"Question {question + 1} of".encode())
    time.sleep(0.05)  # the answer to question `question + 1` is now being saved
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    saved = json.loads((tmp_path / "s.json").read_text())
    count = len([v for v in saved.values() if v is not None])
    assert f"Your {count} answers are saved in s.json" in err.decode(), (count, err)


def test_4_a_second_ask_on_the_same_session_file_is_refused(tmp_path):
    (tmp_path / "same.json").write_text(json.dumps({"age": 34}))
    first = _ask(tmp_path, "--resume", "same.json")
    try:
        _read_until(first.stdout, b"Question")
        second = subprocess.run([TRIAGE, "ask", "--resume", "same.json"], cwd=tmp_path,
                                input=b"35\n", capture_output=True, timeout=60)
        message = one_error_line(second, "same.json", "another triage ask")
        assert str(first.pid) in message
        assert json.loads((tmp_path / "same.json").read_text()) == {"age": 34}
        first.stdin.write(b"female\n")
        first.stdin.flush()
        _read_until(first.stdout, b"Question")
    finally:
        first.communicate(timeout=60)
    assert json.loads((tmp_path / "same.json").read_text()) == {"age": 34, "sex": "female"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.json"]  # the lock is gone
    # once the first has finished, the file can be resumed again
    again = subprocess.run([TRIAGE, "ask", "--resume", "same.json"], cwd=tmp_path, input=b"",
                           capture_output=True, timeout=60)
    assert b"another triage ask" not in again.stderr


def test_4_two_asks_started_together_get_different_default_files(tmp_path):
    procs = [_ask(tmp_path) for _ in range(2)]
    try:
        heads = [_read_until(p.stdout, b"Question") for p in procs]
        names = [b" ".join(h.split()).split(b"saved as you go in ")[1].split()[0].rstrip(b".")
                 for h in heads]  # the wording may wrap anywhere
        assert names[0] != names[1], names
        for proc in procs:
            proc.stdin.write(b"34\n")
            proc.stdin.flush()
    finally:
        for proc in procs:
            proc.communicate(timeout=60)
    assert sorted(p.name.encode() for p in tmp_path.iterdir()) == sorted(names)
    for name in names:
        assert json.loads((tmp_path / name.decode()).read_text()) == {"age": 34}


def test_4_a_default_file_with_no_answer_is_not_left_behind(tmp_path):
    proc = subprocess.run([TRIAGE, "ask"], cwd=tmp_path, input=b"", capture_output=True,
                          timeout=60)
    assert proc.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_5_a_stray_byte_in_the_notes_keeps_the_answer(tmp_path):
    lines = [line.encode() for line in script(DESK_WORKER)]
    notes = lines.index(DESK_WORKER["notes"].encode())
    lines[notes] = b"worse after long meetings, caf\xe9 chairs"
    proc = subprocess.run([TRIAGE, "ask", "--save", "s.json"], cwd=tmp_path,
                          input=b"".join(line + b"\n" for line in lines) + b"\n",
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert saved["notes"] == "worse after long meetings, caf\ufffd chairs"
    assert saved["age"] == DESK_WORKER["age"]


def test_6_a_full_disk_mid_session_keeps_the_answer_and_says_how_to_resume(tmp_path):
    """RLIMIT_FSIZE makes every file larger than 4 KB fail to write (EFBIG), as a full disk
    would: the long notes answer cannot be saved."""
    def small_files():
        _cap_memory()
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    long_notes = ("stiff " * 1000).strip()
    answers = {**DESK_WORKER, "notes": long_notes}
    proc = _ask(tmp_path, "--save", "s.json", preexec=small_files)
    out, err = proc.communicate("".join(line + "\n" for line in script(answers)).encode(),
                                timeout=60)
    err = err.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert "cannot save the answers" in err and "File too large" in err
    assert "triage ask --resume" in err
    saved = json.loads((tmp_path / "s.json").read_text())
    assert "notes" not in saved and saved["age"] == DESK_WORKER["age"]
    assert f"The file holds {len(saved)} answers" in err
    # the answer that could not be saved is not lost: kept in a file named, or printed
    rescued = [word for word in err.split() if "triage-session-rescued-" in word]
    if rescued:
        kept = json.loads(Path(rescued[0].rstrip(".")).read_text())
        Path(rescued[0].rstrip(".")).unlink()
    else:
        kept = json.loads(err.split("here they are, to keep: ")[1].splitlines()[0])
    assert kept["notes"] == long_notes and kept["age"] == DESK_WORKER["age"]


def test_12_ask_with_standard_input_closed_is_exit_2(tmp_path):
    proc = subprocess.run([TRIAGE, "ask"], capture_output=True, timeout=30, cwd=tmp_path,
                          stdin=subprocess.DEVNULL, preexec_fn=_close_stdin)
    one_error_line(proc, "standard input is closed")
    assert list(tmp_path.iterdir()) == []


# =========================================================================== 15. raw HTML

@pytest.mark.slow  # over 1 s each in the measured run: CI's run, not the quick loop
def test_15_the_markdown_report_and_review_pack_emit_no_raw_html_from_the_rules(tmp_path):
    import yaml

    copy = rules_copy(tmp_path)
    for path in copy.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            continue
        for rule in data["rules"]:
            rule["title"] = "<img src=x onerror=alert(1)> " + rule["title"]
            rule["rationale"] = "<script>alert(2)</script> " + rule["rationale"]
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    (tmp_path / "a.json").write_text(json.dumps({**ALL_CLEAR, "notes": "<b>mine</b>"}))
    report = cli(["report", str(tmp_path / "a.json"), "-o", "-", "--format", "markdown",
                  "--rules", str(copy)])
    assert report.exit_code == 0, report.output
    pack = cli(["rules", "doc", "--rules", str(copy), "-o", "-", "--format", "markdown"])
    assert pack.exit_code == 0, pack.output
    for text in (report.stdout, pack.stdout):
        assert "&lt;script&gt;" in text or "&lt;img" in text
        assert "<script" not in text and "<img" not in text and "<b>" not in text
