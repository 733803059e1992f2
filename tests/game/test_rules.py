"""The rules of section 6, decided purely (no store): each invariant, and rejections
that leave nothing behind."""

from __future__ import annotations

from typing import Any

import pytest

from questlog.errors import DomainError
from questlog.game.errors import (
    EncounterNotActive,
    EntityExists,
    InvalidCommand,
    RuleViolation,
    UnknownContentReference,
    UnknownEntity,
)

from .conftest import MemoryWorld, campaign_setup


def dmg(target: dict[str, str], amount: int, **kw: object) -> dict[str, Any]:
    return {"kind": "deal_damage", "target": target, "amount": amount, **kw}


def test_hp_clamped_and_temp_hp_absorbed_first(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    aria = world.state("character", "aria")
    assert aria.max_hp == 12 and aria.current_hp == 12   # d10 + CON 2
    world.run([{"kind": "set_temporary_hit_points", "character_id": "aria", "amount": 5}])
    [taken] = world.run([dmg({"character_id": "aria"}, 8)])
    assert taken.data["temp_hp_absorbed"] == 5 and taken.data["hp_after"] == 9
    assert world.state("character", "aria").temp_hp == 0
    world.run([dmg({"character_id": "aria"}, 15)])
    aria = world.state("character", "aria")
    assert aria.current_hp == 0 and "unconscious" in aria.conditions
    world.run([{"kind": "heal", "target": {"character_id": "aria"}, "amount": 500}])
    aria = world.state("character", "aria")
    assert aria.current_hp == aria.max_hp and "unconscious" not in aria.conditions


def test_lower_temp_hp_do_not_replace_higher(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    world.run([{"kind": "set_temporary_hit_points", "character_id": "aria", "amount": 6}])
    assert world.run([{"kind": "set_temporary_hit_points", "character_id": "aria",
                       "amount": 3}]) == []
    assert world.state("character", "aria").temp_hp == 6


def test_condition_applied_twice_appends_nothing(world: MemoryWorld) -> None:
    world.run(campaign_setup())
    apply = {"kind": "apply_condition", "target": {"character_id": "aria"},
             "condition": "poisoned"}
    assert [e.type for e in world.run([apply])] == ["ConditionApplied"]
    assert world.run([apply]) == []
    on_goblin = {"kind": "apply_condition", "condition": "prone",
                 "target": {"encounter_id": "e1", "combatant_id": "gob1"}}
    assert len(world.run([on_goblin])) == 1 and world.run([on_goblin]) == []


def test_unknown_condition_index_refused_unless_homebrew(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    before = world.count()
    with pytest.raises(UnknownContentReference, match="conditions/sleepy"):
        world.run([{"kind": "apply_condition", "target": {"character_id": "aria"},
                    "condition": "sleepy"}])
    assert world.count() == before
    world.run([{"kind": "apply_condition", "target": {"character_id": "aria"},
                "condition": {"type": "conditions", "name": "Hexed", "homebrew": True}}])
    assert "hexed" in world.state("character", "aria").conditions


def test_combat_cannot_end_while_an_enemy_stands(world: MemoryWorld) -> None:
    world.run(campaign_setup(enemies=2))
    world.run([dmg({"encounter_id": "e1", "combatant_id": "gob1"}, 50)])
    with pytest.raises(RuleViolation, match="Goblin 2"):
        world.run([{"kind": "end_encounter", "encounter_id": "e1"}])
    world.run([dmg({"encounter_id": "e1", "combatant_id": "gob2"}, 7)])
    goblin = world.state("encounter", "e1").combatants["gob2"]
    assert goblin.hp == 0 and goblin.defeated
    world.run([{"kind": "end_encounter", "encounter_id": "e1", "xp_awarded": 100}])
    assert world.state("encounter", "e1").status == "ended"
    assert world.state("character", "aria").xp == 50


def test_duplicate_combatant_ids_refused(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    spec = {"combatant_id": "x", "kind": "monster", "name": "Goblin", "hp": 7, "max_hp": 7}
    with pytest.raises(EntityExists, match="duplicate combatant id 'x'"):
        world.run([{"kind": "start_encounter", "encounter_id": "e9", "campaign_id": "c1",
                    "combatants": [spec, spec]}])
    world.run([{"kind": "start_encounter", "encounter_id": "e9", "campaign_id": "c1",
                "combatants": [spec]}])
    with pytest.raises(EntityExists):
        world.run([{"kind": "add_combatant", "encounter_id": "e9", "combatant": spec}])


def test_turns_skip_incapacitated_and_wrap_into_new_round(world: MemoryWorld) -> None:
    world.run(campaign_setup(enemies=2))
    rolls = {"aria": 18, "gob1": 15, "bram": 10, "gob2": 5}
    world.run([{"kind": "roll_initiative", "encounter_id": "e1", "combatant_id": c, "roll": r}
               for c, r in rolls.items()])
    assert world.state("encounter", "e1").turn_order == ["aria", "gob1", "bram", "gob2"]
    advance = {"kind": "advance_turn", "encounter_id": "e1"}
    [first] = world.run([advance])
    assert first.data == {"combatant_id": "aria", "round": 1, "turn_index": 0,
                          "new_round": True, "skipped_ids": []}
    world.run([{"kind": "apply_condition", "condition": "stunned",
                "target": {"encounter_id": "e1", "combatant_id": "gob1"}},
               dmg({"character_id": "bram"}, 20)])
    [turn] = world.run([advance])
    assert turn.data["combatant_id"] == "gob2" and turn.data["skipped_ids"] == ["gob1", "bram"]
    [turn] = world.run([advance])
    assert turn.data == {"combatant_id": "aria", "round": 2, "turn_index": 0,
                         "new_round": True, "skipped_ids": []}


def test_death_saves_resolve_to_stable_or_dead(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    world.run([dmg({"character_id": "aria"}, 20), dmg({"character_id": "bram"}, 20)])
    save = {"kind": "record_death_save", "character_id": "aria"}
    results = [world.run([{**save, "roll": r}])[0].data["result"] for r in (12, 3, 15, 19)]
    assert results == ["ongoing", "ongoing", "ongoing", "stable"]
    assert world.state("character", "aria").stable
    with pytest.raises(RuleViolation, match="already stable"):
        world.run([{**save, "roll": 10}])
    hit = world.run([dmg({"character_id": "aria"}, 2)])[-1]
    assert (hit.data["successes"], hit.data["failures"], hit.data["result"]) == (0, 2, "ongoing")
    assert not world.state("character", "aria").stable
    world.run([{**save, "character_id": "bram", "roll": 1}])     # two failures
    [last] = world.run([dmg({"character_id": "bram"}, 1)])[-1:]  # damage at 0 HP: a third
    assert last.type == "DeathSaveRecorded" and last.data["result"] == "dead"
    assert world.state("character", "bram").dead
    with pytest.raises(RuleViolation, match="dead"):
        world.run([{"kind": "heal", "target": {"character_id": "bram"}, "amount": 5}])


def test_natural_20_death_save_revives(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    world.run([dmg({"character_id": "aria"}, 20)])
    world.run([{"kind": "record_death_save", "character_id": "aria", "roll": 20}])
    aria = world.state("character", "aria")
    assert aria.current_hp == 1 and "unconscious" not in aria.conditions


def test_rests_and_level_up_restore_what_the_rules_say(world: MemoryWorld) -> None:
    world.run([{"kind": "create_campaign", "campaign_id": "c1", "name": "T",
                "starting_location": {"name": "Town"}},
               {"kind": "create_character", "campaign_id": "c1", "character_id": "ilsa",
                "name": "Ilsa", "class": {"type": "classes", "index": "wizard",
                                          "name": "Wizard"}, "ability_scores": {"con": 12}}])
    ilsa = world.state("character", "ilsa")
    assert (ilsa.max_hp, ilsa.hit_die, ilsa.spell_slots_max) == (7, 6, {"1": 2})
    world.run([{"kind": "expend_spell_slot", "character_id": "ilsa", "slot_level": 1,
                "spell": {"type": "spells", "index": "magic-missile", "name": "Magic Missile"}}]
              * 2)
    with pytest.raises(RuleViolation, match="no level-1 slot"):
        world.run([{"kind": "expend_spell_slot", "character_id": "ilsa", "slot_level": 1}])
    world.run([dmg({"character_id": "ilsa"}, 5),
               {"kind": "change_exhaustion", "character_id": "ilsa", "delta": 2}])
    [short] = world.run([{"kind": "take_rest", "character_id": "ilsa", "rest_type": "short",
                          "hit_dice_spent": 1, "hp_rolled": 9}])
    assert short.data["hp_recovered"] == 5 and short.data["slots_restored"] == {}
    with pytest.raises(RuleViolation, match="0 hit dice"):
        world.run([{"kind": "take_rest", "character_id": "ilsa", "rest_type": "short",
                    "hit_dice_spent": 1, "hp_rolled": 3}])
    world.run([dmg({"character_id": "ilsa"}, 4)])
    world.run([{"kind": "take_rest", "character_id": "ilsa", "rest_type": "long"}])
    ilsa = world.state("character", "ilsa")
    assert (ilsa.current_hp, ilsa.spell_slots_used, ilsa.hit_dice_used, ilsa.exhaustion) == (
        7, {}, 0, 1)
    with pytest.raises(RuleViolation, match="level 2 needs 300"):
        world.run([{"kind": "level_up", "character_id": "ilsa"}])
    world.run([{"kind": "gain_experience", "character_id": "ilsa", "amount": 300},
               {"kind": "level_up", "character_id": "ilsa"}])
    ilsa = world.state("character", "ilsa")
    # d6 average 4 + CON 1 = 5; wizard level 2 has three 1st-level slots.
    assert (ilsa.level, ilsa.max_hp, ilsa.current_hp, ilsa.spell_slots_max) == (
        2, 12, 12, {"1": 3})


def test_warlock_short_rest_restores_pact_slots(world: MemoryWorld) -> None:
    world.run([{"kind": "create_campaign", "campaign_id": "c1", "name": "T",
                "starting_location": {"name": "Town"}},
               {"kind": "create_character", "campaign_id": "c1", "character_id": "vex",
                "name": "Vex", "class": {"type": "classes", "index": "warlock",
                                         "name": "Warlock"}},
               {"kind": "expend_spell_slot", "character_id": "vex", "slot_level": 1},
               {"kind": "take_rest", "character_id": "vex", "rest_type": "short"}])
    assert world.state("character", "vex").spell_slots_used == {}


@pytest.mark.parametrize(("command", "error", "message"), [
    (dmg({"character_id": "aria"}, -3), InvalidCommand, "amount"),
    (dmg({"character_id": "nobody"}, 3), UnknownEntity, "unknown character 'nobody'"),
    ({"kind": "apply_condition", "target": {"character_id": "aria"}, "condition": "sleepy"},
     UnknownContentReference, "conditions/sleepy"),
    ({"kind": "deal_damage", "target": {}, "amount": 1}, InvalidCommand, "target"),
    ({"kind": "fly_to_the_moon"}, InvalidCommand, "fly_to_the_moon"),
    ({"kind": "add_item", "character_id": "aria", "item_id": "x", "name": "Wand",
      "content_ref": {"type": "magic-items", "index": "wand-of-everything", "name": "W"}},
     UnknownContentReference, "magic-items/wand-of-everything"),
    ({"kind": "request_dice_roll", "campaign_id": "c1", "request_id": "r1",
      "character_ids": ["ghost"], "roll_type": "save", "formula": "1d20"},
     UnknownEntity, "ghost"),
])
def test_bad_command_last_of_several_appends_nothing(
        world: MemoryWorld, command: dict[str, object], error: type[DomainError],
        message: str) -> None:
    world.run(campaign_setup())
    before = world.count()
    good = [{"kind": "apply_condition", "target": {"character_id": "aria"},
             "condition": "prone"}, dmg({"encounter_id": "e1", "combatant_id": "gob1"}, 2)]
    with pytest.raises(error, match=message) as info:
        world.run([*good, command])
    assert isinstance(info.value, DomainError)
    assert "command 2" in str(info.value)
    assert world.count() == before


def test_acting_in_a_finished_encounter_is_refused(world: MemoryWorld) -> None:
    world.run(campaign_setup(enemies=1))
    world.run([dmg({"encounter_id": "e1", "combatant_id": "gob1"}, 7),
               {"kind": "end_encounter", "encounter_id": "e1"}])
    for command in ({"kind": "advance_turn", "encounter_id": "e1"},
                    dmg({"encounter_id": "e1", "combatant_id": "aria"}, 1),
                    {"kind": "roll_initiative", "encounter_id": "e1", "combatant_id": "aria",
                     "roll": 5}):
        with pytest.raises(EncounterNotActive, match="has ended"):
            world.run([command])


def test_retreat_and_defeat_rules(world: MemoryWorld) -> None:
    world.run(campaign_setup(enemies=1))
    with pytest.raises(RuleViolation, match="retreat"):
        world.run([{"kind": "end_encounter", "encounter_id": "e1", "outcome": "retreat"}])
    world.run([{"kind": "remove_combatant", "encounter_id": "e1", "combatant_id": c,
                "reason": "fled"} for c in ("aria", "bram")])
    world.run([{"kind": "end_encounter", "encounter_id": "e1", "outcome": "retreat"}])
    assert world.state("encounter", "e1").outcome == "retreat"


def test_current_combatant_leaving_passes_the_turn(world: MemoryWorld) -> None:
    world.run(campaign_setup(enemies=2))
    world.run([{"kind": "roll_initiative", "encounter_id": "e1", "combatant_id": c, "roll": r}
               for c, r in {"aria": 18, "gob1": 15, "bram": 10, "gob2": 5}.items()])
    world.run([{"kind": "advance_turn", "encounter_id": "e1"}] * 2)
    assert world.state("encounter", "e1").current_combatant_id == "gob1"
    world.run([{"kind": "remove_combatant", "encounter_id": "e1", "combatant_id": "gob1"}])
    s = world.state("encounter", "e1")
    assert (s.current_combatant_id, s.turn_index, s.turn_order) == ("bram", 1,
                                                                    ["aria", "bram", "gob2"])


def test_items_currency_and_transfers(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    world.run([{"kind": "add_item", "character_id": "aria", "item_id": "pot", "quantity": 2,
                "name": "Potion of Healing",
                "content_ref": {"type": "magic-items", "index": "potion-of-healing",
                                "name": "Potion of Healing"}},
               {"kind": "remove_item", "character_id": "aria", "item_id": "pot",
                "to_character_id": "bram"},
               {"kind": "change_currency", "character_id": "aria", "delta": {"gp": 5}}])
    assert world.state("character", "aria").inventory["pot"].quantity == 1
    assert world.state("character", "bram").inventory["pot"].quantity == 1
    with pytest.raises(RuleViolation, match="holds only 1"):
        world.run([{"kind": "remove_item", "character_id": "aria", "item_id": "pot",
                    "quantity": 2}])
    with pytest.raises(RuleViolation, match="cannot spend 6"):
        world.run([{"kind": "change_currency", "character_id": "aria", "delta": {"gp": -6}}])


def test_retried_narration_is_superseded_and_dice_requests_clear(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))
    world.run([{"kind": "append_message", "campaign_id": "c1", "message_id": "m1",
                "role": "assistant", "content": "first try"},
               {"kind": "supersede_message", "campaign_id": "c1", "message_id": "m1"},
               {"kind": "request_dice_roll", "campaign_id": "c1", "request_id": "r1",
                "character_ids": ["aria"], "roll_type": "save", "formula": "1d20+2",
                "dc": 12}])
    [rolled, cleared] = world.run([{"kind": "record_dice_roll", "campaign_id": "c1",
                                    "request_id": "r1", "roller_id": "aria",
                                    "roller_kind": "pc", "roll_type": "save",
                                    "formula": "1d20+2", "rolls": [9], "modifier": 2,
                                    "dc": 12}])
    assert (rolled.data["total"], rolled.data["success"]) == (11, False)
    assert cleared.type == "DiceRequestsCleared"
    c = world.state("campaign", "c1")
    assert c.pending_dice == {} and c.recent_messages[0].superseded
    with pytest.raises(UnknownEntity, match="m9"):
        world.run([{"kind": "supersede_message", "campaign_id": "c1", "message_id": "m9"}])


def test_massive_damage_kills_outright(world: MemoryWorld) -> None:
    world.run(campaign_setup(encounter=None))   # aria: 12/12 HP
    world.run([dmg({"character_id": "aria"}, 9)])
    # 3 HP left: 30 damage leaves 27 after reaching 0, more than the 12 HP maximum.
    world.run([dmg({"character_id": "aria"}, 30)])
    aria = world.state("character", "aria")
    assert aria.dead and aria.current_hp == 0 and "unconscious" not in aria.conditions
    # Damage that stops short of the maximum only knocks out; at 0 HP, massive damage kills.
    world.run([dmg({"character_id": "bram"}, 12 + 11)])
    bram = world.state("character", "bram")
    assert not bram.dead and "unconscious" in bram.conditions
    world.run([dmg({"character_id": "bram"}, 12)])
    assert world.state("character", "bram").dead


def test_no_rest_during_an_active_encounter(world: MemoryWorld) -> None:
    world.run(campaign_setup())
    world.run([dmg({"character_id": "aria"}, 5)])
    before = world.count()
    for rest in ("long", "short"):
        with pytest.raises(RuleViolation, match=f"{rest} rest during encounter 'e1'"):
            world.run([{"kind": "take_rest", "character_id": "aria", "rest_type": rest}])
    # Also when the fight starts in the same response as the rest.
    world.run(campaign_setup(campaign="c2", party=("cade",), encounter=None))
    with pytest.raises(RuleViolation, match="during encounter 'e2'"):
        world.run([*campaign_setup(campaign="c2", party=(), encounter="e2")[1:],
                   {"kind": "take_rest", "character_id": "cade", "rest_type": "long"}])
    assert world.count() == before + 3   # only c2: campaign, character, party join
    world.run([dmg({"encounter_id": "e1", "combatant_id": "gob1"}, 7),
               dmg({"encounter_id": "e1", "combatant_id": "gob2"}, 7),
               {"kind": "end_encounter", "encounter_id": "e1"}])
    [rest] = world.run([{"kind": "take_rest", "character_id": "aria", "rest_type": "long"}])
    assert rest.data["hp_recovered"] == 5
