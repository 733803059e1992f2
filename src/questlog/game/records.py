"""What the game's read-model queries return: pydantic records, never rows.

The queries live beside each read model's declaration (`questlog.game.readmodels.*`);
`GameRepository` calls them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .refs import ContentRef


class Location(BaseModel):
    name: str | None
    description: str | None


class CampaignSummary(BaseModel):
    campaign_id: str
    name: str
    goal: str
    location: Location
    difficulty: str
    xp_system: str
    ruleset_id: str
    content_pack_priority: list[str]
    narration: dict[str, Any]
    house_rules: dict[str, Any]
    session_number: int
    session_active: bool
    party: list[str]
    in_combat: bool
    active_encounter_id: str | None


class PartySheet(BaseModel):
    character_id: str
    campaign_id: str
    name: str
    level: int
    xp: int
    current_hp: int
    max_hp: int
    temp_hp: int
    conditions: list[str]
    exhaustion: int
    spell_slots_max: dict[str, int]
    spell_slots_used: dict[str, int]
    hit_die: int
    hit_dice_total: int
    hit_dice_used: int
    death_successes: int
    death_failures: int
    stable: bool
    dead: bool
    gold: int
    purse: dict[str, int]
    version: int


class InventoryItem(BaseModel):
    item_id: str
    name: str
    description: str
    quantity: int
    content_ref: ContentRef | None
    value_gp: float | None
    rarity: str | None


class QuestEntry(BaseModel):
    quest_id: str
    title: str
    description: str
    status: str
    objectives_completed: int | None
    objectives_total: int | None
    rewards: dict[str, Any] | None


class NpcEntry(BaseModel):
    npc_id: str
    name: str
    description: str
    last_location: str | None
    attitude: str | None
    monster_ref: ContentRef | None


class ChatMessage(BaseModel):
    seq: int
    message_id: str
    role: str
    content: str
    gm_thought: str | None
    is_dice_result: bool
    detailed_content: str | None
    ai_response_json: str | None
    character_id: str | None
    timestamp: str | None
    superseded: bool
    superseded_reason: str | None


class ChatPage(BaseModel):
    campaign_id: str
    page: int
    page_size: int
    total: int
    messages: list[ChatMessage]


class DiceRequestEntry(BaseModel):
    request_id: str
    character_ids: list[str]
    roll_type: str
    formula: str
    reason: str
    skill: str | None
    ability: str | None
    dc: int | None
    encounter_id: str | None


class TrackedCombatant(BaseModel):
    combatant_id: str
    kind: str
    character_id: str | None
    name: str
    hp: int
    max_hp: int
    temp_hp: int
    ac: int
    initiative: int | None
    initiative_modifier: int
    conditions: list[str]
    defeated: bool
    present: bool
    left_reason: str | None
    turn_position: int | None
    monster_ref: ContentRef | None


class EncounterTracker(BaseModel):
    encounter_id: str
    campaign_id: str
    status: str
    round: int
    turn_index: int
    current_combatant_id: str | None
    outcome: str | None
    turn_order: list[str]
    combatants: list[TrackedCombatant]
