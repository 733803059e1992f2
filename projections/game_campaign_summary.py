"""Read model: one row per campaign — goal, location, session, party, in-combat flag,
content pack priority — with the campaign aggregate's folded state. Encounter starts
and ends (on their own streams, folded like theirs) set the in-combat flag and the
active encounter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from questlog.events import RecordedEvent
from questlog.game.events_campaign import CAMPAIGN_EVENTS
from questlog.game.fold import apply_event
from questlog.game.projecting import FoldingProjector, dumps, entity_id
from questlog.game.readmodels.campaign_summary import TABLE
from questlog.game.state import CampaignState, EncounterState
from questlog.projection.projector import ProjectionContext


class GameCampaignSummary(FoldingProjector):
    name = "game_campaign_summary"
    version = 3   # 3: the last message refs in a compact column of their own
    mode = "inline"
    # Every campaign event, so that the `state` column is the campaign aggregate's fold.
    event_types = frozenset({m.event_type for m in CAMPAIGN_EVENTS}
                            | {"EncounterStarted", "EncounterEnded"})
    categories = frozenset({"campaign", "encounter"})
    category = "campaign"
    table = TABLE.name
    key = "campaign_id"
    compact = "recent_messages"
    columns = ("name", "goal", "location_name", "location_description", "difficulty",
               "xp_system", "ruleset_id", "content_pack_priority", "narration", "house_rules",
               "session_number", "session_active", "party", "in_combat",
               "active_encounter_id")
    tables = (TABLE,)

    load_columns = ("active_encounter_id",)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        states: dict[str, Any] = {}
        fights: dict[str, str | None] = {}   # campaign -> its active encounter
        # The campaigns the batch names on their own streams, read in one statement
        # (an encounter's campaign is read when the encounter event comes).
        self._load(ctx, states, fights, [entity_id(e.stream_id) for e in events
                                          if e.category != "encounter"])
        for event in events:
            if event.category != "encounter":
                apply_event(self._state(ctx, states, fights, entity_id(event.stream_id)),
                            "campaign", event)
                continue
            encounter = apply_event(EncounterState(), "encounter", event)
            encounter_id = entity_id(event.stream_id)
            campaign_id = (encounter.campaign_id if encounter.status == "active"
                           else self._fighting(ctx, fights, encounter_id))
            if (campaign_id is None
                    or not self._state(ctx, states, fights, campaign_id).exists):
                states.pop(campaign_id or "", None)
                continue   # an encounter of a campaign this log does not hold
            fights[campaign_id] = encounter_id if encounter.status == "active" else None
            states[campaign_id].position = event.position
            states[campaign_id].updated_at = event.recorded_at
        self.write(ctx, states, lambda key, s: self.summary(s, fights[key]))

    def _load(self, ctx: ProjectionContext, states: dict[str, Any],
              fights: dict[str, str | None], keys: Sequence[str]) -> None:
        """Load these campaigns' states, and the active encounter of each from its row
        (None for a campaign with no row yet), unless the batch already changed it."""
        wanted = [k for k in keys if k not in states]
        stored = self.load_many(ctx, states, wanted)
        for key in wanted:
            fights.setdefault(key, stored[key][0] if key in stored else None)

    def _state(self, ctx: ProjectionContext, states: dict[str, Any],
               fights: dict[str, str | None], key: str) -> Any:
        if key not in states:
            self._load(ctx, states, fights, (key,))
        return states[key]

    def _fighting(self, ctx: ProjectionContext, fights: dict[str, str | None],
                  encounter_id: str) -> str | None:
        """The campaign whose active encounter `encounter_id` is."""
        for campaign_id, fight in fights.items():
            if fight == encounter_id:
                return campaign_id
        query = ctx.statement(self.table, "fighting", lambda t: sa.select(
            t.c.campaign_id).where(t.c.active_encounter_id == sa.bindparam("id")))
        got = ctx.session.execute(query, {"id": encounter_id}).fetchone()
        return None if got is None or got[0] in fights else str(got[0])

    @staticmethod
    def summary(s: CampaignState, fight: str | None) -> tuple[Any, ...]:
        return (
            s.name, s.goal, s.location.name if s.location else None,
            s.location.description if s.location else None, s.difficulty, s.xp_system,
            s.ruleset_id, dumps(s.content_pack_priority), dumps(s.narration.model_dump()),
            dumps(s.house_rules), s.session_number, int(s.session_active),
            dumps([m.character_id for m in s.party.values() if m.active]),
            int(fight is not None), fight)

