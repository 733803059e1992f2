"""The plain-dict fast path of event validation accepts only what NewEvent accepts, with
the same values; everything else goes to pydantic, which words the refusal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from questlog import NewEvent
from questlog.errors import InvalidEvent
from questlog.events import plain_new_event
from questlog.planner import encode_event

_id = uuid.UUID("0190f2a4-7b1c-7d2e-8f00-0123456789ab")
field_values: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["T", "Game.Started_2", "", "1x", "a b", "x" * 100, "x" * 101,
                             "é", 5, None, b"T"]),
    "data": st.sampled_from([{}, {"a": 1}, {1: "a"}, [], None, "x", {"a": {"b": [1]}}]),
    "metadata": st.sampled_from([{}, {"actor": "u"}, {(1,): 2}, 3]),
    "event_id": st.sampled_from([str(_id), str(_id).upper(), _id.hex, f"{{{_id}}}", _id,
                                 "not-a-uuid", 7, None, ""]),
    "schema_version": st.sampled_from([1, 0, 10_000, 10_001, -1, True, 2.0, "2", None]),
    "extra": st.sampled_from([1]),
}
candidates = st.fixed_dictionaries({}, optional=field_values)


def _pydantic(value: dict[str, Any]) -> NewEvent | None:
    try:
        return NewEvent.model_validate(value)
    except ValidationError:
        return None


@settings(max_examples=3000, deadline=None)
@given(value=candidates)
def test_fast_path_accepts_only_what_pydantic_accepts_with_the_same_values(
        value: dict[str, Any]) -> None:
    fast = plain_new_event(value)
    model = _pydantic(value)
    if fast is None:
        return
    assert model is not None, f"fast path accepted what NewEvent refuses: {value!r}"
    type_, data, metadata, event_id, version, id_given = fast
    assert (type_, data, metadata, version) == (model.type, model.data, model.metadata,
                                                model.schema_version)
    assert id_given == ("event_id" in model.model_fields_set)
    if id_given:
        assert event_id == str(model.event_id)


@settings(max_examples=2000, deadline=None)
@given(value=candidates)
def test_encode_event_accepts_and_refuses_as_pydantic_does(value: dict[str, Any]) -> None:
    model = _pydantic(value)
    if model is None:
        with pytest.raises(InvalidEvent):
            encode_event(value)
        return
    encoded = encode_event(value)
    reference = encode_event(model)
    assert (encoded.type, encoded.schema_version, encoded.data_json, encoded.metadata_json,
            encoded.id_given) == (reference.type, reference.schema_version, reference.data_json,
                                  reference.metadata_json, reference.id_given)
    if encoded.id_given:
        assert encoded.event_id == reference.event_id


def test_ordinary_dicts_take_the_fast_path() -> None:
    assert plain_new_event({"type": "HitPointsChanged", "data": {"delta": -3}}) is not None
    assert plain_new_event({"type": "T", "event_id": str(_id), "schema_version": 2,
                            "metadata": {"actor": "dm"}}) is not None


def test_the_fast_path_copies_data_as_pydantic_does() -> None:
    data = {"a": 1}
    fast = plain_new_event({"type": "T", "data": data})
    assert fast is not None and fast[1] == data and fast[1] is not data
