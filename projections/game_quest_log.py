"""Read model: the quest log, one row per (campaign, quest), folded like the aggregate."""

from __future__ import annotations

from collections.abc import Iterable

from questlog.events import RecordedEvent
from questlog.game.projecting import PartProjector, data_of
from questlog.game.readmodels.quest_log import TABLE
from questlog.game.state import Quest


class GameQuestLog(PartProjector):
    name = "game_quest_log"
    version = 1
    mode = "inline"
    event_types = frozenset({"QuestAdded", "QuestUpdated"})
    categories = frozenset({"campaign"})
    table = TABLE.name
    part = "quests"
    model = Quest
    id_column = "quest_id"
    fields = ("title", "description", "status", "objectives_completed", "objectives_total",
              "rewards")
    json_fields = frozenset({"rewards"})
    first_column = "added_version"
    tables = (TABLE,)

    def entry_ids(self, event: RecordedEvent) -> Iterable[str]:
        return (data_of(event)["quest_id"],)

