"""The one Jinja environment for every report and review document.

Autoescape is on for HTML (also for *.html.j2, which select_autoescape alone would miss), and a
missing value is an error (StrictUndefined), never an empty string in a clinical report.
"""
from __future__ import annotations

import functools

import jinja2

from .resources import templates_dir


def _autoescape(name: str | None) -> bool:
    return bool(name) and (name.endswith((".html", ".html.j2", ".htm", ".svg", ".svg.j2")))


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env
