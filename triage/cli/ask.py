"""`triage ask` (the questionnaire in a terminal) and `triage questions` (it as data).

The flow itself (which question is next, skip logic, going back, saving, the emergency stop) is in
ask.py; this module only prompts and prints. With standard input a terminal the prompt is
line-edited; otherwise one answer is read per line and echoed, so a piped run leaves a readable
transcript. Colour is on only when standard output is a terminal and NO_COLOR is not set (or with
--color).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shlex
import sys
import textwrap
from pathlib import Path

import click

from ..ask import (BACK, HELP, AnswerRejected, FileStore, Session, default_session_path,
                  display_value, questionnaire_as_dict)
from ..assessment import terminal_width
from .common import InputError, fail_on_input_errors, load_rules, rules_option
from ..errors import OutputError, TriageError, exit_code_for

REPORT_SUFFIXES = (".html", ".htm", ".md", ".markdown", ".txt", ".pdf", ".json")
URGENCY_STYLE = {"emergency": {"fg": "red", "bold": True}, "urgent": {"fg": "red", "bold": True},
                 "soon": {"fg": "yellow", "bold": True}, "self_care": {"fg": "green", "bold": True}}
EMERGENCY_NUMBERS = "for example 999 in the UK, 112 in most of Europe, 911 in North America"


class Console:
    """Where the questionnaire talks and listens."""

    def __init__(self, color: bool | None = None):
        self.interactive = _isatty(sys.stdin)
        if color is None:
            color = _isatty(sys.stdout) and not os.environ.get("NO_COLOR")
        self.color = bool(color)
        self.width = terminal_width()
        self._line_editing = False

    def style(self, text: str, **styles) -> str:
        return click.style(text, **styles) if self.color and styles else text

    def say(self, text: str = "", *, err: bool = False, **styles) -> None:
        click.echo(self.style(text, **styles), color=self.color, err=err)

    def wrap(self, text: str, indent: str = "", hang: str | None = None) -> str:
        return "\n".join(textwrap.wrap(
            text, self.width, initial_indent=indent, break_long_words=False,
            break_on_hyphens=False,  # file names stay whole, to copy and paste
            subsequent_indent=indent if hang is None else hang)) or indent

    def read(self, prompt: str = "> ") -> str:
        """One line of input. Raises EOFError at the end of input, KeyboardInterrupt on Ctrl-C."""
        if self.interactive:
            if not self._line_editing:
                try:
                    import readline  # noqa: F401  (arrow keys and history for input())
                except ImportError:  # pragma: no cover - e.g. Windows
                    pass
                self._line_editing = True
            return input(prompt)
        click.echo(prompt, nl=False)
        line = sys.stdin.readline()
        if not line:
            click.echo()
            raise EOFError
        line = line.rstrip("\r\n")
        click.echo(line)  # the answer in the transcript, as a terminal would show it
        return line

    def clear(self) -> None:
        if self.interactive and _isatty(sys.stdout):
            click.clear()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- triage ask

@click.command(epilog="Examples:\n\n\b\n"
                      "  triage ask\n"
                      "  triage ask --save my-back.json --report my-back.html\n"
                      "  triage ask --resume my-back.json\n"
                      "  triage ask --save out.json < lines.txt   (one answer a line)\n"
                      "  triage ask --follow-up my-back.json --report my-back.html\n"
                      "  triage ask --follow-up my-back.json --first-visit 2026-12-01\n\n"
                      "At any question: ? shows the help and why it is asked, < goes back, Enter "
                      "takes the answer shown in brackets (or leaves an optional question "
                      "unanswered), Ctrl-C stops and keeps your answers.\n\n"
                      "Answers are saved after every question, by default in "
                      "./triage-session-DATE-TIME.json, in the answers format that "
                      "`triage assess` reads.\n\n"
                      "Follow-up check-ins (--follow-up SESSION): for a first visit whose advice "
                      "was self-care or soon, on or after its review date (or any time before "
                      "it). It asks the emergency signs first, the pain now, how it has changed, "
                      "the activities named at the first visit, and every other warning sign. "
                      "Check-ins are kept beside the session, in SESSION-check-ins.json "
                      "(my-back.json: my-back-check-ins.json; or the --save file), saved after "
                      "every answer; the session file itself is never "
                      "changed, so `triage assess SESSION` still reads it. A new warning sign "
                      "re-triages at once; no clear improvement by the review date turns "
                      "self-care into soon; the advice is never lowered. "
                      "`triage report SESSION --follow-up -o FILE` writes the report with the "
                      "course, and with --format fhir a FHIR Bundle of them.")
@click.option("--save", "save_path", metavar="FILE",
              help="Session file to save the answers in as you go (JSON; written atomically). "
                   "Default: a new triage-session-DATE-TIME.json here, or the --resume file.")
@click.option("--resume", "resume_path", metavar="FILE",
              help="Continue a saved session (or any answers file): only what is left is asked.")
@click.option("--report", "report_path", metavar="FILE",
              help="Also write the report to FILE at the end: html, md, txt or pdf by its "
                   "suffix, or .json for the assessment JSON.")
@click.option("--overwrite", is_flag=True,
              help="Let --save replace an existing file (otherwise it is refused, so that no "
                   "saved session is lost).")
@click.option("--follow-up", "follow_up_path", metavar="SESSION",
              help="Check in after a first visit: SESSION is the session file that `triage ask "
                   "--save` wrote. The check-ins are kept in SESSION-check-ins.json (or the "
                   "--save file).")
@click.option("--date", "check_in_date", metavar="YYYY-MM-DD",
              help="With --follow-up: the date of this check-in (default: today), e.g. to enter "
                   "one made on paper.")
@click.option("--first-visit", "first_visit", metavar="YYYY-MM-DD",
              help="With --follow-up, at the first check-in: the date of the first visit "
                   "(default: the date the session file was last saved).")
@click.option("--color/--no-color", "color", default=None,
              help="Colour the output (default: only on a terminal, and never with NO_COLOR set).")
@rules_option
@fail_on_input_errors
def ask(save_path, resume_path, report_path, overwrite, follow_up_path, check_in_date,
        first_visit, color, rules_dir):
    """Answer the questionnaire, then see the assessment (urgency first) and why; or, with
    --follow-up, check in after a first visit."""
    if sys.stdin is None:
        raise InputError("standard input is closed: triage ask reads the answers from it "
                         "(a terminal, or one answer a line from a pipe)")
    if follow_up_path is None:
        for option, value in (("--date", check_in_date), ("--first-visit", first_visit)):
            if value is not None:
                raise click.BadParameter("only with --follow-up SESSION", param_hint=option)
    elif resume_path is not None:
        raise click.BadParameter("a check-in continues by itself: run the same --follow-up "
                                 "again (--resume is for the first visit's questions)",
                                 param_hint="--resume")
    _tolerate_bad_bytes()
    console = Console(color)
    rulebook = load_rules(rules_dir)
    if report_path is not None:
        _check_report_path(report_path)
    if follow_up_path is not None:
        from .follow_up import run_follow_up

        run_follow_up(console, rulebook, follow_up_path, save_path=save_path,
                      report_path=report_path, check_in_date=check_in_date,
                      first_visit=first_visit, rules_dir=rules_dir)
        return
    for option, value in (("--save", save_path), ("--resume", resume_path)):
        if value == "-":
            raise click.BadParameter("standard input and output carry the questions and answers; "
                                     "name a file", param_hint=option)
    claimed = None  # a default session file this run created (empty until the first answer)
    if resume_path is not None:
        target = save_path or resume_path
    elif save_path is not None:
        target = save_path
    else:
        _check_writable(os.path.join(".", "x"))
        try:
            claimed = target = str(default_session_path(claim=True))
        except OSError as exc:
            raise InputError(f"cannot save the answers in this directory: "
                             f"{exc.strerror or exc}; choose a place with --save FILE") from None
    store = FileStore(target)
    try:
        _check_writable(target)
        store.lock()  # before looking at the file: a second writer is refused here
        if resume_path is not None:
            _refuse_to_replace(target, overwrite, same_as=resume_path)
            session = Session.resume(rulebook, resume_path, store)
            if Path(target).resolve() != Path(resume_path).resolve():
                session.save()  # the new file holds the answers so far from the start
            session.saved = True
            session.saved_answers = dict(session.answers)
        else:
            if claimed is None:
                _refuse_to_replace(target, overwrite)
            session = Session(rulebook, store)
        _run_session(session, console, report_path, rules_dir, resumed=resume_path is not None)
    finally:
        store.unlock()
        if claimed is not None and not _has_answers(claimed):
            _remove(claimed)  # nothing was answered: leave nothing behind


def _run_session(session, console, report_path, rules_dir, *, resumed: bool) -> None:
    continue_hint = " ".join(["triage ask --resume", shlex.quote(session.path)]
                             + (["--rules", shlex.quote(rules_dir)] if rules_dir else [])
                             + (["--report", shlex.quote(report_path)] if report_path else []))
    flow = _Flow(session, console, report_path)
    try:
        flow.run(resumed=resumed)
    except KeyboardInterrupt as exc:  # Ctrl-C, and SIGTERM or SIGHUP (errors.Interrupted)
        console.say(err=True)
        console.say(_stopped(session, "Stopped.", continue_hint), err=True)
        # SystemExit, not click's Exit: run_main (cli/common.py) drops the code of a click Exit
        sys.exit(exit_code_for(exc))
    except EOFError:
        q = session.next_question()
        where = f"{q.id}: " if q is not None else ""
        if session.saved_answers:
            kept = (f"your {len(session.saved_answers)} answers so far are saved; continue with: "
                    f"{continue_hint}")
        else:
            kept = "nothing was answered, so nothing was saved"
        raise InputError(f"{session.path}: {where}input ended before this question was "
                         f"answered; {kept}") from None
    except OutputError as exc:
        raise InputError(_save_failed(session, exc, rules_dir, report_path)) from None


def _save_failed(session, exc, rules_dir, report_path) -> str:
    """What to say when the session file cannot be written (a full disk, a directory made
    read-only): every answer given, this one included, is put somewhere safe and named."""
    rescue = _rescue(session)
    saved = len(session.saved_answers)
    given = {qid: session.given[qid] for qid in session.order if qid in session.given}
    extra = (["--rules", shlex.quote(rules_dir)] if rules_dir else []) + \
        (["--report", shlex.quote(report_path)] if report_path else [])
    lines = [f"{exc.message}.",
             f"The file holds {saved} answer{'s' if saved != 1 else ''}; the last one given is "
             f"not in it."]
    if rescue is not None:
        hint = " ".join(["triage ask --resume", shlex.quote(rescue), "--save",
                         shlex.quote(session.path), "--overwrite", *extra])
        lines.append(f"All {len(given)} answers given are kept in {rescue}. Once "
                     f"{session.path} can be written again, continue with: {hint}")
    else:
        lines.append("They could not be kept anywhere else either; here they are, to keep: "
                     + json.dumps(given, ensure_ascii=False))
        lines.append("Once the file can be written again, continue with: " + " ".join(
            ["triage ask --resume", shlex.quote(session.path), *extra]))
    return "\n".join(lines)


def _rescue(session) -> str | None:
    """Every answer given, written to a new file in the temporary directory; its path, or None."""
    import tempfile

    data = {qid: session.given[qid] for qid in session.order if qid in session.given}
    try:
        fd, path = tempfile.mkstemp(prefix="triage-session-rescued-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        try:
            os.unlink(path)
        except (OSError, UnboundLocalError):
            pass
        return None
    return path


def _has_answers(path: str) -> bool:
    try:
        return Path(path).read_text(encoding="utf-8").strip() not in ("", "{}")
    except (OSError, UnicodeDecodeError):
        return True  # when in doubt, keep it


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _tolerate_bad_bytes() -> None:
    """A stray byte that is not UTF-8 (a pasted Latin-1 word in the notes) must not lose the
    answer or end the run: it is read as the replacement character U+FFFD instead."""
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="replace")
        except (ValueError, OSError):
            pass


def _check_report_path(path: str) -> None:
    """Refuse a report file name whose format is unknown now, not after the questions."""
    if path == "-":
        raise click.BadParameter("standard output carries the questions; name a file",
                                 param_hint="--report")
    if Path(path).suffix.lower() == ".json":
        return
    report = _report_module()
    known = REPORT_SUFFIXES
    if report is not None and isinstance(getattr(report, "SUFFIXES", None), dict):
        known = tuple(report.SUFFIXES) + (".json",)
    if Path(path).suffix.lower() not in known:
        raise click.BadParameter(f"{path}: cannot tell the report format from the suffix "
                                 f"'{Path(path).suffix or '(none)'}'; use one of "
                                 f"{', '.join(known)}", param_hint="--report")
    if report is not None and report.SUFFIXES.get(Path(path).suffix.lower()) == "pdf":
        try:  # now, not after the questions (or under the emergency screen)
            report.check_pdf()
        except TriageError as exc:
            raise click.BadParameter(f"{path}: {exc.problem}", param_hint="--report") from None


def _report_module():
    """triage.report when this build has it (it is looked for at run time, not at import)."""
    if importlib.util.find_spec("triage.report") is None:
        return None
    return importlib.import_module("triage.report")


def _refuse_to_replace(path: str, overwrite: bool, same_as: str | None = None) -> None:
    if overwrite or not Path(path).exists():
        return
    if same_as is not None and Path(path).resolve() == Path(same_as).resolve():
        return
    raise InputError(f"{path}: already exists; continue that session with --resume {path}, "
                     f"save to another file, or add --overwrite to replace it")


def _check_writable(path: str) -> None:
    directory = Path(path).parent
    if not directory.is_dir():
        raise InputError(f"{path}: cannot save the answers here: no such directory {directory}")
    if not os.access(directory, os.W_OK):
        raise InputError(f"{path}: cannot save the answers here: the directory is not writable; "
                         f"choose another place with --save FILE")


def _stopped(session: Session, first: str, continue_hint: str) -> str:
    if not session.saved:
        return f"{first} Nothing was answered, so nothing was saved.".strip()
    count = len(session.saved_answers)  # what is in the file, not what was typed
    answers = "answer is" if count == 1 else "answers are"
    return (f"{first} Your {count} {answers} saved in {session.path}.\n"
            f"To continue where you left off: {continue_hint}").strip()


class _Flow:
    """One run of the questionnaire in the terminal."""

    def __init__(self, session: Session, console: Console, report_path: str | None):
        self.session = session
        self.console = console
        self.report_path = report_path
        self.section = None

    # ---- the whole run

    def run(self, *, resumed: bool) -> None:
        self.intro(resumed)
        emergency = self.session.emergency()
        while emergency is None:
            q = self.session.next_question()
            if q is None:
                if self.summary():
                    break
            else:
                self.ask(q)
            emergency = self.session.emergency()
        if emergency is not None:
            self.show_emergency(emergency)
            self.write_report(emergency)
            return
        assessment = self.session.assessment()
        self.show_assessment(assessment)
        self.write_report(assessment)

    def intro(self, resumed: bool) -> None:
        say, session = self.console.say, self.session
        total = len(session.order)
        say("Lower back pain triage", bold=True)
        if resumed:
            say(self.console.wrap(f"Continuing {session.path}: {len(session.given)} of "
                                  f"{len(session.to_ask())} questions dealt with."))
        else:
            say(self.console.wrap(f"{total} questions in {len(session.questionnaire.sections)} "
                                  f"sections, fewer if some do not apply. Your answers are saved "
                                  f"as you go in {session.path}."))
        say(self.console.wrap("At any question: ? shows the help and why it is asked, < goes "
                              "back, Ctrl-C stops (your answers are kept)."), dim=True)
        say(self.console.wrap(
            "If right now you have chest pain, a sudden very bad headache, a stiff neck with a "
            "fever, numbness around your genitals or bottom, new trouble with your bladder or "
            "bowels, or weakness in both legs, do not wait for the questions: call the emergency "
            "number "
            f"({session.rulebook.emergency_numbers or EMERGENCY_NUMBERS})."), fg="red")
        say(self.console.wrap("This is not a diagnosis and not a substitute for a clinician."),
            dim=True)

    # ---- one question

    def ask(self, q) -> None:
        console, session = self.console, self.session
        title = session.section_title[q.id]
        if title != self.section:
            console.say()
            console.say(f"== {title} ==", bold=True, fg="cyan")
            self.section = title
        n, total = session.progress(q.id)
        console.say()
        console.say(f"Question {n} of {total}", dim=True)
        console.say(console.wrap(q.text), bold=True)
        if q.type == "choice":
            for index, (_, label) in enumerate(q.choices, start=1):
                console.say(console.wrap(label, f"  {index}) ", " " * 5))
        console.say(console.wrap(f"({self.hint(q)})", "  "), dim=True)
        while True:
            line = console.read("> ")
            command = line.strip()
            if command == HELP:
                self.show_help(q)
                continue
            if command == BACK:
                previous = session.back()
                if previous is None:
                    console.say("  This is the first question; there is nothing to go back to.",
                                fg="yellow")
                    continue
                return
            try:
                value = session.parse(q, line)
            except AnswerRejected as exc:
                console.say(console.wrap(f"Not accepted: {exc}. Please try again (? for help).",
                                         "  "), fg="yellow")
                continue
            if value is None and q.red_flag:
                console.say(console.wrap("Left unanswered: a warning sign that is not known "
                                         "counts as unknown, not as no.", "  "), dim=True)
            session.record(q.id, value)
            return

    def hint(self, q) -> str:
        kinds = {"bool": "y or n", "choice": f"1-{len(q.choices)} or the name", "text": "any text"}
        parts = [kinds.get(q.type) or q.describe_values()]
        default = self.session.current_default(q)
        if default is not None:
            verb = "keeps" if q.id in self.session.given else "for"
            parts.append(f"Enter {verb} {display_value(q, default)}")
        elif not q.required:
            parts.append("Enter to leave it blank" if q.type == "text" else "Enter if not sure")
        parts.append("? help, < back")
        return "; ".join(parts)

    def show_help(self, q) -> None:
        console = self.console
        console.say(console.wrap(q.help, "  "), fg="cyan")
        rules = self.session.why_asked(q.id)
        if rules:
            console.say(console.wrap(f"Why it is asked: {why_in_plain_words(q, rules)}.", "  "))
            console.say(console.wrap("For your clinician, the rules that read it: "
                                     + ", ".join(rule.id for rule in rules)
                                     + " (triage rules show ID explains each).", "  "), dim=True)
        else:
            console.say(console.wrap("Why it is asked: no rule reads it; it is shown to your "
                                     "clinician in the report.", "  "))
        if q.red_flag:
            console.say(console.wrap("This is a warning-sign question: if you are not sure, "
                                     "press Enter and it counts as unknown, never as no.", "  "))
        console.say(console.wrap(f"Answer: {q.describe_values()}. < goes back to the previous "
                                 f"question.", "  "), dim=True)

    # ---- the end

    def summary(self) -> bool:
        """Show every answer; True when the person is done, False after they chose one to
        change (or went back)."""
        console, session = self.console, self.session
        console.say()
        console.say("== Your answers ==", bold=True, fg="cyan")
        rows = session.summary()
        # the labels' column: as wide as the longest label, but never more than 40% of the line
        # (and at least its longest word, so that no word is broken)
        longest_word = max(len(word) for row in rows for word in row.question.label.split())
        label_width = min(max(len(row.question.label) for row in rows),
                          max(12, longest_word, (console.width - 7) * 2 // 5))
        section = None
        numbered = {}
        for row in rows:
            if row.number is None and row.status != "implied":
                continue
            title = session.section_title[row.question.id]
            if title != section:
                console.say(f"  {title}", bold=True)
                section = title
            value = display_value(row.question, row.value)
            if row.status == "implied":
                value += " (follows from your other answers)"
            number = f"{row.number:>3}." if row.number is not None else "    "
            console.say(self.summary_row(number, row.question.label, value, label_width),
                        dim=row.status != "answered")
            if row.number is not None:
                numbered[str(row.number)] = row.question.id
        console.say(console.wrap("Type a number to change that answer, < to go back, or press "
                                 "Enter to see your assessment."), dim=True)
        while True:
            try:
                line = console.read("> ")
            except EOFError:
                return True  # every question has been dealt with: end of input means "done"
            choice = line.strip()
            if not choice:
                return True
            if choice == BACK:
                if session.back() is not None:
                    return False
                continue
            if choice == HELP:
                console.say(console.wrap("Type the number in front of an answer to answer that "
                                         "question again; press Enter when they are right.",
                                         "  "), fg="cyan")
                continue
            qid = numbered.get(choice) or choice.replace(" ", "_")
            if qid in numbered.values():
                session.reopen(qid)
                self.section = None
                return False
            console.say(f"  There is no answer numbered {choice!r}: type 1 to {len(numbered)}, "
                        f"or press Enter.", fg="yellow")

    def summary_row(self, number: str, label: str, value: str, label_width: int) -> str:
        """One answer of the summary, in two columns (the question's label, the answer), each
        wrapped within its column: nothing is cut, whatever the terminal's width."""
        lead = f"  {number} "
        value_width = max(10, self.console.width - len(lead) - label_width - 2)
        labels = textwrap.wrap(label, label_width, break_long_words=False) or [""]
        values = textwrap.wrap(value, value_width, break_long_words=False,
                               break_on_hyphens=False) or [""]
        lines = []
        for n in range(max(len(labels), len(values))):
            left = labels[n] if n < len(labels) else ""
            right = values[n] if n < len(values) else ""
            lines.append(f"{lead if n == 0 else ' ' * len(lead)}{left:<{label_width}}  {right}"
                         .rstrip())
        return "\n".join(lines)

    def show_emergency(self, assessment) -> None:
        """The emergency screen: its words come from the rule files (triage/emergency.py), the
        same as the web's emergency page."""
        from ..emergency import emergency_screen

        console, session, rulebook = self.console, self.session, self.session.rulebook
        screen = emergency_screen(assessment, rulebook)
        console.clear()
        bar = "=" * min(console.width, 72)
        console.say()
        console.say(bar, fg="red", bold=True)
        console.say("  EMERGENCY: get medical help now", fg="red", bold=True)
        console.say(bar, fg="red", bold=True)
        default = rulebook.emergency_screens[-1].heading if rulebook.emergency_screens else ""
        if screen.heading != default:  # the words for this emergency (chest, pregnancy...)
            console.say(console.wrap(screen.heading), fg="red", bold=True)
        if "non_spinal" in assessment.red_flags:
            words = rulebook.label("red_flag", "non_spinal")
            console.say(console.wrap(f"{words[:1].upper()}{words[1:]}: stretches and back care "
                                     f"are not the answer."))
        flags = "; ".join(rulebook.label("red_flag", f) for f in assessment.red_flags
                          if f != "non_spinal")
        if flags:
            console.say(console.wrap(f"Your answers point to {flags}."))
        console.say()
        console.say("What to do now:", bold=True)
        for line in screen.actions:
            console.say(console.wrap(line, "  - ", "    "))
        console.say()
        console.say("Why:", bold=True)
        for rule_id, reason in zip(screen.rule_ids, screen.reasons):
            console.say(console.wrap(f"{rule_id}  {reason}", "  ", "    "))
        console.say()
        self.stopped_note()

    def stopped_note(self) -> None:
        """The last lines of the emergency screen: where the answers are."""
        console, session = self.console, self.session
        if session.required_answered:
            console.say(console.wrap(f"The questionnaire stopped here. Your "
                                     f"{len(session.answers)} answers are saved in "
                                     f"{session.path}; the full assessment: triage assess "
                                     f"{shlex.quote(session.path)}"))
        else:  # stopped before the injury question: get help first, the rest can wait
            console.say(console.wrap(f"The questionnaire stopped here, before the other "
                                     f"questions. Your {len(session.answers)} answers are saved "
                                     f"in {session.path}."))

    def show_assessment(self, assessment) -> None:
        from ..assessment import format_text

        console, session = self.console, self.session
        console.say()
        console.say("== Your assessment ==", bold=True, fg="cyan")
        text = format_text(assessment, session.rulebook, width=console.width,
                           source=session.path)
        headline, _, rest = text.partition("\n\n")
        console.say(headline, **URGENCY_STYLE[assessment.urgency])
        console.say()
        console.say(rest.rstrip("\n"))
        console.say()
        console.say(console.wrap(f"Your answers are saved in {session.path}; see this again with: "
                                 f"triage assess {shlex.quote(session.path)}"), dim=True)

    def write_report(self, assessment) -> None:
        if self.report_path is None:
            return
        path = self.report_path
        try:
            kind = write_report(path, assessment, self.session.rulebook)
        except TriageError as exc:
            raise TriageError(f"{exc.problem} (your answers are saved in {self.session.path})",
                              file=exc.file or path, where=exc.where) from None
        except OSError as exc:
            raise TriageError(f"cannot write the report: {exc.strerror or exc} (your answers "
                              f"are saved in {self.session.path})", file=path) from None
        if kind == "json-fallback":
            self.console.say(f"Reports are not available in this build; wrote the assessment "
                             f"JSON to {path}.", err=True)
        else:
            self.console.say(f"Report written to {path}.", bold=True)


# What each kind of conclusion does for the person, in plain words (for `?` at a question).
_WHAT_IT_DECIDES = (
    ("red_flag", "changes how some warning signs are read"),
    ("urgency", "helps decide how soon you should be seen"),
    ("duration_class", "tells how long-lasting the pain counts as"),
    ("cause", "helps work out what is likely behind the pain"),
    ("posture_sign", "helps work out what is likely behind the pain"),
    ("stretch", "helps choose stretches that suit you"),
    ("avoid_stretch", "keeps out stretches that would not be safe for you"),
)


def why_in_plain_words(q, rules) -> str:
    """Why a question is asked, from what the rules that read it conclude, without rule names:
    e.g. for age, 'your answer changes how some warning signs are read and helps decide how soon
    you should be seen'. A warning-sign question's answer can itself be a warning sign."""
    kinds = {kind for rule in rules for kind in rule.concludes}
    said = []
    for kind, words in _WHAT_IT_DECIDES:
        if kind == "red_flag" and q.red_flag:
            words = "can itself be a warning sign"
        if kind in kinds and words not in said:
            said.append(words)
    if not said:
        return "the rules read your answer"
    if len(said) > 1:
        said = [", ".join(said[:-1]) + ("," if len(said) > 2 else "") + " and " + said[-1]]
    return "your answer " + said[0]


def write_report(path: str, assessment, rulebook) -> str:
    """Write the report (html, md or pdf by the suffix, through triage.report when this build has
    it) or, for .json, the assessment JSON. Returns what was written."""
    from ..fileio import atomic_write

    if Path(path).suffix.lower() != ".json":
        writer = getattr(_report_module(), "write_report", None)
        if writer is not None:
            writer(path, assessment, rulebook, fmt=None)
            return "report"
        kind = "json-fallback"
    else:
        kind = "json"
    atomic_write(path, json.dumps(assessment.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return kind


# --------------------------------------------------------------------------- triage questions

@click.command(epilog="Examples:\n\n\b\n"
                      "  triage questions\n"
                      "  triage questions --format json\n"
                      "  triage questions --format fhir -o questionnaire.fhir.json\n"
                      "  triage questions --instrument RISK-SCREEN-01 --format fhir\n\n"
                      "The FHIR form is an HL7 FHIR R4 Questionnaire resource (linkId = question "
                      "id, answerOption, enableWhen from the skip logic); `triage assess` accepts "
                      "a QuestionnaireResponse to it.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "fhir"]),
              default="text", show_default=True,
              help="text: readable; json: ids, wording, types, choices and skip logic; "
                   "fhir: a FHIR R4 Questionnaire resource.")
@click.option("-o", "--output", "output_path", default="-", metavar="FILE|-", show_default=True,
              help="Where to write it (written atomically).")
@click.option("--instrument", "instrument_id", metavar="ID", default=None,
              help="A scored instrument instead (e.g. RISK-SCREEN-01): its items, points and "
                   "bands; with --format fhir, a FHIR R4 Questionnaire with the points as "
                   "ordinalValue extensions.")
@rules_option
@fail_on_input_errors
def questions(output_format, output_path, instrument_id, rules_dir):
    """Print the questionnaire: sections, questions, answer types, choices and skip logic."""
    from ..fileio import atomic_write

    rulebook = load_rules(rules_dir)
    questionnaire = rulebook.questionnaire
    if instrument_id is not None:
        atomic_write(output_path, _instrument_text(rulebook, instrument_id, output_format))
        return
    if output_format == "json":
        text = json.dumps(questionnaire_as_dict(questionnaire), indent=2, ensure_ascii=False)
    elif output_format == "fhir":
        from ..fhir import questionnaire_resource

        text = json.dumps(questionnaire_resource(questionnaire), indent=2, ensure_ascii=False)
    else:
        text = _questions_text(questionnaire)
    atomic_write(output_path, text.rstrip("\n") + "\n")


def _instrument_text(rulebook, instrument_id: str, output_format: str) -> str:
    from ..clinician.screen import find_instrument, instrument_card, instrument_lines
    from ..errors import TriageError

    instrument = find_instrument(rulebook, instrument_id)
    if instrument is None:
        known = ", ".join(i.id for i in rulebook.instruments) or "none"
        raise TriageError(f"no such scored instrument (in these rules: {known})",
                          file=rulebook.directory, where=instrument_id)
    if output_format == "fhir":
        from ..fhir import instrument_resource

        text = json.dumps(instrument_resource(instrument, rulebook.questionnaire), indent=2,
                          ensure_ascii=False)
    elif output_format == "json":
        text = json.dumps(instrument_card(instrument, rulebook), indent=2, ensure_ascii=False)
    else:
        def wrap(text, indent="  ", hang=None):
            return textwrap.wrap(text, 96, initial_indent=indent,
                                 subsequent_indent=indent if hang is None else hang) or [indent]
        text = "\n".join(instrument_lines(instrument_card(instrument, rulebook), wrap))
    return text.rstrip("\n") + "\n"


def _questions_text(questionnaire) -> str:
    from ..conditions import describe, show_value

    lines = []
    for section in questionnaire.sections:
        lines += [f"{section.title}", ""]
        for qid in section.questions:
            q = questionnaire.questions[qid]
            facts = [q.describe_values()]
            if q.required:
                facts.append("required")
            if q.red_flag:
                facts.append("warning sign")
            if q.default is not None:
                facts.append(f"default {show_value(q.default)}")
            lines.append(f"  {q.id} ({'; '.join(facts)})")
            lines += textwrap.wrap(q.text, 96, initial_indent="      ", subsequent_indent="      ")
            if q.type == "choice":
                lines += [f"        {value}: {label}" for value, label in q.choices]
            if q.skip_if is not None:
                implied = (f", and then counts as {show_value(q.value_if_skipped)}"
                           if q.value_if_skipped is not None else "")
                lines += textwrap.wrap(f"not asked when {describe(q.skip_if)}{implied}", 96,
                                       initial_indent="      ", subsequent_indent="      ")
        lines.append("")
    return "\n".join(lines)
