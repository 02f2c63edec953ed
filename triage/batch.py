"""`triage batch`: assess every row of a JSONL or CSV file, in order, optionally on every core."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from dataclasses import dataclass
from typing import Iterator

import click

from .errors import AnswersError, TriageError
from .fileio import AtomicTextWriter
from .reading import limits, parse_row, shorten, size_words

CHUNK = 200  # rows sent to a worker at a time: large enough to amortise the pickling
# A record that stopped at an emergency (a clinic's export of a session whose questions stopped
# there, before later required questions): `"stopped_at_emergency": true` in a JSON line, or a
# `stopped_at_emergency` column saying yes in CSV. It is assessed as the questionnaire assessed
# it (triage.ask.emergency_of), and is an error record if the rules find no emergency without
# the questions never asked.
STOPPED = "stopped_at_emergency"


@dataclass
class Row:
    line: int
    case_id: object
    answers: object  # the raw mapping, or None when the row could not be parsed
    error: str | None = None
    # a JSON line not parsed yet: the process that assesses the row parses it (a `triage batch`
    # or `rules diff` worker), so the reading process only splits the input into lines
    text: str | None = None
    stopped: bool = False  # a record that stopped at an emergency (STOPPED)

    def parsed(self, lim=None) -> "Row":
        """The row with its JSON line parsed: its answers and case id, or its error record
        (`lim`: the reading limits in force, read once per batch)."""
        if self.text is None:
            return self
        number = self.line
        try:
            record = parse_row(self.text, f"line {number}", lim or limits())
        except AnswersError as exc:
            return Row(number, None, None, exc.message)
        if not isinstance(record, dict):
            return Row(number, None, None, f"line {number}: expected a JSON object of answers")
        case_id = record.pop("case_id", None)
        stopped = _says_yes(record.pop(STOPPED, None))
        return Row(number, case_id, record, stopped=stopped)


def _says_yes(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("yes", "true"))


def stopped_assessment(answers, rulebook, source: str):
    """The assessment of a record that stopped at an emergency: its answers as the questionnaire
    had them when it stopped. Raises AnswersError when these rules find no emergency there
    without the questions never asked (a required number missing, or a choice that matters)."""
    from .ask import emergency_of
    from .engine import assess

    given = rulebook.questionnaire.parse_given(answers, source=source)
    given = {qid: value for qid, value in given.items() if value is not None}
    missing = [qid for qid in rulebook.questionnaire.required if qid not in given]
    if not missing:
        return assess(given, rulebook, source=source)
    result = emergency_of(given, rulebook, source=source)
    if result is None:
        raise AnswersError(f"{source}: stopped at an emergency, but these rules find no "
                           f"emergency without {', '.join(missing)} (never asked)")
    return result


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

class LineError(Exception):
    """A line that cannot be a record: longer than the record cap, or not UTF-8."""

    def __init__(self, number: int, message: str):
        super().__init__(message)
        self.number = number
        self.message = message


class LineSource:
    """The lines of a byte stream, read one at a time (never the whole input), each at most
    the record cap, decoded as UTF-8; lines can be pushed back to be read again."""

    SKIP_LIMIT = 64  # an overlong line is skipped up to this many times the cap, then we give up

    def __init__(self, raw, path: str, limit: int):
        self.raw = raw
        self.path = path
        self.limit = limit
        self.number = 0
        self._back: list = []  # pushed-back (number, text), next one last

    def next_line(self):
        """(number, text) of the next line, or None at the end; LineError for a bad line."""
        if self._back:
            return self._back.pop()
        data = self.raw.readline(self.limit + 1)
        if not data:
            return None
        self.number += 1
        if self.number == 1:
            if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise TriageError("is UTF-16 text; save it as UTF-8", file=self.path)
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
        if len(data) > self.limit and not data.endswith(b"\n"):
            self._skip_rest()
            raise LineError(self.number, f"line {self.number}: longer than the "
                                         f"{size_words(self.limit)} limit for one record; set "
                                         f"TRIAGE_MAX_RECORD_BYTES to raise it")
        try:
            return self.number, data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(self.number, f"line {self.number}: not UTF-8 text (byte "
                                         f"0x{data[exc.start]:02x})") from None

    def _skip_rest(self) -> None:
        skipped = 0
        while skipped <= self.SKIP_LIMIT * self.limit:
            chunk = self.raw.readline(1 << 16)
            if not chunk or chunk.endswith(b"\n"):
                return
            skipped += len(chunk)
        raise TriageError(f"line {self.number}: no end of line in its first "
                          f"{size_words(self.SKIP_LIMIT * self.limit)}: this is not a JSONL or "
                          f"CSV file", file=self.path)

    def push_back(self, lines) -> None:
        self._back.extend(reversed(list(lines)))


def _open_binary(path: str):
    if path == "-":
        if sys.stdin is None:
            raise TriageError("standard input is closed: give a file name", file="<stdin>")
        return contextlib.nullcontext(sys.stdin.buffer)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise TriageError("no such file", file=path) from None
    except IsADirectoryError:
        raise TriageError("is a directory, not a file", file=path) from None
    except OSError as exc:
        raise TriageError(f"cannot read: {exc.strerror}", file=path) from None


@contextlib.contextmanager
def open_rows(path: str, declared: str, questions):
    """(format, rows) of a batch input: the format from `declared`, else the file's suffix,
    else its first record (standard input is never read ahead more than one line)."""
    lim = limits()
    csv.field_size_limit(max(lim.max_record_bytes, 1024))
    with _open_binary(path) as raw:
        source = LineSource(raw, "<stdin>" if path == "-" else path, lim.max_record_bytes)
        fmt = _detect_format(path, source, declared)
        if fmt == "jsonl":
            yield fmt, _jsonl_rows(source)
        else:
            yield fmt, _csv_rows(source, questions, "\t" if fmt == "tsv" else ",")


def _detect_format(path: str, source: LineSource, declared: str) -> str:
    if declared != "auto":
        return declared
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".tsv"):
        return "tsv"
    seen = []
    try:
        while True:
            item = source.next_line()
            if item is None:
                break
            seen.append(item)
            if item[1].strip():
                break
    except LineError:
        source.push_back(seen)
        return "jsonl"  # the bad first record becomes an error record
    source.push_back(seen)
    first = seen[-1][1] if seen else ""
    if first.lstrip().startswith("{"):
        return "jsonl"
    return "tsv" if "\t" in first and "," not in first else "csv"


def _jsonl_rows(source: LineSource) -> Iterator[Row]:
    while True:
        try:
            item = source.next_line()
        except LineError as exc:
            yield Row(exc.number, None, None, exc.message)
            continue
        if item is None:
            return
        number, line = item
        if not line.strip():
            continue
        yield Row(number, None, None, text=line)  # parsed where it is assessed (Row.parsed)


def _csv_rows(source: LineSource, questions, delimiter: str) -> Iterator[Row]:
    """The records of a CSV (or TSV) file. A malformed record (an unclosed quote, a bad line)
    becomes an error record naming its first line, and reading starts again on the line after
    that, so that no later row is swallowed."""
    path = source.path
    header_item = None
    while header_item is None or not header_item[1].strip():
        header_item = source.next_line()
        if header_item is None:
            raise TriageError("empty CSV: expected a header row of question ids", file=path)
    try:
        header = next(csv.reader([header_item[1]], delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration) as exc:
        raise TriageError(f"the header row cannot be read: {exc}", file=path,
                          where=f"line {header_item[0]}") from None
    header = [c.strip() for c in header]
    for index, column in enumerate(header):
        if column in header[:index]:
            raise AnswersError(f"column {shorten(column)} appears twice: column "
                               f"{header.index(column) + 1} and column {index + 1}", file=path,
                               where=f"line {header_item[0]}")
    unknown = [c for c in header if c not in questions and c not in ("case_id", STOPPED)]
    if unknown:
        raise AnswersError(f"column {shorten(unknown[0])} is not a question id", file=path,
                           where=f"line {header_item[0]}")
    limit = source.limit
    while True:
        consumed: list = []

        def lines():
            size = 0
            while True:
                item = source.next_line()
                if item is None:
                    return
                consumed.append(item)
                size += len(item[1])
                if size > limit and len(consumed) > 1:
                    raise LineError(consumed[0][0], f"line {consumed[0][0]}: a record longer "
                                    f"than the {size_words(limit)} limit (an unclosed quote?); "
                                    f"set TRIAGE_MAX_RECORD_BYTES to raise it")
                yield item[1]

        reader = csv.reader(lines(), delimiter=delimiter, strict=True)
        while True:
            consumed.clear()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                cells = None
                first = consumed[0][0] if consumed else source.number
                reason = str(exc)
                if "unexpected end of data" in reason:
                    reason = (f"a quote opened on this line is never closed (the file ends on "
                              f"line {consumed[-1][0]})" if consumed else "a quote is never closed")
                error = f"line {first}: {reason}"
            except LineError as exc:
                cells = None
                first = consumed[0][0] if consumed else exc.number
                error = exc.message if exc.number == first else f"line {first}: {exc.message}"
            if cells is None:
                yield Row(first, None, None, error)
                source.push_back(consumed[1:])
                break  # a fresh reader, starting on the line after the bad record's first
            if not cells or (len(cells) == 1 and not cells[0].strip() and len(header) > 1):
                continue  # a blank line
            line = consumed[0][0]
            case_index = header.index("case_id") if "case_id" in header else None
            case_id = (cells[case_index] or None) if case_index is not None \
                and case_index < len(cells) else None
            if len(cells) > len(header):
                yield Row(line, case_id, None,
                          f"line {line}: more cells than columns in the header")
                continue
            answers = {}
            stopped = False
            for column, value in zip(header, cells + [None] * (len(header) - len(cells))):
                if column == "case_id":
                    continue
                if column == STOPPED:
                    stopped = _says_yes(value)
                    continue
                answers[column] = value if value is not None and value.strip() != "" else None
            yield Row(line, case_id, answers, stopped=stopped)


# --------------------------------------------------------------------------- assessing

_RULEBOOK = None
_CACHE: bool | None = None  # None: the decision cache unless TRIAGE_NO_CACHE is set
_LIMITS = None  # the reading limits (reading.limits()), read once per batch


def _init_worker(rulebook, cache: bool | None = None) -> None:
    from .engine import cache_enabled

    global _RULEBOOK, _CACHE, _LIMITS
    _RULEBOOK = rulebook
    _CACHE = cache_enabled(cache)  # the environment is read once, not once per row
    _LIMITS = limits()


def assess_row(row: Row) -> tuple[str, bool]:
    """One output line (JSON) for one row, and whether the row was bad. Each process (each
    worker) has its own decision cache (triage/engine/decisions.py)."""
    assess_json = _ASSESS_JSON or _engine_assess_json()
    row = row.parsed(_LIMITS)
    if row.error is not None:
        return _error_line(row, row.error), True
    try:
        if row.stopped:
            result = stopped_assessment(row.answers, _RULEBOOK, f"line {row.line}")
            return json.dumps({"case_id": row.case_id, "line": row.line, **result.to_dict()},
                              ensure_ascii=False), False
        line = assess_json(row.answers, _RULEBOOK, source=f"line {row.line}",
                           head={"case_id": row.case_id, "line": row.line}, cache=_CACHE)
    except TriageError as exc:
        return _error_line(row, exc.message), True
    except Exception as exc:  # noqa: BLE001 - one row's failure must not discard the others
        return _error_line(row, f"line {row.line}: internal error (a bug in triage; please "
                                f"report it): {type(exc).__name__}: {shorten(str(exc), 200)}"), True
    return line, False


_ASSESS_JSON = None  # engine.assess_json, imported on the first row (it brings in experta)


def _engine_assess_json():
    global _ASSESS_JSON
    from .engine import assess_json

    _ASSESS_JSON = assess_json
    return assess_json


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
    if output_path != "-" and input_path != "-" and _same_file(input_path, output_path):
        raise TriageError("the output would replace the input; write the results to another "
                          "file", file=output_path)
    with open_rows(input_path, input_format, rulebook.questionnaire.questions) as (fmt, rows):
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
            chunks = _results(rows, rulebook, workers, cache)
            if not progress:  # a chunk at a time: no progress bar to step through per line
                for chunk in chunks:
                    out.write("".join([line + "\n" for line, _ in chunk]))
                    summary.rows += len(chunk)
                    summary.errors += sum([bad for _, bad in chunk])
                return summary
            # An iterable, so that an unknown total (standard input) shows a count, not an error
            with click.progressbar(_flatten(chunks), length=total, label="Assessing",
                                   file=sys.stderr, show_pos=True, update_min_steps=50) as bar:
                for line, bad in bar:
                    out.write(line + "\n")
                    summary.rows += 1
                    summary.errors += bad
    return summary


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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
    # SIGHUP likewise; SIGTERM is how the parent's pool stops its workers, so it kills them
    # quietly (the default action), not through the parent's handler that a fork copied.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
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
    """The number of non-blank lines of a regular file (for the progress bar), read in blocks."""
    try:
        if not os.path.isfile(path):
            return None
        lines = 0
        with open(path, "rb") as handle:
            previous = b"\n"
            for block in iter(lambda: handle.read(1 << 20), b""):
                lines += block.count(b"\n")
                previous = block[-1:]
            lines += previous != b"\n"  # a last line without its newline
    except OSError:
        return None
    return max(lines - 1, 0) if fmt in ("csv", "tsv") else lines
