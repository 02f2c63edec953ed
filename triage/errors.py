"""Errors a user can cause, and how they are reported.

Every problem with an answers file or a rule file is a ``TriageError``: one line that names the file,
the question or rule id, and what is wrong (``rules/red_flags.yaml: RF-CES-01: unknown question
'sadle_numbness'``). The command line turns it into exit code 2 with no traceback.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # something unexpected: a bug
EXIT_INVALID = 2  # a usage error, or an invalid answers or rule file


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (the same clean-up runs: temporary files removed,
    the session's answers kept); the exit code is 128 + the signal's number (143, 129)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def exit_code_for(interrupt: BaseException) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + getattr(interrupt, "signum", 2)


class TriageError(Exception):
    """A problem with the user's input: bad answers, bad rule files, a bad option."""

    def __init__(self, problem: str, *, file: str | None = None, where: str | None = None):
        self.problem = problem
        self.file = file
        self.where = where
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [p for p in (self.file, self.where) if p]
        return ": ".join(parts + [self.problem])


class OutputError(TriageError):
    """An output that cannot be written: a missing or read-only directory, a full disk,
    standard output closed or full. Whatever was there before is left as it was."""

    def __init__(self, exc: OSError | str, *, file: str | None = None, what: str = ""):
        reason = exc if isinstance(exc, str) else (exc.strerror or str(exc))
        super().__init__(f"cannot {what or 'write'}: {reason}", file=file)
        self.reason = reason


class AnswersError(TriageError):
    """An answers file that does not fit the questionnaire."""


class RulebookError(TriageError):
    """A rule file that does not load, or that breaks the rule grammar."""


class RulebookErrors(RulebookError):
    """Several rules that do not load: the message is the first; `errors` holds them all, so
    `triage rules check` can list every one."""

    def __init__(self, errors: list[RulebookError]):
        self.errors = list(errors)
        first = errors[0]
        super().__init__(first.problem, file=first.file, where=first.where)

    @property
    def message(self) -> str:
        more = len(self.errors) - 1
        first = super().message
        return first + (f" (and {more} more problem{'s' if more > 1 else ''}: run "
                        f"'triage rules check')" if more else "")
