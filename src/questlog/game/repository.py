"""Queries over the game's read models, returning pydantic models (never rows).

Tables are read under their logical names; a read model that has not been
built yet reads as empty rather than failing. A campaign, character or encounter
that does not exist is `UnknownEntity` from every query (HTTP 404, CLI exit 1),
never an empty list.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import InvalidCommand, UnknownEntity
from .refs import ContentRef
from .state import CharacterState, EncounterState
from .views import encounter_view, pc_ids

if TYPE_CHECKING:
    from ..store import Store


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


_CHAT_COLS = ("seq, message_id, role, content, gm_thought, is_dice_result, detailed_content, "
              "ai_response_json, character_id, timestamp, superseded, superseded_reason")


def _j(text: Any) -> Any:
    return None if text is None else json.loads(text)


def _missing_table(exc: Exception) -> bool:
    return "no such table" in str(exc)


class GameRepository:
    """Read-model queries; `GameAPI` adds the commands on top."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.store.read() as conn:
                return [tuple(r) for r in conn.execute(sql, params)]
        except Exception as exc:
            if _missing_table(exc):
                return []
            raise

    def campaign_summary(self, campaign_id: str) -> CampaignSummary:
        rows = self._rows(
            "SELECT campaign_id, name, goal, location_name, location_description, difficulty, "
            "xp_system, ruleset_id, content_pack_priority, narration, house_rules, "
            "session_number, session_active, party, in_combat, active_encounter_id "
            "FROM rm_game_campaigns WHERE campaign_id = ?", (campaign_id,))
        if not rows:
            raise UnknownEntity(f"unknown campaign {campaign_id!r}")
        r = rows[0]
        return CampaignSummary(
            campaign_id=r[0], name=r[1], goal=r[2],
            location=Location(name=r[3], description=r[4]), difficulty=r[5], xp_system=r[6],
            ruleset_id=r[7], content_pack_priority=_j(r[8]), narration=_j(r[9]),
            house_rules=_j(r[10]), session_number=r[11], session_active=bool(r[12]),
            party=_j(r[13]), in_combat=bool(r[14]), active_encounter_id=r[15])

    _SHEET = ("character_id, campaign_id, name, level, xp, current_hp, max_hp, temp_hp, "
              "conditions, exhaustion, spell_slots_max, spell_slots_used, hit_die, "
              "hit_dice_total, hit_dice_used, death_successes, death_failures, stable, dead, "
              "gold, purse, version")

    @staticmethod
    def _sheet(r: tuple[Any, ...]) -> PartySheet:
        names = [n.strip() for n in GameRepository._SHEET.split(",")]
        d = dict(zip(names, r, strict=True))
        for key in ("conditions", "spell_slots_max", "spell_slots_used", "purse"):
            d[key] = _j(d[key])
        return PartySheet.model_validate(d)

    def party_sheet(self, character_id: str) -> PartySheet:
        rows = self._rows(f"SELECT {self._SHEET} FROM rm_game_party_sheet "
                          "WHERE character_id = ?", (character_id,))
        if not rows:
            raise UnknownEntity(f"unknown character {character_id!r}")
        return self._sheet(rows[0])

    def party(self, campaign_id: str) -> list[PartySheet]:
        """Sheets of the campaign's active party members, by name."""
        summary = self.campaign_summary(campaign_id)
        if not summary.party:
            return []
        marks = ",".join("?" * len(summary.party))
        rows = self._rows(f"SELECT {self._SHEET} FROM rm_game_party_sheet "
                          f"WHERE character_id IN ({marks}) ORDER BY name, character_id",
                          tuple(summary.party))
        return [self._sheet(r) for r in rows]

    def inventory(self, character_id: str) -> list[InventoryItem]:
        self.party_sheet(character_id)   # an unknown character is UnknownEntity, not "(none)"
        rows = self._rows(
            "SELECT item_id, name, description, quantity, content_ref, value_gp, rarity "
            "FROM rm_game_inventory WHERE character_id = ? ORDER BY name, item_id",
            (character_id,))
        return [InventoryItem(item_id=r[0], name=r[1], description=r[2], quantity=r[3],
                              content_ref=_j(r[4]), value_gp=r[5], rarity=r[6]) for r in rows]

    def quests(self, campaign_id: str, status: str | None = None) -> list[QuestEntry]:
        self.campaign_summary(campaign_id)   # an unknown campaign is UnknownEntity
        sql = ("SELECT quest_id, title, description, status, objectives_completed, "
               "objectives_total, rewards FROM rm_game_quests WHERE campaign_id = ?")
        params: tuple[Any, ...] = (campaign_id,)
        if status is not None:
            sql += " AND status = ?"
            params = (campaign_id, status)
        rows = self._rows(sql + " ORDER BY added_version", params)
        return [QuestEntry(quest_id=r[0], title=r[1], description=r[2], status=r[3],
                           objectives_completed=r[4], objectives_total=r[5],
                           rewards=_j(r[6])) for r in rows]

    def npcs(self, campaign_id: str) -> list[NpcEntry]:
        self.campaign_summary(campaign_id)
        rows = self._rows(
            "SELECT npc_id, name, description, last_location, attitude, monster_ref "
            "FROM rm_game_npcs WHERE campaign_id = ? ORDER BY first_version", (campaign_id,))
        return [NpcEntry(npc_id=r[0], name=r[1], description=r[2], last_location=r[3],
                         attitude=r[4], monster_ref=_j(r[5])) for r in rows]

    @staticmethod
    def _message(r: tuple[Any, ...]) -> ChatMessage:
        return ChatMessage(seq=r[0], message_id=r[1], role=r[2], content=r[3], gm_thought=r[4],
                           is_dice_result=bool(r[5]), detailed_content=r[6],
                           ai_response_json=r[7], character_id=r[8], timestamp=r[9],
                           superseded=bool(r[10]), superseded_reason=r[11])

    def chat(self, campaign_id: str, page: int = 1, page_size: int = 50,
             include_superseded: bool = False) -> ChatPage:
        """Oldest first, `page_size` messages per page (page 1 is the start)."""
        if page < 1 or not 1 <= page_size <= 1000:
            raise InvalidCommand("page must be >= 1 and page_size 1..1000")
        self.campaign_summary(campaign_id)
        hide = "" if include_superseded else " AND superseded = 0"
        total = self._rows(f"SELECT count(*) FROM rm_game_chat "
                           f"WHERE campaign_id = ?{hide}", (campaign_id,))
        rows = self._rows(f"SELECT {_CHAT_COLS} FROM rm_game_chat "
                          f"WHERE campaign_id = ?{hide} ORDER BY seq LIMIT ? OFFSET ?",
                          (campaign_id, page_size, (page - 1) * page_size))
        return ChatPage(campaign_id=campaign_id, page=page, page_size=page_size,
                        total=int(total[0][0]) if total else 0,
                        messages=[self._message(r) for r in rows])

    def recent_chat(self, campaign_id: str, n: int = 20) -> list[ChatMessage]:
        """The latest `n` visible messages, oldest first (what a prompt is built from)."""
        self.campaign_summary(campaign_id)
        rows = self._rows(f"SELECT {_CHAT_COLS} FROM rm_game_chat "
                          "WHERE campaign_id = ? AND superseded = 0 ORDER BY seq DESC LIMIT ?",
                          (campaign_id, n))
        return [self._message(r) for r in reversed(rows)]

    def pending_dice(self, campaign_id: str) -> list[DiceRequestEntry]:
        self.campaign_summary(campaign_id)
        rows = self._rows(
            "SELECT request_id, character_ids, roll_type, formula, reason, skill, ability, dc, "
            "encounter_id FROM rm_game_dice_requests WHERE campaign_id = ? "
            "ORDER BY requested_version", (campaign_id,))
        return [DiceRequestEntry(request_id=r[0], character_ids=_j(r[1]), roll_type=r[2],
                                 formula=r[3], reason=r[4], skill=r[5], ability=r[6], dc=r[7],
                                 encounter_id=r[8]) for r in rows]

    def encounter_tracker(self, encounter_id: str) -> EncounterTracker:
        """The tracker from the encounter's folded state and its player characters' states
        (the party sheet), combined by the rule every view of an encounter uses."""
        head = self._rows("SELECT state FROM rm_game_encounters WHERE encounter_id = ?",
                          (encounter_id,))
        if not head:
            raise UnknownEntity(f"unknown encounter {encounter_id!r}")
        encounter = EncounterState.model_validate_json(head[0][0])
        ids = pc_ids(encounter)
        sheets = self._rows(
            f"SELECT character_id, state FROM rm_game_party_sheet "
            f"WHERE character_id IN ({','.join('?' * len(ids))})", tuple(ids)) if ids else []
        characters = {r[0]: CharacterState.model_validate_json(r[1]) for r in sheets}
        view = encounter_view(encounter, characters)
        order = {cid: i for i, cid in enumerate(view.turn_order)}
        combatants = [TrackedCombatant(
            combatant_id=c.combatant_id, kind=c.kind, character_id=c.character_id, name=c.name,
            hp=c.hp, max_hp=c.max_hp,
            temp_hp=characters[c.character_id].temp_hp
            if c.kind == "pc" and c.character_id in characters else 0,
            ac=c.ac, initiative=c.initiative, initiative_modifier=c.initiative_modifier,
            conditions=[r.index for r in c.conditions], defeated=c.defeated,
            present=c.combatant_id not in view.left, left_reason=view.left.get(c.combatant_id),
            turn_position=order.get(c.combatant_id), monster_ref=c.monster_ref)
            for c in view.combatants.values()]
        combatants.sort(key=lambda t: (t.turn_position is None, t.turn_position or 0,
                                       t.combatant_id))
        return EncounterTracker(
            encounter_id=encounter_id, campaign_id=view.campaign_id, status=view.status,
            round=view.round, turn_index=view.turn_index,
            current_combatant_id=view.current_combatant_id, outcome=view.outcome,
            turn_order=view.turn_order, combatants=combatants)
