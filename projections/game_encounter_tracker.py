"""Read model: the encounter tracker — turn order, current combatant, round, and every
combatant's HP and conditions, folded like the aggregate. Player characters' HP and
conditions live on their own streams: GameRepository.encounter_tracker combines this
state with the party sheet's by `game.views.encounter_view`, the rule `game show` uses
too (`rm_game_combatants` keeps the copy each PC joined with)."""

from __future__ import annotations

from typing import Any

from questlog.game.events_encounter import ENCOUNTER_EVENTS
from questlog.game.projecting import FoldingProjector, dumps
from questlog.game.readmodels.encounter_tracker import COMBATANTS, TABLE
from questlog.projection.projector import ProjectionContext


class GameEncounterTracker(FoldingProjector):
    name = "game_encounter_tracker"
    version = 1
    mode = "inline"
    event_types = frozenset(m.event_type for m in ENCOUNTER_EVENTS)
    categories = frozenset({"encounter"})
    category = "encounter"
    table = TABLE.name
    key = "encounter_id"
    columns = ("campaign_id", "status", "round", "turn_index", "current_combatant_id",
               "turn_order", "outcome", "version")
    tables = (TABLE, COMBATANTS)

    def row(self, s: Any) -> tuple[Any, ...]:
        return (s.campaign_id, s.status, s.round, s.turn_index, s.current_combatant_id,
                dumps(s.turn_order), s.outcome, s.version)

    def after(self, ctx: ProjectionContext, states: dict[str, Any]) -> None:
        # Each touched encounter's combatants are written anew: one statement clears them
        # all, one writes them all.
        ctx.delete_rows(COMBATANTS.name, ("encounter_id",), [(key,) for key in states])
        rows = []   # tuples in the declared column order
        for encounter_id, s in states.items():
            order = {cid: i for i, cid in enumerate(s.turn_order)}
            for c in s.combatants.values():
                rows.append((
                    encounter_id, c.combatant_id, c.kind, c.character_id, c.name, c.hp,
                    c.max_hp, c.ac, c.initiative, c.initiative_modifier,
                    dumps([r.index for r in c.conditions]), int(c.defeated),
                    int(c.combatant_id not in s.left), s.left.get(c.combatant_id),
                    order.get(c.combatant_id),
                    c.monster_ref.model_dump_json() if c.monster_ref else None))
        if rows:
            ctx.write_rows(COMBATANTS.name, _COMBATANT_COLUMNS, rows, replace=False)


_COMBATANT_COLUMNS = tuple(c.name for c in COMBATANTS.columns)

