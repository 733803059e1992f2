"""The 16 events of a `character-<id>` stream (one campaign's character instance).

PC damage taken in a fight lands here with the `encounter_id`, so the
character's history is complete; the encounter tracker joins it in.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .event_base import Category, GameEvent, Source
from .refs import (
    AlignmentRef,
    BackgroundRef,
    ClassRef,
    ContentRef,
    EquipmentRef,
    FeatureRef,
    Id,
    RaceRef,
    SpellRef,
    SubclassRef,
    SubraceRef,
)

Coin = Literal["cp", "sp", "ep", "gp", "pp"]
COINS: tuple[str, ...] = ("cp", "sp", "ep", "gp", "pp")


class AbilityScores(BaseModel):
    str_: int = Field(default=10, ge=1, le=30, alias="str")
    dex: int = Field(default=10, ge=1, le=30)
    con: int = Field(default=10, ge=1, le=30)
    int_: int = Field(default=10, ge=1, le=30, alias="int")
    wis: int = Field(default=10, ge=1, le=30)
    cha: int = Field(default=10, ge=1, le=30)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Feature(BaseModel):
    """A racial trait, feat or class feature; `ref` when it is a content entry."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    level: int | None = None
    ref: FeatureRef | None = None


class Item(BaseModel):
    """An inventory entry. Free text allowed: `content_ref` only when it is SRD/pack content."""

    model_config = ConfigDict(extra="forbid")
    item_id: Id
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    quantity: int = Field(default=1, ge=1)
    content_ref: EquipmentRef | None = None
    value_gp: float | None = Field(default=None, ge=0)
    rarity: str | None = None


class Purse(BaseModel):
    """Coins by denomination. Decision: the purse is kept per coin (no automatic
    change-making); `gold` in read models is the gp coin count."""

    model_config = ConfigDict(extra="forbid")
    cp: int = 0
    sp: int = 0
    ep: int = 0
    gp: int = 0
    pp: int = 0


class _CharacterEvent(GameEvent):
    category: ClassVar[Category] = "character"


class CharacterSheet(BaseModel):
    """What a character is created with (command and event). Decisions:
    race/subrace/class/subclass/background/alignment are content refs (name inside);
    `spells_known` and `cantrips_known` are refs too."""

    model_config = ConfigDict(populate_by_name=True)
    character_id: Id
    campaign_id: Id
    template_id: str | None = None
    name: str = Field(min_length=1, max_length=200)
    race: RaceRef | None = None
    subrace: SubraceRef | None = None
    class_: ClassRef | None = Field(default=None, alias="class")
    subclass: SubclassRef | None = None
    background: BackgroundRef | None = None
    alignment: AlignmentRef | None = None
    level: int = Field(default=1, ge=1, le=20)
    ability_scores: AbilityScores = Field(default_factory=AbilityScores)
    proficiencies: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    features: list[Feature] = Field(default_factory=list)
    spells_known: list[SpellRef] = Field(default_factory=list)
    cantrips_known: list[SpellRef] = Field(default_factory=list)
    inventory: list[Item] = Field(default_factory=list)
    gold: int = Field(default=0, ge=0)


class CharacterCreated(_CharacterEvent, CharacterSheet):
    """The character instance at campaign start. Decision: `hit_die` and
    `spell_slots_max` ("1".."9" → count) are stated explicitly so the fold never needs
    the rules or content."""

    event_type: ClassVar[str] = "CharacterCreated"
    max_hp: int = Field(ge=1)
    current_hp: int = Field(ge=0)
    hit_die: int = Field(default=8, ge=4, le=12)
    spell_slots_max: dict[str, int] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class CharacterDetailsChanged(_CharacterEvent):
    """Changed fields only; `relationships` entries are merged (npc_id → text),
    `achievements_added` are appended."""

    event_type: ClassVar[str] = "CharacterDetailsChanged"
    name: str | None = None
    notes: str | None = None
    appearance: str | None = None
    relationships: dict[str, str] | None = None
    achievements_added: list[str] = Field(default_factory=list)


class DamageTaken(_CharacterEvent):
    """`amount` is the damage dealt before temporary HP; `temp_hp_absorbed` of it
    went to temporary HP; `hp_before`/`hp_after` are real HP (clamped at 0)."""

    event_type: ClassVar[str] = "DamageTaken"
    amount: int = Field(ge=0)
    damage_type: str | None = None
    source: Source = Field(default_factory=Source)
    critical: bool = False
    temp_hp_absorbed: int = Field(default=0, ge=0)
    hp_before: int = Field(ge=0)
    hp_after: int = Field(ge=0)
    encounter_id: str | None = None


class HealingReceived(_CharacterEvent):
    """`amount` is what was rolled; `hp_after - hp_before` is what took effect (clamped)."""

    event_type: ClassVar[str] = "HealingReceived"
    amount: int = Field(ge=0)
    source: Source = Field(default_factory=Source)
    hp_before: int = Field(ge=0)
    hp_after: int = Field(ge=0)
    encounter_id: str | None = None


class TemporaryHitPointsSet(_CharacterEvent):
    """Temporary HP do not stack: the new amount replaces the old (0 clears them)."""

    event_type: ClassVar[str] = "TemporaryHitPointsSet"
    amount: int = Field(ge=0)
    source: Source = Field(default_factory=Source)


class SaveInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ability: str
    dc: int = Field(ge=0, le=50)


class ConditionApplied(_CharacterEvent):
    """Schema v2: `condition` is a content ref (`conditions/<index>`, or homebrew).
    v1 carried a bare lowercase name; the registered upcaster turns it into a ref.
    Decision: `duration` is free text ("1 minute", "until end of next turn")."""

    event_type: ClassVar[str] = "ConditionApplied"
    schema_version: ClassVar[int] = 2
    condition: ContentRef
    duration: str | None = None
    save: SaveInfo | None = None
    source: str | None = None
    encounter_id: str | None = None


class ConditionRemoved(_CharacterEvent):
    """`condition` is the ref that was applied (homebrew refs included); removing
    a condition the character does not have decides no event at all."""

    event_type: ClassVar[str] = "ConditionRemoved"
    condition: ContentRef
    reason: str = ""


class ExhaustionChanged(_CharacterEvent):
    """Levels 0..6, clamped; level 6 means death (the fold marks the character dead)."""

    event_type: ClassVar[str] = "ExhaustionChanged"
    level_before: int = Field(ge=0, le=6)
    level_after: int = Field(ge=0, le=6)
    reason: str = ""


class DeathSaveRecorded(_CharacterEvent):
    """`successes`/`failures` are the counts after this save; `result` is what it
    led to ("revived" = a natural 20, back at 1 HP)."""

    event_type: ClassVar[str] = "DeathSaveRecorded"
    outcome: Literal["success", "failure", "critical_success", "critical_failure"]
    successes: int = Field(ge=0, le=3)
    failures: int = Field(ge=0, le=3)
    result: Literal["ongoing", "stable", "dead", "revived"]


class ItemAdded(_CharacterEvent, Item):
    """Adding an `item_id` the character already holds increases its quantity."""

    event_type: ClassVar[str] = "ItemAdded"
    source: str = ""


class ItemRemoved(_CharacterEvent):
    """With `to_character_id` (reason "given") the same item is added to the
    recipient's stream by an ItemAdded in the same atomic append."""

    event_type: ClassVar[str] = "ItemRemoved"
    item_id: Id
    quantity: int = Field(ge=1)
    reason: Literal["used", "sold", "dropped", "given", "destroyed"]
    to_character_id: str | None = None


class CurrencyChanged(_CharacterEvent):
    """Decision: `delta` per coin (only coins that changed) and the whole purse after."""

    event_type: ClassVar[str] = "CurrencyChanged"
    delta: dict[Coin, int]
    balance_after: Purse
    reason: str = ""
    source: str = ""


class SpellSlotExpended(_CharacterEvent):
    """`slots_remaining` are the slots of that level left after this one."""

    event_type: ClassVar[str] = "SpellSlotExpended"
    slot_level: int = Field(ge=1, le=9)
    spell: SpellRef | None = None
    slots_remaining: int = Field(ge=0)


class RestTaken(_CharacterEvent):
    """`slots_restored` maps slot level → slots regained; `hit_dice_regained` (added
    field) counts hit dice a long rest gave back; `temp_hp_lost` is implied."""

    event_type: ClassVar[str] = "RestTaken"
    rest_type: Literal["short", "long"]
    hit_dice_spent: int = Field(default=0, ge=0)
    hit_dice_regained: int = Field(default=0, ge=0)
    hp_recovered: int = Field(default=0, ge=0)
    slots_restored: dict[str, int] = Field(default_factory=dict)
    exhaustion_reduced: int = Field(default=0, ge=0)


class ExperienceGained(_CharacterEvent):
    """`total_after` is the character's XP after the gain (levels are separate:
    LevelGained, refused below the XP threshold when the campaign uses XP)."""

    event_type: ClassVar[str] = "ExperienceGained"
    amount: int = Field(ge=0)
    total_after: int = Field(ge=0)
    source: Literal["encounter", "quest", "milestone", "other"] = "other"


class LevelGained(_CharacterEvent):
    """Decision: current HP rises by `hp_gained` too; one more hit die;
    `spell_slots_max_after` (added field) is the new slot table."""

    event_type: ClassVar[str] = "LevelGained"
    level_after: int = Field(ge=2, le=20)
    hp_gained: int = Field(ge=1)
    max_hp_after: int = Field(ge=1)
    features_gained: list[Feature] = Field(default_factory=list)
    subclass: SubclassRef | None = None
    spell_slots_max_after: dict[str, int] = Field(default_factory=dict)


CHARACTER_EVENTS: tuple[type[GameEvent], ...] = (
    CharacterCreated, CharacterDetailsChanged, DamageTaken, HealingReceived,
    TemporaryHitPointsSet, ConditionApplied, ConditionRemoved, ExhaustionChanged,
    DeathSaveRecorded, ItemAdded, ItemRemoved, CurrencyChanged, SpellSlotExpended, RestTaken,
    ExperienceGained, LevelGained,
)
