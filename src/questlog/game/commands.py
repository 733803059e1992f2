"""Commands: what a game server (or an AI response) asks the game to do.

Each command is a pydantic model with a `kind` discriminator, so a list of
plain JSON objects parses into typed commands with one call. Commands carry
intent (amounts, targets); the deciders turn them into events after checking
them against the current state.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .errors import InvalidCommand
from .event_base import Source
from .events_campaign import (
    CampaignSetup,
    DiceRequestFields,
    MessageFields,
    NpcFields,
    Place,
    QuestChange,
    QuestFields,
    QuestStatus,
    SettingsChange,
)
from .events_character import CharacterSheet, Coin, Feature, Item
from .events_encounter import CombatantSpec, EncounterSetup
from .refs import ContentRef, Id


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Target(BaseModel):
    """Who a change lands on: a character, or a combatant of an encounter.

    A combatant that is a player character routes to its character stream.
    """

    model_config = ConfigDict(extra="forbid")
    character_id: Id | None = None
    encounter_id: Id | None = None
    combatant_id: Id | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Target:
        if self.character_id is None and (self.encounter_id is None or self.combatant_id is None):
            raise ValueError("give character_id, or encounter_id and combatant_id")
        return self


# --- campaign ---------------------------------------------------------------------------

class CreateCampaign(_Command, CampaignSetup):
    kind: Literal["create_campaign"] = "create_campaign"
    starting_location: Place   # a new campaign starts somewhere


class ChangeCampaignSettings(_Command, SettingsChange):
    kind: Literal["change_campaign_settings"] = "change_campaign_settings"
    campaign_id: Id


class CreateCharacter(_Command, CharacterSheet):
    """Creates the character stream and adds the character to the party.

    `max_hp`, `hit_die` and `spell_slots_max` default from the SRD rules for the
    class (hit die + CON modifier per level, full/half/pact caster slots).
    """

    kind: Literal["create_character"] = "create_character"
    max_hp: int | None = Field(default=None, ge=1)
    hit_die: int | None = Field(default=None, ge=4, le=12)
    spell_slots_max: dict[str, int] | None = None


class LeaveParty(_Command):
    kind: Literal["leave_party"] = "leave_party"
    campaign_id: Id
    character_id: Id
    reason: str = "left"


class StartSession(_Command):
    kind: Literal["start_session"] = "start_session"
    campaign_id: Id
    started_at: str


class EndSession(_Command):
    kind: Literal["end_session"] = "end_session"
    campaign_id: Id
    summary: str | None = None


class ChangeLocation(_Command):
    kind: Literal["change_location"] = "change_location"
    campaign_id: Id
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class RecordNpc(_Command, NpcFields):
    kind: Literal["record_npc"] = "record_npc"
    campaign_id: Id


class AddQuest(_Command, QuestFields):
    kind: Literal["add_quest"] = "add_quest"
    campaign_id: Id


class UpdateQuest(_Command, QuestChange):
    kind: Literal["update_quest"] = "update_quest"
    campaign_id: Id
    status: QuestStatus | None = None


class RecordLore(_Command):
    kind: Literal["record_lore"] = "record_lore"
    campaign_id: Id
    lore_kind: Literal["world_lore", "event_summary"]
    text: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)


class AppendMessage(_Command, MessageFields):
    kind: Literal["append_message"] = "append_message"
    campaign_id: Id


class SupersedeMessage(_Command):
    kind: Literal["supersede_message"] = "supersede_message"
    campaign_id: Id
    message_id: Id
    reason: Literal["retry", "edited"] = "retry"


class RequestDiceRoll(_Command, DiceRequestFields):
    kind: Literal["request_dice_roll"] = "request_dice_roll"
    campaign_id: Id
    encounter_id: Id | None = None   # a command names an encounter by its id


class RecordDiceRoll(_Command):
    """A roll made; if it answers a pending request, that request is cleared (fulfilled)."""

    kind: Literal["record_dice_roll"] = "record_dice_roll"
    campaign_id: Id
    request_id: Id | None = None
    roller_id: str
    roller_kind: Literal["pc", "npc"]
    roll_type: str
    formula: str
    rolls: list[int] = Field(default_factory=list)
    modifier: int = 0
    dc: int | None = None
    purpose: str = ""


class ClearDiceRequests(_Command):
    kind: Literal["clear_dice_requests"] = "clear_dice_requests"
    campaign_id: Id
    request_ids: list[Id] = Field(min_length=1)
    reason: Literal["fulfilled", "superseded"] = "superseded"


# --- character --------------------------------------------------------------------------

class ChangeCharacterDetails(_Command):
    kind: Literal["change_character_details"] = "change_character_details"
    character_id: Id
    name: str | None = None
    notes: str | None = None
    appearance: str | None = None
    relationships: dict[str, str] | None = None
    achievements_added: list[str] = Field(default_factory=list)


class DealDamage(_Command):
    kind: Literal["deal_damage"] = "deal_damage"
    target: Target
    amount: int = Field(ge=0)
    damage_type: str | None = None
    source: Source = Field(default_factory=Source)
    critical: bool = False


class Heal(_Command):
    kind: Literal["heal"] = "heal"
    target: Target
    amount: int = Field(ge=0)
    source: Source = Field(default_factory=Source)


class SetTemporaryHitPoints(_Command):
    kind: Literal["set_temporary_hit_points"] = "set_temporary_hit_points"
    character_id: Id
    amount: int = Field(ge=0)
    source: Source = Field(default_factory=Source)


class ApplyCondition(_Command):
    """`condition` is a ref, or a bare name/index string (resolved to `conditions/<index>`)."""

    kind: Literal["apply_condition"] = "apply_condition"
    target: Target
    condition: ContentRef | str
    duration: str | None = None
    save_ability: str | None = None
    save_dc: int | None = Field(default=None, ge=0, le=50)
    source: str | None = None


class RemoveCondition(_Command):
    kind: Literal["remove_condition"] = "remove_condition"
    target: Target
    condition: ContentRef | str
    reason: str = ""


class ChangeExhaustion(_Command):
    kind: Literal["change_exhaustion"] = "change_exhaustion"
    character_id: Id
    delta: int = Field(ge=-6, le=6)
    reason: str = ""


class RecordDeathSave(_Command):
    """`roll` is the d20 face: 1 = two failures, 2-9 failure, 10-19 success, 20 = back at 1 HP."""

    kind: Literal["record_death_save"] = "record_death_save"
    character_id: Id
    roll: int = Field(ge=1, le=20)


class AddItem(_Command, Item):
    kind: Literal["add_item"] = "add_item"
    character_id: Id
    source: str = ""


class RemoveItem(_Command):
    kind: Literal["remove_item"] = "remove_item"
    character_id: Id
    item_id: Id
    quantity: int = Field(default=1, ge=1)
    reason: Literal["used", "sold", "dropped", "given", "destroyed"] = "used"
    to_character_id: Id | None = None


class ChangeCurrency(_Command):
    kind: Literal["change_currency"] = "change_currency"
    character_id: Id
    delta: dict[Coin, int]
    reason: str = ""
    source: str = ""


class ExpendSpellSlot(_Command):
    kind: Literal["expend_spell_slot"] = "expend_spell_slot"
    character_id: Id
    slot_level: int = Field(ge=1, le=9)
    spell: ContentRef | None = None


class TakeRest(_Command):
    """Short rest: spend `hit_dice_spent` dice, healing `hp_rolled` (the server rolls).
    Long rest: HP to max, all slots, half the hit dice, one exhaustion level."""

    kind: Literal["take_rest"] = "take_rest"
    character_id: Id
    rest_type: Literal["short", "long"]
    hit_dice_spent: int = Field(default=0, ge=0)
    hp_rolled: int = Field(default=0, ge=0)


class GainExperience(_Command):
    kind: Literal["gain_experience"] = "gain_experience"
    character_id: Id
    amount: int = Field(ge=0)
    source: Literal["encounter", "quest", "milestone", "other"] = "other"


class LevelUp(_Command):
    """`hp_gained` defaults to the fixed value (half the hit die + 1 + CON modifier)."""

    kind: Literal["level_up"] = "level_up"
    character_id: Id
    hp_gained: int | None = Field(default=None, ge=1)
    features_gained: list[Feature] = Field(default_factory=list)
    subclass: ContentRef | None = None


# --- encounter --------------------------------------------------------------------------

class CombatantInput(CombatantSpec):
    """A combatant as a command gives it: a `pc` may leave `hp`/`max_hp` out (they are
    copied from its character); a `monster_ref` to a content entry fills AC, HP, stats,
    attacks, resistances and immunities from it (stated values win); every other
    combatant must state `hp` and `max_hp`."""

    hp: int | None = Field(default=None, ge=0)  # type: ignore[assignment]
    max_hp: int | None = Field(default=None, ge=1)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _hp_for_non_pc(self) -> CombatantInput:
        if self.kind == "pc" and self.character_id is None:
            raise ValueError("a pc combatant needs character_id")
        from_content = self.monster_ref is not None and not self.monster_ref.homebrew
        if self.kind != "pc" and not from_content and (self.hp is None or self.max_hp is None):
            raise ValueError(f"a {self.kind} combatant needs hp and max_hp "
                             "(or a monster_ref to a content entry)")
        return self


class StartEncounter(_Command, EncounterSetup):
    kind: Literal["start_encounter"] = "start_encounter"
    combatants: list[CombatantInput] = Field(min_length=1)


class AddCombatant(_Command):
    kind: Literal["add_combatant"] = "add_combatant"
    encounter_id: Id
    combatant: CombatantInput
    reason: Literal["reinforcement", "summoned", "joined"] = "reinforcement"


class RollInitiative(_Command):
    kind: Literal["roll_initiative"] = "roll_initiative"
    encounter_id: Id
    combatant_id: Id
    roll: int = Field(ge=1, le=20)
    modifier: int | None = None


class AdvanceTurn(_Command):
    kind: Literal["advance_turn"] = "advance_turn"
    encounter_id: Id


class RemoveCombatant(_Command):
    kind: Literal["remove_combatant"] = "remove_combatant"
    encounter_id: Id
    combatant_id: Id
    reason: Literal["defeated", "fled", "narrative", "dismissed"] = "narrative"


class EndEncounter(_Command):
    """`xp_awarded` is split evenly (rounded down) among the PCs still in the roster."""

    kind: Literal["end_encounter"] = "end_encounter"
    encounter_id: Id
    outcome: Literal["victory", "retreat", "defeat", "narrative"] = "victory"
    xp_awarded: int | None = Field(default=None, ge=0)
    summary: str | None = None


Command = Annotated[
    CreateCampaign | ChangeCampaignSettings | CreateCharacter | LeaveParty | StartSession
    | EndSession | ChangeLocation | RecordNpc | AddQuest | UpdateQuest | RecordLore
    | AppendMessage | SupersedeMessage | RequestDiceRoll | RecordDiceRoll | ClearDiceRequests
    | ChangeCharacterDetails | DealDamage | Heal | SetTemporaryHitPoints | ApplyCondition
    | RemoveCondition | ChangeExhaustion | RecordDeathSave | AddItem | RemoveItem
    | ChangeCurrency | ExpendSpellSlot | TakeRest | GainExperience | LevelUp | StartEncounter
    | AddCombatant | RollInitiative | AdvanceTurn | RemoveCombatant | EndEncounter,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(value: Any) -> Command:
    """A typed command from a command model or a JSON object; InvalidCommand names the fields."""
    if isinstance(value, BaseModel) and hasattr(value, "kind"):
        return value  # type: ignore[return-value]
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        kind = value.get("kind") if isinstance(value, dict) else type(value).__name__
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'command'}: {e['msg']}"
            for e in exc.errors()[:5])
        raise InvalidCommand(f"invalid command {kind!r}: {details}") from exc
