"""The rulebook: the rule files of a directory, loaded and checked, with no experta in sight.

A rules directory holds:

``rulebook.yaml``       name, version, review period, the named parameters (every threshold),
                        the conclusion vocabulary with plain-language labels
``questionnaire.yaml``  the questions (see questionnaire.py)
``stretches.yaml``      the stretch catalogue
any other ``*.yaml``    rules, as a list under ``rules:``

Loading fails with one RulebookError naming the file, the rule id and the problem.
"""
from __future__ import annotations

import datetime as _dt
import functools
import math
import os
from typing import TYPE_CHECKING, Any, Mapping

from . import contract
from .conditions import (FINDING_KINDS, CountTest, Derived, FindingTest, Not, Vocabulary, All,
                         AnyOf, expression_parameters, expression_questions, parse_condition,
                         parse_expression, questions_read)
from .errors import RulebookError, RulebookErrors
from .instrument import RESULT, check_bands, parse_instrument
from .questionnaire import Questionnaire, display_path, load_questionnaire, read_yaml
from .reading import shorten
from .records import NEW, Record, fill

if TYPE_CHECKING:  # annotations only: pathlib is imported where paths are used
    from pathlib import Path

# Every parameter is a threshold on an answer (an age, weeks, hours a day, a count): a value
# outside this range is a typing mistake.
PARAMETER_RANGE = (0, 1000)
RESERVED_FILES = ("rulebook.yaml", "questionnaire.yaml", "stretches.yaml", "advice.yaml")
STATUSES = ("draft", "active", "retired")
RULE_FIELDS = {"id", "title", "category", "status", "version", "rationale", "references",
               "reviewed_by", "reviewed_on", "when", "then", "examples"}
REQUIRED_RULE_FIELDS = ("id", "title", "status", "version", "rationale", "references", "when",
                        "then")


class Parameter(Record):
    _fields = ("name", "value", "unit", "description", "references")

    def __init__(self, name: str, value: float, unit: str, description: str,
                 references: tuple = ()):
        fill(self, name, value, unit, description, references)


class Stretch(Record):
    # gentle: fit for irritable nerve-root pain
    # spinal_flexion: bends the spine forward towards its end of range
    # drawing: name of the report's drawing for it
    # lying_on_back: done lying flat on the back (not in pregnancy)
    # lying_on_front: done lying on the belly (not in pregnancy)
    _fields = ("id", "name", "target", "steps", "hold", "repetitions", "cautions",
               "stop_if", "gentle", "spinal_flexion", "spinal_extension", "drawing",
               "lying_on_back", "lying_on_front")

    def __init__(self, id: str, name: str, target: str, steps: tuple, hold: str, repetitions: str,
                 cautions: tuple, stop_if: tuple, gentle: bool = False,
                 spinal_flexion: bool = False, spinal_extension: bool = False, drawing: str = "",
                 lying_on_back: bool = False, lying_on_front: bool = False):
        fill(self, id, name, target, steps, hold, repetitions, cautions, stop_if, gentle,
             spinal_flexion, spinal_extension, drawing, lying_on_back, lying_on_front)

    def marked(self, mark: str) -> bool:
        return bool(getattr(self, mark))


# The yes/no marks of a catalogue stretch that a rule may name: `avoid_stretch: {marked: MARK}`.
STRETCH_MARKS = ("gentle", "spinal_flexion", "spinal_extension", "lying_on_back", "lying_on_front")


class Example(Record):
    # on a `fires:` example, what the whole assessment concludes (the keys of a vignette's
    # `expect:`), so that an example states what the rule decides, not only that it fires
    _fields = ("fires", "answers", "note", "expect")
    _hashed = ("fires", "note")

    def __init__(self, fires: bool, answers: Mapping[str, Any], note: str = "",
                 expect: Mapping[str, Any] = NEW):
        expect = {} if expect is NEW else expect
        fill(self, fires, answers, note, expect)


class RuleSpec(Record):
    # when: the parsed condition tree
    # then: ((kind, value), ...) in file order
    _fields = ("id", "title", "category", "status", "version", "rationale",
               "references", "reviewed_by", "reviewed_on", "when", "then", "examples",
               "file", "stratum")

    def __init__(self, id: str, title: str, category: str, status: str, version: int,
                 rationale: str, references: tuple, reviewed_by: str, reviewed_on: _dt.date | None,
                 when: Any, then: tuple, examples: tuple, file: str, stratum: int = 0):
        fill(self, id, title, category, status, version, rationale, references, reviewed_by,
             reviewed_on, when, then, examples, file, stratum)

    @property
    def concludes(self) -> dict:
        out: dict[str, list] = {}
        for kind, value in self.then:
            out.setdefault(kind, []).append(value)
        return out

    @property
    def urgency(self) -> str | None:
        return self.concludes.get("urgency", [None])[0]

    @property
    def questions(self) -> list[str]:
        return questions_read(self.when)


class SafetyNetLevel(Record):
    """What to do if new symptoms appear, at one urgency: printed on every assessment."""
    # signs: plain words
    # rules: the rule id that decides each sign, or "" (same order as signs)
    _fields = ("level", "title", "signs", "rules")

    def __init__(self, level: str, title: str, signs: tuple, rules: tuple = ()):
        fill(self, level, title, signs, rules)


class EmergencyWords(Record):
    """What an emergency screen says for the rules named (rulebook.yaml `emergency_screens`)."""
    # rules: the rule ids it is for; () for the default screen
    _fields = ("rules", "heading", "actions", "call_number")

    def __init__(self, rules: tuple, heading: str, actions: tuple, call_number: bool):
        fill(self, rules, heading, actions, call_number)


class Rulebook(Record):
    # labels: kind -> value -> plain words
    # rules: every rule, active or not, in file order
    # safety_net: SafetyNetLevel, most urgent first
    # emergency_screens: EmergencyWords, the default (rules == ()) last
    # instruments: scored screens (instrument.py), every status; the active one's band is the
    # fact `risk_group`
    _fields = ("name", "version", "review_period_days", "directory", "parameters", "labels",
               "questionnaire", "stretches", "rules", "safety_net", "derived", "emergency_screens",
               "emergency_numbers", "instruments", "advice")
    _hashed = ("name", "version", "review_period_days", "directory", "rules", "safety_net",
               "emergency_screens", "emergency_numbers", "instruments", "advice")

    def __init__(self, name: str, version: str, review_period_days: int, directory: str,
                 parameters: Mapping[str, Parameter], labels: Mapping[str, Mapping[str, str]],
                 questionnaire: Questionnaire, stretches: Mapping[str, Stretch], rules: tuple = (),
                 safety_net: tuple = (), derived: Mapping[str, Derived] = NEW,
                 emergency_screens: tuple = (), emergency_numbers: str = "",
                 instruments: tuple = (), advice: tuple = ()):
        derived = {} if derived is NEW else derived
        fill(self, name, version, review_period_days, directory, parameters, labels, questionnaire,
             stretches, rules, safety_net, derived, emergency_screens, emergency_numbers,
             instruments, advice)

    @property
    def instrument(self):
        """The active scored instrument (its band is `risk_group`), or None."""
        for instrument in self.instruments:
            if instrument.status == "active":
                return instrument
        return None

    def with_derived(self, answers: Mapping[str, Any]) -> dict:
        """The answers plus every derived quantity that can be computed from them: the facts the
        rules read. A derived quantity whose inputs are not all answered is left out (unknown)."""
        facts = dict(answers)
        for name, quantity in self.derived.items():
            value = quantity.compute(answers)
            if value is not None:
                facts[name] = value
        instrument = self.instrument
        if instrument is not None:
            band = instrument.band(answers)
            if band is not None:
                facts[RESULT] = band
        return facts

    def quantity(self, name: str):
        """A question, or a derived quantity, by its id."""
        question = self.questionnaire.questions.get(name)
        if question is None and name == RESULT and self.instrument is not None:
            return self.instrument.result_quantity()
        return question if question is not None else self.derived[name]

    @property
    def active_rules(self) -> tuple:
        return tuple(r for r in self.rules if r.status == "active")

    @functools.cached_property
    def readers(self) -> Mapping[str, tuple]:
        """Question id -> the active rules that read it, in file order. Computed once per
        rulebook: `triage serve` shows them ("why we ask this") on every question page."""
        readers: dict[str, list] = {}
        for rule in self.active_rules:
            for qid in rule.questions:
                readers.setdefault(qid, []).append(rule)
        return {qid: tuple(rules) for qid, rules in readers.items()}

    @property
    def finding_values(self) -> dict:
        return finding_values(self.labels, self.stretches)

    def rule(self, rule_id: str) -> RuleSpec:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def label(self, kind: str, value: str) -> str:
        return self.labels.get(kind, {}).get(value, value.replace("_", " "))


def finding_values(labels, stretches) -> dict:
    values = {kind: tuple(labels.get(kind, {})) for kind in FINDING_KINDS}
    values["stretch"] = values["avoid_stretch"] = tuple(stretches)
    return values


# --------------------------------------------------------------------------- expectations
# What an example's `expect:` (and a vignette's, clinician/vignettes.py) may say of the outcome.

EXACT = ("urgency", "duration_class", "see_professional", "review_in_days")
EXACT_SETS = ("red_flags", "causes", "stretches")
INCLUDES = {"red_flags_include": "red_flags", "causes_include": "causes",
            "stretches_include": "stretches", "fired_include": "fired"}
EXCLUDES = {"stretches_exclude": "stretches", "fired_exclude": "fired",
            "red_flags_exclude": "red_flags", "causes_exclude": "causes"}
KNOWN_KEYS = set(EXACT) | set(EXACT_SETS) | set(INCLUDES) | set(EXCLUDES) | {"urgency_at_least"}


# --------------------------------------------------------------------------- loading

@functools.lru_cache(maxsize=8)
def _load_cached(directory: str, _stamp) -> Rulebook:
    from . import rules_cache  # the checked rulebook kept on disk, keyed by the files' content

    return rules_cache.load(directory, lambda: _read_rule_files(directory))


def _read_rule_files(directory: str) -> Rulebook:
    from pathlib import Path  # only when the rule files are read: not at a cached start

    return _load(Path(directory))


def _stamp(directory: str) -> tuple:
    """Changes whenever a rule file does, so an edited rules directory is read again: each
    ``*.yaml`` entry's name, modification time and size."""
    def stat(path):
        try:
            info = os.stat(path)
            return info.st_mtime_ns, info.st_size
        except OSError:  # e.g. a dangling symlink: loading reports it
            return None

    try:
        names = [name for name in os.listdir(directory) if name.endswith(".yaml")]
    except OSError:  # unreadable: loading reports it
        names = []
    return tuple(sorted((name, stat(os.path.join(directory, name))) for name in names))


def load_rulebook(directory=None) -> Rulebook:
    """Load and check the rule files of `directory` (a path; default: the shipped rules).

    Paths are handled with ``os.path``, so that a start with the rulebook cached imports no
    pathlib (resources.py)."""
    from .resources import rules_directory

    # os.fspath("") or ".": what Path("") means
    path = (os.fspath(directory) or ".") if directory is not None else rules_directory()
    if not os.path.isdir(path):
        raise RulebookError("not a directory of rule files", file=str(directory))
    resolved = os.path.realpath(path)
    return _load_cached(resolved, _stamp(resolved))


_display = display_path


def _load(directory: Path) -> Rulebook:
    meta_file = directory / "rulebook.yaml"
    if not meta_file.exists():
        raise RulebookError("missing rulebook.yaml (name, version, parameters, conclusions)",
                            file=_display(directory))
    meta_name = _display(meta_file)
    meta = read_yaml(meta_file)
    if not isinstance(meta, dict):
        raise RulebookError("expected a mapping", file=meta_name)
    for needed in ("name", "version", "review_period_days", "parameters", "conclusions"):
        if needed not in meta:
            raise RulebookError(f"missing '{needed}'", file=meta_name)
    parameters = _parse_parameters(meta["parameters"], meta_name)
    labels = _parse_labels(meta["conclusions"], meta_name)
    safety_net = _parse_safety_net(meta.get("safety_net"), meta_name)

    q_file = directory / "questionnaire.yaml"
    if not q_file.exists():
        raise RulebookError("missing questionnaire.yaml", file=_display(directory))
    questionnaire = load_questionnaire(q_file)
    _check_questionnaire_names(questionnaire, _display(q_file))

    s_file = directory / "stretches.yaml"
    if not s_file.exists():
        raise RulebookError("missing stretches.yaml", file=_display(directory))
    stretches = _parse_stretches(read_yaml(s_file), _display(s_file))

    parameter_values = {n: p.value for n, p in parameters.items()}
    derived = _parse_derived(meta.get("derived"), meta_name, questionnaire, parameter_values)
    errors: list[RulebookError] = []  # every broken rule is reported, not just the first
    instruments = _load_instruments(directory, meta, meta_name, questionnaire, parameter_values,
                                    errors)
    readable = dict(derived)
    active = [i for i in instruments if i.status == "active"]
    if active:
        readable[RESULT] = active[0].result_quantity()
    vocab = Vocabulary(questionnaire.questions, parameter_values,
                       finding_values(labels, stretches), readable)
    vocab.stretches = stretches
    rules: list[RuleSpec] = []
    seen: dict[str, str] = {}
    rule_files = _rule_files(directory, meta, meta_name)
    for rule_file in rule_files:
        name = _display(rule_file)
        try:
            data = read_yaml(rule_file)
        except RulebookError as exc:
            errors.append(exc)
            continue
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            errors.append(RulebookError("expected 'rules:', a list of rules", file=name))
            continue
        for index, raw in enumerate(data["rules"]):
            try:
                rule = _parse_rule(raw, index, name, vocab, questionnaire)
            except RulebookError as exc:
                errors.append(exc)
                continue
            if rule.id in seen:
                errors.append(RulebookError(f"duplicate rule id (also in {seen[rule.id]})",
                                            file=name, where=rule.id))
                continue
            seen[rule.id] = name
            rules.append(rule)
    if errors:
        raise errors[0] if len(errors) == 1 else RulebookErrors(errors)
    rules = _stratify(rules)
    screens, numbers = _parse_emergency_screens(meta.get("emergency_screens"), meta_name)
    return Rulebook(
        name=str(meta["name"]), version=str(meta["version"]),
        review_period_days=_review_period(meta["review_period_days"], meta_name),
        directory=str(directory),
        parameters=parameters, labels=labels, questionnaire=questionnaire, stretches=stretches,
        rules=tuple(rules), safety_net=safety_net, derived=derived, emergency_screens=screens,
        emergency_numbers=numbers, instruments=tuple(instruments),
        advice=_load_advice(directory),
    )


def _load_advice(directory) -> tuple:
    """advice.yaml (optional): the self-management advice topics (advice.py)."""
    from .advice import parse_advice

    path = directory / "advice.yaml"
    if not path.exists():
        return ()
    return parse_advice(read_yaml(path), _display(path))


def _instrument_files(meta, meta_name) -> list[str]:
    listed = meta.get("instruments") or []
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
        raise RulebookError("'instruments' must list the instrument files", file=meta_name)
    return listed


def _load_instruments(directory, meta, meta_name, questionnaire, parameters, errors) -> list:
    """The scored instruments listed under `instruments:` in rulebook.yaml (instrument.py): each
    read and checked, its bands walked for overlaps, gaps and bands no answers reach. At most one
    may be active: its band is the fact `risk_group`."""
    out = []
    for file_name in _instrument_files(meta, meta_name):
        path = directory / file_name
        name = _display(path)
        if not path.exists():
            errors.append(RulebookError(f"instruments lists {file_name}, which is not in the "
                                        f"directory", file=meta_name))
            continue
        try:
            instrument = parse_instrument(read_yaml(path), name, questionnaire, parameters)
        except RulebookError as exc:
            errors.append(exc)
            continue
        problems = check_bands(instrument) if instrument.status != "retired" else []
        for problem in problems:
            errors.append(RulebookError(problem, file=name, where=instrument.id))
        if problems:
            continue
        if any(i.id == instrument.id for i in out):
            errors.append(RulebookError("duplicate instrument id", file=name,
                                        where=instrument.id))
            continue
        out.append(instrument)
    active = [i for i in out if i.status == "active"]
    if len(active) > 1:
        errors.append(RulebookError(f"two active instruments ({active[0].id}, {active[1].id}): "
                                    f"only one can give risk_group; make the other draft",
                                    file=meta_name))
    return out


def _parse_derived(raw, name, questionnaire, parameters) -> dict:
    """`derived:` in rulebook.yaml: named numbers computed from answers in the closed grammar of
    conditions.parse_expression (e.g. the age at onset)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RulebookError("'derived' must map each name to {label, unit, description, value}",
                            file=name)
    grammar = ("all", "any", "not", "unanswered", "count_of", "at_least", *FINDING_KINDS)
    out = {}
    for dname, spec in raw.items():
        dname = str(dname)
        if dname in questionnaire.questions or dname in parameters or dname in grammar:
            raise RulebookError("a derived quantity's name must differ from every question, "
                                "parameter and word of the rule grammar", file=name,
                                where=f"derived.{dname}")
        if not isinstance(spec, dict) or "value" not in spec:
            raise RulebookError("needs 'value': the expression that computes it", file=name,
                                where=f"derived.{dname}")
        expression = parse_expression(spec["value"], questionnaire.questions, parameters,
                                      file=name, where=f"derived.{dname}")
        reads = tuple(expression_questions(expression))
        if not reads:
            raise RulebookError("reads no question: use a parameter instead", file=name,
                                where=f"derived.{dname}")
        out[dname] = Derived(
            id=dname, label=str(spec.get("label") or dname.replace("_", " ")).strip(),
            unit=str(spec.get("unit", "")), description=" ".join(str(spec.get("description",
                                                                             "")).split()),
            expression=expression, reads=reads,
            required=all(questionnaire.questions[q].required for q in reads))
    return out


def derived_parameters(rulebook) -> list[str]:
    """The parameters the derived quantities use."""
    return [p for d in rulebook.derived.values() for p in expression_parameters(d.expression)]


def _parse_emergency_screens(raw, name) -> tuple:
    """`emergency_screens:` in rulebook.yaml: what to do now, per emergency rule, in plain words,
    shown by `triage ask` and the web's emergency page (triage/emergency.py). A screen naming a
    rule that is not an active emergency rule is reported by `triage rules check`."""
    if raw is None:
        return (), ""
    if not isinstance(raw, dict) or not isinstance(raw.get("screens"), list):
        raise RulebookError("'emergency_screens' needs 'numbers' and 'screens', a list", file=name)
    numbers = str(raw.get("numbers") or "").strip()
    out, default = [], None
    for index, entry in enumerate(raw["screens"]):
        where = f"emergency_screens {index + 1}"
        if not isinstance(entry, dict):
            raise RulebookError("a screen must be a mapping", file=name, where=where)
        rule_ids = entry.get("rules", [])
        rule_ids = rule_ids if isinstance(rule_ids, list) else [rule_ids]
        actions = entry.get("actions")
        if not entry.get("heading") or not isinstance(actions, list) or not actions:
            raise RulebookError("a screen needs a heading and a list of actions", file=name,
                                where=where)
        words = EmergencyWords(tuple(str(r) for r in rule_ids), str(entry["heading"]).strip(),
                               tuple(" ".join(str(a).replace("{numbers}", numbers).split())
                                     for a in actions),
                               bool(entry.get("call_number", True)))
        if not rule_ids:
            if default is not None:
                raise RulebookError("only one screen may leave out 'rules' (the default)",
                                    file=name, where=where)
            default = words
        else:
            out.append(words)
    if default is None:
        raise RulebookError("emergency_screens needs a default screen (one without 'rules')",
                            file=name)
    return tuple(out) + (default,), numbers


def _review_period(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3660:
        raise RulebookError(f"review_period_days must be a whole number of days from 1 to 3660, "
                            f"not {shorten(value)}", file=name)
    return value


def _rule_files(directory: Path, meta, meta_name) -> list[Path]:
    """The rule files in the order rulebook.yaml lists them; an unlisted one is an error."""
    instruments = _instrument_files(meta, meta_name)
    present = sorted(p.name for p in directory.glob("*.yaml")
                     if p.name not in RESERVED_FILES and p.name not in instruments)
    listed = meta.get("rule_files")
    if listed is None:
        listed = present
    if not isinstance(listed, list) or not listed:
        raise RulebookError("'rule_files' must list the rule files in order", file=meta_name)
    missing = [f for f in listed if f not in present]
    if missing:
        raise RulebookError(f"rule_files lists {missing[0]}, which is not in the directory",
                            file=meta_name)
    unlisted = [f for f in present if f not in listed]
    if unlisted:
        raise RulebookError(f"{unlisted[0]} is not listed in rule_files, so its rules would be "
                            f"ignored; add it to the list or remove the file", file=meta_name)
    return [directory / f for f in listed]


def _parse_safety_net(raw, name) -> tuple:
    if not isinstance(raw, dict) or not isinstance(raw.get("levels"), list) or not raw["levels"]:
        raise RulebookError("'safety_net' must list its levels (emergency, urgent, soon), each "
                            "with a title and its signs", file=name)
    if not raw.get("references"):
        raise RulebookError("safety_net: missing 'references'", file=name)
    out = []
    for entry in raw["levels"]:
        level = entry.get("level") if isinstance(entry, dict) else None
        if level not in contract.URGENCIES or level == "self_care":
            raise RulebookError(f"safety_net: level must be emergency, urgent or soon, not "
                                f"{level!r}", file=name)
        signs = entry.get("signs")
        if not entry.get("title") or not isinstance(signs, list) or not signs:
            raise RulebookError(f"safety_net: {level}: needs a title and a list of signs",
                                file=name)
        texts, rules = [], []
        for sign in signs:
            if isinstance(sign, dict):
                if not sign.get("text"):
                    raise RulebookError(f"safety_net: {level}: a sign needs its text", file=name)
                texts.append(str(sign["text"]).strip())
                rules.append(str(sign.get("rule") or ""))
            else:
                texts.append(str(sign).strip())
                rules.append("")
        out.append(SafetyNetLevel(level, str(entry["title"]).strip(), tuple(texts),
                                  tuple(rules)))
    return tuple(out)


def _parse_parameters(raw, name) -> dict:
    if not isinstance(raw, dict) or not raw:
        raise RulebookError("'parameters' must map each name to {value, unit, description}",
                            file=name)
    out = {}
    for pname, spec in raw.items():
        if not isinstance(spec, dict) or "value" not in spec:
            raise RulebookError("a parameter needs at least a value", file=name, where=pname)
        value = spec["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RulebookError(f"value must be a number, not {shorten(value)}", file=name,
                                where=pname)
        # .nan compares false with everything and .inf with nothing useful: either would quietly
        # switch rules off (an 85-year-old's fall no longer "fragile"), so refuse them at load
        if not math.isfinite(value) or not PARAMETER_RANGE[0] <= value <= PARAMETER_RANGE[1]:
            raise RulebookError(f"value must be a finite number from {PARAMETER_RANGE[0]} to "
                                f"{PARAMETER_RANGE[1]}, not {shorten(value)}", file=name,
                                where=pname)
        refs = spec.get("references", [])
        out[pname] = Parameter(pname, value, str(spec.get("unit", "")),
                               str(spec.get("description", "")).strip(),
                               tuple(refs if isinstance(refs, list) else [refs]))
    return out


def _parse_labels(raw, name) -> dict:
    if not isinstance(raw, dict):
        raise RulebookError("'conclusions' must map each kind to its values", file=name)
    labels: dict[str, dict] = {}
    for kind, values in raw.items():
        if kind not in FINDING_KINDS or kind in ("stretch", "avoid_stretch"):
            raise RulebookError(f"unknown conclusion kind '{kind}'", file=name)
        if not isinstance(values, dict):
            raise RulebookError(f"'{kind}' must map each value to a plain-language label",
                                file=name)
        labels[kind] = {str(k): str(v).strip() for k, v in values.items()}
    fixed = {"urgency": contract.URGENCIES, "duration_class": contract.DURATION_CLASSES,
             "red_flag": contract.RED_FLAGS, "cause": contract.CAUSES}
    for kind, values in fixed.items():
        missing = [v for v in values if v not in labels.get(kind, {})]
        extra = [v for v in labels.get(kind, {}) if v not in values]
        if missing or extra:
            raise RulebookError(
                f"conclusions.{kind} must be exactly the contract's values "
                f"({', '.join(values)}); " + (f"missing {', '.join(missing)}" if missing else
                                              f"not in the contract: {', '.join(extra)}"),
                file=name)
    labels.setdefault("posture_sign", {})
    return labels


def _check_questionnaire_names(questionnaire: Questionnaire, name: str) -> None:
    clashes = [q for q in questionnaire.questions if q in FINDING_KINDS or q in
               ("all", "any", "not", "unanswered", "count_of", "at_least")]
    if clashes:
        raise RulebookError("question id clashes with a word of the rule grammar", file=name,
                            where=clashes[0])


def _parse_stretches(data, name) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("stretches"), list):
        raise RulebookError("expected 'stretches:', a list", file=name)
    out = {}
    for raw in data["stretches"]:
        sid = raw.get("id") if isinstance(raw, dict) else None
        if not sid:
            raise RulebookError(f"a stretch needs an id, got {raw!r}", file=name)
        for needed in ("name", "target", "steps", "hold", "repetitions", "cautions", "stop_if"):
            if not raw.get(needed):
                raise RulebookError(f"missing '{needed}'", file=name, where=sid)
        if sid in out:
            raise RulebookError("stretch defined twice", file=name, where=sid)
        out[sid] = Stretch(
            id=sid, name=str(raw["name"]), target=str(raw["target"]),
            steps=tuple(str(s).strip() for s in raw["steps"]), hold=str(raw["hold"]),
            repetitions=str(raw["repetitions"]),
            cautions=tuple(str(s).strip() for s in raw["cautions"]),
            stop_if=tuple(str(s).strip() for s in raw["stop_if"]),
            gentle=bool(raw.get("gentle", False)),
            spinal_flexion=bool(raw.get("spinal_flexion", False)),
            spinal_extension=bool(raw.get("spinal_extension", False)),
            drawing=str(raw.get("drawing", sid)),
            lying_on_back=bool(raw.get("lying_on_back", False)),
            lying_on_front=bool(raw.get("lying_on_front", False)),
        )
    return out


def _parse_rule(raw, index, name, vocab, questionnaire) -> RuleSpec:
    rid = raw.get("id") if isinstance(raw, dict) else None
    where = str(rid) if rid else f"rule {index + 1}"
    if not isinstance(raw, dict):
        raise RulebookError("a rule must be a mapping", file=name, where=where)
    for needed in REQUIRED_RULE_FIELDS:
        if raw.get(needed) in (None, "", []):
            raise RulebookError(f"missing '{needed}'", file=name, where=where)
    unknown = set(raw) - RULE_FIELDS
    if unknown:
        raise RulebookError(f"unknown field(s): {', '.join(sorted(unknown))}", file=name,
                            where=where)
    if raw["status"] not in STATUSES:
        raise RulebookError(f"status must be one of {', '.join(STATUSES)}", file=name, where=where)
    when = parse_condition(raw["when"], vocab, file=name, where=where)
    then = _parse_then(raw["then"], vocab, name, where)
    examples = []
    for e_index, ex in enumerate(raw.get("examples") or []):
        if not isinstance(ex, dict) or len({"fires", "silent"} & set(ex)) != 1:
            raise RulebookError(f"example {e_index + 1} must have 'fires:' or 'silent:' answers",
                                file=name, where=where)
        fires = "fires" in ex
        answers = ex["fires" if fires else "silent"]
        if not isinstance(answers, dict):
            raise RulebookError(f"example {e_index + 1}: answers must be a mapping", file=name,
                                where=where)
        expect = ex.get("expect") or {}
        if expect:
            if not isinstance(expect, dict) or set(expect) - KNOWN_KEYS:
                unknown = ", ".join(sorted(set(expect) - KNOWN_KEYS)) if isinstance(
                    expect, dict) else repr(expect)
                raise RulebookError(f"example {e_index + 1}: unknown expectation(s): {unknown}",
                                    file=name, where=where)
        unknown_keys = set(ex) - {"fires", "silent", "note", "expect"}
        if unknown_keys:
            raise RulebookError(f"example {e_index + 1}: unknown field(s): "
                                f"{', '.join(sorted(map(str, unknown_keys)))}", file=name,
                                where=where)
        examples.append(Example(fires, answers, str(ex.get("note", "")), dict(expect)))
    reviewed_on = raw.get("reviewed_on")
    if reviewed_on is not None and not isinstance(reviewed_on, _dt.date):
        try:
            reviewed_on = _dt.date.fromisoformat(str(reviewed_on))
        except ValueError:
            raise RulebookError(f"reviewed_on must be a date (YYYY-MM-DD), not {reviewed_on!r}",
                                file=name, where=where) from None
    refs = raw["references"]
    refs = refs if isinstance(refs, list) else [refs]
    category = raw.get("category") or (then[0][0] if then else "other")
    try:
        version = int(raw["version"])
    except (TypeError, ValueError):
        raise RulebookError(f"version must be a whole number, not {raw['version']!r}", file=name,
                            where=where) from None
    return RuleSpec(
        id=str(rid), title=str(raw["title"]).strip(), category=str(category),
        status=raw["status"], version=version, rationale=" ".join(str(raw["rationale"]).split()),
        references=tuple(_reference_text(r) for r in refs),
        reviewed_by=str(raw.get("reviewed_by", "")), reviewed_on=reviewed_on,
        when=when, then=then, examples=tuple(examples), file=name,
    )


def _reference_text(ref) -> str:
    if isinstance(ref, dict):
        parts = [str(ref.get(k)) for k in ("source", "section", "year") if ref.get(k)]
        return ", ".join(parts)
    return str(ref)


def _parse_then(raw, vocab, name, where) -> tuple:
    if not isinstance(raw, dict) or not raw:
        raise RulebookError("'then' must map conclusion kinds to values, e.g. {urgency: soon}",
                            file=name, where=where)
    out = []
    for kind, value in raw.items():
        if kind not in FINDING_KINDS:
            raise RulebookError(f"unknown conclusion kind '{kind}' (known: "
                                f"{', '.join(FINDING_KINDS)})", file=name, where=where)
        if "stretch" in kind and isinstance(value, dict):
            value = _marked_stretches(value, vocab, name, where)
        values = value if isinstance(value, list) else [value]
        allowed = vocab.finding_values[kind]
        for v in values:
            if v not in allowed:
                what = "stretch id outside the catalogue" if "stretch" in kind else kind
                raise RulebookError(f"unknown {what} '{v}'", file=name, where=where)
            out.append((kind, v))
    return tuple(out)


def _marked_stretches(value, vocab, name, where) -> list:
    """`{marked: MARK}` (or a list of marks): every catalogue stretch with any of those marks, so
    a rule follows the catalogue's safety marks as stretches are added."""
    if set(value) != {"marked"}:
        raise RulebookError("a stretch list is ids, or {marked: MARK} with a mark of the "
                            f"catalogue ({', '.join(STRETCH_MARKS)})", file=name, where=where)
    marks = value["marked"] if isinstance(value["marked"], list) else [value["marked"]]
    for mark in marks:
        if mark not in STRETCH_MARKS:
            raise RulebookError(f"unknown stretch mark '{mark}' (known: "
                                f"{', '.join(STRETCH_MARKS)})", file=name, where=where)
    return [sid for sid, stretch in vocab.stretches.items()
            if any(stretch.marked(mark) for mark in marks)]


# --------------------------------------------------------------------------- stratification

def closed_world_reads(node, negated: bool = False):
    """(kind, value|None) pairs a condition reads as absences or counts: they can only be decided
    once every rule that could conclude them has run."""
    if isinstance(node, (All, AnyOf)):
        for child in node.children:
            yield from closed_world_reads(child, negated)
    elif isinstance(node, Not):
        yield from closed_world_reads(node.child, not negated)
    elif isinstance(node, FindingTest) and negated:
        for value in node.values or (None,):
            yield node.kind, value
    elif isinstance(node, CountTest):
        yield node.kind, None


def positive_reads(node, negated: bool = False):
    if isinstance(node, (All, AnyOf)):
        for child in node.children:
            yield from positive_reads(child, negated)
    elif isinstance(node, Not):
        yield from positive_reads(node.child, not negated)
    elif isinstance(node, FindingTest) and not negated:
        for value in node.values or (None,):
            yield node.kind, value


def _stratify(rules: list[RuleSpec]) -> list[RuleSpec]:
    """Give each rule the stratum at which its absences are settled (stratified negation).

    A rule that reads "no X was concluded" runs one stratum after every rule that concludes X; a
    rule that reads "X was concluded" runs no earlier than the rules that conclude X. A cycle
    through an absence (a rule that, through others, needs the absence of its own conclusion)
    cannot be decided and is an error.
    """
    active = [r for r in rules if r.status == "active"]
    producers: dict[tuple, list[RuleSpec]] = {}
    for r in active:
        for pair in r.then:
            producers.setdefault(pair, []).append(r)

    def producing(kind, value):
        if value is None:
            return [p for (k, _), ps in producers.items() if k == kind for p in ps]
        return producers.get((kind, value), [])

    strata = {r.id: 0 for r in active}
    for _ in range(len(active) + 1):
        changed = False
        for r in active:
            level = 0
            for kind, value in positive_reads(r.when):
                level = max([level] + [strata[p.id] for p in producing(kind, value)])
            for kind, value in closed_world_reads(r.when):
                level = max([level] + [strata[p.id] + 1 for p in producing(kind, value)])
            if level != strata[r.id]:
                strata[r.id] = level
                changed = True
        if not changed:
            break
    else:
        worst = max(active, key=lambda r: strata[r.id])
        raise RulebookError("depends on the absence of its own conclusion (through other rules); "
                            "such a rule can never be decided", file=worst.file, where=worst.id)
    return [r.replace(stratum=strata.get(r.id, 0)) for r in rules]
