"""The inventory read model: its table and queries (projector:
`questlog.projections.game_inventory`)."""

from __future__ import annotations

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, json_text, real, text
from ...storage.session import Session
from ..projecting import loads
from ..records import InventoryItem

TABLE = declare(
    "rm_game_inventory",
    text("character_id", primary_key=True), text("item_id", primary_key=True), text("name"),
    text("description"), integer("quantity"), json_text("content_ref", null=True),
    real("value_gp", null=True), text("rarity", null=True),
    without_rowid=True,
)


# -- queries ---------------------------------------------------------------------------

_ITEMS = sa.select(*(TABLE.c[c] for c in InventoryItem.model_fields)).where(
    TABLE.c.character_id == sa.bindparam("id")).order_by(TABLE.c.name, TABLE.c.item_id)


def items(session: Session, character_id: str) -> list[InventoryItem]:
    return [InventoryItem(item_id=r[0], name=r[1], description=r[2], quantity=r[3],
                          content_ref=loads(r[4]), value_gp=r[5], rarity=r[6])
            for r in session.execute(_ITEMS, {"id": character_id})]
