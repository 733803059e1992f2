"""Read model: inventory, one row per (character, item) with its quantity."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.game.projecting import data_of, dumps, entity_id
from questlog.projection.projector import ProjectionContext, Projector, Table


class GameInventory(Projector):
    name = "game_inventory"
    version = 1
    mode = "inline"
    event_types = frozenset({"CharacterCreated", "ItemAdded", "ItemRemoved"})
    categories = frozenset({"character"})
    tables = (
        Table(
            "rm_game_inventory",
            "character_id TEXT NOT NULL, item_id TEXT NOT NULL, name TEXT NOT NULL, "
            "description TEXT NOT NULL, quantity INTEGER NOT NULL, content_ref TEXT, "
            "value_gp REAL, rarity TEXT, PRIMARY KEY (character_id, item_id)",
            without_rowid=True,
        ),
    )

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        t = ctx.table("rm_game_inventory")
        add = (f"INSERT INTO {t} (character_id, item_id, name, description, quantity, "
               "content_ref, value_gp, rarity) VALUES (?,?,?,?,?,?,?,?) "
               "ON CONFLICT(character_id, item_id) DO UPDATE SET "
               "quantity = quantity + excluded.quantity")
        for e in events:
            d = data_of(e)
            character_id = entity_id(e.stream_id)
            items = d.get("inventory", []) if e.type == "CharacterCreated" else [d]
            if e.type == "ItemRemoved":
                ctx.conn.execute(f"UPDATE {t} SET quantity = quantity - ? "
                                 "WHERE character_id = ? AND item_id = ?",
                                 (d["quantity"], character_id, d["item_id"]))
                ctx.conn.execute(f"DELETE FROM {t} WHERE character_id = ? AND item_id = ? "
                                 "AND quantity <= 0", (character_id, d["item_id"]))
                continue
            ctx.conn.executemany(add, [
                (character_id, i["item_id"], i["name"], i.get("description", ""),
                 i.get("quantity", 1),
                 dumps(i["content_ref"]) if i.get("content_ref") else None,
                 i.get("value_gp"), i.get("rarity")) for i in items])
