"""Random mutations of valid SRD entries: validate, or a ContentValidationError naming the field."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from questlog.content.problems import path_part
from questlog.content.validation import validate_pack
from questlog.errors import ContentValidationError

SAMPLE_TYPES = ("spells", "monsters", "equipment", "magic-items", "features", "classes",
                "levels", "races", "traits", "rules")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def samples(srd_dir: Path) -> dict[str, list[dict[str, Any]]]:
    result = {}
    for type_name in SAMPLE_TYPES:
        name = "5e-SRD-" + "-".join(p.capitalize() for p in type_name.split("-")) + ".json"
        result[type_name] = json.loads((srd_dir / name).read_text("utf-8"))[:40]
    return result


def _mutate(entry: dict[str, Any], data: st.DataObject) -> tuple[dict[str, Any], str]:
    """Change one thing somewhere in the entry; return it and the top-level field touched."""
    entry = copy.deepcopy(entry)
    kind = data.draw(st.sampled_from(["replace", "delete", "add", "nested"]))
    key = data.draw(st.sampled_from(sorted(entry)))
    if kind == "replace":
        entry[key] = data.draw(json_values)
    elif kind == "delete":
        del entry[key]
    elif kind == "add":
        key = data.draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in entry))
        entry[key] = data.draw(json_values)
    else:
        value = entry[key]
        while isinstance(value, (dict, list)) and value:
            if isinstance(value, dict):
                inner = data.draw(st.sampled_from(sorted(value)))
            else:
                inner = data.draw(st.integers(0, len(value) - 1))
            if not isinstance(value[inner], (dict, list)) or not value[inner] \
                    or data.draw(st.booleans()):
                value[inner] = data.draw(json_values)
                break
            value = value[inner]
        else:
            entry[key] = data.draw(json_values)
    return entry, key


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_validate_or_name_the_field(samples: dict[str, list[dict[str, Any]]],
                                              data: st.DataObject) -> None:
    type_name = data.draw(st.sampled_from(SAMPLE_TYPES))
    original = data.draw(st.sampled_from(samples[type_name]))
    mutated, key = _mutate(original, data)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / f"{type_name}.json").write_text(json.dumps([mutated]), "utf-8")
        pack = validate_pack(tmp, pack="fuzz")
        try:
            pack.raise_if_invalid()
        except ContentValidationError as exc:
            event("refused")
            assert pack.entries == []
            # every problem names the mutated field (a dotted path starting with it)
            named = path_part(key)
            assert exc.problems
            for problem in exc.problems:
                assert problem.file == f"{type_name}.json"
                assert problem.field == named or problem.field.startswith(named + "."), \
                    (problem, key)
        else:
            event("accepted")
            assert len(pack.entries) == 1 and pack.entries[0].data == mutated


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_any_file_text_is_reported_not_raised(tmp_path: Path, text: str) -> None:
    (tmp_path / "spells.json").write_text(text, "utf-8")
    pack = validate_pack(tmp_path, pack="fuzz")
    assert all(p.file == "spells.json" for p in pack.problems)
    if pack.problems:
        with pytest.raises(ContentValidationError):
            pack.raise_if_invalid()
