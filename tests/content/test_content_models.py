"""Typed models and whole-pack validation, without a store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from content_packtools import STARTER, spell, write_pack

from questlog.content.models_monsters import Monster
from questlog.content.models_spells import Spell
from questlog.content.source import type_of_file
from questlog.content.types import SRD_TYPES, GenericEntry, typed_model
from questlog.content.validation import content_hash, validate_entries, validate_pack


def test_file_names_map_to_types() -> None:
    assert type_of_file("5e-SRD-Magic-Items.json") == "magic-items"
    assert type_of_file("5e-SRD-Ability-Scores.json") == "ability-scores"
    assert type_of_file("poisons.json") == "poisons"
    assert type_of_file("questlog-pack.json") is None
    assert type_of_file("My Spells.json") is None
    assert type_of_file("spells.yaml") is None


def test_every_srd_entry_fits_its_typed_model(srd_dir: Path) -> None:
    pack = validate_pack(srd_dir, pack="srd")
    assert [str(p) for p in pack.problems] == []
    assert pack.warnings == []
    assert len(pack.entries) == 2317
    assert set(pack.types) == set(SRD_TYPES)
    assert not any(e.generic for e in pack.entries)


def test_typed_models_keep_irregular_values(srd_json: dict[str, list[dict[str, Any]]]) -> None:
    monsters = {m["index"]: m for m in srd_json["monsters"]}
    hydra = Monster.model_validate(monsters["hydra"])
    counts = [a.count for action in hydra.actions or [] for a in action.actions or []]
    assert "Number of Heads" in counts  # multiattack count given as a string
    imp = Monster.model_validate(monsters["imp"])
    assert imp.challenge_rating == 1.0
    kobold = Monster.model_validate(monsters["kobold"])
    assert kobold.challenge_rating == 0.125
    assert kobold.speed.walk == "30 ft."
    fireball = Spell.model_validate(next(s for s in srd_json["spells"] if s["index"] == "fireball"))
    assert fireball.level == 3 and fireball.school.index == "evocation"
    assert fireball.damage is not None and fireball.damage.damage_at_slot_level is not None
    assert fireball.damage.damage_at_slot_level["3"] == "8d6"
    # not in the data README: some option lists are bare strings (ranger favored enemies)
    feature_model = typed_model("features")
    assert feature_model is not None
    favored = feature_model.model_validate(
        next(f for f in srd_json["features"] if f["index"] == "favored-enemy-1-type"))
    options = favored.feature_specific.enemy_type_options.from_.options  # type: ignore[attr-defined]
    assert "undead" in options
    # ... and the androsphinx's roar saves carry damage
    sphinx = Monster.model_validate(monsters["androsphinx"])
    roar = next(a for a in sphinx.actions or [] if a.attacks)
    assert roar.attacks is not None and roar.attacks[2].damage is not None
    # a Level has no name in 2014 and a `class` key (aliased)
    level_model = typed_model("levels")
    assert level_model is not None
    level = level_model.model_validate(srd_json["levels"][0])
    assert level.class_.index == "barbarian"  # type: ignore[attr-defined]


def test_whole_pack_problems_are_all_collected(tmp_path: Path) -> None:
    root = write_pack(tmp_path / "broken", {
        "5e-SRD-Spells.json": [
            spell("a", "A"),
            spell("a", "A again"),               # duplicate index
            {k: v for k, v in spell("b", "B").items() if k != "index"},  # missing index
            spell("c", "C", level="three"),      # wrong field type
            spell("d", "D", levle=3),            # unknown key
            "not an object",
        ],
        "5e-SRD-Monsters.json": "[{\"index\": \"x\",",  # malformed JSON
        "notes.yaml": "whatever",                         # unknown file
        "LICENSE-data.txt": "ignored",
    })
    pack = validate_pack(root, pack="broken")
    found = {(p.file, p.entry, p.field) for p in pack.problems}
    assert ("5e-SRD-Spells.json", "a", "index") in found
    assert ("5e-SRD-Spells.json", "#2", "index") in found
    assert ("5e-SRD-Spells.json", "c", "level") in found
    assert ("5e-SRD-Spells.json", "d", "levle") in found
    assert ("5e-SRD-Spells.json", "#5", "-") in found
    assert any(p.file == "5e-SRD-Monsters.json" and "malformed JSON" in p.message
               for p in pack.problems)
    assert any(p.file == "notes.yaml" and "unknown file" in p.message for p in pack.problems)
    assert not any(p.file.startswith("LICENSE") for p in pack.problems)
    assert [e.index for e in pack.entries] == ["a"]
    assert pack.invalid_entries == 5
    assert pack.unreadable_types == {"monsters"}
    with pytest.raises(Exception) as info:
        pack.raise_if_invalid()
    assert type(info.value).__name__ == "ContentValidationError"
    assert len(info.value.problems) == len(pack.problems)  # type: ignore[attr-defined]


def test_unknown_types_are_generic_entries(tmp_path: Path) -> None:
    poison = {"index": "drowsy-draught", "name": "Drowsy Draught", "desc": ["Sleepy."],
              "cost": {"quantity": 50, "unit": "gp"}}
    root = write_pack(tmp_path / "hb", {"poisons.json": [poison]},
                      manifest={"name": "homebrew"})
    pack = validate_pack(root)
    assert pack.name == "homebrew" and pack.problems == []
    (entry,) = pack.entries
    assert entry.type == "poisons" and entry.generic
    generic = GenericEntry.from_data("poisons", poison)
    assert generic.prose == "Sleepy." and generic.data["cost"]["quantity"] == 50


def test_other_edition_falls_back_to_generic_with_a_warning(tmp_path: Path) -> None:
    # 2024 shapes: `description` instead of `desc`, a feature's level as an object
    feature = {"index": "rage", "name": "Rage", "description": "Fury.",
               "level": {"index": "barbarian-1", "name": "Barbarian 1",
                         "url": "/api/2024/classes/barbarian/levels/1"},
               "class": {"index": "barbarian", "name": "Barbarian",
                         "url": "/api/2024/classes/barbarian"},
               "url": "/api/2024/features/rage"}
    species = {"index": "elf", "name": "Elf", "description": "Pointy ears.",
               "url": "/api/2024/species/elf"}
    root = write_pack(tmp_path / "e2024", {"5e-SRD-Features.json": [feature],
                                           "5e-SRD-Species.json": [species]})
    pack = validate_pack(root, pack="srd2024", edition="2024")
    assert pack.problems == []
    assert {(e.type, e.generic) for e in pack.entries} == {("features", True), ("species", True)}
    assert len(pack.warnings) == 1 and pack.warnings[0].entry == "rage"
    # the same entries under the default 2014 edition are refused, naming the fields
    strict = validate_pack(root, pack="srd2024")
    fields = {p.field.split(".")[0] for p in strict.problems}
    assert {"level", "description", "desc", "prerequisites"} <= fields


def test_content_hash_is_canonical() -> None:
    a = {"index": "x", "name": "X", "desc": ["é ×"]}
    b = json.loads(json.dumps({"desc": ["é ×"], "name": "X", "index": "x"}))
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash({**a, "name": "X "})


def test_starter_pack_is_original_valid_and_big_enough(srd_json: dict[str, Any]) -> None:
    pack = validate_pack(STARTER)
    assert pack.problems == [] and pack.name == "starter"
    by_type: dict[str, int] = {}
    for entry in pack.entries:
        by_type[entry.type] = by_type.get(entry.type, 0) + 1
        assert not entry.generic
    assert len(pack.entries) >= 15
    assert set(by_type) >= {"spells", "monsters", "equipment", "magic-items"}
    # original: no index or name of the starter pack is an SRD entry of the same type
    for entry in pack.entries:
        srd = srd_json[entry.type]
        assert entry.index not in {e["index"] for e in srd}
        assert entry.data["name"] not in {e.get("name") for e in srd}


def test_validate_entries_reports_nested_field_paths() -> None:
    problems: list[Any] = []
    bad = spell("x", "X", school={"index": "evocation", "name": "Evocation"})
    assert validate_entries("spells", [bad], problems=problems) == []
    assert [p.field for p in problems] == ["school.url"]
