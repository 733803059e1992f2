"""Queries over the game's read models, returning pydantic records (never rows).

Each read model's queries live beside its declaration (`questlog.game.readmodels.*`);
this repository calls them in a read session, and answers a read model that has not
been built yet as empty rather than failing (it asks the backend whether the table
exists; once it does, it stays: a rebuild swaps tables in one transaction).
A campaign, character or encounter that does not exist is `UnknownEntity` from
every query (HTTP 404, CLI exit 1), never an empty list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa

from ..storage.session import Session
from .errors import InvalidCommand, UnknownEntity
from .readmodels import campaign_summary as game_campaign_summary
from .readmodels import chat as game_chat
from .readmodels import dice_requests as game_dice_requests
from .readmodels import encounter_tracker as game_encounter_tracker
from .readmodels import inventory as game_inventory
from .readmodels import npcs as game_npcs
from .readmodels import party_sheet as game_party_sheet
from .readmodels import quest_log as game_quest_log
from .records import (
    CampaignSummary,
    ChatMessage,
    ChatPage,
    DiceRequestEntry,
    EncounterTracker,
    InventoryItem,
    Location,
    NpcEntry,
    PartySheet,
    QuestEntry,
    TrackedCombatant,
)
from .views import encounter_view, pc_ids

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["CampaignSummary", "ChatMessage", "ChatPage", "DiceRequestEntry",
           "EncounterTracker", "GameRepository", "InventoryItem", "Location", "NpcEntry",
           "PartySheet", "QuestEntry", "TrackedCombatant"]

P = ParamSpec("P")
R = TypeVar("R")


class GameRepository:
    """Read-model queries; `GameAPI` adds the commands on top."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._built: set[str] = set()   # read-model tables known to exist

    def _read(self, table: sa.Table, empty: R, query: Callable[Concatenate[Session, P], R],
              *args: P.args, **kwargs: P.kwargs) -> R:
        """`query(session, ...)` in a read session; `empty` while the model is not built."""
        with self.store.read() as session:
            if table.name not in self._built:
                if not self.store.readmodels.exists(session, table.name):
                    return empty
                self._built.add(table.name)
            return query(session, *args, **kwargs)

    def campaign_summary(self, campaign_id: str) -> CampaignSummary:
        found = self._read(game_campaign_summary.TABLE, None, game_campaign_summary.summary,
                           campaign_id)
        if found is None:
            raise UnknownEntity(f"unknown campaign {campaign_id!r}")
        return found

    def party_sheet(self, character_id: str) -> PartySheet:
        found = self._read(game_party_sheet.TABLE, None, game_party_sheet.sheet, character_id)
        if found is None:
            raise UnknownEntity(f"unknown character {character_id!r}")
        return found

    def party(self, campaign_id: str) -> list[PartySheet]:
        """Sheets of the campaign's active party members, by name."""
        summary = self.campaign_summary(campaign_id)
        return self._read(game_party_sheet.TABLE, [], game_party_sheet.sheets, summary.party)

    def inventory(self, character_id: str) -> list[InventoryItem]:
        self.party_sheet(character_id)   # an unknown character is UnknownEntity, not "(none)"
        return self._read(game_inventory.TABLE, [], game_inventory.items, character_id)

    def quests(self, campaign_id: str, status: str | None = None) -> list[QuestEntry]:
        self.campaign_summary(campaign_id)   # an unknown campaign is UnknownEntity
        return self._read(game_quest_log.TABLE, [], game_quest_log.quests, campaign_id, status)

    def npcs(self, campaign_id: str) -> list[NpcEntry]:
        self.campaign_summary(campaign_id)
        return self._read(game_npcs.TABLE, [], game_npcs.npcs, campaign_id)

    def chat(self, campaign_id: str, page: int = 1, page_size: int = 50,
             include_superseded: bool = False) -> ChatPage:
        """Oldest first, `page_size` messages per page (page 1 is the start)."""
        if page < 1 or not 1 <= page_size <= 1000:
            raise InvalidCommand("page must be >= 1 and page_size 1..1000")
        self.campaign_summary(campaign_id)
        empty: tuple[int, list[ChatMessage]] = (0, [])
        total, messages = self._read(game_chat.TABLE, empty, game_chat.page, campaign_id,
                                     page, page_size, include_superseded)
        return ChatPage(campaign_id=campaign_id, page=page, page_size=page_size, total=total,
                        messages=messages)

    def recent_chat(self, campaign_id: str, n: int = 20) -> list[ChatMessage]:
        """The latest `n` visible messages, oldest first (what a prompt is built from)."""
        self.campaign_summary(campaign_id)
        return self._read(game_chat.TABLE, [], game_chat.recent, campaign_id, n)

    def pending_dice(self, campaign_id: str) -> list[DiceRequestEntry]:
        self.campaign_summary(campaign_id)
        return self._read(game_dice_requests.TABLE, [], game_dice_requests.pending,
                          campaign_id)

    def encounter_tracker(self, encounter_id: str) -> EncounterTracker:
        """The tracker from the encounter's folded state and its player characters' states
        (the party sheet), combined by the rule every view of an encounter uses."""
        encounter = self._read(game_encounter_tracker.TABLE, None,
                               game_encounter_tracker.encounter_state, encounter_id)
        if encounter is None:
            raise UnknownEntity(f"unknown encounter {encounter_id!r}")
        characters = self._read(game_party_sheet.TABLE, {}, game_party_sheet.states,
                                pc_ids(encounter))
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
