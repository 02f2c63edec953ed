"""`triage ask --follow-up SESSION`: a check-in after a first visit, in the terminal (issue 25).

The check-in is asked by the same flow as the questionnaire (cli/ask.py: going back with <, help
with ?, the summary, Ctrl-C keeps the answers); its questions and what they change are in
triage/followup.py; the check-ins are kept in SESSION-check-ins.json (triage/ask.py:
CheckInStore), saved after every answer, and the session file is never written.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import sys
from pathlib import Path

import click

from ..ask import CheckInSession, CheckInStore, check_ins_path, open_check_ins
from ..assessment import URGENCY_WORDS
from ..errors import AnswersError, OutputError, TriageError, exit_code_for
from .ask import URGENCY_STYLE, _check_writable, _Flow
from .common import InputError


def parse_date_option(value: str | None, option: str) -> _dt.date | None:
    if value is None:
        return None
    try:
        return _dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: give it as YYYY-MM-DD, for example "
                                 f"2026-12-01", param_hint=option) from None


def load_first_visit(path: str, rulebook) -> dict:
    """The first visit's answers (the session file), checked; a one-line InputError otherwise."""
    from ..questionnaire import read_answers_file

    if not Path(path).is_file():
        raise InputError(f"{path}: no such session file; give the file that `triage ask "
                         f"--save FILE` wrote at the first visit")
    raw = read_answers_file(path)
    if isinstance(raw, dict) and raw.get("format") == "triage-check-ins":
        raise InputError(f"{path}: this is a check-ins file; give the first visit's session "
                         f"file (the one without -check-ins)")
    try:
        return rulebook.questionnaire.validate(raw, source=path)
    except AnswersError as exc:
        if "required question" in exc.problem:
            raise InputError(f"{exc.message}; finish the first visit first: triage ask "
                             f"--resume {shlex.quote(path)}") from None
        raise


def run_follow_up(console, rulebook, session_path: str, *, save_path, report_path,
                  check_in_date, first_visit, rules_dir) -> None:
    """The whole `triage ask --follow-up` run."""
    from ..engine import assess

    if session_path == "-" or save_path == "-":
        raise click.BadParameter("standard input and output carry the questions and answers; "
                                 "name a file", param_hint="--follow-up")
    today = _dt.date.today()
    date = parse_date_option(check_in_date, "--date") or today
    first_visit_given = parse_date_option(first_visit, "--first-visit")
    first_answers = load_first_visit(session_path, rulebook)
    first = assess(first_answers, rulebook, source=session_path)
    if first.urgency not in ("self_care", "soon"):
        raise InputError(f"{session_path}: the first visit's advice was "
                         f"{first.urgency.replace('_', '-')}, and check-ins follow self-care and "
                         f"soon advice; {URGENCY_WORDS[first.urgency]}")
    path = str(save_path) if save_path else str(check_ins_path(session_path))
    if Path(path).resolve() == Path(session_path).resolve():
        raise click.BadParameter("the check-ins are kept beside the session file, never in it "
                                 "(it stays the first visit's answers)", param_hint="--save")
    exists = Path(path).exists()
    if exists and first_visit_given is not None:
        record, _, _ = open_check_ins(path, first_visit=None, today=today)
        if record.first_visit != first_visit_given:
            raise InputError(f"{path}: already dates the first visit "
                             f"{record.first_visit.isoformat()}; --first-visit applies only "
                             f"before the first check-in")
    default_first = _dt.date.fromtimestamp(os.stat(session_path).st_mtime)
    record, draft_date, draft = open_check_ins(
        path, first_visit=first_visit_given or default_first, today=today)
    if draft_date is not None:
        if check_in_date is not None and draft_date != date:
            raise InputError(f"{path}: the check-in of {draft_date.isoformat()} is not finished; "
                             f"finish it first (run again without --date)")
        date = draft_date
    if date < record.first_visit:
        raise InputError(f"--date {date.isoformat()} is before the first visit "
                         f"({record.first_visit.isoformat()})")
    if date > today:
        raise InputError(f"--date {date.isoformat()} is in the future; a check-in is of how "
                         f"things are now")
    _check_writable(path)
    store = CheckInStore(path, record, date, draft)
    try:
        store.lock()
        session = CheckInSession(rulebook, store, first_answers, draft)
        hint = " ".join(["triage ask --follow-up", shlex.quote(session_path)]
                        + (["--save", shlex.quote(path)] if save_path else [])
                        + (["--rules", shlex.quote(rules_dir)] if rules_dir else [])
                        + (["--report", shlex.quote(report_path)] if report_path else []))
        flow = FollowUpFlow(session, console, report_path, session_path=session_path,
                            first=first, defaulted_first_visit=not exists and
                            first_visit_given is None)
        try:
            flow.run(resumed=bool(draft))
        except KeyboardInterrupt as exc:
            console.say(err=True)
            console.say(_stopped(session, hint), err=True)
            sys.exit(exit_code_for(exc))
        except EOFError:
            q = session.next_question()
            where = f"{q.id}: " if q is not None else ""
            kept = (f"your {len(session.saved_answers)} answers so far are saved; continue with: "
                    f"{hint}" if session.saved_answers else
                    "nothing was answered, so nothing was saved")
            raise InputError(f"{path}: {where}input ended before this question was answered; "
                             f"{kept}") from None
        except OutputError as exc:
            raise InputError(f"{exc.message}. Your check-in answers could not be saved; the "
                             f"first visit's answers in {session_path} are unchanged.") from None
    finally:
        store.unlock()


def _stopped(session, hint: str) -> str:
    if not session.saved:
        return "Stopped. Nothing was answered, so nothing was saved."
    count = len(session.saved_answers)
    return (f"Stopped. Your {count} check-in answer{'s are' if count != 1 else ' is'} saved in "
            f"{session.path}.\nTo continue where you left off: {hint}")


class FollowUpFlow(_Flow):
    """One check-in in the terminal: the questionnaire's flow with its own start and end."""

    def __init__(self, session: CheckInSession, console, report_path, *, session_path: str,
                 first, defaulted_first_visit: bool):
        super().__init__(session, console, report_path)
        self.session_path = session_path
        self.first = first
        self.defaulted_first_visit = defaulted_first_visit

    def run(self, *, resumed: bool) -> None:
        session = self.session
        self.intro(resumed)
        emergency = session.emergency()
        if emergency is not None and not session.given:
            # a sign reported at an earlier check-in: nothing new to record
            outcome = self.review()
            self.show_emergency(outcome.assessment)
            self.write_report(outcome)
            return
        while emergency is None:
            q = session.next_question()
            if q is None:
                if self.summary():
                    break
            else:
                self.ask(q)
            emergency = session.emergency()
        outcome = session.finish()
        if emergency is not None:
            self.show_emergency(outcome.assessment)
            self.write_report(outcome)
            return
        self.show_outcome(outcome)
        self.write_report(outcome)

    def review(self):
        from ..followup import review_check_in

        session = self.session
        return review_check_in(session.first_answers, session.follow_up.check_ins,
                               session.rulebook, session.date,
                               first_visit=session.follow_up.first_visit)

    def intro(self, resumed: bool) -> None:
        from ..followup import review_date

        console, session = self.console, self.session
        say = console.say
        say("Lower back pain: follow-up check-in", bold=True)
        first_day = session.follow_up.first_visit
        how = (" (the date its session file was last saved; if that is wrong, stop with Ctrl-C "
               "and give --first-visit YYYY-MM-DD)" if self.defaulted_first_visit else "")
        say(console.wrap(f"First visit: {_long(first_day)}{how}. Advice then: "
                         f"{self.first.urgency.replace('_', '-')}."))
        due = review_date(first_day, self.first)
        if due is not None:
            when = ("today" if due == session.date else
                    f"{_long(due)}, {(due - session.date).days} days from this check-in"
                    if due > session.date else f"{_long(due)}, which has passed")
            say(console.wrap(f"Review date: {when}."))
        count = len(session.follow_up.check_ins)
        if resumed:
            say(console.wrap(f"Continuing the check-in of {_long(session.date)}: "
                             f"{len(session.given)} of {len(session.to_ask())} questions dealt "
                             f"with."))
        else:
            say(console.wrap(f"Check-in {count + 1}, {_long(session.date)}: "
                             f"{len(session.to_ask())} questions. Your answers are saved as you "
                             f"go in {session.path}; {self.session_path} is not changed."))
        say(console.wrap("At any question: ? shows the help, < goes back, Ctrl-C stops (your "
                         "answers are kept). For a warning sign, answer yes if you have it now; "
                         "press Enter if you are not sure."), dim=True)
        say(console.wrap("This is not a diagnosis and not a substitute for a clinician."),
            dim=True)

    def stopped_note(self) -> None:
        console, session = self.console, self.session
        if not session.given:
            console.say(console.wrap(f"A warning sign from an earlier check-in still stands, so "
                                     f"nothing new was asked. The check-ins are in "
                                     f"{session.path}."))
            return
        console.say(console.wrap(f"The check-in stopped here. Its {len(session.answers)} answers "
                                 f"are saved in {session.path}; the first visit's answers are "
                                 f"unchanged in {self.session_path}."))

    def show_outcome(self, outcome) -> None:
        from ..assessment import format_text
        from ..chart import course_text

        console = self.console
        console.say()
        console.say("== Since your first visit ==", bold=True, fg="cyan")
        first, now = (self.first.urgency.replace("_", "-"),
                      outcome.urgency.replace("_", "-"))
        if outcome.escalated:
            console.say(console.wrap(f"The advice has changed: it was {first}, it is now "
                                     f"{now}."), **URGENCY_STYLE[outcome.urgency])
            for line in outcome.why:
                console.say(console.wrap(line, "  - ", "    "))
        else:
            console.say(console.wrap(f"The advice is the same as at the first visit: {now}."))
        for reason in outcome.reasons:
            if reason.id == "FU-KEPT":
                console.say(console.wrap(reason.text))
        if outcome.improved is True:
            console.say(console.wrap(f"Better: {outcome.improvement_why}."))
        elif outcome.improved is False:
            console.say(console.wrap(f"Not clearly better: {outcome.improvement_why}."))
        if outcome.review_date is not None and outcome.review_date > self.session.date \
                and outcome.urgency == "self_care":
            console.say(console.wrap(
                f"If it is not clearly better by your review date, {_long(outcome.review_date)}, "
                f"check in again then: triage ask --follow-up "
                f"{shlex.quote(self.session_path)}"))
        console.say()
        console.say("Your course so far:", bold=True)
        for line in course_text(outcome.series).split("\n"):
            console.say(console.wrap(line) if len(line) > console.width and
                        not line.startswith(("Date", "-")) else line)
        console.say()
        console.say("== Your assessment now ==", bold=True, fg="cyan")
        text = format_text(outcome.assessment, self.session.rulebook, width=console.width,
                           source=self.session_path)
        headline, _, rest = text.partition("\n\n")
        console.say(headline, **URGENCY_STYLE[outcome.urgency])
        console.say()
        console.say(rest.rstrip("\n"))
        console.say()
        console.say(console.wrap(f"Your check-in is saved in {self.session.path}. See the "
                                 f"report with the course: triage report "
                                 f"{shlex.quote(self.session_path)} --follow-up -o report.html"),
                    dim=True)

    def write_report(self, outcome) -> None:
        if self.report_path is None:
            return
        path = self.report_path
        try:
            if Path(path).suffix.lower() == ".json":
                from ..fileio import atomic_write

                atomic_write(path, json.dumps(outcome.to_dict(), indent=2,
                                              ensure_ascii=False) + "\n")
            else:
                from ..report import write_report

                write_report(path, outcome.assessment, self.session.rulebook,
                             today=self.session.date, follow_up=outcome)
        except TriageError as exc:
            raise TriageError(f"{exc.problem} (your check-in is saved in {self.session.path})",
                              file=exc.file or path, where=exc.where) from None
        except OSError as exc:
            raise TriageError(f"cannot write the report: {exc.strerror or exc} (your check-in "
                              f"is saved in {self.session.path})", file=path) from None
        self.console.say(f"Report written to {path}.", bold=True)


def _long(day: _dt.date) -> str:
    return f"{day.day} {day:%B %Y}"
