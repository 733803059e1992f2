"""Read model: inventory, one row per (character, item), folded like the aggregate."""

from __future__ import annotations

from collections.abc import Iterable

from questlog.events import RecordedEvent
from questlog.game.events_character import Item
from questlog.game.projecting import PartProjector, data_of
from questlog.game.readmodels.inventory import TABLE


class GameInventory(PartProjector):
    name = "game_inventory"
    version = 1
    mode = "inline"
    event_types = frozenset({"CharacterCreated", "ItemAdded", "ItemRemoved"})
    categories = frozenset({"character"})
    category = "character"
    owner_column = "character_id"
    table = TABLE.name
    part = "inventory"
    model = Item
    id_column = "item_id"
    fields = ("name", "description", "quantity", "content_ref", "value_gp", "rarity")
    json_fields = frozenset({"content_ref"})
    tables = (TABLE,)

    def entry_ids(self, event: RecordedEvent) -> Iterable[str]:
        d = data_of(event)
        if event.type == "CharacterCreated":
            return [i["item_id"] for i in d.get("inventory") or []]
        return (d["item_id"],)

