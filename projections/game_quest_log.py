"""Read model: the quest log, one row per (campaign, quest)."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.game.projecting import data_of, dumps, entity_id
from questlog.projection.projector import ProjectionContext, Projector, Table


class GameQuestLog(Projector):
    name = "game_quest_log"
    version = 1
    mode = "inline"
    event_types = frozenset({"QuestAdded", "QuestUpdated"})
    categories = frozenset({"campaign"})
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

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        t = ctx.table("rm_game_quests")
        for e in events:
            d = data_of(e)
            campaign_id = entity_id(e.stream_id)
            if e.type == "QuestAdded":
                ctx.conn.execute(
                    f"INSERT OR REPLACE INTO {t} (campaign_id, quest_id, title, description, "
                    "status, added_version) VALUES (?,?,?,?,?,?)",
                    (campaign_id, d["quest_id"], d["title"], d.get("description", ""),
                     d.get("status", "active"),
                     e.stream_version))
                continue
            sets, params = [], []
            for column, key in (("status", "status_to"), ("description", "description"),
                                ("objectives_completed", "objectives_completed"),
                                ("objectives_total", "objectives_total")):
                if d.get(key) is not None:
                    sets.append(f"{column} = ?")
                    params.append(d[key])
            if d.get("rewards") is not None:
                sets.append("rewards = ?")
                params.append(dumps(d["rewards"]))
            if sets:
                ctx.conn.execute(
                    f"UPDATE {t} SET {', '.join(sets)} WHERE campaign_id = ? AND quest_id = ?",
                    (*params, campaign_id, d["quest_id"]))
