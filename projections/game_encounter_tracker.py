"""Read model: the encounter tracker — turn order, current combatant, round, and every
combatant's HP and conditions, folded like the aggregate. Player characters' HP and
conditions live on their own streams: GameRepository.encounter_tracker combines this
state with the party sheet's by `game.views.encounter_view`, the rule `game show` uses
too (`rm_game_combatants` keeps the copy each PC joined with)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from questlog.events import RecordedEvent
from questlog.game.events_encounter import ENCOUNTER_EVENTS
from questlog.game.fold import apply_event
from questlog.game.projecting import FoldingProjector, dumps, entity_id
from questlog.game.readmodels.encounter_tracker import COMBATANTS, TABLE
from questlog.game.state import EncounterState
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

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        states: dict[str, Any] = {}
        kept: dict[str, dict[str, tuple[Any, ...]]] = {}
        self.load_many(ctx, states, [entity_id(e.stream_id) for e in events], kept)
        # The combatant rows as the table holds them now: written from these very states
        # at the end of their last batch, in the same transaction as their `state` text
        # (kept with a state the memo hands back, computed again for one read from its row).
        before = {key: kept[key] if key in kept else combatant_rows(key, s)
                  for key, s in states.items()}
        for event in events:
            apply_event(states[entity_id(event.stream_id)], "encounter", event)
        after = {key: combatant_rows(key, s) for key, s in states.items()}
        self.write(ctx, states, extras=after)
        # Only the combatant rows the batch changed are written (most events change one
        # combatant or none: a turn, a roll), and those it removed deleted.
        gone: list[tuple[str, str]] = []
        changed: list[tuple[Any, ...]] = []
        for key in states:
            old, new = before[key], after[key]
            gone += [(key, cid) for cid in old if cid not in new]
            changed += [row for cid, row in new.items() if old.get(cid) != row]
        if gone:
            ctx.delete_rows(COMBATANTS.name, ("encounter_id", "combatant_id"), gone)
        if changed:
            ctx.write_rows(COMBATANTS.name, _COMBATANT_COLUMNS, changed)


def combatant_rows(encounter_id: str, s: EncounterState) -> dict[str, tuple[Any, ...]]:
    """The `rm_game_combatants` rows of an encounter's state, by combatant id (tuples in
    the declared column order)."""
    order = {cid: i for i, cid in enumerate(s.turn_order)}
    return {c.combatant_id: (
        encounter_id, c.combatant_id, c.kind, c.character_id, c.name, c.hp, c.max_hp, c.ac,
        c.initiative, c.initiative_modifier, dumps([r.index for r in c.conditions]),
        int(c.defeated), int(c.combatant_id not in s.left), s.left.get(c.combatant_id),
        order.get(c.combatant_id), c.monster_ref.model_dump_json() if c.monster_ref else None)
        for c in s.combatants.values()}


_COMBATANT_COLUMNS = tuple(c.name for c in COMBATANTS.columns)

