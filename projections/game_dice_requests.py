"""Read model: pending dice requests per campaign (a cleared request leaves the table)."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.game.projecting import data_of, dumps, entity_id
from questlog.projection.projector import ProjectionContext, Projector, Table


class GameDiceRequests(Projector):
    name = "game_dice_requests"
    version = 1
    mode = "inline"
    event_types = frozenset({"DiceRollRequested", "DiceRequestsCleared"})
    categories = frozenset({"campaign"})
    tables = (
        Table(
            "rm_game_dice_requests",
            "campaign_id TEXT NOT NULL, request_id TEXT NOT NULL, character_ids TEXT NOT NULL, "
            "roll_type TEXT NOT NULL, formula TEXT NOT NULL, reason TEXT NOT NULL, skill TEXT, "
            "ability TEXT, dc INTEGER, encounter_id TEXT, requested_version INTEGER NOT NULL, "
            "PRIMARY KEY (campaign_id, request_id)",
            without_rowid=True,
        ),
    )

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        t = ctx.table("rm_game_dice_requests")
        for e in events:
            d = data_of(e)
            campaign_id = entity_id(e.stream_id)
            if e.type == "DiceRollRequested":
                ctx.conn.execute(
                    f"INSERT OR REPLACE INTO {t} VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (campaign_id, d["request_id"], dumps(d["character_ids"]), d["roll_type"],
                     d["formula"], d.get("reason", ""), d.get("skill"), d.get("ability"), d.get("dc"),
                     d.get("encounter_id"), e.stream_version))
            else:
                ctx.conn.executemany(
                    f"DELETE FROM {t} WHERE campaign_id = ? AND request_id = ?",
                    [(campaign_id, rid) for rid in d["request_ids"]])
