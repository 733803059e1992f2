"""Read model: pending dice requests per campaign, folded like the aggregate (a cleared
request leaves the table)."""

from __future__ import annotations

from collections.abc import Iterable

from questlog.events import RecordedEvent
from questlog.game.projecting import PartProjector, data_of
from questlog.game.readmodels.dice_requests import TABLE
from questlog.game.state import DiceRequest


class GameDiceRequests(PartProjector):
    name = "game_dice_requests"
    version = 1
    mode = "inline"
    event_types = frozenset({"DiceRollRequested", "DiceRequestsCleared"})
    categories = frozenset({"campaign"})
    table = TABLE.name
    part = "pending_dice"
    model = DiceRequest
    id_column = "request_id"
    fields = ("character_ids", "roll_type", "formula", "reason", "skill", "ability", "dc",
              "encounter_id")
    json_fields = frozenset({"character_ids"})
    first_column = "requested_version"
    tables = (TABLE,)

    def entry_ids(self, event: RecordedEvent) -> Iterable[str]:
        d = data_of(event)
        return d["request_ids"] if event.type == "DiceRequestsCleared" else (d["request_id"],)

