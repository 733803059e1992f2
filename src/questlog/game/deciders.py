"""Dispatch: one decider per command kind; targets routed to characters or combatants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import commands as c
from . import deciders_campaign as camp
from . import deciders_character as char
from . import deciders_encounter as enc
from .decider import UnitOfWork
from .state import Combatant


def _resolve(uow: UnitOfWork, target: c.Target) -> tuple[str | None, str | None, Combatant | None]:
    """(character_id, encounter_id, non-PC combatant) for a target."""
    if target.encounter_id is None or target.combatant_id is None:
        uow.character(target.character_id or "")
        return target.character_id, None, None
    s = enc.active(uow, target.encounter_id)
    combatant = enc.present(s, target.combatant_id)
    if combatant.kind == "pc":
        return combatant.character_id, target.encounter_id, None
    return None, target.encounter_id, combatant


def _deal_damage(uow: UnitOfWork, cmd: c.DealDamage) -> None:
    character_id, encounter_id, combatant = _resolve(uow, cmd.target)
    if combatant is not None and encounter_id is not None:
        enc.damage_combatant(uow, encounter_id, combatant, cmd.amount, cmd.damage_type,
                             cmd.source, cmd.critical)
    elif character_id is not None:
        char.damage(uow, character_id, cmd.amount, cmd.damage_type, cmd.source, cmd.critical,
                    encounter_id)


def _heal(uow: UnitOfWork, cmd: c.Heal) -> None:
    character_id, encounter_id, combatant = _resolve(uow, cmd.target)
    if combatant is not None and encounter_id is not None:
        enc.heal_combatant(uow, encounter_id, combatant, cmd.amount, cmd.source)
    elif character_id is not None:
        char.heal(uow, character_id, cmd.amount, cmd.source, encounter_id)


def _apply_condition(uow: UnitOfWork, cmd: c.ApplyCondition) -> None:
    character_id, encounter_id, combatant = _resolve(uow, cmd.target)
    if combatant is not None and encounter_id is not None:
        uow.check_ref(cmd.condition, ("conditions",), f"condition for {combatant.combatant_id}")
        enc.change_conditions(uow, encounter_id, combatant, cmd.condition, None)
    elif character_id is not None:
        char.apply_condition(uow, character_id, cmd, encounter_id)


def _remove_condition(uow: UnitOfWork, cmd: c.RemoveCondition) -> None:
    character_id, encounter_id, combatant = _resolve(uow, cmd.target)
    if combatant is not None and encounter_id is not None:
        enc.change_conditions(uow, encounter_id, combatant, None, cmd.condition)
    elif character_id is not None:
        char.remove_condition(uow, character_id, cmd)


DECIDERS: dict[type[Any], Callable[[UnitOfWork, Any], None]] = {
    c.CreateCampaign: camp.create_campaign,
    c.ChangeCampaignSettings: camp.change_settings,
    c.LeaveParty: camp.leave_party,
    c.StartSession: camp.start_session,
    c.EndSession: camp.end_session,
    c.ChangeLocation: camp.change_location,
    c.RecordNpc: camp.record_npc,
    c.AddQuest: camp.add_quest,
    c.UpdateQuest: camp.update_quest,
    c.RecordLore: camp.record_lore,
    c.AppendMessage: camp.append_message,
    c.SupersedeMessage: camp.supersede_message,
    c.RequestDiceRoll: camp.request_dice_roll,
    c.RecordDiceRoll: camp.record_dice_roll,
    c.ClearDiceRequests: camp.clear_dice_requests,
    c.CreateCharacter: char.create_character,
    c.ChangeCharacterDetails: char.change_details,
    c.DealDamage: _deal_damage,
    c.Heal: _heal,
    c.SetTemporaryHitPoints: char.set_temp_hp,
    c.ApplyCondition: _apply_condition,
    c.RemoveCondition: _remove_condition,
    c.ChangeExhaustion: char.change_exhaustion,
    c.RecordDeathSave: char.record_death_save,
    c.AddItem: char.add_item,
    c.RemoveItem: char.remove_item,
    c.ChangeCurrency: char.change_currency,
    c.ExpendSpellSlot: char.expend_slot,
    c.TakeRest: char.take_rest,
    c.GainExperience: lambda uow, cmd: char.gain_experience(
        uow, cmd.character_id, cmd.amount, cmd.source),
    c.LevelUp: char.level_up,
    c.StartEncounter: enc.start_encounter,
    c.AddCombatant: enc.add_combatant,
    c.RollInitiative: enc.roll_initiative,
    c.AdvanceTurn: enc.advance_turn,
    c.RemoveCombatant: enc.remove_combatant,
    c.EndEncounter: enc.end_encounter,
}


def decide(uow: UnitOfWork, command: Any) -> None:
    DECIDERS[type(command)](uow, command)
