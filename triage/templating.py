"""The one Jinja environment for every report and review document.

Autoescape is on for HTML (also for *.html.j2, which select_autoescape alone would miss), and a
missing value is an error (StrictUndefined), never an empty string in a clinical report.

Compiled templates are kept on disk by Jinja's own ``FileSystemBytecodeCache``, in the triage
cache folder (``jinja/`` beside the rulebook cache): compiling the report's templates was about
two thirds of rendering it, on every `triage assess --format html` and `triage report`. Jinja
names each entry after the template and a checksum of its source, and refuses bytecode of
another Jinja or Python version, so an edited template is compiled again. The folder is used only
when it belongs to this user and no one else may write to it (Jinja's own rule for its default
folder): bytecode read from it is run. ``TRIAGE_NO_RULES_CACHE=1`` turns it off with the
rulebook cache.
"""
from __future__ import annotations

import functools

import jinja2

from .resources import templates_dir


def _autoescape(name: str | None) -> bool:
    return bool(name) and (name.endswith((".html", ".html.j2", ".htm", ".svg", ".svg.j2")))


def _no_raw_html(value):
    """Every value a Markdown template prints, with < and > as entities: a Markdown viewer
    passes raw HTML through, so rule text or an answer could otherwise inject markup. (Only < and
    >, so that printing an already escaped value again changes nothing.)"""
    if value is None:
        return value
    return str(value).replace("<", "&lt;").replace(">", "&gt;")


@functools.lru_cache(maxsize=2)
def environment(markdown: bool = False) -> jinja2.Environment:
    """The environment for HTML and text templates, or (`markdown`) for Markdown ones."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=_autoescape,
        finalize=_no_raw_html if markdown else None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # the templates are shipped files: compiled once per process, not checked on disk at
        # every render (a stat per template and per include, per page of `triage serve`)
        auto_reload=False,
        bytecode_cache=_bytecode_cache(),
    )
    from .chart import course_svg  # the course chart of a follow-up (the `course` macro)

    env.globals["course_svg"] = course_svg
    return env


def _bytecode_cache():
    """Jinja's FileSystemBytecodeCache in the triage cache folder, or None when the cache is off
    or the folder is not this user's alone."""
    import os

    from . import cachedir

    if not cachedir.enabled():
        return None
    folder = os.path.join(cachedir.cache_folder(), "jinja")
    return jinja2.FileSystemBytecodeCache(folder) if cachedir.private_folder(folder) else None
