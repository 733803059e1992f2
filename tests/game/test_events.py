"""The event vocabulary: 40 registered models, validation, decoding and upcasting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from questlog import Store
from questlog.game.errors import InvalidCommand
from questlog.game.events_character import ConditionApplied
from questlog.game.registry import (
    EVENT_MODELS,
    current_version,
    decode,
    upcast,
    validate,
)
from questlog.replay import replay_file

from .conftest import FIXTURES

CONTRACT = {
    "campaign": ["CampaignCreated", "CampaignSettingsChanged", "PartyMemberJoined",
                 "PartyMemberLeft", "SessionStarted", "SessionEnded", "LocationChanged",
                 "NpcRecorded", "QuestAdded", "QuestUpdated", "LoreRecorded", "MessageAppended",
                 "MessageSuperseded", "DiceRollRequested", "DiceRolled", "DiceRequestsCleared"],
    "character": ["CharacterCreated", "CharacterDetailsChanged", "DamageTaken",
                  "HealingReceived", "TemporaryHitPointsSet", "ConditionApplied",
                  "ConditionRemoved", "ExhaustionChanged", "DeathSaveRecorded", "ItemAdded",
                  "ItemRemoved", "CurrencyChanged", "SpellSlotExpended", "RestTaken",
                  "ExperienceGained", "LevelGained"],
    "encounter": ["EncounterStarted", "CombatantJoined", "InitiativeRolled", "TurnAdvanced",
                  "CombatantHitPointsChanged", "CombatantConditionsChanged", "CombatantLeft",
                  "EncounterEnded"],
}


def test_the_40_events_of_the_contract_are_registered_in_their_streams() -> None:
    assert len(EVENT_MODELS) == 40
    for category, names in CONTRACT.items():
        for name in names:
            assert EVENT_MODELS[name].category == category, name
            # Each model documents its field decisions in its own docstring.
            assert vars(EVENT_MODELS[name]).get("__doc__"), name


def test_validate_names_the_bad_field() -> None:
    validate("DamageTaken", {"amount": 3, "hp_before": 5, "hp_after": 2})
    with pytest.raises(InvalidCommand, match="DamageTaken.*amount"):
        validate("DamageTaken", {"amount": -3, "hp_before": 5, "hp_after": 2})
    with pytest.raises(InvalidCommand, match="unknown game event type 'Nope'"):
        validate("Nope", {})


def test_condition_applied_v1_is_upcast_to_a_content_reference() -> None:
    assert current_version("ConditionApplied") == 2
    srd = upcast("ConditionApplied", 1, {"condition": "poisoned", "source": "bite"})
    assert srd["condition"] == {"type": "conditions", "index": "poisoned", "name": "Poisoned",
                                "homebrew": False, "pack": None}
    invented = decode("ConditionApplied", 1, {"condition": "defeated"})
    assert isinstance(invented, ConditionApplied)
    assert invented.condition.homebrew and invented.condition.index == "defeated"
    with pytest.raises(InvalidCommand, match="newer"):
        upcast("ConditionApplied", 3, {})


def test_stored_v1_log_is_upcast_on_read_never_rewritten(tmp_path: Path) -> None:
    log = FIXTURES / "game_condition_v1.jsonl"
    store = Store.open(tmp_path / "v1.db")
    try:
        report = replay_file(store, log)
        assert report.appended == 7
        stored = [e for e in store.read_stream("character-hild")
                  if e.type == "ConditionApplied"]
        assert [e.schema_version for e in stored] == [1, 1, 1]
        assert stored[0].data["condition"] == "poisoned"        # the log keeps its bytes
        hild = store.game.state("character", "hild")
        assert sorted(hild.conditions) == ["defeated", "prone"]
        assert not hild.conditions["prone"].condition.homebrew
        assert hild.conditions["defeated"].condition.homebrew
        assert store.game.party_sheet("hild").conditions == ["defeated", "prone"]
        # Time travel through the v1 events: poisoned before it was cured.
        poisoned = store.game.state("character", "hild", version=2)
        assert list(poisoned.conditions) == ["poisoned"]
    finally:
        store.close()


def test_fixture_v1_lines_are_really_v1() -> None:
    lines = [json.loads(x) for x in (FIXTURES / "game_condition_v1.jsonl").read_text().split("\n")
             if x]
    applied = [x for x in lines if x["type"] == "ConditionApplied"]
    assert applied and all(x["schema_version"] == 1 and isinstance(x["data"]["condition"], str)
                           for x in applied)
