"""A batch row read by the fast reader (`reading.parse_row`, orjson for the usual flat row) is
read exactly as the standard reader (`reading.parse_json`) reads it: the same value, or the same
error message. What is at stake is the hostile-input promise of docs/integrators/limits.md: a key given
twice is an error, never a later answer quietly replacing an earlier one; an overlong number is
refused, never read as a rounded float."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from triage.errors import AnswersError
from triage.reading import Limits, limits, parse_json, parse_row
from support import depth

LIM = limits()


def _standard(text: str, lim=LIM):
    try:
        return "value", parse_json(text, None, where="line 7", lim=lim)
    except AnswersError as exc:
        return "error", exc.message


def _fast(text: str, lim=LIM):
    try:
        return "value", parse_row(text, "line 7", lim)
    except AnswersError as exc:
        return "error", exc.message


def _same(text: str, lim=LIM):
    fast, standard = _fast(text, lim), _standard(text, lim)
    assert fast == standard, text
    # equal as Python values is not enough for JSON: True == 1 and 1 == 1.0
    if fast[0] == "value" and isinstance(fast[1], dict):
        assert [type(v) for v in fast[1].values()] == [type(v) for v in standard[1].values()]
    return fast


CORNERS = {
    "a usual row": ('{"case_id": "c1", "age": 41, "trauma": "none", "fever": false, '
                    '"notes": null}', "value"),
    "a key twice": ('{"fever": true, "fever": false}', "error"),
    "a key twice, a space before one colon": ('{"fever":true,"fever" :false}', "error"),
    "a key twice, the colon count made up by a colon in a string":
        ('{"fever": true, "fever" : false, "notes": "at 9:30"}', "error"),
    "a key twice with a nested value dropped": ('{"a": {"b": 1}, "a": 2}', "error"),
    "a key twice with a list dropped": ('{"a": [1], "a": 2}', "error"),
    "a colon in a string": ('{"notes": "worse at 9:30"}', "value"),
    "a colon in a key": ('{"a:b": 1}', "value"),
    "21 digits": ('{"age": 123456789012345678901}', "error"),
    "20 digits, over 64 bits": ('{"age": 99999999999999999999}', "value"),
    "20 digits, within 64 bits": ('{"age": 18446744073709551615}', "value"),
    "64-bit minimum": ('{"age": -9223372036854775808}', "value"),
    "below the 64-bit minimum": ('{"age": -9223372036854775809}', "value"),
    "a float": ('{"sitting_hours": 7.5}', "value"),
    "a float beside a whole number past 64 bits": ('{"a": 1.5, "b": 99999999999999999999}',
                                                   "value"),
    "a float beside 19 digits below the 64-bit minimum": (
        '{"a": 1.5, "b": -9999999999999999999}', "value"),
    "a float of 18 digits in all": ('{"a": 0.12345678901234567}', "value"),
    "a float of 19 digits in all": ('{"a": 0.123456789012345678}', "value"),
    "floats and digits elsewhere": ('{"case_id": "case-123456", "age": 41, "duration_weeks": '
                                    '17.5, "sitting_hours": 10.0}', "value"),
    "a float of 101 characters": ('{"sitting_hours": 1.' + "0" * 99 + "}", "error"),
    "an exponent": ('{"sitting_hours": 1e2}', "value"),
    "infinity": ('{"sitting_hours": 1e400}', "value"),
    "NaN": ('{"age": NaN}', "value"),
    "an escape": ('{"notes": "a \\"quote\\""}', "value"),
    "a lone surrogate": ('{"notes": "\\ud800"}', "error"),
    "non-ASCII": ('{"notes": "douleur après"}', "value"),
    "nested": ('{"a": {"b": {"c": 1}}}', "value"),
    "a list": ('{"a": [1, 2]}', "value"),
    "a list holding a float": ('{"a": [1.5, 2]}', "value"),
    "lists nested past the depth cap": ('{"a": ' + "[" * 40 + "1.5" + "]" * 40 + "}", "error"),
    "not an object": ('[1, 2]', "value"),
    "a bare number": ("42", "value"),
    "empty object": ("{}", "value"),
    "trailing comma": ('{"a": 1,}', "error"),
    "leading zero": ('{"a": 01}', "error"),
    "control character in a string": ('{"a": "\t"}', "error"),
    "two objects": ('{"a": 1} {"b": 2}', "error"),
    "surrounding whitespace": ('  {"a": 1}\r ', "value"),
    "not JSON": ("age: 41", "error"),
}


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_the_fast_row_reader_reads_each_corner_as_the_standard_reader(name):
    text, kind = CORNERS[name]
    assert _same(text)[0] == kind


def test_a_key_given_twice_is_the_rows_error_naming_the_key():
    kind, message = _fast('{"saddle_numbness": true, "saddle_numbness" :false}')
    assert kind == "error" and "saddle_numbness" in message and "twice" in message


def test_an_overlong_number_is_refused_not_rounded():
    kind, message = _fast('{"age": 123456789012345678901}')
    assert kind == "error" and "21 digits" in message


@pytest.mark.parametrize("digits", [1, 5, 19])
def test_a_lower_whole_number_cap_is_honoured(digits):
    lim = Limits(max_int_digits=digits)
    assert _same('{"age": 12345678901234567890}', lim)[0] == "error"
    assert _same('{"age": 1}', lim) == ("value", {"age": 1})


# generated rows: keys from a small set (so that some repeat), values of every JSON kind, the
# separators varied, and now and then a colon, quote, escape or non-ASCII letter in a string
_KEYS = st.sampled_from(["age", "fever", "notes", "a:b", "trauma", "x"])
_SCALARS = st.one_of(
    st.booleans(), st.none(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.sampled_from(['a', ' ', ':', '"', '\\', 'é', '\ud800', '9', '\t']),
            max_size=6))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=2), st.dictionaries(_KEYS, inner, max_size=2)), max_leaves=4)


@st.composite
def _rows(draw):
    members = draw(st.lists(st.tuples(_KEYS, _VALUES), max_size=6))
    colon = draw(st.sampled_from([": ", ":", " :", " : "]))
    comma = draw(st.sampled_from([", ", ","]))
    ascii_only = draw(st.booleans())
    parts = []
    for key, value in members:
        encoded = json.dumps(value, ensure_ascii=ascii_only)
        parts.append(f"{json.dumps(key)}{colon}{encoded}")
    return "{" + comma.join(parts) + "}"


ROWS = settings(max_examples=depth(1500), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@ROWS
@given(_rows())
@example('{"fever": true, "fever" :false}')
@example('{"age": 99999999999999999999}')
def test_the_fast_row_reader_agrees_with_the_standard_reader_on_generated_rows(text):
    _same(text)


@ROWS
@given(st.text(alphabet=st.sampled_from(list('{}[]":, 019.eE-tfalsenuix\\')), max_size=30))
def test_the_fast_row_reader_agrees_on_generated_near_json(text):
    _same(text)
