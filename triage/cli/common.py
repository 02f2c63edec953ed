"""What every command shares: the --rules option, turning user mistakes into exit 2."""
from __future__ import annotations

import functools
import os
import sys

import click

from ..errors import EXIT_FAILURE, EXIT_INVALID, TriageError


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


def load_answers(path: str, rulebook, *, validate: bool = True):
    """Read an answers file (JSON or YAML; '-' is standard input) and check it."""
    from ..questionnaire import read_answers

    raw = read_answers(path, rulebook.questionnaire)
    if not validate:
        return raw
    return rulebook.questionnaire.validate(raw, source="<stdin>" if path == "-" else path)


def run_main(group) -> None:
    """Run the click group: user mistakes exit 2, bugs exit 1 with one line (no traceback unless
    TRIAGE_DEBUG is set), Ctrl-C exits 130."""
    try:
        code = group.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # e.g. `triage batch ... -o - | head`: the reader went away; that is not our failure
        try:
            sys.stdout = None  # stop Python trying to flush a closed pipe at exit
        finally:
            os._exit(0)
    except TriageError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    except Exception as exc:  # a bug: say so plainly
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        click.echo(f"Internal error: {type(exc).__name__}: {exc}. This is a bug in triage; set "
                   f"TRIAGE_DEBUG=1 to see the traceback and please report it.", err=True)
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
