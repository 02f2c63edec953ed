"""The course of pain and function over time, as a small SVG drawn on the server (issue 25).

No script, no colour-only meaning: pain is a solid line with round markers, the activity score a
dashed line with square markers, each named in a legend, and both on one 0-10 scale. The SVG is
an image for a screen reader (``role="img"``, labelled by its own title and description); the
numbers themselves are always given beside it in a table (the ``course`` macro of
reports/templates/_macros.html.j2). Nothing here imports the rest of triage: a series is any
sequence of points with ``date``, ``label``, ``pain`` and ``psfs_mean`` (attributes or keys;
followup.SeriesPoint, or its ``to_dict()``).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 520, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 40, 40, 40  # margins round the plot
SCALE_MAX = 10
LINES = (
    # key, name in the legend, stroke dash, marker
    ("pain", "Pain (0 to 10, lower is better)", "", "circle"),
    ("psfs_mean", "Activities, mean score (0 to 10, higher is better)", "6 4", "square"),
)


def point_value(point: Any, name: str):
    """A field of a series point, whether it is an object or a mapping."""
    if isinstance(point, dict):
        return point.get(name)
    return getattr(point, name, None)


def point_date(point: Any) -> _dt.date:
    value = point_value(point, "date")
    if isinstance(value, str):
        return _dt.date.fromisoformat(value)
    return value


def short_date(day: _dt.date) -> str:
    """1 Dec 2026."""
    return f"{day.day} {day:%b %Y}"


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def plot_y(value: float) -> float:
    """The y of a score on the plot (0 at the bottom, SCALE_MAX at the top)."""
    inner = HEIGHT - TOP - BOTTOM
    return round(TOP + inner * (1 - value / SCALE_MAX), 1)


def plot_x(days: int, span: int) -> float:
    """The x of a point `days` after the first, on a course `span` days long."""
    inner = WIDTH - LEFT - RIGHT
    if span <= 0:
        return round(LEFT + inner / 2, 1)
    return round(LEFT + 12 + (inner - 24) * days / span, 1)


def describe(series: Iterable[Any]) -> str:
    """One sentence of the course, for the SVG's description."""
    points = list(series)
    parts = []
    for key, name, _, _ in LINES:
        values = [(point_value(p, "label"), point_value(p, key)) for p in points
                  if point_value(p, key) is not None]
        if values:
            word = name.split(" (")[0].lower()
            parts.append(f"{word}: " + ", ".join(f"{_fmt(v)} at {label.lower()}"
                                                 for label, v in values))
    if not parts:
        return "No scores were given."
    return "Scores out of 10; " + "; ".join(parts) + ". The table gives the same numbers."


def course_svg(series: Iterable[Any], *, title_id: str = "course-title",
               title: str = "Pain and activities over time") -> str:
    """The chart of `series` as SVG markup (a string, safe to insert into HTML as it is)."""
    points = sorted(series, key=point_date)
    desc_id = f"{title_id}-desc"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="course-chart" role="img" '
           f'aria-labelledby={quoteattr(f"{title_id} {desc_id}")} viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="{WIDTH}" height="{HEIGHT}">',
           f'<title id={quoteattr(title_id)}>{escape(title)}</title>',
           f'<desc id={quoteattr(desc_id)}>{escape(describe(points))}</desc>',
           '<rect x="0" y="0" width="100%" height="100%" fill="#fff"/>']
    # the scale: a line and a label at 0, 2, ..., 10
    out.append('<g class="axis" font-size="11" fill="#222">')
    for tick in range(0, SCALE_MAX + 1, 2):
        y = plot_y(tick)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" '
                   f'stroke="#bbb" stroke-width="0.5"/>')
        out.append(f'<text class="tick-y" data-value="{tick}" x="{LEFT - 6}" y="{y}" '
                   f'text-anchor="end" dominant-baseline="middle">{tick}</text>')
    span = (point_date(points[-1]) - point_date(points[0])).days if points else 0
    first = point_date(points[0]) if points else None
    one_year = len({point_date(p).year for p in points}) <= 1
    for p in points:
        x = plot_x((point_date(p) - first).days, span)
        day = point_date(p)
        words = f"{day.day} {day:%b}" if one_year else f"{day.day} {day:%b %y}"
        out.append(f'<text class="tick-x" x="{x}" y="{HEIGHT - BOTTOM + 16}" '
                   f'text-anchor="middle">{escape(words)}</text>')
    out.append('</g>')
    # the legend, above the plot: the line's dash and marker, and its name
    out.append('<g class="legend" font-size="11" fill="#222">')
    for i, (key, name, dash, marker) in enumerate(LINES):
        y = 12 + i * 14
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{LEFT}" x2="{LEFT + 24}" y1="{y}" y2="{y}" stroke="#000" '
                   f'stroke-width="2"{dash_attr}/>')
        out.append(_marker(marker, LEFT + 12, y, "legend-marker"))
        out.append(f'<text x="{LEFT + 32}" y="{y}" dominant-baseline="middle">'
                   f'{escape(name)}</text>')
    out.append('</g>')
    # the lines: a gap where a score was not given
    for key, name, dash, marker in LINES:
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series series-{key}" data-series="{key}">')
        run: list[tuple[float, float]] = []
        runs = []
        marks = []
        for p in points:
            value = point_value(p, key)
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            xy = (plot_x((point_date(p) - first).days, span), plot_y(value))
            run.append(xy)
            marks.append((xy, p, value))
        if run:
            runs.append(run)
        for segment in runs:
            if len(segment) > 1:
                coords = " ".join(f"{x},{y}" for x, y in segment)
                out.append(f'<polyline points="{coords}" fill="none" stroke="#000" '
                           f'stroke-width="2"{dash_attr}/>')
        for (x, y), p, value in marks:
            label = f"{name.split(' (')[0]} {_fmt(value)}, {point_value(p, 'label')}, " \
                    f"{short_date(point_date(p))}"
            out.append(_marker(marker, x, y, f"point point-{key}", label,
                               date=point_date(p).isoformat()))
        out.append('</g>')
    out.append('</svg>')
    return "\n".join(out)


def _marker(kind: str, x: float, y: float, css: str, label: str | None = None,
            date: str | None = None) -> str:
    title = f"<title>{escape(label)}</title>" if label else ""
    data = f' data-date="{date}"' if date else ""
    if kind == "circle":
        return (f'<circle class="{css}" cx="{x}" cy="{y}" r="4" fill="#fff" stroke="#000" '
                f'stroke-width="2"{data}>{title}</circle>')
    return (f'<rect class="{css}" x="{round(x - 4, 1)}" y="{round(y - 4, 1)}" width="8" '
            f'height="8" fill="#000" stroke="#000" stroke-width="1"{data}>{title}</rect>')


# --------------------------------------------------------------------------- the same as text

NOT_GIVEN = "-"


def _activities(point: Any) -> list[tuple[str, Any]]:
    out = []
    for item in point_value(point, "activities") or ():
        if isinstance(item, dict):
            out.append((item.get("name"), item.get("score")))
        else:
            out.append((item[0], item[1]))
    return out


def course_rows(series: Iterable[Any]) -> tuple[list[str], list[list[str]], list[str]]:
    """The course as a table of strings: (header, rows, activity names). A score not given is
    "-"; the activities are columns A1, A2, A3 (their names are the third item)."""
    points = sorted(series, key=point_date)
    names = [name for name, _ in _activities(points[0])] if points else []
    header = ["Date", "Visit", "Pain", "Activities", *[f"A{i}" for i in
                                                       range(1, len(names) + 1)], "Change"]
    rows = []
    for p in points:
        pain, mean = point_value(p, "pain"), point_value(p, "psfs_mean")
        change = point_value(p, "change_label")
        rows.append([short_date(point_date(p)), str(point_value(p, "label")),
                     NOT_GIVEN if pain is None else _fmt(pain),
                     NOT_GIVEN if mean is None else _fmt(mean),
                     *[NOT_GIVEN if score is None else _fmt(score) for _, score in _activities(p)],
                     change or NOT_GIVEN])
    return header, rows, names


def course_text(series: Iterable[Any]) -> str:
    """The course as an aligned plain-text table with a key, for a terminal or the text report:
    pain and activities out of 10 ("-": not given)."""
    header, rows, names = course_rows(series)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + [""] + course_key(names))


KEY = ("Pain: 0 (none) to 10 (worst), lower is better. Activities: the mean of the activity "
       "scores, 0 (cannot do it) to 10 (as before the back pain), higher is better. "
       "\"-\": not given.")


def course_key(names: list[str]) -> list[str]:
    """The key under a text table of the course: the scales, and each activity's name."""
    return [KEY] + [f"A{i}: {name}" for i, name in enumerate(names, start=1)]
