"""Read model: the quest log, one row per (campaign, quest), folded like the aggregate."""

from __future__ import annotations

from collections.abc import Iterable

from questlog.events import RecordedEvent
from questlog.game.projecting import PartProjector, data_of
from questlog.game.state import Quest
from questlog.projection.projector import Table


class GameQuestLog(PartProjector):
    name = "game_quest_log"
    version = 1
    mode = "inline"
    event_types = frozenset({"QuestAdded", "QuestUpdated"})
    categories = frozenset({"campaign"})
    table = "rm_game_quests"
    part = "quests"
    model = Quest
    id_column = "quest_id"
    fields = ("title", "description", "status", "objectives_completed", "objectives_total",
              "rewards")
    json_fields = frozenset({"rewards"})
    first_column = "added_version"
    tables = (
        Table(
            "rm_game_quests",
            "campaign_id TEXT NOT NULL, quest_id TEXT NOT NULL, title TEXT NOT NULL, "
            "description TEXT NOT NULL, status TEXT NOT NULL, objectives_completed INTEGER, "
            "objectives_total INTEGER, rewards TEXT, added_version INTEGER NOT NULL, "
            "PRIMARY KEY (campaign_id, quest_id)",
            indexes=(("campaign_id", "status"),),
            without_rowid=True,
        ),
    )

    def entry_ids(self, event: RecordedEvent) -> Iterable[str]:
        return (data_of(event)["quest_id"],)
