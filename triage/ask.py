"""One questionnaire session: which question comes next, going back, saving, the emergency stop.

There is no terminal here (``cli/ask.py`` does the prompting), so every step of the flow can be
driven and checked directly. The session keeps the answers given so far, in the answers format of
``triage assess``, and writes them to its store after every change (an ``AnswerStore``: the
session file of ``triage ask`` is a ``FileStore``; ``triage serve`` keeps them in its database):

* an answered question holds its value; a question the person chose to leave unanswered holds
  ``null`` (``triage assess`` reads that as "not answered", and a resumed session does not ask it
  again);
* a question whose ``skip_if`` holds is not asked, and its answer is not stored: the answer that
  skip logic implies is added by the questionnaire's own validation, in ``triage assess`` as here.

Questions come in the file's order. Going back (``back()``) re-opens the previous question with its
answer kept as the default, and going forward again returns to the questions that were re-opened
on the way back, so nothing answered is ever dropped by moving about.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

from .conditions import show_value
from .errors import AnswersError, OutputError, TriageError
from .fileio import atomic_write
from .questionnaire import Question, Questionnaire, read_answers_file

# The commands understood at every prompt.
HELP = "?"
BACK = "<"


class AnswerRejected(ValueError):
    """A typed answer that does not fit the question; its message is the reason, in plain words."""


@dataclass(frozen=True)
class SummaryRow:
    """One line of the end-of-questionnaire summary."""
    number: int | None  # the number to type to change it; None for a question skip logic settled
    question: Question
    value: Any  # the answer, or None
    status: str  # "answered", "unanswered" (left blank), "implied" (by skip logic), "not asked"


# --------------------------------------------------------------------------- the session file

def default_session_path(directory: str | os.PathLike = ".", *, now: _dt.datetime | None = None,
                         claim: bool = False) -> Path:
    """A new session file name in `directory` that does not exist yet:
    ``triage-session-YYYYMMDD-HHMMSS.json`` (with -2, -3... if that is taken). With `claim`, the
    file is created at once (exclusively, holding no answers), so that two sessions started in
    the same second never pick the same name."""
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(directory) / f"triage-session-{stamp}"
    candidate = base.with_suffix(".json")
    n = 2
    while True:
        if not claim and not candidate.exists():
            return candidate
        if claim:
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write("{}\n")
                return candidate
        candidate = Path(f"{base}-{n}.json")
        n += 1


def load_saved_answers(path: str, questionnaire: Questionnaire) -> dict:
    """The answers of a saved session (or any answers file, JSON, YAML or a FHIR
    QuestionnaireResponse), checked answer by answer. Unlike ``Questionnaire.validate`` it does not
    insist on the required questions, since a session may stop before they are all answered."""
    store = FileStore(path)
    return check_stored(store.load(), questionnaire, source=store.name)


def check_stored(raw, questionnaire: Questionnaire, *, source: str) -> dict:
    """Stored answers (as an ``AnswerStore`` loads them) checked answer by answer; a FHIR
    QuestionnaireResponse is read as the answers it holds."""
    if raw is None:  # a file holding only comments
        raw = {}
    if isinstance(raw, Mapping) and raw.get("resourceType") == "QuestionnaireResponse":
        from .fhir import answers_from_response

        raw = answers_from_response(raw, questionnaire, source=source)
    return questionnaire.parse_given(raw, source=source)


# --------------------------------------------------------------------------- where answers are kept

@runtime_checkable
class AnswerStore(Protocol):
    """Where a session keeps its answers: the one thing that differs between ``triage ask`` (a
    session file) and ``triage serve`` (a database row). `name` is how messages refer to it."""

    name: str

    def load(self) -> Any:
        """The answers as stored (a mapping in the answers format; not yet checked)."""

    def save(self, answers: dict) -> None:
        """Replace the stored answers with `answers` (the answers format), all at once."""


_STORE_CLASSES: set[type] = set()  # classes whose every instance is an AnswerStore


def _is_answer_store(store) -> bool:
    """``isinstance(store, AnswerStore)``, remembered for a class that has the protocol's members
    itself (not only on some instances): typing's runtime protocol check costs about 20 us, and
    `triage serve` opens a session on every request."""
    cls = type(store)
    if cls in _STORE_CLASSES:
        return True
    if not isinstance(store, AnswerStore):
        return False
    if all(hasattr(cls, member) for member in ("name", "load", "save")):
        _STORE_CLASSES.add(cls)
    return True


class SessionLocked(TriageError):
    """The session file is being answered by another `triage ask`."""


class FileStore:
    """Answers kept in a file: JSON written atomically, so it is never half written. It reads any
    answers file (JSON, YAML, a FHIR QuestionnaireResponse; '-' for standard input).

    ``lock()`` makes this process the file's only writer: a second ``triage ask`` on the same
    file is refused while the first runs. The lock is an ``fcntl.flock`` on a small file beside
    the session file (``.NAME.lock``, holding the process id), removed by ``unlock()``; the
    kernel drops the lock itself if the process dies, so a stale lock file never blocks."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._lock: tuple | None = None

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path

    def load(self) -> Any:
        return read_answers_file(self.path)

    def save(self, answers: dict) -> None:
        text = json.dumps(answers, indent=2, ensure_ascii=False) + "\n"
        # A signal that arrives while the file is being replaced waits until it is in place, so
        # an answer is either saved or not given, never "saved" and lost (issue 9, item 3).
        with _signals_held():
            try:
                atomic_write(self.path, text)
            except OutputError as exc:
                raise OutputError(exc.reason, file=self.path, what="save the answers") from None

    @property
    def lock_path(self) -> Path:
        path = Path(self.path)
        return path.with_name(f".{path.name}.lock")

    def lock(self) -> None:
        """Become the session file's only writer, or raise SessionLocked naming the other."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks; go without
            return
        lock_path = self.lock_path
        while self._lock is None:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(exc, file=self.path, what="save the answers") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip()
                os.close(fd)
                who = f" (process {holder})" if holder.isdigit() else ""
                raise SessionLocked(
                    f"another triage ask{who} is answering this session now; finish that one "
                    f"first, or save to another file with --save", file=self.path) from None
            try:  # the file we locked may have been removed by its last holder meanwhile
                current = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if not current:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._lock = (fd, lock_path)

    def unlock(self) -> None:
        if self._lock is None:
            return
        fd, lock_path = self._lock
        self._lock = None
        try:
            os.unlink(lock_path)  # while still holding it: see lock()
        except OSError:
            pass
        os.close(fd)

    def __repr__(self) -> str:
        return f"FileStore({self.path!r})"


@contextlib.contextmanager
def _signals_held():
    """Hold back SIGINT, SIGTERM and SIGHUP for the duration (they are delivered after it)."""
    import signal
    import threading

    held = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP")
                                               else set())
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# --------------------------------------------------------------------------- the session

class Session:
    """The state of one run of the questionnaire. `store` is where it saves its answers: an
    ``AnswerStore``, or a file name (a ``FileStore``)."""

    def __init__(self, rulebook, store: AnswerStore | str | os.PathLike,
                 given: Mapping[str, Any] | None = None, *,
                 questionnaire: Questionnaire | None = None):
        self.rulebook = rulebook
        # the rulebook's questionnaire, or another set of questions (a follow-up check-in's)
        self.questionnaire: Questionnaire = questionnaire or rulebook.questionnaire
        self.store: AnswerStore = store if _is_answer_store(store) else FileStore(store)
        self.order = [qid for section in self.questionnaire.sections for qid in section.questions]
        self.section_title = {qid: section.title for section in self.questionnaire.sections
                              for qid in section.questions}
        self.given: dict[str, Any] = dict(given or {})
        self._prune()
        # the questions answered, most recent last: where `back()` goes
        self.history: list[str] = [qid for qid in self.order if qid in self.given]
        self._redo: list[str] = []  # questions re-opened by going back, to return to going forward
        self._revisit: str | None = None  # an answered question to ask again next
        self.saved = False  # whether the store has been written by this session
        # the answers (not null) the store holds as far as this session knows: what a message
        # may say was saved
        self.saved_answers: dict[str, Any] = {}

    @classmethod
    def resume(cls, rulebook, source: str, path: str | os.PathLike | None = None) -> "Session":
        """Continue the session saved in `source`, saving to `path` (default: `source` itself)."""
        given = load_saved_answers(source, rulebook.questionnaire)
        return cls(rulebook, path if path is not None else source, given)

    @classmethod
    def open(cls, rulebook, store: AnswerStore) -> "Session":
        """Continue the session kept in `store`, saving back to it."""
        given = check_stored(store.load(), rulebook.questionnaire, source=store.name)
        return cls(rulebook, store, given)

    @property
    def path(self) -> str:
        """How messages name where the answers are saved (the session file's path)."""
        return self.store.name

    # ---- what has been answered

    @property
    def answers(self) -> dict:
        """The answers given so far, without those left unanswered (the assessable answers)."""
        return {qid: value for qid, value in self.given.items() if value is not None}

    def is_skipped(self, qid: str) -> bool:
        return self.questionnaire.is_skipped(qid, self.answers)

    def to_ask(self) -> list[str]:
        """Every question that is asked, given the answers so far, in the file's order."""
        answers = self.answers  # once, not once per question
        is_skipped = self.questionnaire.is_skipped
        return [qid for qid in self.order if not is_skipped(qid, answers)]

    def progress(self, qid: str) -> tuple[int, int]:
        """(n, total) for "question n of total"; the total shrinks as skip logic rules some out."""
        asked = self.to_ask()
        return (asked.index(qid) + 1 if qid in asked else len(asked)), len(asked)

    @property
    def required_answered(self) -> bool:
        return all(self.given.get(qid) is not None for qid in self.questionnaire.required)

    # ---- moving through the questions

    def next_question(self) -> Question | None:
        """The question to ask now, or None when every question has been dealt with."""
        answers = self.answers
        is_skipped = self.questionnaire.is_skipped
        if self._revisit is not None and not is_skipped(self._revisit, answers):
            return self.questionnaire.questions[self._revisit]
        for qid in self.order:
            if qid not in self.given and not is_skipped(qid, answers):
                return self.questionnaire.questions[qid]
        return None

    def current_default(self, q: Question):
        """What pressing Enter answers: the answer already given, else the file's default."""
        if q.id in self.given:
            return self.given[q.id]
        return q.default

    def record(self, qid: str, value) -> None:
        """Store an answer (None: left unanswered) and save it to the store at once."""
        if qid not in self.questionnaire.questions:
            raise KeyError(qid)
        self.given[qid] = value
        self._prune()
        if qid in self.history:
            self.history.remove(qid)
        self.history.append(qid)
        self._revisit = None
        while self._redo:
            candidate = self._redo.pop()
            if candidate in self.given and not self.is_skipped(candidate):
                self._revisit = candidate
                break
        self.save()

    def back(self) -> Question | None:
        """Re-open the question answered before the current one (None if there is none)."""
        while self.history and self.is_skipped(self.history[-1]):
            self.history.pop()
        if not self.history:
            return None
        current = self.next_question()
        target = self.history.pop()
        if current is not None and current.id in self.given:
            self._redo.append(current.id)  # a re-opened question: come back to it going forward
        self._revisit = target
        return self.questionnaire.questions[target]

    def reopen(self, qid: str) -> Question:
        """Ask an answered question again (to change it from the summary)."""
        if qid not in self.questionnaire.questions or self.is_skipped(qid):
            raise KeyError(qid)
        self._redo.clear()
        self._revisit = qid
        return self.questionnaire.questions[qid]

    def _prune(self) -> None:
        """Drop answers to questions that skip logic now rules out (after an earlier answer
        changed): their answer is implied, or they no longer apply."""
        changed = True
        while changed:
            changed = False
            answers = self.answers  # kept equal to self.answers as answers are dropped
            for qid in list(self.given):
                if self.questionnaire.is_skipped(qid, answers):
                    del self.given[qid]
                    answers.pop(qid, None)
                    changed = True

    # ---- reading and checking an answer

    def parse(self, q: Question, text: str):
        """The value of a typed answer, or None for an optional question left blank. Raises
        AnswerRejected with the reason, for the prompt to show before asking again."""
        text = text.strip()
        if not text:
            default = self.current_default(q)
            if default is not None:
                return default
            if q.required:
                raise AnswerRejected(f"this question needs an answer: {q.describe_values()}")
            return None
        if q.type == "choice":
            return _parse_choice(q, text)
        if q.type in ("integer", "number") and "," in text and "." not in text:
            text = text.replace(",", ".")  # 0,5 weeks
        if q.type == "number" and q.id.endswith("_weeks"):
            text = _as_weeks(text)  # "3 days", "4 months": a length of time given in weeks
        try:
            value = q.coerce(text)
        except ValueError as exc:
            raise AnswerRejected(str(exc)) from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 2 weeks is saved as 2, not 2.0
        return value

    # ---- the emergency check and the outcome

    def emergency(self):
        """The assessment if the answers so far already make the urgency an emergency, else None.

        A required question not yet answered (the injury question comes after the first
        emergency checks) does not hold the stop back: when it is a choice, the answers are
        assessed with each of its possible answers, and if every one is an emergency, so is this
        (the one shown is that with its first choice, e.g. no injury, and the answers it keeps are
        only those given). A required number not yet answered (age, duration) means no check."""
        return emergency_of(self.answers, self.rulebook, source=self.path)

    def assessment(self):
        from .engine import assess

        return assess(self.answers, self.rulebook, source=self.path)

    def why_asked(self, qid: str) -> list:
        """The active rules that read this question (for the prompt's help)."""
        return list(self.rulebook.readers.get(qid, ()))

    def summary(self) -> list[SummaryRow]:
        rows = []
        implied = self.questionnaire.apply_skip_logic(dict(self.answers))
        number = 0
        for qid in self.order:
            q = self.questionnaire.questions[qid]
            if self.is_skipped(qid):
                status = "implied" if qid in implied else "not asked"
                rows.append(SummaryRow(None, q, implied.get(qid), status))
                continue
            number += 1
            if qid not in self.given:
                rows.append(SummaryRow(number, q, None, "not asked"))
            else:
                value = self.given[qid]
                rows.append(SummaryRow(number, q, value,
                                       "answered" if value is not None else "unanswered"))
        return rows

    def save(self) -> None:
        """Write the answers so far to the store, in the questionnaire's order, all at once."""
        data = {qid: self.given[qid] for qid in self.order if qid in self.given}
        with _signals_held():  # a Ctrl-C now lands after the bookkeeping, not between
            self.store.save(data)
            self.saved = True
            self.saved_answers = {qid: value for qid, value in data.items()
                                  if value is not None}


def emergency_of(answers: Mapping[str, Any], rulebook, *, source: str = "answers"):
    """The assessment of `answers` (typed, none of them None) if they already make the urgency
    an emergency, else None; the check of `Session.emergency`, also used for a record that stopped
    at an emergency (`triage batch`, `rules diff`). A required choice not yet answered is tried
    with each of its answers (an emergency whatever it is, or not at all); a required number not
    yet answered means no emergency can be concluded."""
    import itertools
    from .engine import assess

    questionnaire = rulebook.questionnaire
    missing = [questionnaire.questions[qid] for qid in questionnaire.required
               if qid not in answers]
    if any(q.type != "choice" for q in missing):
        return None
    first = None
    for values in itertools.product(*(q.values for q in missing)):
        case = {**answers, **{q.id: v for q, v in zip(missing, values)}}
        result = assess(case, rulebook, source=source)
        if result.urgency != "emergency":
            return None
        first = first or result
    if missing:
        kept = questionnaire.apply_skip_logic(dict(answers))
        first = first.replace(answers=kept)
    return first


def display_value(q: Question, value) -> str:
    """An answer as the person would say it: a choice's label, yes/no, the number, the text."""
    if value is None:
        return "not answered"
    if q.type == "choice":
        return dict(q.choices).get(value, show_value(value))
    if q.type == "text":
        return value
    return show_value(value)


_WEEKS_PER = {"day": 1 / 7, "week": 1, "wk": 1, "month": 52 / 12, "year": 52, "yr": 52}


def _as_weeks(text: str) -> str:
    """A length of time typed with its unit ("3 days", "4 months", "2 wks") as a number of weeks
    (to two decimals); a bare number is weeks already and is returned as typed. Raises
    AnswerRejected, saying how to give it, for a unit it does not know."""
    import re

    found = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)\.?", text.strip().lower())
    if not found:
        if re.search(r"[a-z]", text.lower()):
            raise AnswerRejected("give a number of weeks, for example 3, or a number of days, "
                                 "months or years, for example 10 days or 4 months")
        return text
    number, unit = float(found.group(1)), found.group(2)
    for name, size in _WEEKS_PER.items():
        if unit in (name, name + "s"):
            return f"{round(number * size, 2):g}"
    raise AnswerRejected("give a number of weeks, for example 3, or a number of days, months "
                         "or years, for example 10 days or 4 months")


def _parse_choice(q: Question, text: str):
    """A choice by its number in the list, its value, its label, or an unambiguous beginning."""
    values = [value for value, _ in q.choices]
    if text.isdigit():
        index = int(text)
        if 1 <= index <= len(values):
            return values[index - 1]
        raise AnswerRejected(f"there is no choice {index}: type a number from 1 to {len(values)}")
    wanted = " ".join(text.lower().replace("_", " ").replace("-", " ").split())
    for value, label in q.choices:
        if wanted in (value.replace("_", " "), label.lower()):
            return value
    starts = [value for value, label in q.choices
              if value.replace("_", " ").startswith(wanted) or label.lower().startswith(wanted)]
    if len(starts) == 1:
        return starts[0]
    if len(starts) > 1:
        raise AnswerRejected(f"'{text}' could be {' or '.join(starts)}: type more of it, or its "
                             f"number")
    raise AnswerRejected(f"expected a number from 1 to {len(values)}, or one of "
                         f"{', '.join(values)}; got {text!r}")


# --------------------------------------------------------------------------- the questionnaire

def questionnaire_as_dict(questionnaire: Questionnaire) -> dict:
    """The questionnaire as plain data (``triage questions --format json``): sections in order,
    each question with its id, wording, help, type, choices or range, and skip logic."""
    sections = []
    for section in questionnaire.sections:
        items = []
        for qid in section.questions:
            q = questionnaire.questions[qid]
            item: dict[str, Any] = {"id": q.id, "text": q.text, "help": q.help, "type": q.type,
                                    "required": q.required, "red_flag": q.red_flag}
            if q.type == "choice":
                item["choices"] = [{"value": v, "label": label} for v, label in q.choices]
            if q.min is not None:
                item["min"] = q.min
            if q.max is not None:
                item["max"] = q.max
            if q.default is not None:
                item["default"] = q.default
            if q.alarming:
                item["alarming"] = list(q.alarming)
            if q.skip_if_raw is not None:
                item["skip_if"] = q.skip_if_raw
                item["value_if_skipped"] = q.value_if_skipped
            items.append(item)
        sections.append({"id": section.id, "title": section.title, "questions": items})
    return {"version": questionnaire.version, "sections": sections}


# --------------------------------------------------------------------------- follow-up check-ins
#
# `triage ask --follow-up SESSION` (issue 25): the check-in's questions (triage/followup.py) asked
# in the same flow, the answers kept as they are given in a check-ins file beside the session
# file (SESSION-check-ins.json), never in the session file itself, which stays the first visit's
# answers and valid input for `triage assess`. The file holds the first visit's date, the plan id,
# every finished check-in, and the check-in being answered ("draft"), so Ctrl-C, the end of
# input or a crash loses nothing and the next run continues it.

def check_ins_path(session_path: str | os.PathLike) -> Path:
    """The check-ins file of a session file: my-back.json -> my-back-check-ins.json."""
    path = Path(session_path)
    stem = path.stem if path.suffix else path.name
    return path.with_name(f"{stem}-check-ins.json")


class CheckInStore(FileStore):
    """A check-ins file as the store of one check-in: ``load`` gives the answers of the check-in
    being answered (the draft), ``save`` writes the whole file with the draft replaced, at once.
    `record` is the followup.FollowUpRecord of the finished check-ins; `date` the draft's date."""

    def __init__(self, path: str | os.PathLike, record, date: _dt.date,
                 draft: Mapping[str, Any] | None = None):
        super().__init__(path)
        self.record = record
        self.date = date
        self.draft: dict = dict(draft or {})

    def load(self) -> Any:
        return dict(self.draft)

    def save(self, answers: dict) -> None:
        self.draft = dict(answers)
        self._write(draft=True)

    def finish(self):
        """The draft becomes a check-in of the record, and the file is written without a draft.
        Returns the record."""
        from .followup import CheckIn

        self.record = self.record.with_check_in(CheckIn(self.date, self.draft))
        self.draft = {}
        self._write(draft=False)
        return self.record

    def _write(self, *, draft: bool) -> None:
        from .followup import follow_up_to_dict

        data = follow_up_to_dict(self.record)
        if draft:
            data["draft"] = {"date": self.date.isoformat(), "answers": self.draft}
        FileStore.save(self, data)


def open_check_ins(path: str | os.PathLike, *, first_visit: _dt.date | None,
                   today: _dt.date):
    """The record and draft of a check-ins file: (record, draft date or None, draft answers).
    A file that does not exist starts a new record dated `first_visit`. Raises AnswersError
    (one line) for a file that is not a check-ins file."""
    from .followup import FollowUpRecord, follow_up_from_dict, new_plan_id, _parse_date

    if not Path(path).exists():
        if first_visit is None:
            raise TriageError("the date of the first visit is not known", file=str(path))
        return FollowUpRecord(first_visit, (), new_plan_id()), None, {}
    raw = read_answers_file(str(path))
    record = follow_up_from_dict(raw, source=str(path))
    if not record.plan_id:
        record = FollowUpRecord(record.first_visit, record.check_ins, new_plan_id())
    draft = raw.get("draft") if isinstance(raw, Mapping) else None
    if not draft:
        return record, None, {}
    if not isinstance(draft, Mapping) or not isinstance(draft.get("answers", {}), Mapping):
        raise AnswersError("'draft' must hold a date and the answers so far", file=str(path),
                           where="draft")
    return record, _parse_date(draft.get("date"), source=str(path), where="draft"), \
        dict(draft.get("answers") or {})


class CheckInSession(Session):
    """One check-in, asked like the questionnaire (going back, help, the summary), its answers
    saved to a ``CheckInStore`` after every one. `first_answers`: the first visit's answers."""

    def __init__(self, rulebook, store: CheckInStore, first_answers: Mapping[str, Any],
                 given: Mapping[str, Any] | None = None):
        from .followup import check_in_questionnaire

        self.first_answers = dict(first_answers)
        questions = check_in_questionnaire(rulebook, first_answers)
        typed = questions.parse_given(dict(given or {}), source=store.name)
        super().__init__(rulebook, store, typed, questionnaire=questions)

    @property
    def follow_up(self):
        """The followup.FollowUpRecord: the first visit's date and the finished check-ins."""
        return self.store.record

    @property
    def date(self) -> _dt.date:
        return self.store.date

    def check_ins(self) -> list:
        """The finished check-ins and this one as it stands."""
        from .followup import CheckIn

        return [*self.follow_up.check_ins, CheckIn(self.date, self.answers)]

    def updated_answers(self) -> dict:
        from .followup import updated_answers

        return updated_answers(self.first_answers, self.check_ins(), self.rulebook,
                               first_visit=self.follow_up.first_visit)

    def emergency(self):
        """The assessment if the first visit's answers updated by this check-in so far make it an
        emergency (a new emergency sign stops the check-in, as it stops the first visit)."""
        return emergency_of(self.updated_answers(), self.rulebook, source=self.path)

    def finish(self):
        """Keep this check-in in the record (the file is written at once) and review it: the
        followup.FollowUpOutcome."""
        from .followup import review_check_in

        self.store.draft = {qid: self.given[qid] for qid in self.order if qid in self.given}
        record = self.store.finish()
        return review_check_in(self.first_answers, record.check_ins, self.rulebook, self.date,
                               first_visit=record.first_visit)

    def assessment(self):  # pragma: no cover - the flow uses finish()
        return self.finish().assessment
