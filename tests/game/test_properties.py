"""Hypothesis properties over random command sequences.

Pure: HP never leaves 0..max and the turn index never leaves the roster.
With a store: after every step the read models agree with the folds; time travel
to any position equals the fold of the prefix; snapshot plus tail equals the full fold.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questlog import Store
from questlog.errors import DomainError
from questlog.game.fold import fold

from .conftest import MemoryWorld, campaign_setup, open_game_store

CHARACTERS = ("aria", "bram")
CONDITIONS = ("poisoned", "prone", "stunned", "unconscious", "blinded")

Step = tuple[str, int, int]
steps = st.lists(st.tuples(
    st.sampled_from(["damage_pc", "damage_npc", "heal_pc", "heal_npc", "temp", "condition",
                     "uncondition", "npc_condition", "advance", "initiative", "leave", "join",
                     "death_save", "short_rest", "long_rest", "exhaustion", "xp", "level_up",
                     "end", "message", "supersede", "coins", "item", "drop_item"]),
    st.integers(0, 25), st.integers(0, 9)), min_size=1, max_size=25)


def command(step: Step, c: str, n: int) -> dict[str, Any]:
    """One command from a drawn step; ids are suffixed with `c` (one campaign per example)."""
    kind, amount, pick = step
    pc = CHARACTERS[pick % 2] + c
    npc = f"gob{pick % 3 + 1}"   # gob3 joins only through 'join'
    enc = "e" + c
    table: dict[str, dict[str, Any]] = {
        "damage_pc": {"kind": "deal_damage", "amount": amount,
                      "target": {"character_id": pc} if pick < 5 else
                      {"encounter_id": enc, "combatant_id": pc}, "critical": pick == 9},
        "damage_npc": {"kind": "deal_damage", "amount": amount,
                       "target": {"encounter_id": enc, "combatant_id": npc}},
        "heal_pc": {"kind": "heal", "target": {"character_id": pc}, "amount": amount},
        "heal_npc": {"kind": "heal", "target": {"encounter_id": enc, "combatant_id": npc},
                     "amount": amount},
        "temp": {"kind": "set_temporary_hit_points", "character_id": pc, "amount": amount % 8},
        "condition": {"kind": "apply_condition", "target": {"character_id": pc},
                      "condition": CONDITIONS[pick % 5]},
        "uncondition": {"kind": "remove_condition", "target": {"character_id": pc},
                        "condition": CONDITIONS[pick % 5]},
        "npc_condition": {"kind": "apply_condition", "condition": CONDITIONS[pick % 5],
                          "target": {"encounter_id": enc, "combatant_id": npc}},
        "advance": {"kind": "advance_turn", "encounter_id": enc},
        "initiative": {"kind": "roll_initiative", "encounter_id": enc, "roll": amount % 20 + 1,
                       "combatant_id": npc if pick % 2 else pc},
        "leave": {"kind": "remove_combatant", "encounter_id": enc,
                  "combatant_id": npc if pick % 2 else pc, "reason": "fled"},
        "join": {"kind": "add_combatant", "encounter_id": enc, "combatant": {
            "combatant_id": "gob3", "kind": "monster", "name": "Goblin 3", "hp": 7,
            "max_hp": 7, "monster_ref": {"type": "monsters", "index": "goblin",
                                         "name": "Goblin"}}},
        "death_save": {"kind": "record_death_save", "character_id": pc,
                       "roll": amount % 20 + 1},
        "short_rest": {"kind": "take_rest", "character_id": pc, "rest_type": "short",
                       "hit_dice_spent": pick % 2, "hp_rolled": amount},
        "long_rest": {"kind": "take_rest", "character_id": pc, "rest_type": "long"},
        "exhaustion": {"kind": "change_exhaustion", "character_id": pc,
                       "delta": pick % 3 - 1},
        "xp": {"kind": "gain_experience", "character_id": pc, "amount": amount * 20},
        "level_up": {"kind": "level_up", "character_id": pc},
        "end": {"kind": "end_encounter", "encounter_id": enc, "xp_awarded": amount},
        "message": {"kind": "append_message", "campaign_id": "c" + c, "role": "assistant",
                    "message_id": f"m{n}", "content": f"text {amount}"},
        "supersede": {"kind": "supersede_message", "campaign_id": "c" + c,
                      "message_id": f"m{max(0, n - 1 - pick)}"},
        "coins": {"kind": "change_currency", "character_id": pc,
                  "delta": {"gp": amount - 10}},
        "item": {"kind": "add_item", "character_id": pc, "item_id": f"it{pick % 3}",
                 "name": "Torch", "quantity": amount % 3 + 1},
        "drop_item": {"kind": "remove_item", "character_id": pc, "item_id": f"it{pick % 3}",
                      "quantity": amount % 2 + 1, "reason": "dropped"},
    }
    return table[kind]


def setup(c: str) -> list[dict[str, Any]]:
    return campaign_setup(campaign="c" + c, party=tuple(p + c for p in CHARACTERS),
                          encounter="e" + c)


def check_invariants(world_state: Any, encounter: Any) -> None:
    assert 0 <= world_state.current_hp <= world_state.max_hp
    assert world_state.temp_hp >= 0 and 0 <= world_state.exhaustion <= 6
    assert encounter.turn_index == -1 or 0 <= encounter.turn_index < len(encounter.turn_order)
    if encounter.current_combatant_id is not None:
        assert encounter.turn_order[encounter.turn_index] == encounter.current_combatant_id
    for combatant in encounter.combatants.values():
        assert 0 <= combatant.hp <= combatant.max_hp


@settings(max_examples=150, deadline=None)
@given(drawn=steps)
def test_hp_and_turn_index_stay_in_bounds(srd_indexes: set[tuple[str, str]],
                                          drawn: list[Step]) -> None:
    world = MemoryWorld(srd_indexes)   # a fresh world per example
    world.run(setup(""))
    for n, step in enumerate(drawn):
        before = world.count()
        try:
            world.run([command(step, "", n)])
        except DomainError:
            assert world.count() == before        # a rejected command leaves nothing
        encounter = world.state("encounter", "e")
        for pc in CHARACTERS:
            check_invariants(world.state("character", pc), encounter)


_counter = itertools.count()


@pytest.fixture(scope="module")
def prop_store(tmp_path_factory: pytest.TempPathFactory, mini_pack: Path) -> Any:
    store = open_game_store(tmp_path_factory.mktemp("props") / "p.db", mini_pack,
                            snapshot_every=4)
    yield store
    store.close()


def assert_read_models_agree(store: Store, c: str) -> None:
    game = store.game
    for pc in CHARACTERS:
        state = game.state("character", pc + c)
        sheet = game.party_sheet(pc + c)
        assert (sheet.current_hp, sheet.max_hp, sheet.temp_hp, sheet.level, sheet.xp,
                sheet.exhaustion, sheet.dead, sheet.stable, sheet.gold) == (
            state.current_hp, state.max_hp, state.temp_hp, state.level, state.xp,
            state.exhaustion, state.dead, state.stable, state.purse.gp)
        assert sheet.conditions == sorted(state.conditions)
        assert (sheet.death_successes, sheet.death_failures) == (
            state.death_saves.successes, state.death_saves.failures)
        assert {i.item_id: i.quantity for i in game.inventory(pc + c)} == {
            k: v.quantity for k, v in state.inventory.items()}
    enc = game.state("encounter", "e" + c)
    tracker = game.encounter_tracker("e" + c)
    assert (tracker.status, tracker.round, tracker.turn_index, tracker.current_combatant_id,
            tracker.turn_order) == (enc.status, enc.round, enc.turn_index,
                                    enc.current_combatant_id, enc.turn_order)
    for row in tracker.combatants:
        combatant = enc.combatants[row.combatant_id]
        if combatant.kind != "pc":
            assert (row.hp, row.defeated, row.conditions) == (
                combatant.hp, combatant.defeated, [r.index for r in combatant.conditions])
        assert row.present == (row.combatant_id not in enc.left)
    campaign = game.state("campaign", "c" + c)
    summary = game.campaign_summary("c" + c)
    assert summary.in_combat == (enc.status == "active")
    visible = [m.message_id for m in campaign.recent_messages if not m.superseded]
    assert [m.message_id for m in game.recent_chat("c" + c, 50)] == visible


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=steps)
def test_read_models_time_travel_and_snapshots_agree_with_folds(
        prop_store: Store, drawn: list[Step]) -> None:
    c = str(next(_counter))
    game = prop_store.game
    game.apply(setup(c), correlation_id=f"setup-{c}")
    for n, step in enumerate(drawn):
        try:
            game.apply([command(step, c, n)], correlation_id=f"{c}-{n}")
        except DomainError:
            pass
        assert_read_models_agree(prop_store, c)
    for category, entity in (("campaign", "c" + c), ("character", "aria" + c),
                             ("encounter", "e" + c)):
        events = prop_store.read_stream(f"{category}-{entity}")
        full = game.load(category, entity, use_snapshots=False).state
        assert game.load(category, entity).state == full          # snapshot + tail
        for event in events[:: max(1, len(events) // 6)]:
            prefix = fold(category, [e for e in events if e.position <= event.position])
            assert game.load(category, entity, position=event.position).state == prefix
            assert game.load(category, entity, version=event.stream_version).state == prefix
