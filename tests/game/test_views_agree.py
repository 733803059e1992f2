"""Every view of the game agrees after every step of every recorded session fixture:
`game show` of campaigns, characters and encounters (the folds) against the read models
(campaign summary, quest log, NPCs, dice requests, chat, party sheet, inventory,
encounter tracker), checked for what each appended event touched, then for everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from questlog import Store
from questlog.cli import cli
from questlog.replay import parse_line
from questlog.settings import Settings

from .conftest import FIXTURES

# A recorded session is a whole game (hundreds of events); shorter logs in the folder
# (game_condition_v1.jsonl: an upcasting sample of 7 events) are not sessions.
SESSION_MIN_EVENTS = 100
SESSIONS = sorted(p for p in FIXTURES.glob("*.jsonl")
                  if len(p.read_text(encoding="utf-8").splitlines()) >= SESSION_MIN_EVENTS)


def test_the_recorded_sessions_are_found() -> None:
    assert FIXTURES / "game_session.jsonl" in SESSIONS
    assert FIXTURES / "game_condition_v1.jsonl" not in SESSIONS


def campaign_views(store: Store, campaign_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the fold shows, what the read models show) of one campaign."""
    game = store.game
    s = game.state("campaign", campaign_id)
    fights = sorted(e for e in encounters_of(store, campaign_id)
                    if game.state("encounter", e).status == "active")
    shown = {
        "name": s.name, "goal": s.goal, "location": [s.location.name, s.location.description],
        "difficulty": s.difficulty, "xp_system": s.xp_system, "ruleset_id": s.ruleset_id,
        "packs": s.content_pack_priority, "narration": s.narration.model_dump(),
        "house_rules": s.house_rules, "session": [s.session_number, s.session_active],
        "party": [m.character_id for m in s.party.values() if m.active],
        "fight": fights[0] if fights else None,
        "quests": [q.model_dump(mode="json") for q in s.quests.values()],
        "npcs": [n.model_dump(mode="json") for n in s.npcs.values()],
        "dice": [d.model_dump(mode="json") for d in s.pending_dice.values()],
        "messages": s.message_count,
        "recent": [[m.message_id, m.role, m.superseded] for m in s.recent_messages],
    }
    summary = game.campaign_summary(campaign_id)
    chat = game.chat(campaign_id, page=1, page_size=1000, include_superseded=True)
    recent = chat.messages[-len(s.recent_messages):] if s.recent_messages else []
    read = {
        "name": summary.name, "goal": summary.goal,
        "location": [summary.location.name, summary.location.description],
        "difficulty": summary.difficulty, "xp_system": summary.xp_system,
        "ruleset_id": summary.ruleset_id, "packs": summary.content_pack_priority,
        "narration": summary.narration, "house_rules": summary.house_rules,
        "session": [summary.session_number, summary.session_active], "party": summary.party,
        "fight": summary.active_encounter_id if summary.in_combat else None,
        "quests": [q.model_dump(mode="json") for q in game.quests(campaign_id)],
        "npcs": [n.model_dump(mode="json") for n in game.npcs(campaign_id)],
        "dice": [d.model_dump(mode="json") for d in game.pending_dice(campaign_id)],
        "messages": chat.total,
        "recent": [[m.message_id, m.role, m.superseded] for m in recent],
    }
    return shown, read


def character_views(store: Store, character_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    game = store.game
    s = game.state("character", character_id)
    shown = {
        "campaign_id": s.campaign_id, "name": s.name, "level": s.level, "xp": s.xp,
        "hp": [s.current_hp, s.max_hp, s.temp_hp], "conditions": sorted(s.conditions),
        "exhaustion": s.exhaustion, "slots": [s.spell_slots_max, s.spell_slots_used],
        "hit_dice": [s.hit_die, s.hit_dice_total, s.hit_dice_used],
        "death": [s.death_saves.successes, s.death_saves.failures, s.stable, s.dead],
        "purse": s.purse.model_dump(), "gold": s.purse.gp,
        "inventory": sorted((i.model_dump(mode="json") for i in s.inventory.values()),
                            key=lambda i: (i["name"], i["item_id"])),
    }
    p = game.party_sheet(character_id)
    read = {
        "campaign_id": p.campaign_id, "name": p.name, "level": p.level, "xp": p.xp,
        "hp": [p.current_hp, p.max_hp, p.temp_hp], "conditions": p.conditions,
        "exhaustion": p.exhaustion, "slots": [p.spell_slots_max, p.spell_slots_used],
        "hit_dice": [p.hit_die, p.hit_dice_total, p.hit_dice_used],
        "death": [p.death_successes, p.death_failures, p.stable, p.dead],
        "purse": p.purse, "gold": p.gold,
        "inventory": [i.model_dump(mode="json") for i in game.inventory(character_id)],
    }
    return shown, read


def encounter_views(store: Store, encounter_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    game = store.game
    s = game.state("encounter", encounter_id)
    order = {cid: i for i, cid in enumerate(s.turn_order)}
    shown = {
        "head": [s.campaign_id, s.status, s.round, s.turn_index, s.current_combatant_id,
                 s.outcome, s.turn_order],
        "combatants": {c.combatant_id: [c.kind, c.name, c.hp, c.max_hp, c.ac, c.initiative,
                                        [r.index for r in c.conditions], c.defeated,
                                        c.combatant_id not in s.left,
                                        s.left.get(c.combatant_id), order.get(c.combatant_id)]
                       for c in s.combatants.values()},
    }
    t = game.encounter_tracker(encounter_id)
    read = {
        "head": [t.campaign_id, t.status, t.round, t.turn_index, t.current_combatant_id,
                 t.outcome, t.turn_order],
        "combatants": {c.combatant_id: [c.kind, c.name, c.hp, c.max_hp, c.ac, c.initiative,
                                        c.conditions, c.defeated, c.present, c.left_reason,
                                        c.turn_position]
                       for c in t.combatants},
    }
    for c in s.combatants.values():   # a PC's temporary HP show on the tracker only
        if c.kind == "pc" and c.character_id:
            assert next(x for x in t.combatants if x.combatant_id == c.combatant_id).temp_hp \
                == game.state("character", c.character_id).temp_hp
    return shown, read


def encounters_of(store: Store, campaign_id: str) -> list[str]:
    return [e.stream_id.split("-", 1)[1] for e in store.read_all(types=["EncounterStarted"])
            if e.data["campaign_id"] == campaign_id]


def touched(store: Store, stream_id: str) -> list[tuple[str, str]]:
    """The entities whose views an event on `stream_id` can change."""
    category, entity = stream_id.split("-", 1)
    out = [(category, entity)]
    if category == "encounter":
        state = store.game.state("encounter", entity)
        out.append(("campaign", state.campaign_id))
    if category == "character":
        for e in store.read_all(types=["EncounterStarted", "CombatantJoined"]):
            specs = e.data.get("combatants") or [e.data.get("combatant") or {}]
            if any(isinstance(c, dict) and c.get("character_id") == entity for c in specs):
                out.append(("encounter", e.stream_id.split("-", 1)[1]))
    return out


VIEWS = {"campaign": campaign_views, "character": character_views,
         "encounter": encounter_views}


def assert_agree(store: Store, category: str, entity: str, step: str) -> None:
    if store.stream_version(f"{category}-{entity}") == 0:
        return
    shown, read = VIEWS[category](store, entity)
    assert shown == read, f"{category} {entity} after {step}"


@pytest.mark.parametrize("log", SESSIONS, ids=lambda p: p.stem)
def test_every_view_agrees_after_every_step(log: Path, tmp_path: Path) -> None:
    db = tmp_path / "views.db"
    # One commit per event: without fsync (a test of views, not of durability).
    store = Store.open(db, settings=Settings(db=db, durability="OFF"))
    try:
        seen: set[tuple[str, str]] = set()
        lines = log.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            stream_id, event = parse_line(line, number)
            store.append(stream_id, [event])
            for category, entity in touched(store, stream_id):
                seen.add((category, entity))
                assert_agree(store, category, entity, f"line {number} ({event.type})")
        assert {c for c, _ in seen} == {"campaign", "character", "encounter"}
        for category, entity in sorted(seen):
            assert_agree(store, category, entity, "the whole log")
        # The CLI shows the same: `game show encounter` against `game tracker`.
        encounters = sorted(e for c, e in seen if c == "encounter")
    finally:
        store.close()
    runner = CliRunner()
    for encounter_id in encounters:
        shown = json.loads(runner.invoke(cli, ["--db", str(db), "--json", "game", "show",
                                               "encounter", encounter_id]).output)
        tracked = json.loads(runner.invoke(cli, ["--db", str(db), "--json", "game", "tracker",
                                                 encounter_id]).output)
        by_id = {c["combatant_id"]: c for c in tracked["combatants"]}
        for cid, c in shown["combatants"].items():
            assert (c["hp"], c["max_hp"], [r["index"] for r in c["conditions"]],
                    c["defeated"]) == (by_id[cid]["hp"], by_id[cid]["max_hp"],
                                       by_id[cid]["conditions"], by_id[cid]["defeated"]), cid
