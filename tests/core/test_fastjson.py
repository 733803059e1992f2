"""The fast canonical encoder writes exactly the reference encoder's bytes (so no stored
hash changes), refuses what it refused, and the fast decoder reads what json.loads reads."""

from __future__ import annotations

import enum
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questlog import fastjson
from questlog.errors import InvalidEvent
from questlog.planner import encode_event

# Text that reaches every escaping rule: control characters, quotes, backslashes, the
# JSON-special line separators, astral characters, and the edges of the BMP.
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=24) | st.sampled_from(
    ["", "\x00", "\x1f", "\x7f", "\u2028\u2029", '"\\/', "\b\f\n\r\t", "\ufffe\uffff",
     "\U0001f600", "é", "e-5", "0.00001", "null", "1e-05"])
floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 1e-4, 1e-5, 2.5e-7, 1e15, 1e16, 1e22, 5e-324, 1.7976931348623157e308, 0.1])
integers = (st.integers(-(2**70), 2**70) | st.sampled_from(
    [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30]))
scalars = st.none() | st.booleans() | integers | floats | text
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5),
    max_leaves=40)
objects = st.dictionaries(text, values, max_size=8)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=objects)
def test_fast_encoding_equals_the_reference_bytes(value: dict[str, Any]) -> None:
    assert fastjson.canonical(value) == fastjson.REFERENCE.encode(value)
    fast = fastjson.canonical_bytes(value)
    if fast is not None:
        assert fast.decode("utf-8") == fastjson.REFERENCE.encode(value)


@settings(max_examples=1000, deadline=None)
@given(value=values)
def test_fast_encoding_of_any_value_equals_the_reference(value: Any) -> None:
    assert fastjson.canonical(value) == fastjson.REFERENCE.encode(value)


@settings(max_examples=2000, deadline=None)
@given(value=objects)
def test_fast_decoding_equals_json_loads(value: dict[str, Any]) -> None:
    stored = fastjson.REFERENCE.encode(value)
    decoded = fastjson.loads(stored)
    assert decoded == json.loads(stored)
    assert fastjson.REFERENCE.encode(decoded) == stored  # types kept: big ints stay ints


def test_the_fast_path_is_taken_for_ordinary_values() -> None:
    assert fastjson.canonical_bytes({"b": [1, 2.5, None], "a": {"é": "x\n"}}) is not None


class Colour(enum.Enum):
    RED = "red"


@pytest.mark.parametrize("value", [
    {"x": math.nan}, {"x": [math.inf]}, {"x": uuid.uuid4()}, {"x": Colour.RED},
    {1: "int key"}, {"x": (1, 2)}, {"x": 1e-5}, {"x": 2**64}, {"x": "\ud800"},
])
def test_values_orjson_writes_otherwise_go_to_the_reference(value: dict[Any, Any]) -> None:
    assert fastjson.canonical_bytes(value) is None
    try:
        expected: str | type[Exception] = fastjson.REFERENCE.encode(value)
    except (TypeError, ValueError) as exc:
        expected = type(exc)
    if isinstance(expected, str):
        assert fastjson.canonical(value) == expected
    else:
        with pytest.raises(expected):
            fastjson.canonical(value)


@pytest.mark.parametrize("bad", [{"x": math.nan}, {"x": uuid.uuid4()}, {"x": Colour.RED},
                                 {"x": "\ud800"}])
def test_an_event_with_unencodable_data_is_still_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent):
        encode_event({"type": "T", "data": bad})


def test_long_integers_and_out_of_range_numbers_decode_as_json_loads_does() -> None:
    assert fastjson.loads('{"n":123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890}
    assert fastjson.loads('[1e400]') == json.loads('[1e400]')
