"""Strict on commands, tolerant on recorded events (issue 16, points 1 and 2).

- every shape the domain note allows reads as the one questlog writes (one test each);
- the generic append refuses a known game event that the game could not read, on the
  Python API (sync and async), the CLI and HTTP (422), and writes nothing;
- `validate=False` trusts recorded facts; a hopeless one raises PoisonEvent, never KeyError;
- the README's first example runs as written and gives a campaign in the read models.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from questlog import NO_STREAM, NewEvent, Store
from questlog.cli import cli
from questlog.errors import (
    InvalidEvent,
    InvalidEventPayload,
    PoisonEvent,
    ProjectionError,
    StreamNotFound,
)
from questlog.events import RecordedEvent
from questlog.game.fold import fold
from questlog.game.normalize import canonical_data
from questlog.game.projecting import data_of
from questlog.http import create_app
from questlog.settings import Settings

REPO = Path(__file__).resolve().parent.parent.parent


def canon(event_type: str, data: dict[str, Any], stream: str = "x-1",
          schema_version: int | None = None) -> dict[str, Any]:
    from questlog.game.registry import current_version

    return canonical_data(event_type, schema_version or current_version(event_type), data,
                          stream_id=stream)


def ref(type_: str, index: str, name: str, homebrew: bool = False) -> dict[str, Any]:
    return {"type": type_, "index": index, "name": name, "homebrew": homebrew, "pack": None}


CHARACTER = {"campaign_id": "c1", "character_id": "aria", "name": "Aria", "max_hp": 10,
             "current_hp": 10}
COMBATANT = {"combatant_id": "gob1", "kind": "monster", "name": "Goblin", "hp": 7, "max_hp": 7}
HIT = {"amount": 3, "hp_before": 10, "hp_after": 7}
PURSE = {"cp": 0, "sp": 0, "ep": 0, "gp": 12, "pp": 0}

# (what the note allows, the form questlog writes, a field to look at, its expected value)
VARIANTS: list[tuple[str, str, dict[str, Any], dict[str, Any], str, Any]] = [
    # CurrencyChanged: per-coin delta or delta_gp; balance_after as gold or per coin
    ("CurrencyChanged", "character-aria", {"delta_gp": 5, "balance_after": PURSE},
     {"delta": {"gp": 5}, "balance_after": PURSE}, "delta", {"gp": 5}),
    ("CurrencyChanged", "character-aria", {"delta_gp": -1.25, "balance_after": PURSE},
     {"delta": {"gp": -1, "sp": -2, "cp": -5}, "balance_after": PURSE}, "delta",
     {"gp": -1, "sp": -2, "cp": -5}),
    ("CurrencyChanged", "character-aria", {"delta": {"gold": 2}, "balance_after": {"gold": 12}},
     {"delta": {"gp": 2}, "balance_after": PURSE}, "delta", {"gp": 2}),
    ("CurrencyChanged", "character-aria", {"delta": {"gp": 2}, "balance_after": 12},
     {"delta": {"gp": 2}, "balance_after": PURSE}, "balance_after", PURSE),
    # refs as objects, bare indexes or names: races, classes, spells, features, items
    ("CharacterCreated", "character-aria", {**CHARACTER, "race": "half-elf"},
     {**CHARACTER, "race": ref("races", "half-elf", "Half Elf")}, "race",
     ref("races", "half-elf", "Half Elf")),
    ("CharacterCreated", "character-aria", {**CHARACTER, "race": "Hill Dwarf"},
     {**CHARACTER, "race": ref("races", "hill-dwarf", "Hill Dwarf")}, "race",
     ref("races", "hill-dwarf", "Hill Dwarf")),
    ("CharacterCreated", "character-aria",
     {**CHARACTER, "class": {"index": "rogue", "name": "Rogue", "url": "/api/classes/rogue"}},
     {**CHARACTER, "class": ref("classes", "rogue", "Rogue")}, "class",
     ref("classes", "rogue", "Rogue")),
    ("CharacterCreated", "character-aria",
     {**CHARACTER, "spells_known": ["fireball", "Magic Missile"]},
     {**CHARACTER, "spells_known": [ref("spells", "fireball", "Fireball"),
                                    ref("spells", "magic-missile", "Magic Missile")]},
     "spells_known", [ref("spells", "fireball", "Fireball"),
                      ref("spells", "magic-missile", "Magic Missile")]),
    ("CharacterCreated", "character-aria",
     {**CHARACTER, "features": ["second-wind", {"type": "features", "index": "rage",
                                                "name": "Rage"}]},
     {**CHARACTER, "features": [{"name": "Second Wind"},
                                {"name": "Rage", "ref": ref("features", "rage", "Rage")}]},
     "features", [{"name": "Second Wind", "description": "", "level": None, "ref": None},
                  {"name": "Rage", "description": "", "level": None,
                   "ref": ref("features", "rage", "Rage")}]),
    ("CharacterCreated", "character-aria",
     {**CHARACTER, "inventory": ["Torch", {"equipment": {"index": "dagger", "name": "Dagger"},
                                           "quantity": 2}]},
     {**CHARACTER, "inventory": [
         {"item_id": "torch", "name": "Torch"},
         {"item_id": "dagger", "name": "Dagger", "quantity": 2,
          "content_ref": ref("equipment", "dagger", "Dagger")}]},
     "inventory", None),
    ("LevelGained", "character-aria",
     {"level_after": 2, "hp_gained": 6, "max_hp_after": 16,
      "features_gained": [{"index": "action-surge", "name": "Action Surge"}],
      "subclass": "champion"},
     {"level_after": 2, "hp_gained": 6, "max_hp_after": 16,
      "features_gained": [{"name": "Action Surge",
                           "ref": ref("features", "action-surge", "Action Surge")}],
      "subclass": ref("subclasses", "champion", "Champion")}, "subclass",
     ref("subclasses", "champion", "Champion")),
    ("SpellSlotExpended", "character-aria", {"slot_level": 1, "spell": "cure-wounds",
                                             "slots_remaining": 1},
     {"slot_level": 1, "spell": ref("spells", "cure-wounds", "Cure Wounds"),
      "slots_remaining": 1}, "spell", ref("spells", "cure-wounds", "Cure Wounds")),
    ("ItemAdded", "character-aria", {"content_ref": "potion-of-healing", "source": {
        "description": "looted"}},
     {"item_id": "potion-of-healing", "name": "Potion Of Healing", "source": "looted",
      "content_ref": ref("equipment", "potion-of-healing", "Potion Of Healing")},
     "item_id", "potion-of-healing"),
    # conditions: bare names or refs, in ConditionApplied/Removed and in condition lists
    ("ConditionApplied", "character-aria", {"condition": "Poisoned"},
     {"condition": ref("conditions", "poisoned", "Poisoned")}, "condition",
     ref("conditions", "poisoned", "Poisoned")),
    ("ConditionRemoved", "character-aria", {"condition": {"index": "prone", "name": "Prone"}},
     {"condition": ref("conditions", "prone", "Prone")}, "condition",
     ref("conditions", "prone", "Prone")),
    ("CombatantConditionsChanged", "encounter-e1",
     {"combatant_id": "gob1", "added": ["prone", "defeated"], "removed": "poisoned"},
     {"combatant_id": "gob1", "added": [ref("conditions", "prone", "Prone"),
                                        ref("conditions", "defeated", "Defeated", True)],
      "removed": [ref("conditions", "poisoned", "Poisoned")]}, "removed",
     [ref("conditions", "poisoned", "Poisoned")]),
    ("EncounterStarted", "encounter-e1",
     {"campaign_id": "c1", "combatants": [{**COMBATANT, "conditions": ["invisible"]}]},
     {"encounter_id": "e1", "campaign_id": "c1",
      "combatants": [{**COMBATANT, "conditions": [ref("conditions", "invisible", "Invisible")]}]},
     "encounter_id", "e1"),
    # source as a string or as an object
    ("DamageTaken", "character-aria", {**HIT, "source": "a falling rock"},
     {**HIT, "source": {"description": "a falling rock"}}, "source",
     {"attacker_id": None, "attacker_name": None, "weapon_or_spell": None,
      "description": "a falling rock"}),
    ("ConditionApplied", "character-aria",
     {"condition": "frightened", "source": {"attacker_name": "Ghoul", "weapon_or_spell": "Gaze"}},
     {"condition": "frightened", "source": "Ghoul / Gaze"}, "source", "Ghoul / Gaze"),
    ("CurrencyChanged", "character-aria",
     {"delta": {"gp": 1}, "balance_after": PURSE, "source": {"description": "quest reward"}},
     {"delta": {"gp": 1}, "balance_after": PURSE, "source": "quest reward"}, "source",
     "quest reward"),
    # a combatant flat or nested; attack damage as damage or damage_dice
    ("CombatantJoined", "encounter-e1", {**COMBATANT, "reason": "summoned"},
     {"combatant": COMBATANT, "reason": "summoned"}, "reason", "summoned"),
    ("CombatantJoined", "encounter-e1",
     {"combatant": {**COMBATANT, "attacks": [{"name": "Scimitar", "damage_dice": "1d6+2"}]}},
     {"combatant": {**COMBATANT, "attacks": [{"name": "Scimitar", "damage": "1d6+2"}]}},
     "combatant", None),
    ("CombatantJoined", "encounter-e1",
     {"combatant": {**COMBATANT, "attacks": [{"name": "Bite", "attack_bonus": 4, "damage": [
         {"damage_dice": "2d4+2", "damage_type": {"index": "piercing", "name": "Piercing"}}]}]}},
     {"combatant": {**COMBATANT, "attacks": [{"name": "Bite", "to_hit": 4, "damage": "2d4+2",
                                             "damage_type": "piercing"}]}},
     "combatant", None),
    # proficiencies grouped by kind or one flat list
    ("CharacterCreated", "character-aria",
     {**CHARACTER, "proficiencies": {"armor": ["Light armor"], "weapons": ["Simple weapons"],
                                     "tools": ["Thieves' tools"],
                                     "saving_throws": ["DEX", "int"],
                                     "skills": ["Stealth", {"index": "skill-acrobatics",
                                                            "name": "Skill: Acrobatics"}]}},
     {**CHARACTER, "proficiencies": ["Light armor", "Simple weapons", "Thieves' tools",
                                     "Saving Throw: DEX", "Saving Throw: INT", "Stealth",
                                     "Skill: Acrobatics"]},
     "proficiencies", ["Light armor", "Simple weapons", "Thieves' tools", "Saving Throw: DEX",
                       "Saving Throw: INT", "Stealth", "Skill: Acrobatics"]),
    # ids derivable from the stream; starting_location optional or a bare name
    ("CampaignCreated", "campaign-7", {"name": "x"},
     {"campaign_id": "7", "name": "x", "starting_location": None}, "campaign_id", "7"),
    ("CampaignCreated", "campaign-7", {"name": "x", "starting_location": "Millbrook"},
     {"campaign_id": "7", "name": "x", "starting_location": {"name": "Millbrook"}},
     "starting_location", {"name": "Millbrook", "description": ""}),
    ("CharacterCreated", "character-aria", {k: v for k, v in CHARACTER.items()
                                            if k != "character_id"},
     CHARACTER, "character_id", "aria"),
    # unknown fields are ignored, at any depth
    ("EncounterStarted", "encounter-e1",
     {"encounter_id": "e1", "campaign_id": "c1", "mood": "grim",
      "combatants": [{**COMBATANT, "icon": "goblin.png",
                      "attacks": [{"name": "Bite", "damage": "1d4", "notes": "x"}]}]},
     {"encounter_id": "e1", "campaign_id": "c1",
      "combatants": [{**COMBATANT, "attacks": [{"name": "Bite", "damage": "1d4"}]}]},
     "location", ""),
]


@pytest.mark.parametrize(("event_type", "stream", "variant", "written", "field", "value"),
                         VARIANTS, ids=[f"{v[0]}-{i}" for i, v in enumerate(VARIANTS)])
def test_each_accepted_variant_reads_as_the_written_form(
        event_type: str, stream: str, variant: dict[str, Any], written: dict[str, Any],
        field: str, value: Any) -> None:
    got = canon(event_type, variant, stream)
    assert got == canon(event_type, written, stream)
    if value is not None:
        assert got[field] == value
    # The canonical form is what questlog writes: reading it again changes nothing.
    assert canon(event_type, got, stream) == got


CREATING = {"campaign": ("CampaignCreated", {"name": "C"}),
            "character": ("CharacterCreated", {"campaign_id": "c1", "name": "A", "max_hp": 10,
                                               "current_hp": 10}),
            "encounter": ("EncounterStarted", {"campaign_id": "c1", "combatants": [COMBATANT]})}
OWN = {"CampaignCreated": "campaign_id", "CharacterCreated": "character_id",
       "EncounterStarted": "encounter_id"}


def play(store: Store, forms: list[tuple[str, str, dict[str, Any]]]) -> dict[str, str]:
    """Each case on its own streams (created first unless the case creates them)."""
    for n, (event_type, stream, data) in enumerate(forms):
        sid = f"{stream}-{n}"
        category = stream.split("-")[0]
        if event_type != CREATING[category][0]:
            store.append(sid, [NewEvent(type=CREATING[category][0], data=CREATING[category][1])])
        if OWN.get(event_type) in data:
            data = {**data, OWN[event_type]: sid.split("-", 1)[1]}
        store.append(sid, [NewEvent(type=event_type, data=data)])
    return {k: v for k, v in store.projections.hashes().items() if k.startswith("game_")}


def test_every_variant_projects_to_the_same_read_models_as_the_written_form(
        tmp_path: Path) -> None:
    variants = Store.open(tmp_path / "variants.db")
    written = Store.open(tmp_path / "written.db")
    try:
        got = play(variants, [(t, s, v) for t, s, v, _, _, _ in VARIANTS])
        want = play(written, [(t, s, w) for t, s, _, w, _, _ in VARIANTS])
        assert got == want and len(got) == 8
        for n, (_, stream, *_rest) in enumerate(VARIANTS):   # and so do the folds
            category, entity = stream.split("-")[0], f"{stream.split('-', 1)[1]}-{n}"
            assert variants.game.state(category, entity).model_dump(exclude={"updated_at"}) \
                == written.game.state(category, entity).model_dump(exclude={"updated_at"})
    finally:
        variants.close()
        written.close()


def as_log(forms: list[tuple[str, str, dict[str, Any]]]) -> str:
    """The cases of `play` as a foreign JSON-lines log (event_id, stream_id, type, data)."""
    lines = []
    for n, (event_type, stream, data) in enumerate(forms):
        sid = f"{stream}-{n}"
        category = stream.split("-")[0]
        if event_type != CREATING[category][0]:
            lines.append({"stream_id": sid, "type": CREATING[category][0],
                          "data": CREATING[category][1]})
        if OWN.get(event_type) in data:
            data = {**data, OWN[event_type]: sid.split("-", 1)[1]}
        lines.append({"stream_id": sid, "type": event_type, "data": data})
    return "".join(json.dumps({"event_id": str(uuid.UUID(int=i + 1)), **line}) + "\n"
                   for i, line in enumerate(lines))


def test_questlog_replay_of_a_foreign_log_in_the_variants(tmp_path: Path) -> None:
    """The issue's failure: `questlog replay` of a log in the note's other shapes (here
    `damage_dice` and every other variant) reaches the digests of the written forms."""
    foreign, ours = tmp_path / "foreign.jsonl", tmp_path / "ours.jsonl"
    foreign.write_text(as_log([(t, s, v) for t, s, v, _, _, _ in VARIANTS]), encoding="utf-8")
    ours.write_text(as_log([(t, s, w) for t, s, _, w, _, _ in VARIANTS]), encoding="utf-8")
    assert "damage_dice" in foreign.read_text() and "damage_dice" not in ours.read_text()
    runner = CliRunner()
    expected = tmp_path / "ours.digests.json"
    made = runner.invoke(cli, ["--db", str(tmp_path / "ours.db"), "replay", str(ours),
                               "--write-digests", str(expected)])
    assert made.exit_code == 0, made.output
    replayed = runner.invoke(cli, ["--db", str(tmp_path / "foreign.db"), "--json", "replay",
                                   str(foreign), "--expect", str(expected)])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.stdout)["appended"] == len(foreign.read_text().splitlines())


def test_v1_condition_is_upcast_then_normalised() -> None:
    assert canon("ConditionApplied", {"condition": "poisoned"}, "character-a", 1)["condition"] \
        == ref("conditions", "poisoned", "Poisoned")


@pytest.mark.parametrize(("event_type", "data", "names"), [
    ("MessageAppended", {"text": "hi"}, ["message_id: missing", "role: missing"]),
    ("DamageTaken", {"amount": "lots", "hp_before": 3, "hp_after": 1}, ["amount:", "'lots'"]),
    ("CharacterCreated", {"name": "A", "max_hp": 5, "current_hp": 5}, ["campaign_id: missing"]),
    ("ItemRemoved", [1, 2], ["expected a JSON object"]),
    ("ItemRemoved", {"item_id": "a torch", "quantity": 1, "reason": "used"},
     ["item_id: expected an id", "'a torch'"]),
])
def test_a_hopeless_recorded_payload_is_one_poison_event_naming_the_field(
        event_type: str, data: Any, names: list[str]) -> None:
    stream = {"MessageAppended": "campaign-1"}.get(event_type, "character-a")
    with pytest.raises(PoisonEvent) as caught:
        canon(event_type, data, stream)
    message = str(caught.value)
    assert isinstance(caught.value, ProjectionError) and caught.value.event_type == event_type
    for name in names:
        assert name in message


def recorded(stream: str, version: int, type_: str, data: Any, position: int) -> RecordedEvent:
    return RecordedEvent(position=position, event_id=f"id-{position}", stream_id=stream,
                         stream_version=version, category=stream.split("-")[0], type=type_,
                         schema_version=1, data=data, metadata={},
                         recorded_at="2026-01-01T00:00:00Z", hash="")


def test_fold_and_projector_input_raise_poison_never_key_error() -> None:
    bad = recorded("campaign-1", 1, "MessageAppended", {"text": "hi"}, 5)
    with pytest.raises(PoisonEvent, match="position 5 on campaign-1"):
        data_of(bad)
    with pytest.raises(PoisonEvent):
        fold("campaign", [bad])
    # Readable, but about a quest the campaign never had: also PoisonEvent, not KeyError.
    created = recorded("campaign-1", 1, "CampaignCreated", {"name": "x"}, 1)
    orphan = recorded("campaign-1", 2, "QuestUpdated", {"quest_id": "q9", "status_to": "failed"},
                      2)
    with pytest.raises(PoisonEvent, match="q9"):
        fold("campaign", [created, orphan])
    # Events of types the game does not know are left alone.
    other = recorded("campaign-1", 2, "Whatever", {"a": 1}, 3)
    assert data_of(other) == {"a": 1}
    assert fold("campaign", [created, other]).name == "x"


# --- the generic append ------------------------------------------------------------------

BAD = ("campaign-1", "MessageAppended", {"text": "hi"})


def test_python_append_refuses_an_unreadable_game_event_and_writes_nothing(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "api.db")
    try:
        stream, type_, data = BAD
        with pytest.raises(InvalidEventPayload) as caught:
            store.append(stream, [NewEvent(type=type_, data=data)])
        message = str(caught.value)
        assert isinstance(caught.value, InvalidEvent)
        assert "MessageAppended" in message and "message_id: missing" in message
        assert "expected an id" in message
        # One bad event in an atomic multi-stream call: nothing of the call is written.
        good = (stream, [NewEvent(type="Note", data={})], NO_STREAM)
        with pytest.raises(InvalidEventPayload):
            store.append_many([good, (stream, [NewEvent(type=type_, data=data)], NO_STREAM)])
        # A known game type on the wrong game stream is refused too.
        with pytest.raises(InvalidEventPayload, match="campaign event"):
            store.append("character-a", [NewEvent(type="MessageAppended", data={
                "message_id": "m1", "role": "user", "content": "hi"})])
        with pytest.raises(InvalidEventPayload):
            asyncio.run(store.aio.append(stream, [NewEvent(type=type_, data=data)]))
        assert store.head_position() == 0 and store.stream_version(stream) == 0
        # Variants and unknown fields are accepted, and kept in the log as given.
        given = {"text": "hi", "message_id": "m1", "role": "user", "content": "hi"}
        store.append(stream, [NewEvent(type=type_, data=given)])
        assert store.read_stream(stream)[0].data == given
        assert store.game.recent_chat("1")[0].content == "hi"
        # Unknown types on game streams, and everything on other streams, pass as before.
        store.append(stream, [NewEvent(type="Note", data={"anything": 1})])
        store.append("misc-1", [NewEvent(type="MessageAppended", data={"text": "hi"})])
    finally:
        store.close()


def test_validate_false_trusts_recorded_facts(tmp_path: Path) -> None:
    # No projectors: the log alone (replay appends this way; a projector that cannot read
    # the event is then a matter for the projection engine, not for the append).
    store = Store.open(tmp_path / "trust.db", projectors=[])
    try:
        stream, type_, data = BAD
        store.append(stream, [NewEvent(type=type_, data=data)], validate=False)
        asyncio.run(store.aio.append_many([(stream, [NewEvent(type=type_, data=data)], 1)],
                                          validate=False))
        assert store.stream_version(stream) == 2
        with pytest.raises(PoisonEvent, match="message_id"):
            store.game.state("campaign", "1")
    finally:
        store.close()


def test_cli_append_refuses_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    questlog = str(Path(sys.executable).parent / "questlog")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    out = subprocess.run([questlog, "--db", str(db), "events", "append", "campaign-1",
                          "MessageAppended", "--data", '{"text": "hi"}'],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == InvalidEventPayload.exit_code != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and not out.stdout, out.stderr
    assert lines[0].startswith("error: InvalidEventPayload: MessageAppended on campaign-1")
    assert "message_id: missing" in lines[0]
    read = CliRunner().invoke(cli, ["--db", str(db), "events", "read", "campaign-1", "--json"])
    # Nothing was written: the stream does not exist (an error, not an empty answer).
    assert isinstance(read.exception, StreamNotFound) and "MessageAppended" not in read.output
    store = Store.open(db)
    try:
        assert store.head_position() == 0
    finally:
        store.close()


def test_http_append_answers_422_naming_the_field_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "http.db"
    store = Store.open(path, settings=Settings(db=path, api_token="t0ken-for-tests"))
    try:
        with TestClient(create_app(store)) as client:
            auth = {"Authorization": "Bearer t0ken-for-tests"}
            stream, type_, data = BAD
            resp = client.post(f"/streams/{stream}/events", headers=auth, json={
                "expected_version": "any", "events": [{"type": type_, "data": data}]})
            assert resp.status_code == 422, resp.text
            body = resp.json()
            assert body["error"] == "invalid_event_payload"
            assert "message_id: missing" in body["detail"]
            documented = client.get("/openapi.json").json()["paths"][
                "/streams/{stream_id}/events"]["post"]["responses"]["422"]
            assert "ErrorResponse" in json.dumps(documented)
            read = client.get(f"/streams/{stream}", headers=auth)
            assert read.status_code == 404 or read.json()["events"] == [], read.text
        assert store.head_position() == 0
    finally:
        store.close()


# --- the README --------------------------------------------------------------------------

def readme_first_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return str(blocks[0])


def test_readme_first_example_runs_as_written(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = readme_first_example()
    assert 'store.append("campaign-7"' in snippet and '"name": "x"' in snippet
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
    store = Store.open(tmp_path / "campaign.db")
    try:
        state = store.game.state("campaign", "7")
        assert state.exists and state.name == "x" and state.campaign_id == "7"
        summary = store.game.campaign_summary("7")
        assert summary.name == "x" and summary.location.name is None
        assert json.loads(json.dumps(summary.model_dump()))["campaign_id"] == "7"
    finally:
        store.close()
