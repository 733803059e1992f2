"""The npcs read model: its table and queries (projector:
`questlog.projections.game_npcs`)."""

from __future__ import annotations

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, json_text, text
from ...storage.session import Session
from ..projecting import loads
from ..records import NpcEntry

TABLE = declare(
    "rm_game_npcs",
    text("campaign_id", primary_key=True), text("npc_id", primary_key=True), text("name"),
    text("description"), text("last_location", null=True), text("attitude", null=True),
    json_text("monster_ref", null=True), integer("first_version"),
    without_rowid=True,
)


# -- queries ---------------------------------------------------------------------------

_NPCS = sa.select(*(TABLE.c[c] for c in NpcEntry.model_fields)).where(
    TABLE.c.campaign_id == sa.bindparam("id")).order_by(TABLE.c.first_version)


def npcs(session: Session, campaign_id: str) -> list[NpcEntry]:
    return [NpcEntry(npc_id=r[0], name=r[1], description=r[2], last_location=r[3],
                     attitude=r[4], monster_ref=loads(r[5]))
            for r in session.execute(_NPCS, {"id": campaign_id})]
