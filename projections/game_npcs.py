"""Read model: known NPCs per campaign, folded like the aggregate (later records change
only the fields they give)."""

from __future__ import annotations

from collections.abc import Iterable

from questlog.events import RecordedEvent
from questlog.game.projecting import PartProjector, data_of
from questlog.game.readmodels.npcs import TABLE
from questlog.game.state import Npc


class GameNpcs(PartProjector):
    name = "game_npcs"
    version = 1
    mode = "inline"
    event_types = frozenset({"NpcRecorded"})
    categories = frozenset({"campaign"})
    table = TABLE.name
    part = "npcs"
    model = Npc
    id_column = "npc_id"
    fields = ("name", "description", "last_location", "attitude", "monster_ref")
    json_fields = frozenset({"monster_ref"})
    first_column = "first_version"
    tables = (TABLE,)

    def entry_ids(self, event: RecordedEvent) -> Iterable[str]:
        return (data_of(event)["npc_id"],)

