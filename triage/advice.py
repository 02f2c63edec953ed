"""Self-management advice as data (rules/advice.yaml): topics in plain words, each with who it
is for and its sources, shown in the report and on the web result page."""
from __future__ import annotations

from .errors import RulebookError
from .records import Record, fill

URGENCIES_SHOWN = ("self_care", "soon")  # advice to manage at home: not when seen today


class Source(Record):
    # confirm: why the source still needs checking on its live page ("" when verified)
    # cite: the short form for the printed report ("Pengel 2003, BMJ")
    _fields = ("source", "section", "year", "confirm", "cite")

    def __init__(self, source: str, section: str, year: str, confirm: str = "", cite: str = ""):
        fill(self, source, section, year, confirm, cite or source)

    @property
    def text(self) -> str:
        return ", ".join(p for p in (self.source, self.section, self.year) if p)


class AdviceTopic(Record):
    _fields = ("id", "title", "points", "for_urgencies", "sources")

    def __init__(self, id: str, title: str, points: tuple, for_urgencies: tuple,  # noqa: A002
                 sources: tuple):
        fill(self, id, title, points, for_urgencies, sources)


def parse_advice(data, name: str) -> tuple:
    """The topics of advice.yaml, checked; raise RulebookError naming the problem."""
    if data is None:
        return ()
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise RulebookError("expected 'topics:', a list of {id, title, for, points, sources}",
                            file=name)
    out = []
    seen = set()
    for n, raw in enumerate(data["topics"], start=1):
        tid = raw.get("id") if isinstance(raw, dict) else None
        where = str(tid or f"topic {n}")
        if not tid:
            raise RulebookError("a topic needs an id", file=name, where=where)
        if tid in seen:
            raise RulebookError("topic listed twice", file=name, where=where)
        seen.add(tid)
        extra = set(raw) - {"id", "title", "for", "points", "sources"}
        if extra:
            raise RulebookError(f"unknown field(s): {', '.join(sorted(map(str, extra)))}",
                                file=name, where=where)
        for needed in ("title", "for", "points", "sources"):
            if not raw.get(needed):
                raise RulebookError(f"missing '{needed}' (every topic says who it is for and "
                                    f"its source)", file=name, where=where)
        shown = raw["for"] if isinstance(raw["for"], list) else [raw["for"]]
        for urgency in shown:
            if urgency not in URGENCIES_SHOWN:
                raise RulebookError(f"'for' lists {urgency!r}: advice is shown at "
                                    f"{' and '.join(URGENCIES_SHOWN)} only", file=name,
                                    where=where)
        sources = []
        for source in raw["sources"]:
            if not isinstance(source, dict) or not source.get("source") \
                    or not source.get("section") or not source.get("year"):
                raise RulebookError("a source is {source, section, year} (and confirm: when "
                                    "it still needs checking)", file=name, where=where)
            sources.append(Source(" ".join(str(source["source"]).split()),
                                  " ".join(str(source["section"]).split()),
                                  str(source["year"]), str(source.get("confirm", "")),
                                  " ".join(str(source.get("cite", "")).split())))
        points = raw["points"] if isinstance(raw["points"], list) else [raw["points"]]
        out.append(AdviceTopic(str(tid), " ".join(str(raw["title"]).split()),
                               tuple(" ".join(str(p).split()) for p in points), tuple(shown),
                               tuple(sources)))
    return tuple(out)


def advice_for(rulebook, urgency: str) -> list:
    """The topics shown at this urgency, in file order."""
    return [t for t in getattr(rulebook, "advice", ()) if urgency in t.for_urgencies]
