"""Read model: pending dice requests per campaign, folded like the aggregate (a cleared
request leaves the table)."""

from __future__ import annotations

from collections.abc import Iterable

from questlog.events import RecordedEvent
from questlog.game.projecting import PartProjector, data_of
from questlog.game.state import DiceRequest
from questlog.projection.projector import Table


class GameDiceRequests(PartProjector):
    name = "game_dice_requests"
    version = 1
    mode = "inline"
    event_types = frozenset({"DiceRollRequested", "DiceRequestsCleared"})
    categories = frozenset({"campaign"})
    table = "rm_game_dice_requests"
    part = "pending_dice"
    model = DiceRequest
    id_column = "request_id"
    fields = ("character_ids", "roll_type", "formula", "reason", "skill", "ability", "dc",
              "encounter_id")
    json_fields = frozenset({"character_ids"})
    first_column = "requested_version"
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

    def entry_ids(self, event: RecordedEvent) -> Iterable[str]:
        d = data_of(event)
        return d["request_ids"] if event.type == "DiceRequestsCleared" else (d["request_id"],)
