"""Aggregate state: what a fold of one stream yields (and what a snapshot stores).

These are pydantic models so the API and the CLI can return them as they are;
the folds in `fold.py` mutate them in place for speed. `FOLD_VERSION` of an
aggregate changes whenever its fold changes, which makes stale snapshots ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .events_campaign import (
    DEFAULT_DIFFICULTY,
    DEFAULT_RULESET,
    DEFAULT_XP_SYSTEM,
    Narration,
    Place,
)
from .events_character import AbilityScores, Feature, Item, Purse
from .events_encounter import Attack
from .refs import INCAPACITATING, ContentRef

RECENT_MESSAGES = 50


class _State(BaseModel):
    exists: bool = False
    version: int = 0
    position: int = 0
    updated_at: str | None = None


class PartyMember(BaseModel):
    character_id: str
    name: str
    level: int
    template_id: str | None = None
    active: bool = True


class Npc(BaseModel):
    npc_id: str
    name: str
    description: str = ""
    last_location: str | None = None
    attitude: str | None = None
    monster_ref: ContentRef | None = None


class Quest(BaseModel):
    quest_id: str
    title: str
    description: str = ""
    status: str = "active"
    objectives_completed: int | None = None
    objectives_total: int | None = None
    rewards: dict[str, Any] | None = None


class MessageRef(BaseModel):
    message_id: str
    role: str
    superseded: bool = False


class DiceRequest(BaseModel):
    request_id: str
    character_ids: list[str]
    roll_type: str
    formula: str
    reason: str = ""
    skill: str | None = None
    ability: str | None = None
    dc: int | None = None
    encounter_id: str | None = None


class CampaignState(_State):
    """Decision: the aggregate keeps only the last 50 message ids (the ones a
    retry or an edit can supersede) and a count; the full chat lives in the
    chat read model. This keeps snapshots small on very long campaigns."""

    campaign_id: str = ""
    name: str = ""
    template_id: str | None = None
    goal: str = ""
    location: Place | None = None
    # Plain `str`, not the event's literals: a state must load whatever a tolerant fold
    # made of recorded events; the defaults are the event model's.
    difficulty: str = DEFAULT_DIFFICULTY
    ruleset_id: str = DEFAULT_RULESET
    lore_id: str | None = None
    xp_system: str = DEFAULT_XP_SYSTEM
    house_rules: dict[str, Any] = Field(default_factory=dict)
    content_pack_priority: list[str] = Field(default_factory=list)
    narration: Narration = Field(default_factory=Narration)
    party: dict[str, PartyMember] = Field(default_factory=dict)
    session_number: int = 0
    session_active: bool = False
    npcs: dict[str, Npc] = Field(default_factory=dict)
    quests: dict[str, Quest] = Field(default_factory=dict)
    lore_count: int = 0
    message_count: int = 0
    recent_messages: list[MessageRef] = Field(default_factory=list)
    pending_dice: dict[str, DiceRequest] = Field(default_factory=dict)
    dice_rolled: int = 0


class AppliedCondition(BaseModel):
    condition: ContentRef
    duration: str | None = None
    source: str | None = None
    encounter_id: str | None = None


class DeathSaves(BaseModel):
    successes: int = 0
    failures: int = 0


class CharacterState(_State):
    character_id: str = ""
    campaign_id: str = ""
    template_id: str | None = None
    name: str = ""
    race: ContentRef | None = None
    subrace: ContentRef | None = None
    class_: ContentRef | None = None
    subclass: ContentRef | None = None
    background: ContentRef | None = None
    alignment: ContentRef | None = None
    level: int = 1
    ability_scores: AbilityScores = Field(default_factory=AbilityScores)
    proficiencies: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    features: list[Feature] = Field(default_factory=list)
    spells_known: list[ContentRef] = Field(default_factory=list)
    cantrips_known: list[ContentRef] = Field(default_factory=list)
    max_hp: int = 1
    current_hp: int = 0
    temp_hp: int = 0
    hit_die: int = 8
    hit_dice_used: int = 0
    spell_slots_max: dict[str, int] = Field(default_factory=dict)
    spell_slots_used: dict[str, int] = Field(default_factory=dict)
    conditions: dict[str, AppliedCondition] = Field(default_factory=dict)
    exhaustion: int = 0
    death_saves: DeathSaves = Field(default_factory=DeathSaves)
    stable: bool = False
    dead: bool = False
    xp: int = 0
    inventory: dict[str, Item] = Field(default_factory=dict)
    purse: Purse = Field(default_factory=Purse)
    notes: str = ""
    appearance: str = ""
    relationships: dict[str, str] = Field(default_factory=dict)
    achievements: list[str] = Field(default_factory=list)

    @property
    def incapacitated(self) -> bool:
        return (self.dead or self.current_hp == 0
                or any(c in INCAPACITATING for c in self.conditions))

    @property
    def hit_dice_total(self) -> int:
        return self.level


class Combatant(BaseModel):
    combatant_id: str
    kind: str
    character_id: str | None = None
    monster_ref: ContentRef | None = None
    name: str
    hp: int
    max_hp: int
    ac: int = 10
    initiative_modifier: int = 0
    initiative: int | None = None
    conditions: list[ContentRef] = Field(default_factory=list)
    defeated: bool = False
    stats: dict[str, int] | None = None
    attacks: list[Attack] = Field(default_factory=list)
    resistances: list[str] = Field(default_factory=list)
    vulnerabilities: list[str] = Field(default_factory=list)
    condition_immunities: list[str] = Field(default_factory=list)

    @property
    def is_enemy(self) -> bool:
        return self.kind != "pc"


class EncounterState(_State):
    encounter_id: str = ""
    campaign_id: str = ""
    status: str = "none"   # none | active | ended
    location: str = ""
    reason: str = ""
    combatants: dict[str, Combatant] = Field(default_factory=dict)
    left: dict[str, str] = Field(default_factory=dict)   # combatant id -> reason
    turn_order: list[str] = Field(default_factory=list)
    round: int = 0
    turn_index: int = -1
    current_combatant_id: str | None = None
    outcome: str | None = None
    xp_awarded: int | None = None
    summary: str | None = None

    def present(self) -> list[Combatant]:
        return [self.combatants[cid] for cid in self.turn_order]


# 2: events are folded in their canonical form (normalize.py: variants, defaults);
# 3 (campaign, character): defaults from the event models, massive damage kills.
FOLD_VERSIONS: dict[str, int] = {"campaign": 3, "character": 3, "encounter": 2}
