"""The 8 events of an `encounter-<id>` stream: one combat.

The HP and conditions of *non-player* combatants live here; a player
character's HP and conditions live on its own character stream.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .event_base import Category, GameEvent, Source
from .refs import ConditionRef, ContentRef, Id, MonsterRef

CombatantKind = Literal["pc", "monster", "npc"]


class Attack(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    kind: Literal["melee", "ranged", "spell", "other"] = "melee"
    to_hit: int | None = None
    reach_or_range: str | None = None
    damage: str | None = None
    damage_type: str | None = None


class CombatantSpec(BaseModel):
    """One combatant as it enters the fight.

    Decisions: a `pc` combatant must carry `character_id` and its `hp`/`max_hp`
    are a copy at join time only (the character stream stays the truth);
    `monster_ref` points at `monsters/<index>` or is homebrew; `stats` is a free
    object of ability scores; `conditions` are the ones it enters with (left out of
    the payload when empty).
    """

    model_config = ConfigDict(extra="forbid")
    combatant_id: Id
    kind: CombatantKind
    character_id: Id | None = None
    monster_ref: MonsterRef | None = None
    name: str = Field(min_length=1, max_length=200)
    hp: int = Field(ge=0)
    max_hp: int = Field(ge=1)
    ac: int = Field(default=10, ge=0, le=40)
    initiative_modifier: int = Field(default=0, ge=-10, le=20)
    stats: dict[str, int] | None = None
    attacks: list[Attack] = Field(default_factory=list)
    resistances: list[str] = Field(default_factory=list)
    vulnerabilities: list[str] = Field(default_factory=list)
    condition_immunities: list[str] = Field(default_factory=list)
    conditions: list[ConditionRef] = Field(default_factory=list, exclude_if=lambda v: not v)


class EncounterSetup(BaseModel):
    """Where and why a fight starts (command and event). Decision: `location` is the
    place name as free text."""

    encounter_id: Id
    campaign_id: Id
    location: str = ""
    reason: str = ""


class _EncounterEvent(GameEvent):
    category: ClassVar[Category] = "encounter"


class EncounterStarted(_EncounterEvent, EncounterSetup):
    """Decision: combatant ids are unique within the encounter (duplicates are refused,
    also among later joiners)."""

    event_type: ClassVar[str] = "EncounterStarted"
    combatants: list[CombatantSpec] = Field(min_length=1)


class CombatantJoined(_EncounterEvent):
    """A reinforcement or summon; its initiative is unknown until InitiativeRolled
    (it sorts last until then)."""

    event_type: ClassVar[str] = "CombatantJoined"
    combatant: CombatantSpec
    reason: Literal["reinforcement", "summoned", "joined"] = "reinforcement"


class InitiativeRolled(_EncounterEvent):
    """Turn order is a fold: initiative total desc, then modifier desc, then
    combatant id (decision: a deterministic final tie-breaker)."""

    event_type: ClassVar[str] = "InitiativeRolled"
    combatant_id: Id
    roll: int = Field(ge=1, le=20)
    modifier: int
    total: int


class TurnAdvanced(_EncounterEvent):
    """`turn_index` is the index in the folded turn order; `skipped_ids` are the
    incapacitated combatants passed over; `new_round` is set when the order wrapped."""

    event_type: ClassVar[str] = "TurnAdvanced"
    combatant_id: Id
    round: int = Field(ge=1)
    turn_index: int = Field(ge=0)
    new_round: bool
    skipped_ids: list[str] = Field(default_factory=list)


class CombatantHitPointsChanged(_EncounterEvent):
    """Non-PC combatants only; `delta` is the applied change (after clamping)."""

    event_type: ClassVar[str] = "CombatantHitPointsChanged"
    combatant_id: Id
    delta: int
    hp_before: int = Field(ge=0)
    hp_after: int = Field(ge=0)
    damage_type: str | None = None
    source: Source | None = None
    critical: bool = False


class CombatantConditionsChanged(_EncounterEvent):
    """Non-PC combatants only. `defeated` is the combatant's defeated flag after
    the change (set when its HP reached 0)."""

    event_type: ClassVar[str] = "CombatantConditionsChanged"
    combatant_id: Id
    added: list[ContentRef] = Field(default_factory=list)
    removed: list[ContentRef] = Field(default_factory=list)
    defeated: bool = False


class CombatantLeft(_EncounterEvent):
    """The combatant leaves the turn order (kept in the tracker as not present);
    if it was the current one, the turn passes to whoever followed it."""

    event_type: ClassVar[str] = "CombatantLeft"
    combatant_id: Id
    reason: Literal["defeated", "fled", "narrative", "dismissed"]


class EncounterEnded(_EncounterEvent):
    """Decision: "victory"/"narrative" need every enemy still present defeated; a
    "retreat" needs every PC gone; a "defeat" every PC down. `xp_awarded` is split
    among the PCs by ExperienceGained events in the same append."""

    event_type: ClassVar[str] = "EncounterEnded"
    outcome: Literal["victory", "retreat", "defeat", "narrative"]
    rounds: int = Field(ge=0)
    xp_awarded: int | None = Field(default=None, ge=0)
    summary: str | None = None


ENCOUNTER_EVENTS: tuple[type[GameEvent], ...] = (
    EncounterStarted, CombatantJoined, InitiativeRolled, TurnAdvanced,
    CombatantHitPointsChanged, CombatantConditionsChanged, CombatantLeft, EncounterEnded,
)
