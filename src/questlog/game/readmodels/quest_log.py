"""The quest log read model: its table and queries (projector:
`questlog.projections.game_quest_log`)."""

from __future__ import annotations

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, json_text, text
from ...storage.session import Session
from ..projecting import loads
from ..records import QuestEntry

TABLE = declare(
    "rm_game_quests",
    text("campaign_id", primary_key=True), text("quest_id", primary_key=True), text("title"),
    text("description"), text("status"), integer("objectives_completed", null=True),
    integer("objectives_total", null=True), json_text("rewards", null=True),
    integer("added_version"),
    indexes=(("campaign_id", "status"),),
    without_rowid=True,
)


# -- queries ---------------------------------------------------------------------------

_QUESTS = sa.select(*(TABLE.c[c] for c in QuestEntry.model_fields)).where(
    TABLE.c.campaign_id == sa.bindparam("id")).order_by(TABLE.c.added_version)
_QUESTS_BY_STATUS = _QUESTS.where(TABLE.c.status == sa.bindparam("status"))


def quests(session: Session, campaign_id: str, status: str | None = None) -> list[QuestEntry]:
    rows = (session.execute(_QUESTS, {"id": campaign_id}) if status is None else
            session.execute(_QUESTS_BY_STATUS, {"id": campaign_id, "status": status}))
    return [QuestEntry(quest_id=r[0], title=r[1], description=r[2], status=r[3],
                       objectives_completed=r[4], objectives_total=r[5], rewards=loads(r[6]))
            for r in rows]
