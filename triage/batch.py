"""`triage batch`: assess every row of a JSONL or CSV file, in order, optionally on every core."""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from typing import Iterator

import click

from .errors import AnswersError, TriageError
from .fileio import AtomicTextWriter

CHUNK = 200  # rows sent to a worker at a time: large enough to amortise the pickling


@dataclass
class Row:
    line: int
    case_id: object
    answers: object  # the raw mapping, or None when the row could not be parsed
    error: str | None = None


@dataclass
class BatchSummary:
    rows: int = 0
    errors: int = 0
    output: str = "-"

    def message(self) -> str:
        where = "standard output" if self.output == "-" else self.output
        bad = f", {self.errors} with errors (see their error records)" if self.errors else ""
        return f"Assessed {self.rows - self.errors} of {self.rows} rows{bad}; wrote {where}."


# --------------------------------------------------------------------------- reading

def _open_text(path: str):
    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise TriageError("no such file", file=path) from None
    except OSError as exc:
        raise TriageError(f"cannot read: {exc.strerror}", file=path) from None


def _detect_format(path: str, handle, declared: str) -> tuple[str, object]:
    """The input format, and a handle positioned at the start (stdin is peeked, not re-read)."""
    if declared != "auto":
        return declared, handle
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl", handle
    if lower.endswith((".csv", ".tsv")):
        return "csv", handle
    text = handle.read()
    first = text.lstrip()[:1]
    return ("jsonl" if first == "{" else "csv"), io.StringIO(text)


def read_rows(path: str, handle, fmt: str, questions) -> Iterator[Row]:
    if fmt == "jsonl":
        yield from _jsonl_rows(handle)
    else:
        yield from _csv_rows(path, handle, questions)


def _jsonl_rows(handle) -> Iterator[Row]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(number, None, None, f"line {number}: not valid JSON: {exc.msg}")
            continue
        if not isinstance(record, dict):
            yield Row(number, None, None, f"line {number}: expected a JSON object of answers")
            continue
        case_id = record.pop("case_id", None)
        yield Row(number, case_id, record)


def _csv_rows(path: str, handle, questions) -> Iterator[Row]:
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    if not header:
        raise TriageError("empty CSV: expected a header row of question ids", file=path)
    unknown = [c for c in header if c not in questions and c != "case_id"]
    if unknown:
        raise AnswersError(f"column '{unknown[0]}' is not a question id", file=path,
                           where="line 1")
    for record in reader:
        line = reader.line_num
        if None in record:
            yield Row(line, record.get("case_id") or None, None,
                      f"line {line}: more cells than columns in the header")
            continue
        case_id = record.pop("case_id", None) or None
        answers = {k: (v if v is not None and v.strip() != "" else None)
                   for k, v in record.items()}
        yield Row(line, case_id, answers)


# --------------------------------------------------------------------------- assessing

_RULEBOOK = None
_CACHE: bool | None = None  # None: the decision cache unless TRIAGE_NO_CACHE is set


def _init_worker(rulebook, cache: bool | None = None) -> None:
    global _RULEBOOK, _CACHE
    _RULEBOOK = rulebook
    _CACHE = cache


def assess_row(row: Row) -> tuple[str, bool]:
    """One output line (JSON) for one row, and whether the row was bad. Each process (each
    worker) has its own decision cache (triage/decisions.py)."""
    from .engine import assess_json

    if row.error is not None:
        return _error_line(row, row.error), True
    try:
        line = assess_json(row.answers, _RULEBOOK, source=f"line {row.line}",
                           head={"case_id": row.case_id, "line": row.line}, cache=_CACHE)
    except AnswersError as exc:
        return _error_line(row, exc.message), True
    return line, False


def _assess_chunk(rows: list) -> list:
    return [assess_row(row) for row in rows]


def _error_line(row: Row, message: str) -> str:
    return json.dumps({"case_id": row.case_id, "line": row.line, "error": message},
                      ensure_ascii=False)


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_batch(input_path: str, output_path: str, rulebook, *, input_format: str = "auto",
              workers: int = 1, progress: bool | None = None,
              cache: bool | None = None) -> BatchSummary:
    """Assess every row of `input_path` into `output_path`, one JSON line per row, in order.

    `workers` processes share the work (0: one per usable CPU core); the output is the same
    whatever their number."""
    handle = _open_text(input_path)
    with handle:
        fmt, source = _detect_format(input_path, handle, input_format)
        rows = read_rows(input_path, source, fmt, rulebook.questionnaire.questions)
        first = next(rows, None)  # header problems surface now, before any output is written
        if first is None:
            raise TriageError("no rows to assess", file=input_path)
        rows = _prepend(first, rows)
        total = _count_rows(input_path, fmt) if input_path != "-" else None  # None: not known
        workers = workers or usable_cpus()
        if total is not None and total <= CHUNK:
            workers = 1  # one chunk: starting processes would cost more than it saves
        if progress is None:
            progress = sys.stderr.isatty()
        summary = BatchSummary(output=output_path)
        with AtomicTextWriter(output_path) as out:
            lines = _flatten(_results(rows, rulebook, workers, cache))
            # An iterable, so that an unknown total (standard input) shows a count, not an error
            with click.progressbar(lines, length=total, label="Assessing", file=sys.stderr,
                                   hidden=not progress, show_pos=True,
                                   update_min_steps=50) as bar:
                for line, bad in bar:
                    out.write(line + "\n")
                    summary.rows += 1
                    summary.errors += bad
    return summary


def usable_cpus() -> int:
    """The CPU cores this process may run on (a container or taskset may allow fewer than the
    machine has)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counter is not None:
        return counter() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _flatten(chunks: Iterator[list]) -> Iterator[tuple]:
    for chunk in chunks:
        yield from chunk


def _init_pool_worker(rulebook, cache: bool | None = None) -> None:
    # Ctrl-C reaches every process of the terminal's process group; only the parent should act on
    # it (it stops the pool and leaves the output file untouched), not print a traceback per worker.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(rulebook, cache)


def _results(rows, rulebook, workers, cache: bool | None = None) -> Iterator[list]:
    """The assessed chunks, in input order."""
    if workers <= 1:
        _init_worker(rulebook, cache)
        for chunk in _chunks(rows, CHUNK):
            yield _assess_chunk(chunk)
        return
    import multiprocessing
    from collections import deque

    context = multiprocessing.get_context("spawn" if sys.platform == "win32" else "fork")
    with context.Pool(workers, initializer=_init_pool_worker,
                      initargs=(rulebook, cache)) as pool:
        # At most two chunks per worker in flight, collected in order: every worker stays busy,
        # and memory stays bounded however long the input (Pool.imap would read it all at once).
        pending: deque = deque()
        for chunk in _chunks(rows, CHUNK):
            pending.append(pool.apply_async(_assess_chunk, (chunk,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _prepend(first, rest):
    yield first
    yield from rest


def _count_rows(path: str, fmt: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            lines = sum(1 for line in handle if line.strip())
    except OSError:
        return None
    return max(lines - 1, 0) if fmt == "csv" else lines
