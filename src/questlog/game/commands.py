"""Commands: what a game server (or an AI response) asks the game to do.

Each command is a pydantic model with a `kind` discriminator, so a list of
plain JSON objects parses into typed commands with one call. Commands carry
intent (amounts, targets); the deciders turn them into events after checking
them against the current state.

The models are the one source of what a command is: their docstrings, fields and
`example`s make `questlog game commands`, the JSON Schema and LLM tool definitions
(`game/catalog.py`) and the OpenAPI body of `POST /game/commands`. Every `example`
applies on a store holding the bundled starter pack when the examples run in the
order of `tests/game/test_command_catalog.py`.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.config import JsonDict

from .errors import InvalidCommand
from .event_base import Source
from .events_campaign import (
    CampaignSetup,
    DiceRequestFields,
    MessageFields,
    NpcFields,
    PlaceInput,
    QuestChange,
    QuestFields,
    QuestStatus,
    SettingsChange,
)
from .events_character import CharacterSheet, Coin, Feature, Item
from .events_encounter import CombatantSpec, EncounterSetup
from .refs import ConditionRef, Id, SpellRef, SubclassRef


def _document_command(schema: JsonDict, model: type[BaseModel]) -> None:
    """`kind` is required in JSON (it has a default only for Python callers), and the
    model's example goes into its schema."""
    required = schema.setdefault("required", [])
    if isinstance(required, list) and "kind" not in required:
        required.insert(0, "kind")
    example = getattr(model, "example", None)
    if example is not None:
        schema["examples"] = [{"kind": model.model_fields["kind"].default, **example}]


class _Command(BaseModel):
    """Base of the command models: `kind` names the command, unknown fields are refused.

    `example` (without `kind`) is shown by `game commands` and in every schema."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              json_schema_extra=_document_command)
    example: ClassVar[dict[str, Any]]


class Target(BaseModel):
    """Who a change lands on: a character (`character_id`), or a combatant of an encounter
    (`encounter_id` and `combatant_id`).

    A combatant that is a player character routes to its character stream.
    """

    # The rule of `_one_target`, for JSON Schema readers (null counts as absent).
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["character_id"], "properties": {"character_id": {"type": "string"}}},
        {"required": ["encounter_id", "combatant_id"],
         "properties": {"encounter_id": {"type": "string"},
                        "combatant_id": {"type": "string"}}}]})
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
    """Create a campaign stream. `starting_location` is a place object or just its name."""

    kind: Literal["create_campaign"] = "create_campaign"
    example = {
        "campaign_id": "sunken-lantern", "name": "The Sunken Lantern",
        "goal": "Relight the drowned lighthouse", "starting_location": "Saltmarsh Quay",
    }
    starting_location: PlaceInput   # a new campaign starts somewhere


class ChangeCampaignSettings(_Command, SettingsChange):
    """Change campaign settings; fields left out (or null) stay as they are."""

    kind: Literal["change_campaign_settings"] = "change_campaign_settings"
    example = {"campaign_id": "sunken-lantern", "difficulty": "hard", "narration_enabled": True}
    campaign_id: Id


class CreateCharacter(_Command, CharacterSheet):
    """Create a character stream and add the character to the campaign's party.

    `max_hp`, `hit_die` and `spell_slots_max` default from the SRD rules for the
    class (hit die + CON modifier per level, full/half/pact caster slots).
    """

    kind: Literal["create_character"] = "create_character"
    example = {
        "character_id": "mira", "campaign_id": "sunken-lantern", "name": "Mira Tallow",
        "class": {"name": "Lamplighter", "homebrew": True}, "hit_die": 8,
        "ability_scores": {"str": 10, "dex": 14, "con": 12, "int": 15, "wis": 13, "cha": 8},
        "spell_slots_max": {"1": 2}, "spells_known": ["lantern-ward"],
        "cantrips_known": ["Whispering Chalk"],
        "inventory": [{"item_id": "tide-hook", "name": "Tide Hook", "content_ref": "tide-hook"}],
        "gold": 12,
    }
    max_hp: int | None = Field(default=None, ge=1, description=(
        "default: hit die + CON modifier, plus the fixed gain per level above 1"))
    hit_die: int | None = Field(default=None, ge=4, le=12, description=(
        "faces of the hit die; default: the SRD class's (8 for others)"))
    spell_slots_max: dict[str, int] | None = Field(default=None, description=(
        "slot level (\"1\"..\"9\") -> slots; default: the SRD class table at this level"))


class LeaveParty(_Command):
    """A character leaves the active party (its stream and history stay)."""

    kind: Literal["leave_party"] = "leave_party"
    example = {"campaign_id": "sunken-lantern", "character_id": "mira", "reason": "retired"}
    campaign_id: Id
    character_id: Id
    reason: str = "left"


class StartSession(_Command):
    """Start the next play session (numbered by the campaign); one may run at a time."""

    kind: Literal["start_session"] = "start_session"
    example = {"campaign_id": "sunken-lantern", "started_at": "2026-12-01T19:00:00Z"}
    campaign_id: Id
    started_at: str = Field(description="the game server's wall-clock time, ISO 8601")


class EndSession(_Command):
    """End the running session, with an optional summary."""

    kind: Literal["end_session"] = "end_session"
    example = {
        "campaign_id": "sunken-lantern",
        "summary": "The hounds are beaten; the lantern still sleeps.",
    }
    campaign_id: Id
    summary: str | None = None


class ChangeLocation(_Command):
    """Move the party to a new place (the same place again is a no-op)."""

    kind: Literal["change_location"] = "change_location"
    example = {
        "campaign_id": "sunken-lantern", "name": "The Drowned Chapel",
        "description": "Pews under a foot of seawater.",
    }
    campaign_id: Id
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class RecordNpc(_Command, NpcFields):
    """Introduce an NPC (name required the first time) or change its given fields."""

    kind: Literal["record_npc"] = "record_npc"
    example = {
        "campaign_id": "sunken-lantern", "npc_id": "old-wick", "name": "Old Wick",
        "description": "The last lamplighter of the quay", "attitude": "friendly",
        "last_location": "Saltmarsh Quay",
    }
    campaign_id: Id


class AddQuest(_Command, QuestFields):
    """Add a quest to the campaign's quest log (`quest_id` unique per campaign)."""

    kind: Literal["add_quest"] = "add_quest"
    example = {
        "campaign_id": "sunken-lantern", "quest_id": "relight", "title": "Relight the lantern",
        "description": "Find oil, wick and flame for the drowned lighthouse.",
    }
    campaign_id: Id


class UpdateQuest(_Command, QuestChange):
    """Change a quest's status, progress, description or rewards (given fields only)."""

    kind: Literal["update_quest"] = "update_quest"
    example = {
        "campaign_id": "sunken-lantern", "quest_id": "relight", "objectives_completed": 1,
        "objectives_total": 3, "rewards": {"xp": 300, "gold": 50},
    }
    campaign_id: Id
    status: QuestStatus | None = Field(default=None, description="the new status")


class RecordLore(_Command):
    """Record world lore or an event summary, with keywords for search."""

    kind: Literal["record_lore"] = "record_lore"
    example = {
        "campaign_id": "sunken-lantern", "lore_kind": "world_lore",
        "text": "The lantern went dark the night the choir drowned.",
        "keywords": ["lantern", "choir"],
    }
    campaign_id: Id
    lore_kind: Literal["world_lore", "event_summary"]
    text: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)


class AppendMessage(_Command, MessageFields):
    """Append one chat message (player, game master or system) to the campaign's history."""

    kind: Literal["append_message"] = "append_message"
    example = {
        "campaign_id": "sunken-lantern", "message_id": "msg-1", "role": "assistant",
        "content": "Seawater laps at the chapel steps.",
    }
    campaign_id: Id


class SupersedeMessage(_Command):
    """Hide a recent message from the chat (a retried or edited response); the log keeps it."""

    kind: Literal["supersede_message"] = "supersede_message"
    example = {"campaign_id": "sunken-lantern", "message_id": "msg-1", "reason": "edited"}
    campaign_id: Id
    message_id: Id
    reason: Literal["retry", "edited"] = "retry"


class RequestDiceRoll(_Command, DiceRequestFields):
    """Ask party members for a roll; it stays pending until recorded or cleared."""

    kind: Literal["request_dice_roll"] = "request_dice_roll"
    example = {
        "campaign_id": "sunken-lantern", "request_id": "req-1", "character_ids": ["mira"],
        "roll_type": "skill_check", "formula": "1d20+3", "skill": "perception", "dc": 12,
        "reason": "Something moves under the water",
    }
    campaign_id: Id
    encounter_id: Id | None = None   # a command names an encounter by its id


class RecordDiceRoll(_Command):
    """Record a dice roll made; if it answers a pending request, that request is fulfilled."""

    kind: Literal["record_dice_roll"] = "record_dice_roll"
    example = {
        "campaign_id": "sunken-lantern", "request_id": "req-1", "roller_id": "mira",
        "roller_kind": "pc", "roll_type": "skill_check", "formula": "1d20+3", "rolls": [11],
        "modifier": 3, "dc": 12,
    }
    campaign_id: Id
    request_id: Id | None = None
    roller_id: str
    roller_kind: Literal["pc", "npc"]
    roll_type: str
    formula: str
    rolls: list[int] = Field(default_factory=list, description="the die faces rolled")
    modifier: int = Field(default=0, description="added to the faces: total = sum + modifier")
    dc: int | None = Field(default=None, description="success when total >= dc")
    purpose: str = ""


class ClearDiceRequests(_Command):
    """Drop pending dice requests (ids that are not pending are ignored)."""

    kind: Literal["clear_dice_requests"] = "clear_dice_requests"
    example = {"campaign_id": "sunken-lantern", "request_ids": ["req-1"], "reason": "superseded"}
    campaign_id: Id
    request_ids: list[Id] = Field(min_length=1)
    reason: Literal["fulfilled", "superseded"] = "superseded"


# --- character --------------------------------------------------------------------------

class ChangeCharacterDetails(_Command):
    """Change a character's name, notes or appearance; merge relationships; add achievements."""

    kind: Literal["change_character_details"] = "change_character_details"
    example = {
        "character_id": "mira", "notes": "Keeps the harbour's lamp-oil accounts",
        "relationships": {"old-wick": "owes her a favour"},
        "achievements_added": ["Found the drowned chapel"],
    }
    character_id: Id
    name: str | None = None
    notes: str | None = None
    appearance: str | None = None
    relationships: dict[str, str] | None = None
    achievements_added: list[str] = Field(default_factory=list)


class DealDamage(_Command):
    """Damage a character or a combatant: temporary HP absorb first, HP stop at 0.

    A player character dropping to 0 falls unconscious; a monster or NPC at 0 is defeated."""

    kind: Literal["deal_damage"] = "deal_damage"
    example = {
        "target": {"encounter_id": "quay-ambush", "combatant_id": "hound-1"}, "amount": 26,
        "damage_type": "piercing",
        "source": {"attacker_id": "mira", "weapon_or_spell": "Tide Hook"},
    }
    target: Target
    amount: int = Field(ge=0, description="damage dealt, before temporary HP absorb it")
    damage_type: str | None = None
    source: Source = Field(default_factory=Source)
    critical: bool = Field(default=False, description=(
        "a critical hit: two failed death saves on a character at 0 HP"))


class Heal(_Command):
    """Heal a character or a combatant (up to its HP maximum)."""

    kind: Literal["heal"] = "heal"
    example = {
        "target": {"character_id": "mira"}, "amount": 7,
        "source": {"description": "a potion of healing"},
    }
    target: Target
    amount: int = Field(ge=0, description="HP healed (beyond the maximum is lost)")
    source: Source = Field(default_factory=Source)


class SetTemporaryHitPoints(_Command):
    """Give temporary HP: they do not stack (the higher amount stays); 0 clears them."""

    kind: Literal["set_temporary_hit_points"] = "set_temporary_hit_points"
    example = {"character_id": "mira", "amount": 5, "source": {"weapon_or_spell": "Lantern Ward"}}
    character_id: Id
    amount: int = Field(ge=0)
    source: Source = Field(default_factory=Source)


class ApplyCondition(_Command):
    """Apply a condition to a character or a combatant (the same condition again is a no-op).

    `condition` is a bare index or name (`conditions/<index>`, checked against content) or
    a ref object; invented conditions are refs with `"homebrew": true`."""

    kind: Literal["apply_condition"] = "apply_condition"
    example = {
        "target": {"encounter_id": "quay-ambush", "combatant_id": "wisp-1"},
        "condition": {"name": "Drenched", "homebrew": True},
        "duration": "until the end of its next turn",
    }
    target: Target
    condition: ConditionRef
    duration: str | None = Field(default=None, description="free text (\"1 minute\")")
    save_ability: str | None = Field(default=None, description="ability of the saving "
                                        "throw that ends it (with save_dc)")
    save_dc: int | None = Field(default=None, ge=0, le=50)
    source: str | None = None


class RemoveCondition(_Command):
    """Remove a condition from a character or a combatant (absent: a no-op); same forms as
    `apply_condition`."""

    kind: Literal["remove_condition"] = "remove_condition"
    example = {
        "target": {"encounter_id": "quay-ambush", "combatant_id": "wisp-1"},
        "condition": "drenched", "reason": "dried off",
    }
    target: Target
    condition: ConditionRef
    reason: str = ""


class ChangeExhaustion(_Command):
    """Raise or lower a character's exhaustion level (0..6; 6 is death)."""

    kind: Literal["change_exhaustion"] = "change_exhaustion"
    example = {"character_id": "mira", "delta": 1, "reason": "a night without sleep"}
    character_id: Id
    delta: int = Field(ge=-6, le=6, description="levels to add (negative: remove)")
    reason: str = ""


class RecordDeathSave(_Command):
    """Record a death saving throw of a character at 0 HP.

    `roll` is the d20 face: 1 = two failures, 2-9 failure, 10-19 success, 20 = back at 1 HP."""

    kind: Literal["record_death_save"] = "record_death_save"
    example = {"character_id": "mira", "roll": 20}
    character_id: Id
    roll: int = Field(ge=1, le=20)


class AddItem(_Command, Item):
    """Add an item to a character's inventory (the same `item_id` again adds to its quantity)."""

    kind: Literal["add_item"] = "add_item"
    example = {
        "character_id": "mira", "item_id": "ring-of-still-water", "name": "Ring of Still Water",
        "content_ref": {"type": "magic-items", "index": "ring-of-still-water"},
        "source": "found in the chapel",
    }
    character_id: Id
    source: str = ""


class RemoveItem(_Command):
    """Remove items a character holds; with `to_character_id` they are given to that character."""

    kind: Literal["remove_item"] = "remove_item"
    example = {"character_id": "mira", "item_id": "tide-hook", "quantity": 1, "reason": "sold"}
    character_id: Id
    item_id: Id
    quantity: int = Field(default=1, ge=1)
    reason: Literal["used", "sold", "dropped", "given", "destroyed"] = "used"
    to_character_id: Id | None = Field(default=None, description=(
        "give the items to this character (reason becomes \"given\")"))


class ChangeCurrency(_Command):
    """Add or spend coins per denomination (a purse cannot go below 0 of a coin)."""

    kind: Literal["change_currency"] = "change_currency"
    example = {"character_id": "mira", "delta": {"gp": 15, "sp": 5}, "reason": "sold the tide hook"}
    character_id: Id
    delta: dict[Coin, int] = Field(description="coins per denomination; negative to spend")
    reason: str = ""
    source: str = ""


class ExpendSpellSlot(_Command):
    """Spend a spell slot of a level (refused when none is left)."""

    kind: Literal["expend_spell_slot"] = "expend_spell_slot"
    example = {"character_id": "mira", "slot_level": 1, "spell": "Lantern Ward"}
    character_id: Id
    slot_level: int = Field(ge=1, le=9)
    spell: SpellRef | None = None


class TakeRest(_Command):
    """Take a short or long rest (not while the campaign fights).

    Short rest: spend `hit_dice_spent` dice, healing `hp_rolled` (the server rolls).
    Long rest: HP to max, all slots, half the hit dice, one exhaustion level."""

    kind: Literal["take_rest"] = "take_rest"
    example = {"character_id": "mira", "rest_type": "long"}
    character_id: Id
    rest_type: Literal["short", "long"]
    hit_dice_spent: int = Field(default=0, ge=0, description="short rest: hit dice spent")
    hp_rolled: int = Field(default=0, ge=0, description=(
        "short rest: HP the spent dice rolled (with CON), healed up to the maximum"))


class GainExperience(_Command):
    """Award experience points to a character."""

    kind: Literal["gain_experience"] = "gain_experience"
    example = {"character_id": "mira", "amount": 300, "source": "quest"}
    character_id: Id
    amount: int = Field(ge=0)
    source: Literal["encounter", "quest", "milestone", "other"] = "other"


class LevelUp(_Command):
    """Raise a character one level (refused below the XP threshold in an XP campaign).

    `hp_gained` defaults to the fixed value (half the hit die + 1 + CON modifier)."""

    kind: Literal["level_up"] = "level_up"
    example = {
        "character_id": "mira", "hp_gained": 5,
        "features_gained": [
            {
                "name": "Lantern Sense",
                "description": "You see through magical darkness within 10 feet.", "level": 2,
            },
        ],
    }
    character_id: Id
    hp_gained: int | None = Field(default=None, ge=1)
    features_gained: list[Feature] = Field(default_factory=list)
    subclass: SubclassRef | None = None


# --- encounter --------------------------------------------------------------------------

class CombatantInput(CombatantSpec):
    """A combatant as a command gives it: a `pc` may leave `hp`/`max_hp` out (they are
    copied from its character); a `monster_ref` to a content entry fills AC, HP, stats,
    attacks, resistances and immunities from it (stated values win); every other
    combatant must state `hp` and `max_hp`."""

    # The rules of `_hp_for_non_pc`, for JSON Schema readers (null counts as absent).
    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"required": ["kind"], "properties": {"kind": {"const": "pc"}}},
         "then": {"required": ["character_id"],
                  "properties": {"character_id": {"type": "string"}}}},
        {"if": {"required": ["kind"], "properties": {"kind": {"enum": ["monster", "npc"]}},
                "not": {"required": ["monster_ref"], "properties": {"monster_ref": {"anyOf": [
                    {"type": "string"},
                    {"type": "object", "properties": {"homebrew": {"const": False}}}]}}}},
         "then": {"required": ["hp", "max_hp"],
                  "properties": {"hp": {"type": "integer"}, "max_hp": {"type": "integer"}}}},
    ]})

    hp: int | None = Field(default=None, ge=0, description=(  # type: ignore[assignment]
        "a pc: copied from its character; a monster_ref: from the stat block"))
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
    """Start a fight: its combatants (player characters by `character_id`, monsters by
    `monster_ref` or stated stats). Initiative is rolled per combatant afterwards."""

    kind: Literal["start_encounter"] = "start_encounter"
    example = {
        "encounter_id": "quay-ambush", "campaign_id": "sunken-lantern",
        "location": "Saltmarsh Quay", "reason": "Hounds from the tide caves",
        "combatants": [
            {
                "combatant_id": "mira", "kind": "pc", "character_id": "mira",
                "name": "Mira Tallow",
            },
            {
                "combatant_id": "hound-1", "kind": "monster", "name": "Brine Hound",
                "monster_ref": "brine-hound",
            },
        ],
    }
    combatants: list[CombatantInput] = Field(min_length=1)


class AddCombatant(_Command):
    """Add a combatant to a running encounter (reinforcements, summons)."""

    kind: Literal["add_combatant"] = "add_combatant"
    example = {
        "encounter_id": "quay-ambush", "reason": "summoned",
        "combatant": {
            "combatant_id": "wisp-1", "kind": "monster", "name": "Lantern Wisp",
            "monster_ref": {"type": "monsters", "index": "lantern-wisp"}, "hp": 5,
        },
    }
    encounter_id: Id
    combatant: CombatantInput
    reason: Literal["reinforcement", "summoned", "joined"] = "reinforcement"


class RollInitiative(_Command):
    """Record a combatant's initiative roll (`modifier` defaults to its initiative modifier)."""

    kind: Literal["roll_initiative"] = "roll_initiative"
    example = {"encounter_id": "quay-ambush", "combatant_id": "mira", "roll": 14, "modifier": 2}
    encounter_id: Id
    combatant_id: Id
    roll: int = Field(ge=1, le=20)
    modifier: int | None = Field(default=None, description=(
        "default: the combatant's initiative modifier"))


class AdvanceTurn(_Command):
    """Pass the turn to the next combatant that can act (the first call starts round 1)."""

    kind: Literal["advance_turn"] = "advance_turn"
    example = {"encounter_id": "quay-ambush"}
    encounter_id: Id


class RemoveCombatant(_Command):
    """Take a combatant out of the turn order (fled, dismissed, ...)."""

    kind: Literal["remove_combatant"] = "remove_combatant"
    example = {"encounter_id": "quay-ambush", "combatant_id": "wisp-1", "reason": "fled"}
    encounter_id: Id
    combatant_id: Id
    reason: Literal["defeated", "fled", "narrative", "dismissed"] = "narrative"


class EndEncounter(_Command):
    """End a fight: a victory needs every enemy still present defeated, a retreat every PC
    gone from the roster, a defeat every PC down.

    `xp_awarded` is split evenly (rounded down) among the PCs still in the roster."""

    kind: Literal["end_encounter"] = "end_encounter"
    example = {
        "encounter_id": "quay-ambush", "outcome": "victory", "xp_awarded": 100,
        "summary": "The hound fell; the wisp fled over the water.",
    }
    encounter_id: Id
    outcome: Literal["victory", "retreat", "defeat", "narrative"] = "victory"
    xp_awarded: int | None = Field(default=None, ge=0, description=(
        "XP split evenly among the PCs still in the roster"))
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

#: kind → command model, in the order of `Command`: the registry every listing,
#: schema and tool definition is made from.
COMMAND_MODELS: dict[str, type[_Command]] = {
    model.model_fields["kind"].default: model for model in get_args(get_args(Command)[0])}


def parse_command(value: Any) -> Command:
    """A typed command from a command model or a JSON object; InvalidCommand names the fields."""
    if isinstance(value, BaseModel) and hasattr(value, "kind"):
        return value  # type: ignore[return-value]
    given = value.get("kind") if isinstance(value, dict) else None
    if isinstance(value, dict) and not (isinstance(given, str) and given in COMMAND_MODELS):
        problem = "has no \"kind\"" if given is None else f"has an unknown kind {given!r}"
        close = difflib.get_close_matches(given, COMMAND_MODELS, n=1) \
            if isinstance(given, str) else []
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidCommand(f"the command {problem} ({hint}`questlog game commands` lists "
                             f"the {len(COMMAND_MODELS)} kinds)")
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        kind = value.get("kind") if isinstance(value, dict) else type(value).__name__
        details = "; ".join(f"{_field_path(e['loc'], kind)}: {e['msg']}"
                            for e in exc.errors()[:5])
        raise InvalidCommand(f"invalid command {kind!r}: {details}") from exc


def _field_path(loc: tuple[int | str, ...], kind: Any) -> str:
    """'target.character_id' for a field of the command (pydantic puts the kind first)."""
    if loc and loc[0] == kind:
        loc = loc[1:]
    return ".".join(str(p) for p in loc) or "command"
