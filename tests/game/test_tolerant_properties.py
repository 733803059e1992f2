"""Hypothesis properties of tolerant reading, over the recorded session log.

- Any event of the log with random unknown fields (at every depth), or rewritten into the
  accepted variants of docs/game-events.md, reads (`data_of`, what projectors see) and
  folds to exactly what its written form gives; replayed into a store, the mutated log
  reaches the checked-in digests.
- No generated event (a logged event with fields dropped or replaced by random JSON) makes
  the reading, a fold or an inline projector raise anything but PoisonEvent; and the
  generic append refuses exactly the events that reading would call poison.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questlog import NewEvent, Store
from questlog.errors import InvalidEventPayload, PoisonEvent
from questlog.events import RecordedEvent
from questlog.game.fold import fold
from questlog.game.normalize import check_append
from questlog.game.projecting import data_of
from questlog.game.refs import condition_ref, slugify
from questlog.replay import replay_file

from .conftest import FIXTURES

LOG = FIXTURES / "game_session.jsonl"
DIGESTS = json.loads((FIXTURES / "game_session.digests.json").read_text())
LINES: list[dict[str, Any]] = [json.loads(line) for line in
                               LOG.read_text(encoding="utf-8").splitlines()]

# Free-form maps of the models: a key added there is data, not an unknown field.
FREE_MAPS = {"house_rules", "relationships", "slots_restored", "spell_slots_max",
             "spell_slots_max_after", "stats", "delta"}
# The content type a bare index or name takes in each ref field.
REF_TYPES = {"race": "races", "subrace": "subraces", "class": "classes",
             "subclass": "subclasses", "background": "backgrounds", "alignment": "alignments",
             "spells_known": "spells", "cantrips_known": "spells", "spell": "spells",
             "content_ref": "equipment", "monster_ref": "monsters", "ref": "features",
             "condition": "conditions", "added": "conditions", "removed": "conditions",
             "conditions": "conditions"}
OWN_IDS = {"CampaignCreated": "campaign_id", "CharacterCreated": "character_id",
           "EncounterStarted": "encounter_id"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=2),
    max_leaves=4)
extras = st.dictionaries(st.text("abcdefghij", min_size=1, max_size=6).map(lambda s: "zz_" + s),
                         json_values, min_size=1, max_size=3)


def recorded(lines: list[dict[str, Any]]) -> list[RecordedEvent]:
    versions: dict[str, int] = defaultdict(int)
    out = []
    for position, line in enumerate(lines, 1):
        stream = line["stream_id"]
        versions[stream] += 1
        out.append(RecordedEvent(
            position=position, event_id=line["event_id"], stream_id=stream,
            stream_version=versions[stream], category=stream.split("-", 1)[0],
            type=line["type"], schema_version=line.get("schema_version", 1), data=line["data"],
            metadata={}, recorded_at="2026-01-01T00:00:00Z", hash=""))
    return out


def folded(lines: list[dict[str, Any]]) -> dict[str, Any]:
    streams: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in recorded(lines):
        streams[event.stream_id].append(event)
    return {sid: fold(events[0].category, events).model_dump() for sid, events in streams.items()}


WRITTEN_READ = [data_of(e) for e in recorded(LINES)]
WRITTEN_FOLDED = folded(LINES)


def with_extras(value: Any, added: dict[str, Any], key: str | None = None) -> Any:
    """`added` put into every object of the payload that a model reads (not free maps)."""
    if isinstance(value, dict):
        out = {k: with_extras(v, added, k) for k, v in value.items()}
        if key not in FREE_MAPS:
            out.update(added)
        return out
    if isinstance(value, list):
        return [with_extras(v, added, key) for v in value]
    return value


def as_variant(event_type: str, stream: str, data: dict[str, Any]) -> dict[str, Any]:
    """The written payload rewritten into the other shapes the domain note allows."""
    d = shorten_refs(copy.deepcopy(data))
    own = OWN_IDS.get(event_type)
    if own and d.get(own) == stream.split("-", 1)[1]:
        del d[own]
    if event_type == "CampaignCreated" and d.get("starting_location", {}).get("description") == "":
        d["starting_location"] = d["starting_location"]["name"]
    if event_type == "CurrencyChanged":
        if set(d["delta"]) == {"gp"}:
            d["delta_gp"] = d.pop("delta")["gp"]
        if all(n == 0 for coin, n in d["balance_after"].items() if coin != "gp"):
            d["balance_after"] = d["balance_after"]["gp"]
    if event_type in ("CurrencyChanged", "ItemAdded", "ConditionApplied") and d.get("source"):
        d["source"] = {"description": d["source"]}
    source = d.get("source")
    if isinstance(source, dict) and set(k for k, v in source.items() if v) == {"description"}:
        d["source"] = source["description"]
    if event_type == "ItemAdded" and (d.get("content_ref") or {}).get("index") == d["item_id"]:
        del d["item_id"]
    if event_type == "DiceRollRequested" and len(d["character_ids"]) == 1:
        d["character_id"] = d.pop("character_ids")[0]
    if event_type == "CharacterCreated" and d.get("proficiencies"):
        d["proficiencies"] = {"skills": d["proficiencies"]}
    for spec in [*d.get("combatants", []), *([d["combatant"]] if "combatant" in d else [])]:
        for attack in spec.get("attacks", []):
            if attack.get("damage") is not None:
                attack["damage_dice"] = attack.pop("damage")
    if event_type == "CombatantJoined":
        d = {**d.pop("combatant"), **d}
    return d


def shorten_refs(value: Any, key: str | None = None) -> Any:
    """Refs that a bare index says completely become that index."""
    if isinstance(value, list):
        return [shorten_refs(v, key) for v in value]
    if not isinstance(value, dict):
        return value
    kind = REF_TYPES.get(key or "")
    if kind and {"type", "index", "name"} <= set(value) and value.get("pack") is None:
        index = value["index"]
        if kind == "conditions":
            if condition_ref(index).model_dump(mode="json") == value:
                return index
        elif (value["type"], value.get("homebrew", False)) == (kind, False) \
                and index == slugify(index) and value["name"] == index.replace("-", " ").title():
            return index
    return {k: shorten_refs(v, k) for k, v in value.items()}


def mutated(draw_indexes: set[int], extra: dict[str, Any], variants: bool) -> list[dict[str, Any]]:
    lines = copy.deepcopy(LINES)
    for i in draw_indexes:
        line = lines[i]
        data = as_variant(line["type"], line["stream_id"], line["data"]) if variants \
            else line["data"]
        line["data"] = with_extras(data, extra)
    return lines


indexes = st.sets(st.integers(0, len(LINES) - 1), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(chosen=indexes, extra=extras, variants=st.booleans())
def test_extra_fields_and_variants_read_and_fold_as_the_written_form(
        chosen: set[int], extra: dict[str, Any], variants: bool) -> None:
    lines = mutated(chosen, extra, variants)
    read = [data_of(e) for e in recorded(lines)]
    for i in chosen:
        assert read[i] == WRITTEN_READ[i], (LINES[i]["type"], lines[i]["data"])
    assert folded(lines) == WRITTEN_FOLDED


def test_every_event_of_the_log_has_a_variant_that_reads_the_same() -> None:
    """All 665 at once, variants and unknown fields everywhere (the deterministic worst case)."""
    lines = mutated(set(range(len(LINES))), {"zz_note": {"deep": [1, None]}}, True)
    changed = sum(a["data"] != b["data"] for a, b in zip(lines, LINES, strict=True))
    assert changed == len(LINES)
    assert [data_of(e) for e in recorded(lines)] == WRITTEN_READ
    assert folded(lines) == WRITTEN_FOLDED


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=indexes, extra=extras)
def test_a_mutated_log_projects_to_the_checked_in_digests(
        tmp_path_factory: pytest.TempPathFactory, chosen: set[int],
        extra: dict[str, Any]) -> None:
    lines = mutated(chosen, extra, True)
    folder = tmp_path_factory.mktemp("mutated")
    log = folder / "log.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    store = Store.open(folder / "m.db")
    try:
        replay_file(store, log)
        got = {k: v for k, v in store.projections.hashes().items() if k.startswith("game_")}
        assert got == DIGESTS
    finally:
        store.close()


# --- generated payloads: only PoisonEvent, and append refuses exactly those -------------

@st.composite
def broken(draw: st.DrawFn) -> tuple[int, dict[str, Any]]:
    i = draw(st.integers(0, len(LINES) - 1))
    data = copy.deepcopy(LINES[i]["data"])
    for key in draw(st.lists(st.sampled_from(sorted(data) or ["x"]), max_size=3)):
        if draw(st.booleans()):
            data.pop(key, None)
        else:
            data[key] = draw(json_values)
    return i, data


@settings(max_examples=300, deadline=None)
@given(case=broken())
def test_no_generated_event_makes_reading_or_folding_raise_but_poison(
        case: tuple[int, dict[str, Any]]) -> None:
    i, data = case
    line = LINES[i]
    prefix = [ln for ln in LINES[:i] if ln["stream_id"] == line["stream_id"]]
    events = recorded([*prefix, {**line, "data": data}])
    category = events[0].category
    poison = False
    try:
        data_of(events[-1])
    except PoisonEvent:
        poison = True
    try:
        fold(category, events)
    except PoisonEvent:
        pass
    refused = False
    try:
        check_append(line["stream_id"], category, line["type"], 1, data)
    except InvalidEventPayload:
        refused = True
    assert refused == poison   # strict append and tolerant reading have the same tolerance


def test_no_generated_event_makes_an_inline_projector_raise_but_poison(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "fuzz.db")
    try:
        replay_file(store, LOG)

        @settings(max_examples=60, deadline=None)
        @given(case=broken())
        def append_one(case: tuple[int, dict[str, Any]]) -> None:
            i, data = case
            line = LINES[i]
            try:   # every game read model is inline: it reads the event in the append
                store.append(line["stream_id"], [NewEvent(type=line["type"], data=data)],
                             validate=False)
            except PoisonEvent:
                pass

        append_one()
    finally:
        store.close()
