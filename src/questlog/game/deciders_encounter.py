"""Encounter commands: roster, initiative, turns, and what happens to non-PC combatants."""

from __future__ import annotations

from . import commands as c
from . import events_encounter as ev
from . import rules
from .decider import UnitOfWork
from .deciders_character import gain_experience
from .errors import (
    EncounterNotActive,
    EntityExists,
    InvalidCommand,
    RuleViolation,
    UnknownEntity,
)
from .event_base import Source
from .refs import INCAPACITATING, ContentRef
from .state import Combatant, EncounterState

DEFEATED = ContentRef(type="conditions", index="defeated", name="Defeated", homebrew=True)


def active(uow: UnitOfWork, encounter_id: str) -> EncounterState:
    s = uow.encounter(encounter_id)
    if s.status != "active":
        raise EncounterNotActive(f"encounter {encounter_id!r} has ended ({s.outcome})")
    return s


def present(s: EncounterState, combatant_id: str) -> Combatant:
    if combatant_id not in s.combatants or combatant_id in s.left:
        raise UnknownEntity(
            f"no combatant {combatant_id!r} in encounter {s.encounter_id!r}")
    return s.combatants[combatant_id]


def incapacitated(uow: UnitOfWork, combatant: Combatant) -> bool:
    if combatant.kind == "pc" and combatant.character_id:
        return uow.character(combatant.character_id).incapacitated
    return (combatant.defeated or combatant.hp == 0
            or any(r.index in INCAPACITATING for r in combatant.conditions))


def _spec(uow: UnitOfWork, campaign_id: str, given: c.CombatantInput) -> ev.CombatantSpec:
    uow.check_ref(given.monster_ref, ("monsters",), f"combatant {given.combatant_id}")
    data = given.model_dump()
    entry = uow.entry(given.monster_ref)
    if entry is not None:
        # The stat block comes from the referenced entry; what the command states wins.
        data = {**data, **rules.monster_combatant(entry),
                **given.model_dump(include=given.model_fields_set)}
        if "hp" in given.model_fields_set and "max_hp" not in given.model_fields_set:
            data["max_hp"] = max(data["max_hp"], data["hp"])
        elif "max_hp" in given.model_fields_set and "hp" not in given.model_fields_set:
            data["hp"] = data["max_hp"]
    if given.kind != "pc" and (data.get("hp") is None or data.get("max_hp") is None):
        raise InvalidCommand(f"combatant {given.combatant_id}: a {given.kind} needs hp and "
                             "max_hp (or a monster_ref to a content entry that has them)")
    if given.kind == "pc":
        assert given.character_id is not None   # checked by CombatantInput
        pc = uow.character(given.character_id)
        if pc.campaign_id != campaign_id:
            raise UnknownEntity(
                f"character {given.character_id!r} is not in campaign {campaign_id!r}")
        data.update(hp=pc.current_hp, max_hp=pc.max_hp)
    return ev.CombatantSpec.model_validate(data)


def start_encounter(uow: UnitOfWork, cmd: c.StartEncounter) -> None:
    if uow.encounter(cmd.encounter_id, must_exist=False).exists:
        raise EntityExists(f"encounter {cmd.encounter_id!r} already exists")
    uow.campaign(cmd.campaign_id)
    seen: set[str] = set()
    for given in cmd.combatants:
        if given.combatant_id in seen:
            raise EntityExists(f"duplicate combatant id {given.combatant_id!r}")
        seen.add(given.combatant_id)
    specs = [_spec(uow, cmd.campaign_id, given) for given in cmd.combatants]
    uow.emit("encounter", cmd.encounter_id, ev.EncounterStarted(
        encounter_id=cmd.encounter_id, campaign_id=cmd.campaign_id, location=cmd.location,
        reason=cmd.reason, combatants=specs))


def add_combatant(uow: UnitOfWork, cmd: c.AddCombatant) -> None:
    s = active(uow, cmd.encounter_id)
    if cmd.combatant.combatant_id in s.combatants:
        raise EntityExists(f"duplicate combatant id {cmd.combatant.combatant_id!r}")
    uow.emit("encounter", cmd.encounter_id, ev.CombatantJoined(
        combatant=_spec(uow, s.campaign_id, cmd.combatant), reason=cmd.reason))


def roll_initiative(uow: UnitOfWork, cmd: c.RollInitiative) -> None:
    s = active(uow, cmd.encounter_id)
    combatant = present(s, cmd.combatant_id)
    modifier = combatant.initiative_modifier if cmd.modifier is None else cmd.modifier
    uow.emit("encounter", cmd.encounter_id, ev.InitiativeRolled(
        combatant_id=cmd.combatant_id, roll=cmd.roll, modifier=modifier,
        total=cmd.roll + modifier))


def advance_turn(uow: UnitOfWork, cmd: c.AdvanceTurn) -> None:
    """Next combatant in order that can act; passing the end of the order starts a round."""
    s = active(uow, cmd.encounter_id)
    order = s.turn_order
    if not order:
        raise RuleViolation(f"encounter {cmd.encounter_id!r} has no combatants")
    first = s.round == 0
    start = 0 if first else s.turn_index + 1
    skipped: list[str] = []
    for step in range(len(order)):
        index = (start + step) % len(order)
        wrapped = not first and start + step >= len(order)
        combatant = s.combatants[order[index]]
        if incapacitated(uow, combatant):
            skipped.append(combatant.combatant_id)
            continue
        new_round = first or wrapped
        uow.emit("encounter", cmd.encounter_id, ev.TurnAdvanced(
            combatant_id=combatant.combatant_id, round=s.round + 1 if new_round else s.round,
            turn_index=index, new_round=new_round, skipped_ids=skipped))
        return
    raise RuleViolation(f"no combatant in encounter {cmd.encounter_id!r} can act")


def damage_combatant(uow: UnitOfWork, encounter_id: str, combatant: Combatant, amount: int,
                     damage_type: str | None, source: Source, critical: bool) -> None:
    hp_after = max(0, combatant.hp - amount)
    if hp_after == combatant.hp:
        return
    uow.emit("encounter", encounter_id, ev.CombatantHitPointsChanged(
        combatant_id=combatant.combatant_id, delta=hp_after - combatant.hp,
        hp_before=combatant.hp, hp_after=hp_after, damage_type=damage_type, source=source,
        critical=critical))
    if hp_after == 0 and not combatant.defeated:
        uow.emit("encounter", encounter_id, ev.CombatantConditionsChanged(
            combatant_id=combatant.combatant_id, added=[DEFEATED], defeated=True))


def heal_combatant(uow: UnitOfWork, encounter_id: str, combatant: Combatant, amount: int,
                   source: Source) -> None:
    hp_after = min(combatant.max_hp, combatant.hp + amount)
    if hp_after == combatant.hp:
        return
    was_defeated = combatant.defeated
    uow.emit("encounter", encounter_id, ev.CombatantHitPointsChanged(
        combatant_id=combatant.combatant_id, delta=hp_after - combatant.hp,
        hp_before=combatant.hp, hp_after=hp_after, source=source))
    if was_defeated:
        uow.emit("encounter", encounter_id, ev.CombatantConditionsChanged(
            combatant_id=combatant.combatant_id, removed=[DEFEATED], defeated=False))


def change_conditions(uow: UnitOfWork, encounter_id: str, combatant: Combatant,
                      added: ContentRef | None, removed: ContentRef | None) -> None:
    have = {r.index for r in combatant.conditions}
    if added is not None:
        if added.index in have:
            return   # applied twice: a no-op
        if added.index in combatant.condition_immunities:
            raise RuleViolation(f"{combatant.name} is immune to {added.index}")
    if removed is not None and removed.index not in have:
        return
    uow.emit("encounter", encounter_id, ev.CombatantConditionsChanged(
        combatant_id=combatant.combatant_id, added=[added] if added else [],
        removed=[removed] if removed else [], defeated=combatant.defeated))


def remove_combatant(uow: UnitOfWork, cmd: c.RemoveCombatant) -> None:
    s = active(uow, cmd.encounter_id)
    present(s, cmd.combatant_id)
    uow.emit("encounter", cmd.encounter_id,
             ev.CombatantLeft(combatant_id=cmd.combatant_id, reason=cmd.reason))


def end_encounter(uow: UnitOfWork, cmd: c.EndEncounter) -> None:
    """Victory/narrative need every enemy still present defeated; a retreat needs every
    PC gone from the roster; a defeat needs every PC present incapacitated."""
    s = active(uow, cmd.encounter_id)
    roster = s.present()
    standing = [x.name for x in roster if x.is_enemy and not x.defeated and x.hp > 0]
    pcs = [x for x in roster if not x.is_enemy]
    if cmd.outcome in ("victory", "narrative") and standing:
        raise RuleViolation(
            f"combat cannot end while undefeated enemies remain: {', '.join(standing)}")
    if cmd.outcome == "retreat" and standing and pcs:
        raise RuleViolation("a retreat ends combat only once every PC has left the roster")
    if cmd.outcome == "defeat" and standing and any(
            not incapacitated(uow, x) for x in pcs):
        raise RuleViolation("a defeat ends combat only once every PC is down")
    uow.emit("encounter", cmd.encounter_id, ev.EncounterEnded(
        outcome=cmd.outcome, rounds=s.round, xp_awarded=cmd.xp_awarded, summary=cmd.summary))
    if cmd.xp_awarded:
        winners = [x.character_id for x in pcs
                   if x.character_id and not uow.character(x.character_id).dead]
        for character_id in winners:
            gain_experience(uow, character_id, cmd.xp_awarded // len(winners), "encounter")
