"""Read model: known NPCs per campaign (later records change only the fields they give)."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.game.projecting import data_of, dumps, entity_id
from questlog.projection.projector import ProjectionContext, Projector, Table

FIELDS = ("name", "description", "last_location", "attitude")


class GameNpcs(Projector):
    name = "game_npcs"
    version = 1
    mode = "inline"
    event_types = frozenset({"NpcRecorded"})
    categories = frozenset({"campaign"})
    tables = (
        Table(
            "rm_game_npcs",
            "campaign_id TEXT NOT NULL, npc_id TEXT NOT NULL, name TEXT NOT NULL, "
            "description TEXT NOT NULL, last_location TEXT, attitude TEXT, monster_ref TEXT, "
            "first_version INTEGER NOT NULL, PRIMARY KEY (campaign_id, npc_id)",
            without_rowid=True,
        ),
    )

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        t = ctx.table("rm_game_npcs")
        for e in events:
            d = data_of(e)
            campaign_id = entity_id(e.stream_id)
            ref = dumps(d["monster_ref"]) if d.get("monster_ref") else None
            ctx.conn.execute(
                f"INSERT INTO {t} (campaign_id, npc_id, name, description, last_location, "
                "attitude, monster_ref, first_version) VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT(campaign_id, npc_id) DO UPDATE SET "
                "name = CASE WHEN ? THEN excluded.name ELSE name END, "
                "description = CASE WHEN ? THEN excluded.description ELSE description END, "
                "last_location = coalesce(excluded.last_location, last_location), "
                "attitude = coalesce(excluded.attitude, attitude), "
                "monster_ref = coalesce(excluded.monster_ref, monster_ref)",
                (campaign_id, d["npc_id"], d.get("name") or d["npc_id"],
                 d.get("description") or "", d.get("last_location"), d.get("attitude"), ref,
                 e.stream_version, d.get("name") is not None,
                 d.get("description") is not None))
