"""Fixtures of the game tests: a small content pack cut from the real SRD, stores with it,
and a pure in-memory unit of work for the rule tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from questlog import Store
from questlog.game.decider import UnitOfWork
from questlog.game.fold import fold
from questlog.settings import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# The SRD entries the game tests reference (cut from the real data set).
MINI_PACK: dict[str, set[str] | None] = {
    "Conditions": None, "Classes": None, "Races": None, "Backgrounds": None,
    "Subclasses": None, "Alignments": None,
    "Monsters": {"goblin", "wolf", "orc", "skeleton", "bugbear", "hobgoblin"},
    "Spells": {"fireball", "cure-wounds", "magic-missile", "shield", "bless"},
    "Equipment": {"torch", "longsword", "dagger", "rope-hempen-50-feet", "chain-mail"},
    "Magic-Items": {"potion-of-healing"},
}


@pytest.fixture(scope="session")
def mini_pack(srd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini-pack")
    for name, keep in MINI_PACK.items():
        data = json.loads((srd_dir / f"5e-SRD-{name}.json").read_text(encoding="utf-8"))
        if keep is not None:
            data = [e for e in data if e["index"] in keep]
        (out / f"5e-SRD-{name}.json").write_text(json.dumps(data), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def srd_indexes(srd_dir: Path) -> set[tuple[str, str]]:
    """(type, index) of the mini pack's entries, for pure tests' content checks."""
    found: set[tuple[str, str]] = set()
    for name, keep in MINI_PACK.items():
        kind = name.lower()
        for e in json.loads((srd_dir / f"5e-SRD-{name}.json").read_text(encoding="utf-8")):
            if keep is None or e["index"] in keep:
                found.add((kind, e["index"]))
    return found


def open_game_store(path: Path, pack: Path, **settings: Any) -> Store:
    store = Store.open(path, settings=Settings(db=path, **settings))
    store.content.import_pack(pack, pack="srd-mini")
    return store


@pytest.fixture
def game_store(tmp_path: Path, mini_pack: Path) -> Iterator[Store]:
    store = open_game_store(tmp_path / "game.db", mini_pack, snapshot_every=20)
    yield store
    store.close()


class MemoryWorld:
    """Streams in memory and a content set: enough for the pure rule tests."""

    def __init__(self, content: set[tuple[str, str]]) -> None:
        self.streams: dict[str, list[Any]] = {}
        self.content = content

    def load(self, category: str, entity_id: str) -> tuple[Any, int]:
        events = self.streams.get(f"{category}-{entity_id}", [])
        return fold(category, events), len(events)

    def open_encounters(self, campaign_id: str) -> list[str]:
        return [sid.split("-", 1)[1] for sid, events in self.streams.items()
                if events and events[0].type == "EncounterStarted"
                and events[0].data["campaign_id"] == campaign_id
                and not any(e.type == "EncounterEnded" for e in events)]

    def unit(self) -> UnitOfWork:
        return UnitOfWork(self.load, lambda t, i: (t, i) in self.content,
                          open_encounters=self.open_encounters)

    def run(self, commands: list[dict[str, Any]]) -> list[Any]:
        """Decide and 'commit' (only when every command passed)."""
        uow = self.unit()
        decided = uow.run(commands)
        for event in decided:
            self.streams.setdefault(event.stream_id, []).append(event)
        return decided

    def state(self, category: str, entity_id: str) -> Any:
        return self.load(category, entity_id)[0]

    def count(self) -> int:
        return sum(len(v) for v in self.streams.values())


@pytest.fixture
def world(srd_indexes: set[tuple[str, str]]) -> MemoryWorld:
    return MemoryWorld(srd_indexes)


def campaign_setup(campaign: str = "c1", party: tuple[str, ...] = ("aria", "bram"),
                   enemies: int = 2, encounter: str | None = "e1") -> list[dict[str, Any]]:
    """Commands creating a campaign, a party and (optionally) a fight with goblins."""
    cmds: list[dict[str, Any]] = [{
        "kind": "create_campaign", "campaign_id": campaign, "name": "Test",
        "starting_location": {"name": "Town"}}]
    for cid in party:
        cmds.append({"kind": "create_character", "campaign_id": campaign, "character_id": cid,
                     "name": cid.title(),
                     "class": {"type": "classes", "index": "fighter", "name": "Fighter"},
                     "ability_scores": {"con": 14}})
    if encounter is not None:
        roster: list[dict[str, Any]] = [
            {"combatant_id": cid, "kind": "pc", "character_id": cid, "name": cid.title()}
            for cid in party]
        roster += [{"combatant_id": f"gob{i}", "kind": "monster", "name": f"Goblin {i}",
                    "hp": 7, "max_hp": 7, "ac": 15, "initiative_modifier": 0,
                    "monster_ref": {"type": "monsters", "index": "goblin", "name": "Goblin"}}
                   for i in range(1, enemies + 1)]
        cmds.append({"kind": "start_encounter", "encounter_id": encounter,
                     "campaign_id": campaign, "combatants": roster})
    return cmds


Setup = Callable[..., list[dict[str, Any]]]
