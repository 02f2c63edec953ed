"""Reading what users hand us (answers files, batch rows, rule files) without surprises.

Everything a user can give `triage` is read through here, so that hostile or unlucky input ends
in one clear error (a ``TriageError``: exit 2) and never in a hang, a memory blow-up or a silently
wrong answer:

* **size**: an answers file (or standard input) is read up to ``max_file_bytes`` and a batch
  record up to ``max_record_bytes``; more is an error, never read into memory;
* **text**: UTF-8 only (a UTF-8 byte-order mark is allowed); UTF-16 and stray bytes are errors
  naming the line; a lone surrogate (``"\\ud800"`` in JSON) is refused, since no file can hold it;
* **duplicate keys** are errors naming the key and both lines (YAML and JSON: a later
  ``saddle_numbness: no`` must never quietly replace an earlier ``yes``);
* **YAML**: the safe loader, with no aliases at all in answers and a bounded expansion in rule
  files (an alias bomb is refused before it is built); whole numbers only in plain decimal
  (YAML 1.1 would read ``042`` as 34 and ``1:30`` as 90);
* **nesting depth** and **integer digits** are capped.

The limits can be raised with environment variables (docs/integrators/limits.md).
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys

from .errors import AnswersError, TriageError
from .records import Record, fill

MiB = 1024 * 1024


class Limits(Record):
    # max_file_bytes: an answers file, or standard input
    # max_record_bytes: one row of a batch input (a JSONL line, a CSV record)
    # max_depth: nesting of mappings and lists
    # max_int_digits: digits of a whole number
    # max_yaml_nodes: values of a rule file once its aliases are expanded
    _fields = ("max_file_bytes", "max_record_bytes", "max_depth", "max_int_digits",
               "max_yaml_nodes")

    def __init__(self, max_file_bytes: int = 1 * MiB, max_record_bytes: int = 1 * MiB,
                 max_depth: int = 32, max_int_digits: int = 20, max_yaml_nodes: int = 200_000):
        fill(self, max_file_bytes, max_record_bytes, max_depth, max_int_digits, max_yaml_nodes)

    ENV = {"max_file_bytes": "TRIAGE_MAX_FILE_BYTES",
           "max_record_bytes": "TRIAGE_MAX_RECORD_BYTES",
           "max_depth": "TRIAGE_MAX_DEPTH",
           "max_int_digits": "TRIAGE_MAX_INT_DIGITS",
           "max_yaml_nodes": "TRIAGE_MAX_YAML_NODES"}


def limits() -> Limits:
    """The limits in force: the defaults, each overridable by its environment variable."""
    values = {}
    for name, variable in Limits.ENV.items():
        text = os.environ.get(variable)
        if text is None or not text.strip():
            continue
        try:
            value = int(text.strip())
        except ValueError:
            value = 0
        if value < 1:
            raise TriageError(f"{variable} must be a positive whole number, not "
                              f"{shorten(text)}")
        values[name] = value
    return Limits(**values)


def size_words(n: int) -> str:
    if n % MiB == 0:
        return f"{n // MiB} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


# --------------------------------------------------------------------------- quoting values

def shorten(value, width: int = 60) -> str:
    """A value as an error message quotes it: repr'd (so on one line), and cut to `width`
    characters with its full length said, so that a 10 MB value never fills the screen."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<a whole number of about {int(value.bit_length() * 0.30103) + 1} digits>"
    if isinstance(value, (dict, list, tuple)) and len(value) > 20:
        return f"<a {type(value).__name__} of {len(value)} items>"
    text = repr(value)
    if len(text) <= width:
        return text
    more = f" ({len(value)} characters)" if isinstance(value, (str, bytes)) else ""
    return text[: width - 3] + "..." + more


# --------------------------------------------------------------------------- bytes and text

def read_input_bytes(path: str, *, limit: int, what: str = "an answers file",
                     error=AnswersError, variable: str = "TRIAGE_MAX_FILE_BYTES") -> bytes:
    """The bytes of `path` ('-': standard input), at most `limit` of them, else an error."""
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            stream = sys.stdin
            if stream is None:
                raise error("standard input is closed: give a file name, or pipe the answers in",
                            file=source)
            data = stream.buffer.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except FileNotFoundError:
        raise error("no such file", file=source) from None
    except IsADirectoryError:
        raise error("is a directory, not a file", file=source) from None
    except (OSError, ValueError) as exc:  # ValueError: a closed standard input
        reason = getattr(exc, "strerror", None) or str(exc)
        raise error(f"cannot read: {reason}", file=source) from None
    if len(data) > limit:
        raise error(f"larger than the {size_words(limit)} limit for {what}; set {variable} "
                    f"to raise it", file=source)
    return data


def decode_text(data: bytes, source: str, *, error=AnswersError, first_line: int = 1) -> str:
    """UTF-8 text (an optional byte-order mark dropped), or an error naming the line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error("is UTF-16 text; save it as UTF-8", file=source)
    try:
        return data.decode("utf-8-sig" if first_line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        raise error(f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as "
                    f"UTF-8", file=source) from None


# --------------------------------------------------------------------------- structure

def check_structure(value, source: str, *, error=AnswersError, max_depth: int | None = None,
                    surrogates: bool = True):
    """Refuse nesting deeper than the limit and strings no file can hold (lone surrogates).
    `surrogates=False`: the value was parsed from text that cannot hold one (ASCII JSON with no
    ``\\u`` escape)."""
    max_depth = max_depth or limits().max_depth
    if value.__class__ is dict and max_depth >= 1:  # the usual case: one flat object of answers
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                break  # nested: the general walk below
            if surrogates and (isinstance(item, str) and _has_surrogate(item)
                               or isinstance(key, str) and _has_surrogate(key)):
                break  # the walk below names it
        else:
            return value
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                raise error(f"the text {shorten(item)} holds a lone surrogate (an invalid "
                            f"character, e.g. \\ud800)", file=source)
            continue
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise error(f"nested more than {max_depth} levels deep; set TRIAGE_MAX_DEPTH to "
                        f"raise the limit", file=source)
        stack.extend((child, depth + 1) for child in children)
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return bool(_SURROGATE.search(text))


# --------------------------------------------------------------------------- JSON

class _Duplicate(Exception):
    def __init__(self, key):
        self.key = key


class _Refused(Exception):
    """A number the limits refuse, found while parsing (the message is completed by parse_json)."""


def _object(pairs):
    """A JSON object as a dict, refusing a key given twice (the pairs are counted in C; the
    duplicate is looked for only when there is one)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return out


_DECODERS: dict[int, json.JSONDecoder] = {}


def _decoder(max_int_digits: int) -> json.JSONDecoder:
    """One decoder per digit limit, made once: building one per line cost as much as parsing."""
    decoder = _DECODERS.get(max_int_digits)
    if decoder is None:
        def parse_int(digits: str):
            if len(digits) > max_int_digits and len(digits.lstrip("-")) > max_int_digits:
                raise _Refused(f"a whole number of {len(digits.lstrip('-'))} digits "
                               f"({shorten(digits, 30)}); at most {max_int_digits} are read")
            return int(digits)

        def parse_float(text: str):
            if len(text) > 100:
                raise _Refused(f"a number of {len(text)} characters ({shorten(text, 30)})")
            return float(text)

        decoder = _DECODERS[max_int_digits] = json.JSONDecoder(
            object_pairs_hook=_object, parse_int=parse_int, parse_float=parse_float)
    return decoder


def parse_json(text: str, source: str, *, error=AnswersError, where: str | None = None,
               lim: Limits | None = None):
    """A JSON document, with duplicate keys, overlong integers, deep nesting and lone
    surrogates refused (each an `error` naming `source`)."""
    lim = lim or limits()
    try:
        value = _decoder(lim.max_int_digits).decode(text)
    except json.JSONDecodeError as exc:
        raise error(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                    file=source, where=where) from None
    except _Refused as refused:
        raise error(str(refused), file=source, where=where) from None
    except _Duplicate as dup:
        raise error(_duplicate_message(text, dup.key), file=source, where=where) from None
    except RecursionError:
        raise error(f"nested more than {lim.max_depth} levels deep; set TRIAGE_MAX_DEPTH to "
                    f"raise the limit", file=source, where=where) from None
    except ValueError as exc:  # e.g. Python's own cap on the digits of an int
        raise error(f"not valid JSON: {shorten(str(exc), 80)}", file=source,
                    where=where) from None
    # ASCII text with no \\u escape cannot give a lone surrogate, and text with no more
    # brackets than the depth limit cannot nest past it: then there is nothing left to check
    surrogates = not text.isascii() or "\\u" in text
    if not surrogates and text.count("{") + text.count("[") <= lim.max_depth:
        return value
    return check_structure(value, source, error=error, max_depth=lim.max_depth,
                           surrogates=surrogates) \
        if where is None else _check_row(value, source, error, where, lim, surrogates)


_ROW_SCALARS = frozenset({str, int, bool, type(None)})
_ROW_NUMBERS = _ROW_SCALARS | {float}
# bytes.translate deletes these, leaving the digits: a count in C (ten str.count calls: 5 times
# longer)
_NOT_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)


def parse_row(text: str, where: str, lim: Limits):
    """One batch row (a JSONL line) as parse_json(text, None, where=where, lim=lim) reads it,
    value for value and error for error, in less than half the time for the usual row.

    The usual row is one flat object of plain answers, and orjson reads it about four times
    faster than the standard library. orjson takes the last of two equal keys, though, and
    reads a whole number too long for 64 bits as a float, so its value is used only when nothing
    it could have let through is possible:

    * the text is ASCII with no backslash: no escape at all (orjson would refuse a lone
      surrogate too, but the standard reader is the one that names it);
    * the value is an object whose every member is a string, number, true, false or null: no
      nesting, so no depth to check (the depth cap is at least 1: ``limits()`` refuses less);
    * the text holds exactly as many colons as the object has keys: JSON puts one colon after
      every key it reads, so a key given twice (or a colon inside a string) makes more colons
      than keys;
    * the whole-number cap is at least 20 digits, the most a 64-bit number has;
    * when a member is a float, the whole text holds at most 18 digits: then no whole number
      was past 64 bits (which orjson would have made a float) and no number is anywhere near
      the standard reader's 100 characters.

    Anything else (including every error) is read again by parse_json, so its messages stay
    exactly the same. tests/test_row_reading.py compares the two on generated rows."""
    if lim.max_int_digits >= 20 and text.isascii() and "\\" not in text:
        try:
            value = _orjson_loads()(text)
        except ValueError:  # orjson.JSONDecodeError: let the standard reader name the problem
            pass
        else:
            if value.__class__ is dict and text.count(":") == len(value):
                kinds = set(map(type, value.values()))
                if kinds <= _ROW_SCALARS or (
                        kinds <= _ROW_NUMBERS
                        and len(text.encode().translate(None, _NOT_DIGITS)) <= 18):
                    return value
    return parse_json(text, None, where=where, lim=lim)


@functools.lru_cache(maxsize=None)
def _orjson_loads():
    """orjson.loads, imported on first use: it brings dataclasses, uuid and zoneinfo with it
    (5 to 25 ms), which only a batch pays, once per process."""
    import orjson
    return orjson.loads


def _check_row(value, source, error, where, lim, surrogates=True):
    try:
        return check_structure(value, source, error=error, max_depth=lim.max_depth,
                               surrogates=surrogates)
    except TriageError as exc:
        raise error(exc.problem, file=source, where=where) from None


def _duplicate_message(text: str, key) -> str:
    """Where a duplicate JSON key is: found again with the YAML composer, which knows lines."""
    try:
        parse_yaml(text, "<json>", aliases=False, error=AnswersError)
    except AnswersError as exc:
        if "appears twice" in exc.problem:
            return exc.problem
    except Exception:  # noqa: BLE001 - only a better message was at stake
        pass
    quoted = re.escape(json.dumps(key))
    lines = [text.count("\n", 0, m.start()) + 1
             for m in re.finditer(quoted + r"\s*:", text)][:2]
    where = f": lines {lines[0]} and {lines[1]}" if len(lines) == 2 else ""
    return f"key {shorten(key)} appears twice{where}; keep one of them"


# --------------------------------------------------------------------------- YAML

_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")


@functools.lru_cache(maxsize=None)
def _loader_class():
    """The safe loader, reading whole numbers only in plain decimal, with a cap on their digits
    (set per load). libyaml's parser when PyYAML was built with it (the wheels are): several
    times faster to start. Made on first use, so that a command reading no YAML (a JSON answers
    file, the rulebook from its cache) never imports yaml (about 10 ms of a start)."""
    import yaml

    class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        max_int_digits = Limits().max_int_digits

    _Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    return _Loader


def _construct_int(loader, node):
    import yaml

    text = node.value
    if not _PLAIN_INT.match(text):
        raise yaml.constructor.ConstructorError(
            None, None, f"{shorten(text)} is not a plain whole number: write it in decimal "
            f"without leading zeros (YAML would read 042 as 34 and 1:30 as 90)", node.start_mark)
    digits = len(text.lstrip("+-"))
    if digits > loader.max_int_digits:
        raise yaml.constructor.ConstructorError(
            None, None, f"a whole number of {digits} digits ({shorten(text, 30)}); at most "
            f"{loader.max_int_digits} are read", node.start_mark)
    return int(text)


def parse_yaml(text: str, source: str, *, aliases: bool, error=AnswersError,
               lim: Limits | None = None):
    """A YAML document (None if empty). Refused, each with `error` naming `source` and the line:
    duplicate keys, aliases (unless `aliases`; then their expansion is bounded), nesting beyond
    the limit, whole numbers in anything but plain decimal or with too many digits."""
    import yaml

    lim = lim or limits()
    loader = _loader_class()(text)
    loader.max_int_digits = lim.max_int_digits
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, source, aliases=aliases, error=error, lim=lim)
        value = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        problem = getattr(exc, "problem", None) or "cannot parse"
        if not isinstance(exc, yaml.constructor.ConstructorError):
            problem = f"not valid YAML: {problem}"
        raise error(problem, file=source, where=where) from None
    except RecursionError:
        raise error(f"nested more than {lim.max_depth} levels deep; set TRIAGE_MAX_DEPTH to "
                    f"raise the limit", file=source) from None
    finally:
        loader.dispose()
    return check_structure(value, source, error=error, max_depth=lim.max_depth)


def _check_nodes(root, source, *, aliases: bool, error, lim: Limits) -> None:
    """One walk over the node graph (each node once, so an alias bomb costs nothing): duplicate
    keys, aliases, nesting depth and the size of the expanded document."""
    import yaml

    size: dict[int, int] = {}  # id(node) -> values once expanded
    depth: dict[int, int] = {}
    state: dict[int, int] = {}  # 1: being walked, 2: done
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if not children_done:
            if state.get(key) == 2:
                if not aliases:
                    raise error(f"an alias (*name) repeats the value at line "
                                f"{node.start_mark.line + 1}; aliases are not allowed here",
                                file=source)
                continue
            if state.get(key) == 1:
                raise error("an alias refers to a value that contains it", file=source,
                            where=f"line {node.start_mark.line + 1}")
            state[key] = 1
            if isinstance(node, yaml.MappingNode):
                _check_duplicate_keys(node, source, error)
            stack.append((node, True))
            for child in children:
                if state.get(id(child)) == 2 and not aliases:
                    raise error(f"an alias (*name) repeats the value at line "
                                f"{child.start_mark.line + 1}; aliases are not allowed here",
                                file=source)
                if state.get(id(child)) != 2:
                    stack.append((child, False))
            continue
        state[key] = 2
        size[key] = 1 + sum(size[id(c)] for c in children)
        depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
        if size[key] > lim.max_yaml_nodes:
            raise error(f"more than {lim.max_yaml_nodes} values once its aliases are expanded; "
                        f"set TRIAGE_MAX_YAML_NODES to raise the limit", file=source,
                        where=f"line {node.start_mark.line + 1}")
        if depth[key] > lim.max_depth + 1:  # +1: the scalars at the bottom
            raise error(f"nested more than {lim.max_depth} levels deep; set TRIAGE_MAX_DEPTH "
                        f"to raise the limit", file=source,
                        where=f"line {node.start_mark.line + 1}")


def _children(node) -> list:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_duplicate_keys(node, source, error) -> None:
    import yaml

    seen: dict = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        ident = (key_node.tag, key_node.value)
        if ident in seen:
            first = seen[ident]
            raise error(f"key {shorten(key_node.value)} appears twice: line "
                        f"{first.start_mark.line + 1} and line {key_node.start_mark.line + 1}; "
                        f"keep one of them", file=source)
        seen[ident] = key_node


# --------------------------------------------------------------------------- answers documents

def parse_answers_text(text: str, source: str, *, lim: Limits | None = None):
    """An answers document: JSON, or YAML (a flow mapping `{age: 34}` is YAML, not bad JSON)."""
    lim = lim or limits()
    stripped = text.lstrip()
    if not stripped:
        raise AnswersError("empty: expected a JSON or YAML mapping of answers", file=source)
    if stripped.startswith("{"):
        try:
            return parse_json(text, source, lim=lim)
        except AnswersError as json_error:
            if not json_error.problem.startswith("not valid JSON"):
                raise
            try:  # YAML's flow mappings begin with "{" too
                return parse_yaml(text, source, aliases=False, lim=lim)
            except AnswersError:
                raise json_error from None
    return parse_yaml(text, source, aliases=False, lim=lim)


def read_answers_document(path: str):
    """The parsed answers document of a file, or of standard input for '-'."""
    lim = limits()
    source = "<stdin>" if path == "-" else path
    data = read_input_bytes(path, limit=lim.max_file_bytes)
    return parse_answers_text(decode_text(data, source), source, lim=lim)
