"""What every command shares: the --rules option, turning user mistakes into exit 2."""
from __future__ import annotations

import errno
import functools
import os
import signal
import sys
from collections.abc import Mapping

import click

from ..errors import EXIT_FAILURE, EXIT_INVALID, Interrupted, TriageError, exit_code_for

# Errors writing standard output (`> /dev/full`, a full disk): the user's environment, not a bug.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EBADF}


class InputError(click.ClickException):
    """A TriageError at the command line: one message on standard error, exit code 2."""

    exit_code = EXIT_INVALID


def fail_on_input_errors(function):
    """Decorate a command so that a TriageError becomes exit 2 with its one-line message."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except TriageError as exc:
            raise InputError(exc.message) from None

    return wrapper


def rules_option(function):
    """--rules DIR: run a different copy of the rule files."""
    return click.option(
        "--rules", "rules_dir", type=click.Path(file_okay=False, dir_okay=True),
        default=None, metavar="DIR",
        help="Directory of rule files to use instead of the shipped ones.")(function)


def cache_option(function):
    """--no-cache: every case through the engine (the same output, slower); TRIAGE_NO_CACHE=1
    does the same for every command."""
    return click.option(
        "--no-cache", "no_cache", is_flag=True, default=False,
        help="Run every case through the rule engine instead of reusing the decision for an "
             "answer pattern already seen (same output; for checking). Also: TRIAGE_NO_CACHE=1."
    )(function)


def cache_choice(no_cache: bool):
    """The `cache` argument of the library for a command's --no-cache flag."""
    return False if no_cache else None


def load_rules(rules_dir):
    from ..rulebook import load_rulebook

    return load_rulebook(rules_dir)


def read_answers(path: str, questionnaire):
    """The raw answers of a file ('-': standard input): a JSON or YAML mapping, or a FHIR
    QuestionnaireResponse to the questionnaire, turned into a mapping. Validation is separate."""
    from ..questionnaire import read_answers_file

    raw = read_answers_file(path)
    if isinstance(raw, Mapping) and raw.get("resourceType") == "QuestionnaireResponse":
        from ..fhir import answers_from_response

        raw = answers_from_response(raw, questionnaire, source="<stdin>" if path == "-" else path)
    return raw


def load_answers(path: str, rulebook, *, validate: bool = True):
    """Read an answers file (JSON or YAML; '-' is standard input) and check it."""
    raw = read_answers(path, rulebook.questionnaire)
    if not validate:
        return raw
    return rulebook.questionnaire.validate(raw, source="<stdin>" if path == "-" else path)


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


def install_signal_handlers() -> dict:
    """SIGTERM (kill, timeout, a service manager) and SIGHUP (the terminal went away) stop
    triage the way Ctrl-C does: through the same clean-up, with exit code 143 or 129. A signal
    that was ignored when triage started (nohup) stays ignored. Returns the handlers replaced."""
    replaced = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_DFL:
            replaced[number] = signal.signal(number, _raise_interrupted)
    return replaced


def _interrupted(exc: BaseException) -> None:
    code = exit_code_for(exc)
    if isinstance(exc, Interrupted):
        click.echo(f"Stopped by {signal.Signals(exc.signum).name}.", err=True)
    else:
        click.echo("Interrupted.", err=True)
    _exit(code)


def _exit(code: int) -> None:
    """Exit with `code` after flushing standard output; one that cannot be written (a full disk,
    /dev/full) is an error (exit 2) with one line, not a message from the interpreter."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        os._exit(code)
    except (OSError, ValueError) as exc:
        _quiet_stdout()
        click.echo(f"Error: <stdout>: cannot write: {getattr(exc, 'strerror', None) or exc}",
                   err=True)
        sys.exit(EXIT_INVALID)
    sys.exit(code)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null so that the interpreter's last flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def run_main(group) -> None:
    """Run the click group: user mistakes exit 2, bugs exit 1 with one line (no traceback unless
    TRIAGE_DEBUG is set), Ctrl-C exits 130, SIGTERM 143, SIGHUP 129."""
    replaced = install_signal_handlers()
    try:
        _run(group)
    finally:  # run in-process (tests, an embedding program): leave the handlers as they were
        for number, handler in replaced.items():
            signal.signal(number, handler)


def _run(group) -> None:
    try:
        code = group.main(standalone_mode=False)
    except click.exceptions.Abort as exc:  # click's word for an interrupt it caught
        cause = exc.__cause__ or exc.__context__
        _interrupted(cause if isinstance(cause, KeyboardInterrupt) else KeyboardInterrupt())
    except click.ClickException as exc:
        exc.show()
        _exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        _exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except BrokenPipeError:
        # e.g. `triage batch ... -o - | head`: the reader went away; that is not our failure
        try:
            sys.stdout = None  # stop Python trying to flush a closed pipe at exit
        finally:
            os._exit(0)
    except TriageError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        _exit(EXIT_INVALID)
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS or os.environ.get("TRIAGE_DEBUG"):
            _bug(exc)
        _quiet_stdout()
        click.echo(f"Error: <stdout>: cannot write: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_INVALID)
    except Exception as exc:  # a bug: say so plainly
        _bug(exc)
    _exit(code if isinstance(code, int) else 0)


def _bug(exc: Exception) -> None:
    if os.environ.get("TRIAGE_DEBUG"):
        raise exc
    from ..reading import shorten

    click.echo(f"Internal error: {type(exc).__name__}: {shorten(str(exc), 300)}. This is a bug in triage; set "
               f"TRIAGE_DEBUG=1 to see the traceback and please report it.", err=True)
    sys.exit(EXIT_FAILURE)
