"""The questionnaire (rules/questionnaire.yaml) and the answers that it accepts.

Validation is driven by the file: each question says its type, its choices or range, whether it is
required and whether it is a red-flag question. Nothing here knows a question by name.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

from .errors import AnswersError, RulebookError
from .reading import shorten
from .records import Record, fill

if TYPE_CHECKING:  # annotations only: pathlib is imported where paths are used
    from pathlib import Path

TYPES = ("integer", "number", "bool", "choice", "text")
# Recorded for a follow-up question that does not apply (skip logic, ``value_if_skipped:
# not_applicable``): neither yes nor no, and not unknown. No rule test holds on it, and it is not
# an unanswered warning sign. Accepted in an answers file only where the skip condition holds.
NOT_APPLICABLE = "not_applicable"
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


class Question(Record):
    # choices: ((value, label), ...) for choice questions
    # alarming: answers that raise concern (red-flag questions), for tests and the report
    # skip_if: a parsed condition: when it holds, the question is not asked...
    # value_if_skipped: ...and this answer is implied
    # short_label: for summaries and reports, e.g. "Injects drugs"
    _fields = ("id", "type", "text", "help", "section", "required", "red_flag",
               "choices", "min", "max", "default", "alarming", "skip_if",
               "skip_if_raw", "value_if_skipped", "short_label")

    def __init__(self, id: str, type: str, text: str, help: str, section: str,
                 required: bool = False, red_flag: bool = False, choices: tuple = (),
                 min: float | None = None, max: float | None = None, default: Any = None,
                 alarming: tuple = (), skip_if: Any = None, skip_if_raw: Any = None,
                 value_if_skipped: Any = None, short_label: str = ""):
        fill(self, id, type, text, help, section, required, red_flag, choices, min, max, default,
             alarming, skip_if, skip_if_raw, value_if_skipped, short_label)

    @property
    def label(self) -> str:
        if self.short_label:
            return self.short_label
        text = self.id.replace("_", " ")
        return text[:1].upper() + text[1:]

    @property
    def values(self) -> tuple:
        if self.type == "bool":
            return (True, False)
        return tuple(value for value, _ in self.choices)

    def describe_values(self) -> str:
        if self.type == "bool":
            return "yes or no"
        if self.type == "choice":
            return "one of " + ", ".join(self.values)
        if self.type in ("integer", "number"):
            low = "" if self.min is None else f"{_num(self.min)}"
            high = "" if self.max is None else f"{_num(self.max)}"
            kind = "a whole number" if self.type == "integer" else "a number"
            if low and high:
                return f"{kind} from {low} to {high}"
            if low:
                return f"{kind}, at least {low}"
            return kind
        return "any text"

    def accepts(self, value) -> bool:
        """Whether a rule may compare this question with `value` (no coercion)."""
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "choice":
            return value in self.values
        return False

    def coerce(self, value):
        """The answer in its proper type, or raise ValueError with the reason."""
        if (self.value_if_skipped == NOT_APPLICABLE and isinstance(value, str)
                and value.strip().lower().replace(" ", "_") == NOT_APPLICABLE):
            return NOT_APPLICABLE
        if self.type == "text":
            if not isinstance(value, str):
                raise ValueError("expected text")
            return value
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError(f"expected yes or no, got {shorten(value)}")
        if self.type == "choice":
            text = value.strip().lower() if isinstance(value, str) else value
            if text in self.values:
                return text
            raise ValueError(f"expected {self.describe_values()}, got {shorten(value)}")
        # numbers
        if isinstance(value, bool):
            raise ValueError(f"expected {self.describe_values()}, got {shorten(value)}")
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(f"expected {self.describe_values()}, got {shorten(value)}") from None
        if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
            raise ValueError(f"expected {self.describe_values()}, got {shorten(value)}")
        if self.type == "integer" and not isinstance(value, int):
            if float(value) != int(value):
                raise ValueError(f"expected a whole number, got {shorten(value)}")
            value = int(value)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise ValueError(f"{_num(value)} is out of range: expected {self.describe_values()}")
        return value


def _num(x) -> str:
    if isinstance(x, int) and x.bit_length() > 200:
        return shorten(x)
    return str(int(x)) if float(x).is_integer() else str(x)


class Section(Record):
    # questions: of question ids
    _fields = ("id", "title", "questions")

    def __init__(self, id: str, title: str, questions: tuple):
        fill(self, id, title, questions)


class Replaced(Record):
    """A question id of an earlier version, no longer asked but still accepted in answers files
    (contract section 1): an answer of yes counts as yes to each of `yes_means`, an answer of no
    as no to each of `replaced_by`."""
    _fields = ("id", "replaced_by", "yes_means", "note")

    def __init__(self, id: str, replaced_by: tuple, yes_means: tuple, note: str = ""):
        fill(self, id, replaced_by, yes_means, note)


class Questionnaire(Record):
    _fields = ("version", "sections", "questions", "replaced", "parameters")
    _hashed = ("version", "sections")

    def __init__(self, version: str, sections: tuple, questions: Mapping[str, Question],
                 replaced: Mapping[str, Replaced] | None = None,
                 parameters: Mapping[str, Any] | None = None):
        fill(self, version, sections, questions, dict(replaced or {}), dict(parameters or {}))

    @property
    def red_flag_questions(self) -> list[str]:
        return [q.id for q in self.questions.values() if q.red_flag]

    @property
    def required(self) -> list[str]:
        return [q.id for q in self.questions.values() if q.required]

    def parse_given(self, raw: Any, *, source: str = "answers") -> dict:
        """Each answer of a mapping in its proper type, ``None`` for a question left unanswered
        (null or an empty string); raise AnswersError naming the first unknown id or bad value.
        Required questions are not insisted on (a questionnaire session may stop early)."""
        if not isinstance(raw, Mapping):
            raise AnswersError(f"expected a mapping of question id to answer, got "
                               f"{type(raw).__name__}", file=source)
        given: dict[str, Any] = {}
        old: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(key, str) and key in self.replaced:
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue  # unanswered: its replacements stay as they are
                try:
                    old[key] = Question(key, "bool", "", "", "").coerce(value)
                except ValueError as exc:
                    raise AnswersError(str(exc), file=source, where=key) from None
                continue
            if not isinstance(key, str) or key not in self.questions:
                hint = _close_match(str(key)[:100], self.questions)
                shown = str(key) if str(key).isprintable() and len(str(key)) <= 60 \
                    else shorten(key)  # one short line, always
                raise AnswersError(f"unknown question{hint}", file=source, where=shown)
            question = self.questions[key]
            if value is None or (isinstance(value, str) and not value.strip()
                                 and question.type != "text"):
                given[key] = None
                continue
            try:
                given[key] = question.coerce(value)
            except ValueError as exc:
                raise AnswersError(str(exc), file=source, where=key) from None
        if old:
            self._apply_replaced(old, given)
        return given

    def _apply_replaced(self, old: Mapping[str, bool], given: dict) -> None:
        """An earlier version's answer to a replaced question, as answers to its replacements
        (contract section 1): yes counts as yes to each of ``yes_means``, whatever the file
        answers them (a contradiction errs to the safe side); no counts as no to each
        replacement the file leaves unanswered."""
        for old_id, value in old.items():
            spec = self.replaced[old_id]
            if value:
                for qid in spec.yes_means:
                    given[qid] = True
            else:
                for qid in spec.replaced_by:
                    if given.get(qid) is None:
                        given[qid] = False

    def validate(self, raw: Any, *, source: str = "answers") -> dict:
        """Check and normalise an answers mapping; raise AnswersError naming the first problem.

        Returns a new dict holding only answered questions (``None`` means unanswered and is
        dropped), values in their proper types, plus the answers implied by skip logic.
        """
        answers = {k: v for k, v in self.parse_given(raw, source=source).items() if v is not None}
        for qid in self.required:
            if qid not in answers:
                raise AnswersError(f"required question not answered "
                                   f"({self.questions[qid].describe_values()})",
                                   file=source, where=qid)
        return self.apply_skip_logic(answers)

    def apply_skip_logic(self, answers: dict) -> dict:
        """Fill in the answers that skip logic implies (e.g. no leg symptoms: not on both sides).

        An answer is implied only when the skip condition is decided by the answers given (or
        implied before it), never from an unknown: with `pregnant` not answered,
        `pregnancy_symptoms` stays unknown; but a woman of 60 is past the age at which
        `possibly_pregnant` applies whatever she answered about `pregnant` (``skip_decided``).
        A `not_applicable` given for a follow-up that the other answers do not make
        inapplicable is dropped: the question is unknown, never "no"."""
        for q in self.questions.values():
            if q.skip_if is None:
                continue
            if answers.get(q.id) == NOT_APPLICABLE and q.value_if_skipped == NOT_APPLICABLE:
                if not skip_decided(q.skip_if, answers):
                    del answers[q.id]
                continue
            if q.id not in answers and q.value_if_skipped is not None:
                if skip_decided(q.skip_if, answers):
                    answers[q.id] = q.value_if_skipped
        return answers

    def is_skipped(self, qid: str, answers: Mapping) -> bool:
        q = self.questions[qid]
        if q.skip_if is None:  # most questions: no import statement to run (called per page)
            return False
        from .conditions import evaluate

        return evaluate(q.skip_if, answers, {})


def skip_decided(condition, answers: Mapping) -> bool:
    """Whether a skip condition holds, decided by the answers known: an answer test on an
    unanswered question is unknown (not false), `any` holds when one decided part does, `all`
    when every part does, `not` when its part is decided false."""
    return _three_valued(condition, answers) is True


def _three_valued(node, answers: Mapping):
    from .conditions import All, AnyOf, Not, evaluate, questions_read

    if isinstance(node, (All, AnyOf)):
        values = [_three_valued(child, answers) for child in node.children]
        if isinstance(node, All):
            return False if False in values else (True if all(v is True for v in values)
                                                  else None)
        return True if True in values else (False if all(v is False for v in values) else None)
    if isinstance(node, Not):
        value = _three_valued(node.child, answers)
        return None if value is None else not value
    if all(answers.get(r) is not None for r in questions_read(node)):
        return evaluate(node, answers, {})
    return None


def _close_match(key: str, known) -> str:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


# --------------------------------------------------------------------------- loading the file

def load_questionnaire(path: Path) -> Questionnaire:
    from .conditions import Vocabulary, parse_condition

    name = display_path(path)
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise RulebookError("expected 'sections:', a list of sections with their questions",
                            file=name)
    questions: dict[str, Question] = {}
    sections = []
    pending_skips = []
    parameters = _parse_skip_parameters(data.get("parameters"), name)
    for s_index, raw_section in enumerate(data["sections"]):
        sid = raw_section.get("id") if isinstance(raw_section, dict) else None
        if not sid or not isinstance(raw_section.get("questions"), list):
            raise RulebookError("a section needs an id and a list of questions", file=name,
                                where=f"section {s_index + 1}")
        ids = []
        for raw in raw_section["questions"]:
            q = _parse_question(raw, sid, name)
            if q.id in questions:
                raise RulebookError("question defined twice", file=name, where=q.id)
            questions[q.id] = q
            ids.append(q.id)
            if raw.get("skip_if") is not None:
                pending_skips.append((q.id, raw["skip_if"]))
        sections.append(Section(sid, str(raw_section.get("title", sid)), tuple(ids)))
    # skip logic may name any question of the file, so it is parsed once all are known
    vocab = Vocabulary(questions, parameters, {})
    for qid, raw_skip in pending_skips:
        parsed = parse_condition(raw_skip, vocab, file=name, where=qid)
        q = questions[qid]
        if (q.value_if_skipped is not None and q.value_if_skipped != NOT_APPLICABLE
                and not _fits(q, q.value_if_skipped)):
            raise RulebookError(f"value_if_skipped {q.value_if_skipped!r} is not a possible "
                                f"answer ({q.describe_values()})", file=name, where=qid)
        questions[qid] = _replace(q, skip_if=parsed, skip_if_raw=raw_skip)
    replaced = _parse_replaced(data.get("replaced"), questions, name)
    return Questionnaire(str(data.get("version", "1")), tuple(sections), questions, replaced,
                         parameters)


def _parse_skip_parameters(raw, name: str) -> dict:
    """`parameters:` of the questionnaire: the numbers its skip logic compares with (ages at
    which a question applies), each `{value: N, description: ...}`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RulebookError("'parameters' must map each name to {value: NUMBER, description}",
                            file=name)
    out = {}
    for pname, spec in raw.items():
        value = spec.get("value") if isinstance(spec, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RulebookError("a parameter needs a numeric 'value'", file=name,
                                where=str(pname))
        out[str(pname)] = value
    return out


def _parse_replaced(raw, questions: Mapping[str, Question], name: str) -> dict:
    """`replaced:` of the questionnaire: ids of earlier versions still accepted (Replaced)."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise RulebookError("'replaced' must be a list of {id, replaced_by, yes_means}", file=name)
    out: dict[str, Replaced] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not entry.get("id"):
            raise RulebookError("a replaced question needs an id", file=name, where="replaced")
        rid = str(entry["id"])
        unknown = set(entry) - {"id", "replaced_by", "yes_means", "note"}
        if unknown:
            raise RulebookError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}",
                                file=name, where=rid)
        if rid in questions or rid in out:
            raise RulebookError("a replaced id is also a question, or listed twice", file=name,
                                where=rid)
        by = entry.get("replaced_by") or []
        yes = entry.get("yes_means", by)
        for qid in [*by, *yes]:
            if qid not in questions or questions[qid].type != "bool":
                raise RulebookError(f"replaced by '{qid}', which is not a yes/no question",
                                    file=name, where=rid)
        if not set(yes) <= set(by) or not by:
            raise RulebookError("yes_means must name some of replaced_by", file=name, where=rid)
        out[rid] = Replaced(rid, tuple(by), tuple(yes), str(entry.get("note", "")).strip())
    return out


def _fits(q: Question, value) -> bool:
    try:
        return q.coerce(value) == value
    except ValueError:
        return False


def _replace(q, **changes):
    return q.replace(**changes)


def _parse_question(raw, section: str, name: str) -> Question:
    if not isinstance(raw, dict) or not raw.get("id"):
        raise RulebookError(f"a question needs at least an id, type and text, got {raw!r}",
                            file=name, where=section)
    qid = raw["id"]
    known = {"id", "label", "type", "text", "help", "required", "red_flag", "choices", "min", "max",
             "default", "alarming", "skip_if", "value_if_skipped"}
    unknown = set(raw) - known
    if unknown:
        raise RulebookError(f"unknown field(s): {', '.join(sorted(unknown))}", file=name, where=qid)
    qtype = raw.get("type")
    if qtype not in TYPES:
        raise RulebookError(f"type must be one of {', '.join(TYPES)}, not {qtype!r}",
                            file=name, where=qid)
    for needed in ("text", "help"):
        if not isinstance(raw.get(needed), str) or not raw[needed].strip():
            raise RulebookError(f"'{needed}' is missing: every question has its wording and a "
                                f"one-line help", file=name, where=qid)
    choices: list[tuple] = []
    if qtype == "choice":
        if not isinstance(raw.get("choices"), list) or not raw["choices"]:
            raise RulebookError("a choice question needs 'choices'", file=name, where=qid)
        for choice in raw["choices"]:
            if isinstance(choice, dict) and "value" in choice:
                choices.append((str(choice["value"]), str(choice.get("label", choice["value"]))))
            else:
                choices.append((str(choice), str(choice).replace("_", " ")))
    q = Question(
        id=qid, type=qtype, text=raw["text"].strip(), help=raw["help"].strip(), section=section,
        required=bool(raw.get("required", False)), red_flag=bool(raw.get("red_flag", False)),
        choices=tuple(choices), min=raw.get("min"), max=raw.get("max"),
        default=raw.get("default"), value_if_skipped=raw.get("value_if_skipped"),
        short_label=str(raw.get("label") or "").strip(),
    )
    alarming = raw.get("alarming", [])
    alarming = alarming if isinstance(alarming, list) else [alarming]
    for value in alarming:
        if not _fits(q, value):
            raise RulebookError(f"alarming value {value!r} is not a possible answer "
                                f"({q.describe_values()})", file=name, where=qid)
    if q.red_flag and not alarming:
        raise RulebookError("a red-flag question must list its alarming answer(s)", file=name,
                            where=qid)
    if q.default is not None and not _fits(q, q.default):
        raise RulebookError(f"default {q.default!r} is not a possible answer", file=name, where=qid)
    return _replace(q, alarming=tuple(alarming))


# --------------------------------------------------------------------------- reading files

def display_path(path) -> str:
    """A path as the user will recognise it: relative to the working directory when inside it."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def read_yaml(path: Path):
    """A rule file: the safe loader, duplicate keys refused, aliases allowed but their expansion
    bounded, size and nesting capped (reading.py)."""
    from .reading import decode_text, limits, parse_yaml, read_input_bytes

    name = display_path(path)
    data = read_input_bytes(str(path), limit=limits().max_file_bytes, what="a rule file",
                            error=RulebookError)
    return parse_yaml(decode_text(data, name, error=RulebookError), name, aliases=True,
                      error=RulebookError)


def read_answers_text(text: str, source: str):
    """Parse an answers document: JSON, or YAML (of which JSON is nearly a subset)."""
    from .reading import parse_answers_text

    return parse_answers_text(text, source)


def read_answers_file(path: str):
    """The raw answers of a file, or of standard input for '-'; validation is separate. Size,
    encoding, duplicate keys, aliases and nesting are checked as it is read (reading.py)."""
    from .reading import read_answers_document

    return read_answers_document(path)
