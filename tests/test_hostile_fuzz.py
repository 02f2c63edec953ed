"""Hostile input, generated: any bytes or structure given to `assess`, `report`, `explain` or
`batch` (as a file or on standard input) ends in exit 0 or 2, with one error line and no
traceback. Most examples run in-process (CliRunner, fast); a moderate number run as real
processes with a memory cap (resource.RLIMIT_AS) and a time limit, where a hang or a blow-up
would show."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings, strategies as st

from triage.cli import main_group
from triage.rulebook import load_rulebook
from support import ALL_CLEAR, depth

# real processes under generated input: CI's run, not the quick loop
pytestmark = [pytest.mark.timeout(600), pytest.mark.process, pytest.mark.deep]

TRIAGE = str(Path(sys.executable).with_name("triage"))
QUESTIONS = sorted(load_rulebook().questionnaire.questions)
MEMORY_CAP = 1024 * 1024 * 1024
TIME_CAP = 20  # seconds for one real process
FAST = settings(max_examples=depth(80), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=depth(8), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

COMMANDS = {
    "assess": lambda src: ["assess", src],
    "assess-json": lambda src: ["assess", src, "--format", "json"],
    "report": lambda src: ["report", src, "-o", "-", "--format", "markdown"],
    "explain": lambda src: ["explain", src],
    "batch": lambda src: ["batch", src, "-o", "-"],
}

# ---------------------------------------------------------------------------- strategies

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-10 ** 60, max_value=10 ** 60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.text(alphabet=st.characters(min_codepoint=0xD800,
                                                         max_codepoint=0xDFFF), max_size=3),
    st.sampled_from(["yes", "no", "042", "1:30", "none", "minor", "major", "below_knee", ""]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
keys = st.one_of(st.sampled_from(QUESTIONS + ["case_id", "resourceType", "item"]),
                 st.text(max_size=12))
answers = st.dictionaries(keys, values, max_size=12).map(lambda extra: {**ALL_CLEAR, **extra})
documents = st.one_of(values, answers)


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def _yaml(value) -> bytes:
    try:
        return yaml.safe_dump(value, allow_unicode=True).encode("utf-8", "surrogatepass")
    except (yaml.YAMLError, ValueError):
        return _json(value)


encoded = st.one_of(documents.map(_json), documents.map(_yaml),
                    st.lists(documents.map(_json), min_size=1, max_size=4).map(
                        lambda rows: b"\n".join(r.replace(b"\n", b" ") for r in rows)))
hostile_bytes = st.one_of(
    st.binary(max_size=400),
    encoded,
    st.tuples(encoded, st.binary(max_size=20), st.integers(0, 400)).map(
        lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:]),  # bytes spliced into a document
    st.sampled_from([b"", b"\xff\xfe\x00\x00", b"\xef\xbb\xbf{}", b"[" * 3000, b"{" * 3000,
                     b"a: &a [1]\nb: *a\n", b"age,duration_weeks,trauma\n40,2,\"x\n41,2,none\n",
                     b"\x00" * 100, "\ud800".encode("utf-8", "surrogatepass")]),
)

# ---------------------------------------------------------------------------- checks


def check_result(command: str, code: int, stdout: str, stderr: str, exception=None) -> None:
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    assert code in (0, 2), (command, code, stderr[-1000:])
    assert "Traceback" not in stderr and "Internal error" not in stderr, stderr[-1000:]
    lines = stderr.strip().splitlines()
    if command == "batch":
        assert len(lines) == 1, stderr[-1000:]  # the summary, or the one error
        if code == 0 or lines[0].startswith("Assessed"):
            for line in stdout.splitlines():
                json.loads(line)  # whole JSON lines, one per row
    elif code == 2:
        assert len(lines) == 1 and lines[0].startswith("Error: "), stderr[-1000:]
        assert len(lines[0]) < 1000, lines[0][:200]  # values quoted in it are shortened
        assert stdout == ""


def invoke(command: str, data: bytes, tmp_path: Path, *, stdin: bool):
    if stdin:
        result = CliRunner().invoke(main_group, COMMANDS[command]("-"), input=data)
    else:
        path = tmp_path / "input.jsonl" if command == "batch" else tmp_path / "input"
        path.write_bytes(data)
        result = CliRunner().invoke(main_group, COMMANDS[command](str(path)))
    check_result(command, result.exit_code, result.stdout, result.stderr, result.exception)


# ---------------------------------------------------------------------------- in-process


@pytest.mark.parametrize("command", sorted(COMMANDS))
@FAST
@given(data=hostile_bytes)
@example(data=b"age: 34\nduration_weeks: 2\ntrauma: none\nsaddle_numbness: yes\n"
              b"saddle_numbness: no\n")
def test_any_file_ends_in_exit_0_or_2_with_one_line(tmp_path_factory, command, data):
    invoke(command, data, tmp_path_factory.mktemp("f"), stdin=False)


@pytest.mark.parametrize("command", ["assess", "report", "batch"])
@FAST
@given(data=hostile_bytes)
def test_any_standard_input_ends_in_exit_0_or_2_with_one_line(tmp_path_factory, command, data):
    invoke(command, data, tmp_path_factory.mktemp("s"), stdin=True)


@FAST
@given(document=answers)
def test_any_answers_mapping_as_json_and_as_yaml_is_assessed_or_refused(tmp_path_factory,
                                                                        document):
    tmp = tmp_path_factory.mktemp("m")
    for data in (_json(document), _yaml(document)):
        invoke("assess-json", data, tmp, stdin=False)


# ---------------------------------------------------------------------------- real processes

def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_process(args, data: bytes, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DEBUG"}
    proc = subprocess.run([TRIAGE, *args], input=data, capture_output=True, cwd=tmp_path,
                          env=env, timeout=TIME_CAP, preexec_fn=_limits)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), \
        proc.stderr.decode("utf-8", "replace")


BIG = [b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
           f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode()
           for i in range(8)),  # an alias bomb
       b"{" * 200_000,
       b"9" * 2_000_000,
       b'{"notes": "' + b"x" * 3_000_000 + b'"}']


@pytest.mark.parametrize("command", ["assess", "report", "explain", "batch"])
@SLOW
@given(data=st.one_of(hostile_bytes, st.sampled_from(BIG)))
def test_real_processes_stay_within_memory_and_time(tmp_path_factory, command, data):
    tmp = tmp_path_factory.mktemp("p")
    code, out, err = run_process(COMMANDS[command]("-"), data, tmp)
    check_result(command, code, out, err)
