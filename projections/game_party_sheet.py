"""Read model: the party sheet, one row per character (HP, temp HP, conditions,
exhaustion, slots, hit dice, death saves, XP, level, gold), folded like the aggregate."""

from __future__ import annotations

from typing import Any

from questlog.game.events_character import CHARACTER_EVENTS
from questlog.game.projecting import FoldingProjector, dumps
from questlog.game.readmodels.party_sheet import TABLE


class GamePartySheet(FoldingProjector):
    name = "game_party_sheet"
    version = 2
    mode = "inline"
    event_types = frozenset(m.event_type for m in CHARACTER_EVENTS)
    categories = frozenset({"character"})
    category = "character"
    table = TABLE.name
    key = "character_id"
    columns = ("campaign_id", "name", "level", "xp", "current_hp", "max_hp", "temp_hp",
               "conditions", "exhaustion", "spell_slots_max", "spell_slots_used", "hit_die",
               "hit_dice_total", "hit_dice_used", "death_successes", "death_failures", "stable",
               "dead", "gold", "purse", "version")
    tables = (TABLE,)

    def row(self, s: Any) -> tuple[Any, ...]:
        return (
            s.campaign_id, s.name, s.level, s.xp, s.current_hp, s.max_hp, s.temp_hp,
            dumps(sorted(s.conditions)), s.exhaustion, dumps(s.spell_slots_max),
            dumps(s.spell_slots_used), s.hit_die, s.hit_dice_total, s.hit_dice_used,
            s.death_saves.successes, s.death_saves.failures, int(s.stable), int(s.dead),
            s.purse.gp, s.purse.model_dump_json(), s.version,
        )

