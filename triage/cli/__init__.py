"""The command line: a thin click layer over the library. Each command parses, calls, prints.

Commands other than `assess` and `batch` live in their own modules and are imported only when
used, so that `triage assess` starts quickly.
"""
from __future__ import annotations

import functools
import gc
import importlib
import importlib.util
import json
import os
import sys

import click

from .common import (cache_choice, cache_option, fail_on_input_errors, load_answers, load_rules,
                     rules_option, run_main)

# name -> "module:attribute", imported on first use
LAZY_COMMANDS = {
    "ask": "triage.cli.ask:ask",
    "questions": "triage.cli.ask:questions",
    "report": "triage.cli.report:report",
    "rules": "triage.cli.rules:rules",
    "explain": "triage.cli.rules:explain",
    "serve": "triage.cli.serve:serve",
    "users": "triage.cli.users:users",
    "audit": "triage.cli.users:audit",
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs. `triage --help` lists the lazy
    commands from the first line of their docstrings, read from the source files without
    importing them, so that it imports neither the engine nor the web stack."""

    def format_commands(self, ctx, formatter):
        # click.Group.format_commands, with each lazy command stood in for by a click.Command
        # carrying its docstring, so the listing is exactly what importing them would show
        commands = []
        for name in self.list_commands(ctx):
            command = None
            if name in LAZY_COMMANDS and name not in self.commands:
                text = _lazy_help(LAZY_COMMANDS[name])
                if text is not None:
                    command = click.Command(name, help=text)
            if command is None:
                command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit))
                                    for name, command in commands])

    def list_commands(self, ctx):
        lazy = [name for name, target in LAZY_COMMANDS.items()
                if importlib.util.find_spec(target.split(":")[0]) is not None]
        return sorted(set(super().list_commands(ctx)) | set(lazy))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in LAZY_COMMANDS:
            module_name, attribute = LAZY_COMMANDS[name].split(":")
            if importlib.util.find_spec(module_name) is None:
                return None
            command = getattr(importlib.import_module(module_name), attribute)
        return command


def _lazy_help(target: str) -> str | None:
    """The docstring of a lazy command, read from its module's source (never imported)."""
    import ast

    module_name, attribute = target.split(":")
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    tree = _parsed(spec.origin)
    for node in tree.body if tree is not None else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == attribute:
            return ast.get_docstring(node)
    return None


@functools.lru_cache(maxsize=None)
def _parsed(path: str):
    import ast

    try:
        with open(path, encoding="utf-8") as handle:
            return ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Examples:\n\n\b\n  triage ask --report my-back.html\n"
                    "  triage assess examples/desk_worker.yaml\n"
                    "  triage report answers.yaml -o report.pdf\n"
                    "  triage batch cases.csv -o results.jsonl --workers 0\n"
                    "  triage rules check\n\n"
                    "Exit codes: 0 success; 2 invalid input or rule files; 1 internal error.\n"
                    "This tool is not a diagnosis and not a substitute for a clinician.")
@click.version_option(None, "-V", "--version", package_name="triage", prog_name="triage")
def main_group():
    """Triage lower back pain: red flags first, then targeted stretches."""
    global _quick_exit
    _quick_exit = click.get_current_context().invoked_subcommand in QUICK_COMMANDS
    if not _quick_exit:
        gc.enable()  # `entry` started with it off; long commands need it


@main_group.command(epilog="Examples:\n\n\b\n  triage assess answers.json\n"
                           "  triage assess answers.yaml --format json\n"
                           "  cat answers.json | triage assess -\n"
                           "  triage assess answers.json --rules ./my-rules")
@click.argument("answers", metavar="FILE|-")
@click.option("--format", "output_format", default="text", show_default=True,
              type=click.Choice(["text", "json", "html", "markdown"]),
              help="text: readable in a terminal; json: the contract's assessment; "
                   "html/markdown: the full report.")
@rules_option
@cache_option
@fail_on_input_errors
def assess(answers, output_format, rules_dir, no_cache):
    """Assess one answers file (JSON or YAML; '-' reads standard input)."""
    # engine results kept on disk: a case decided before needs neither experta nor its network
    from ..engine import assess_cached as run_assessment

    rulebook = load_rules(rules_dir)
    valid = load_answers(answers, rulebook)
    result = run_assessment(valid, rulebook, source=answers, cache=cache_choice(no_cache))
    if output_format == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif output_format == "text":
        from ..assessment import format_text

        click.echo(format_text(result, rulebook, source=answers), nl=False)
    else:
        from ..report import render_report  # the report module (html and markdown)

        click.echo(render_report(result, rulebook, output_format), nl=False)


@main_group.command(epilog="Examples:\n\n\b\n  triage batch cases.jsonl -o results.jsonl\n"
                           "  triage batch clinic.csv -o results.jsonl --workers 0\n"
                           "  cat cases.jsonl | triage batch - -o -\n\n"
                           "Each output line is the assessment JSON of one input row with its "
                           "case_id and line number, or an error record for a bad row.")
@click.argument("input_path", metavar="IN|-")
@click.option("-o", "--output", "output_path", required=True, metavar="OUT|-",
              help="Where to write the JSON lines ('-' for standard output). Written atomically.")
@click.option("--input-format", type=click.Choice(["auto", "jsonl", "csv", "tsv"]), default="auto",
              show_default=True, help="auto: by the file's suffix, else by its first character.")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
              help="Processes to use; 0 means one per CPU core.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: only when standard error is a terminal).")
@rules_option
@cache_option
@fail_on_input_errors
def batch(input_path, output_path, input_format, workers, progress, rules_dir, no_cache):
    """Assess every row of a JSONL or CSV file (one column per question id, optional case_id)."""
    from ..batch import run_batch

    rulebook = load_rules(rules_dir)
    summary = run_batch(input_path, output_path, rulebook, input_format=input_format,
                        workers=workers, progress=progress, cache=cache_choice(no_cache))
    click.echo(summary.message(), err=True)
    if summary.errors:
        raise click.exceptions.Exit(2)


def main():
    run_main(main_group)


# Commands after which the `triage` process may end at once (see `entry`): one case, its output
# written and flushed, no file, child process, thread or atexit hook left to finish. So may a
# run that never reached a command (--help, --version, a usage error): main_group sets this
# False as any other command starts.
QUICK_COMMANDS = frozenset({"assess"})
_quick_exit = True


def entry():
    """The `triage` command itself (the console script and ``python -m triage``): ``main()``,
    started with the cyclic garbage collector off, and, after a command of QUICK_COMMANDS (or
    none: --help, --version), ended with ``os._exit`` once standard output and error are
    flushed.

    Start-up allocates tens of thousands of objects (modules, classes, the rulebook) that live
    until the process ends; collecting them again and again while importing costs a `triage
    assess` about 7 ms, and tearing every module down at exit about 20 ms (more than `python -c
    pass` takes in all), for nothing: the process is ending. Every other command turns the
    collector back on before it runs (``main_group``) and exits normally. Tests call ``main()``
    or ``main_group``, never this."""
    global _quick_exit
    _quick_exit = True
    gc.disable()
    try:
        main()
    except SystemExit as done:
        code = done.code
        if not _quick_exit or not (code is None or isinstance(code, int)):
            raise
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                raise done from None  # let the interpreter's own exit report it
        os._exit(code or 0)


if __name__ == "__main__":
    entry()
