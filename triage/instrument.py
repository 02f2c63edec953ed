"""Scored instruments: a questionnaire screen with points per answer, subscales and bands.

An instrument file (listed under ``instruments:`` in rulebook.yaml; rules/README.md, "Scored
instruments") names questions of questionnaire.yaml as its items, the points each answer scores,
optional subscales (named sets of items), and three bands, ``low``, ``medium`` and ``high``, each a
condition in the rule grammar on the scores (``total`` and the subscales) compared with the
instrument's own named parameters. The band of the active instrument is the fact ``risk_group``,
which rules read like an answer (``risk_group: high``).

Unanswered items. A band is given only when the answers decide it: when every way of answering
the unanswered items would give the same band. Otherwise the screen is not scored (``risk_group``
is unknown, and a rule testing it does not hold). So an unanswered item is never read as "no
points", and a person who skipped the screen is not called low risk.

Everything here is data and a closed grammar; nothing is evaluated as code.
"""
from __future__ import annotations

import datetime as _dt
import itertools
from typing import Any, Mapping

from .conditions import Derived, Vocabulary, describe, evaluate, parse_condition
from .errors import RulebookError
from .records import NEW, Record, fill, set_field

RESULT = "risk_group"  # the fact the active instrument's band is, for the rules
BANDS = ("low", "medium", "high")
INSTRUMENT_FIELDS = {"id", "title", "version", "status", "validated", "licence", "references",
                     "rationale", "reviewed_by", "reviewed_on", "parameters", "items",
                     "subscales", "bands", "examples", "attribution"}
REQUIRED = ("id", "title", "version", "status", "validated", "licence", "references",
            "rationale", "items", "bands")
STATUSES = ("draft", "active", "retired")
TOTAL = "total"
# the most answer patterns the checker walks (every combination of every item's answers)
MAX_PATTERNS = 200_000


class Item(Record):
    # points: ((answer, points), ...) for the answers that score; any other answer scores 0
    _fields = ("question", "points", "number")

    def __init__(self, question: str, points: tuple, number: int):
        fill(self, question, points, number)

    def score(self, answer) -> int:
        for value, points in self.points:
            if value == answer:
                return points
        return 0


class Band(Record):
    _fields = ("band", "label", "when", "advice", "references")

    def __init__(self, band: str, label: str, when: Any, advice: str, references: tuple):
        fill(self, band, label, when, advice, references)


class InstrumentExample(Record):
    # band: the band these answers must give, or None (not scored)
    _fields = ("band", "answers", "note")

    def __init__(self, band: str | None, answers: Mapping[str, Any], note: str = ""):
        fill(self, band, answers, note)


class InstrumentParameter(Record):
    _fields = ("name", "value", "unit", "description", "references")

    def __init__(self, name: str, value: float, unit: str, description: str,
                 references: tuple = ()):
        fill(self, name, value, unit, description, references)


class Instrument(Record):
    """One scored instrument, read from its file and checked."""
    # items: Item, in order; subscales: name -> (label, (question id, ...)); bands: Band, in
    # the order low, medium, high; outcomes: the possible point values of each item (for the
    # checker and for deciding a band with unanswered items)
    _fields = ("id", "title", "version", "status", "validated", "licence", "references",
               "rationale", "reviewed_by", "reviewed_on", "parameters", "items", "subscales",
               "bands", "examples", "file", "outcomes")
    _hashed = ("id", "version", "file")

    def __init__(self, id: str, title: str, version: int, status: str,  # noqa: A002
                 validated: bool, licence: str, references: tuple, rationale: str,
                 reviewed_by: str, reviewed_on: _dt.date | None,
                 parameters: Mapping[str, InstrumentParameter], items: tuple,
                 subscales: Mapping[str, tuple], bands: tuple, examples: tuple, file: str,
                 outcomes: tuple = NEW):
        outcomes = () if outcomes is NEW else outcomes
        fill(self, id, title, version, status, validated, licence, references, rationale,
             reviewed_by, reviewed_on, parameters, items, subscales, bands, examples, file,
             outcomes)

    # ------------------------------------------------------------------ scoring

    @property
    def questions(self) -> tuple:
        return tuple(item.question for item in self.items)

    def scores_of(self, points: tuple) -> dict:
        """total and each subscale, from one number of points per item (in item order)."""
        by_question = dict(zip(self.questions, points))
        scores = {TOTAL: sum(points)}
        for name, (_label, members) in self.subscales.items():
            scores[name] = sum(by_question[q] for q in members)
        return scores

    def band_of_scores(self, scores: Mapping[str, int]) -> list[str]:
        """Every band whose condition holds (one, for a well-made instrument)."""
        return [b.band for b in self.bands if evaluate(b.when, scores, {})]

    def points(self, answers: Mapping[str, Any]) -> tuple:
        """Points per item; None for an unanswered item."""
        out = []
        for item in self.items:
            answer = answers.get(item.question)
            out.append(None if answer is None else item.score(answer))
        return tuple(out)

    def score(self, answers: Mapping[str, Any]) -> dict | None:
        """The scores, or None when some item is unanswered."""
        points = self.points(answers)
        if any(p is None for p in points):
            return None
        return self.scores_of(points)

    def band(self, answers: Mapping[str, Any]) -> str | None:
        """The band these answers decide, or None: not every item answered and the unanswered
        ones could change the band (module docstring)."""
        return self._decide(self.points(answers))

    def _decide(self, points: tuple) -> str | None:
        memo = self.__dict__.setdefault("_memo", {})
        found = memo.get(points, False)
        if found is not False:
            return found
        choices = [(p,) if p is not None else possible
                   for p, possible in zip(points, self.outcomes)]
        seen: set = set()
        for combination in itertools.product(*choices):
            bands = self.band_of_scores(self.scores_of(combination))
            seen.add(bands[0] if len(bands) == 1 else None)
            if len(seen) > 1:
                break
        result = seen.pop() if len(seen) == 1 else None
        if len(memo) < 65_536:
            memo[points] = result
        return result

    def __getstate__(self):  # the memo is not part of the record (rules_cache pickles it)
        state = dict(self.__dict__)
        state.pop("_memo", None)
        return state

    def __setstate__(self, state):
        for name, value in state.items():
            set_field(self, name, value)

    # ------------------------------------------------------------------ words

    def score_names(self) -> list[str]:
        return [TOTAL, *self.subscales]

    def describe_band(self, band: Band) -> str:
        return describe(band.when)

    def result_quantity(self):
        """What the rules see: the fact ``risk_group``, a choice of the three bands."""
        return BandResult(self.questions)


class BandResult(Record):
    """The fact ``risk_group`` as the rule grammar sees it: a choice-valued derived quantity
    (compared with ``risk_group: high`` or ``{in: [...]}``), read from the instrument's items."""
    _fields = ("id", "label", "unit", "description", "reads", "required", "type", "values",
               "red_flag", "alarming", "min", "max", "expression")

    def __init__(self, reads: tuple):
        fill(self, RESULT, "Risk of a slow recovery", "", "The band of the risk screen "
             "(low, medium or high), or unknown when it is not scored.", reads, False, "choice",
             BANDS, False, (), None, None, None)

    def accepts(self, value) -> bool:
        return value in BANDS

    def describe_values(self) -> str:
        return "one of " + ", ".join(BANDS)

    @property
    def choices(self) -> tuple:
        return tuple((b, b) for b in BANDS)


# --------------------------------------------------------------------------- loading

def parse_instrument(data, name: str, questionnaire, rule_parameters: Mapping[str, Any]):
    """One instrument file (its mapping under ``instrument:``), checked; raise RulebookError."""
    if not isinstance(data, dict) or not isinstance(data.get("instrument"), dict):
        raise RulebookError("expected 'instrument:', a mapping (id, title, items, bands, ...)",
                            file=name)
    raw = data["instrument"]
    iid = str(raw.get("id") or "instrument")

    def fail(problem: str, where: str | None = None):
        raise RulebookError(problem, file=name, where=where or iid)

    for needed in REQUIRED:
        if raw.get(needed) in (None, "", []):
            fail(f"missing '{needed}'")
    unknown = set(raw) - INSTRUMENT_FIELDS
    if unknown:
        fail(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    if raw["status"] not in STATUSES:
        fail(f"status must be one of {', '.join(STATUSES)}")
    if not isinstance(raw["validated"], bool):
        fail("validated must be true or false (has the screen been validated as published?)")
    try:
        version = int(raw["version"])
    except (TypeError, ValueError):
        fail(f"version must be a whole number, not {raw['version']!r}")
    parameters = _parse_parameters(raw.get("parameters") or {}, rule_parameters, fail)

    items: list[Item] = []
    outcomes = []
    raw_items = raw["items"]
    if not isinstance(raw_items, list):
        fail("'items' must be a list of {question, points}")
    for number, entry in enumerate(raw_items, start=1):
        where = f"{iid} item {number}"
        if not isinstance(entry, dict) or not entry.get("question"):
            fail("an item is {question: QUESTION_ID, points: {ANSWER: POINTS, ...}}", where)
        qid = str(entry["question"])
        extra = set(entry) - {"question", "points", "note"}
        if extra:
            fail(f"unknown field(s): {', '.join(sorted(map(str, extra)))}", where)
        question = questionnaire.questions.get(qid)
        if question is None:
            fail(f"unknown question '{qid}' (items are questions of questionnaire.yaml)", where)
        if question.type not in ("bool", "choice"):
            fail(f"'{qid}' is a {question.type} question; an item's answers must be yes/no or "
                 f"choices, so each can score points", where)
        if question.red_flag:
            fail(f"'{qid}' is a warning-sign question; a screen's items are not warning signs",
                 where)
        if qid in [i.question for i in items]:
            fail(f"'{qid}' is an item twice", where)
        points = entry.get("points")
        if not isinstance(points, dict) or not points:
            fail(f"'{qid}': points must map answers to whole numbers, e.g. {{yes: 1}}", where)
        scored = []
        for answer, value in points.items():
            answer = _answer_value(answer, question)
            if not question.accepts(answer):
                fail(f"'{answer}' is not an answer to '{qid}' ({question.describe_values()})",
                     where)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                fail(f"'{qid}': points for '{answer}' must be a whole number from 0 to 100, "
                     f"not {value!r}", where)
            scored.append((answer, value))
        item = Item(qid, tuple(scored), number)
        items.append(item)
        outcomes.append(tuple(sorted({item.score(v) for v in question.values})))
    if not items:
        fail("an instrument needs at least one item")

    subscales: dict[str, tuple] = {}
    raw_subscales = raw.get("subscales") or {}
    if not isinstance(raw_subscales, dict):
        fail("'subscales' must map each name to {label, items: [QUESTION_ID, ...]}")
    item_ids = [i.question for i in items]
    for sname, spec in raw_subscales.items():
        sname = str(sname)
        where = f"{iid} subscale {sname}"
        if sname == TOTAL or sname in parameters or sname in item_ids:
            fail("a subscale's name must differ from 'total', the parameters and the items",
                 where)
        if not isinstance(spec, dict) or not isinstance(spec.get("items"), list) \
                or not spec["items"]:
            fail("a subscale is {label, items: [QUESTION_ID, ...]}", where)
        for qid in spec["items"]:
            if qid not in item_ids:
                fail(f"'{qid}' is not an item of this instrument", where)
        subscales[sname] = (str(spec.get("label") or sname.replace("_", " ")),
                            tuple(str(q) for q in spec["items"]))

    scores = {TOTAL: Derived(TOTAL, "total score", "points", "", None, tuple(item_ids),
                             type="integer")}
    for sname, (label, members) in subscales.items():
        scores[sname] = Derived(sname, label, "points", "", None, members, type="integer")
    vocab = Vocabulary({}, {n: p.value for n, p in parameters.items()}, {}, scores)
    bands: dict[str, Band] = {}
    raw_bands = raw["bands"]
    if not isinstance(raw_bands, list):
        fail("'bands' must be a list of {band, label, when, advice}")
    for entry in raw_bands:
        band_name = entry.get("band") if isinstance(entry, dict) else None
        where = f"{iid} band {band_name}"
        if band_name not in BANDS:
            fail(f"a band is one of {', '.join(BANDS)}, not {band_name!r}", where)
        if band_name in bands:
            fail("band listed twice", where)
        extra = set(entry) - {"band", "label", "when", "advice", "references"}
        if extra:
            fail(f"unknown field(s): {', '.join(sorted(map(str, extra)))}", where)
        for needed in ("label", "when", "advice"):
            if not entry.get(needed):
                fail(f"missing '{needed}'", where)
        when = parse_condition(entry["when"], vocab, file=name, where=where)
        refs = entry.get("references") or []
        bands[band_name] = Band(band_name, " ".join(str(entry["label"]).split()), when,
                                " ".join(str(entry["advice"]).split()),
                                tuple(_reference_text(r) for r in
                                      (refs if isinstance(refs, list) else [refs])))
    missing = [b for b in BANDS if b not in bands]
    if missing:
        fail(f"missing band(s): {', '.join(missing)} (every instrument has low, medium, high)")

    examples = []
    for n, ex in enumerate(raw.get("examples") or [], start=1):
        where = f"{iid} example {n}"
        if not isinstance(ex, dict) or "answers" not in ex or "band" not in ex:
            fail("an example is {band: low|medium|high|null, answers: {...}}", where)
        if ex["band"] is not None and ex["band"] not in BANDS:
            fail(f"band must be one of {', '.join(BANDS)} or null, not {ex['band']!r}", where)
        if not isinstance(ex["answers"], dict):
            fail("answers must be a mapping", where)
        examples.append(InstrumentExample(ex["band"], dict(ex["answers"]),
                                          str(ex.get("note", ""))))
    reviewed_on = raw.get("reviewed_on")
    if reviewed_on is not None and not isinstance(reviewed_on, _dt.date):
        try:
            reviewed_on = _dt.date.fromisoformat(str(reviewed_on))
        except ValueError:
            fail(f"reviewed_on must be a date (YYYY-MM-DD), not {reviewed_on!r}")
    refs = raw["references"]
    return Instrument(
        id=iid, title=" ".join(str(raw["title"]).split()), version=version,
        status=raw["status"], validated=raw["validated"],
        licence=" ".join(str(raw["licence"]).split()),
        references=tuple(_reference_text(r) for r in (refs if isinstance(refs, list)
                                                      else [refs])),
        rationale=" ".join(str(raw["rationale"]).split()),
        reviewed_by=str(raw.get("reviewed_by", "")), reviewed_on=reviewed_on,
        parameters=parameters, items=tuple(items), subscales=subscales,
        bands=tuple(bands[b] for b in BANDS), examples=tuple(examples), file=name,
        outcomes=tuple(outcomes))


def _answer_value(answer, question):
    """A points key as the question's answer: YAML reads yes/no keys as true/false already;
    'yes'/'no' written as text are taken too."""
    if question.type == "bool" and isinstance(answer, str):
        return {"yes": True, "no": False, "true": True, "false": False}.get(answer.lower(),
                                                                            answer)
    return answer


def _parse_parameters(raw, rule_parameters, fail) -> dict:
    if not isinstance(raw, dict):
        fail("'parameters' must map each name to {value, unit, description}")
    out = {}
    for pname, spec in raw.items():
        pname = str(pname)
        if pname in rule_parameters:
            fail("a parameter of rulebook.yaml has this name already", f"parameter {pname}")
        if not isinstance(spec, dict) or "value" not in spec:
            fail("a parameter needs at least a value", f"parameter {pname}")
        value = spec["value"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            fail(f"value must be a whole number of points from 0 to 1000, not {value!r}",
                 f"parameter {pname}")
        refs = spec.get("references") or []
        out[pname] = InstrumentParameter(pname, value, str(spec.get("unit", "points")),
                                         " ".join(str(spec.get("description", "")).split()),
                                         tuple(refs if isinstance(refs, list) else [refs]))
    return out


def _reference_text(ref) -> str:
    if isinstance(ref, dict):
        return ", ".join(str(ref.get(k)) for k in ("source", "section", "year") if ref.get(k))
    return " ".join(str(ref).split())


# --------------------------------------------------------------------------- checking

def check_bands(instrument: Instrument) -> list[str]:
    """Problems with the bands, found by walking every answer pattern of the items: a pattern
    in two bands (overlap), in none (a gap), and a band no pattern reaches. Empty when sound."""
    problems = []
    patterns = 1
    for possible in instrument.outcomes:
        patterns *= len(possible)
    if patterns > MAX_PATTERNS:
        return [f"too many answer patterns to check ({patterns}; at most {MAX_PATTERNS})"]
    reached: dict[str, dict] = {}
    overlap = gap = None
    for combination in itertools.product(*instrument.outcomes):
        scores = instrument.scores_of(combination)
        bands = instrument.band_of_scores(scores)
        if len(bands) > 1 and overlap is None:
            overlap = (scores, bands)
        if not bands and gap is None:
            gap = scores
        for b in bands:
            reached.setdefault(b, scores)
    if overlap is not None:
        problems.append(f"bands overlap: {_scores_words(overlap[0])} is in "
                        f"{' and '.join(overlap[1])}")
    if gap is not None:
        problems.append(f"bands leave a gap: {_scores_words(gap)} is in no band")
    for band in instrument.bands:
        if band.band not in reached:
            problems.append(f"band {band.band} can never be reached: no answers to the items "
                            f"give {describe(band.when)}")
    return problems


def _scores_words(scores: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in scores.items())


def example_failures(instrument: Instrument, questionnaire) -> list[str]:
    """Each example whose answers do not give its band (or cannot be read)."""
    from .errors import AnswersError

    out = []
    for n, ex in enumerate(instrument.examples, start=1):
        try:
            answers = questionnaire.parse_given(ex.answers, source=f"example {n}")
        except AnswersError as exc:
            out.append(f"example {n}: {exc}")
            continue
        got = instrument.band(answers)
        if got != ex.band:
            want = ex.band or "not scored"
            out.append(f"example {n}: expected {want}, got {got or 'not scored'}"
                       + (f" ({ex.note})" if ex.note else ""))
    return out
