"""Read model: the encounter tracker — turn order, current combatant, round, and every
combatant's HP and conditions, folded like the aggregate. Player characters' HP and
conditions live on their own streams: GameRepository.encounter_tracker combines this
state with the party sheet's by `game.views.encounter_view`, the rule `game show` uses
too (`rm_game_combatants` keeps the copy each PC joined with)."""

from __future__ import annotations

from typing import Any

from questlog.game.events_encounter import ENCOUNTER_EVENTS
from questlog.game.projecting import FoldingProjector, dumps
from questlog.projection.projector import ProjectionContext, Table


class GameEncounterTracker(FoldingProjector):
    name = "game_encounter_tracker"
    version = 1
    mode = "inline"
    event_types = frozenset(m.event_type for m in ENCOUNTER_EVENTS)
    categories = frozenset({"encounter"})
    category = "encounter"
    table = "rm_game_encounters"
    key = "encounter_id"
    columns = ("campaign_id", "status", "round", "turn_index", "current_combatant_id",
               "turn_order", "outcome", "version")
    tables = (
        Table(
            "rm_game_encounters",
            "encounter_id TEXT PRIMARY KEY, state TEXT NOT NULL, position INTEGER NOT NULL, "
            "updated_at TEXT, campaign_id TEXT NOT NULL, status TEXT NOT NULL, "
            "round INTEGER NOT NULL, turn_index INTEGER NOT NULL, current_combatant_id TEXT, "
            "turn_order TEXT NOT NULL, outcome TEXT, version INTEGER NOT NULL",
            indexes=(("campaign_id", "status"),),
            digest_exclude=("position", "updated_at"),
        ),
        Table(
            "rm_game_combatants",
            "encounter_id TEXT NOT NULL, combatant_id TEXT NOT NULL, kind TEXT NOT NULL, "
            "character_id TEXT, name TEXT NOT NULL, hp INTEGER NOT NULL, "
            "max_hp INTEGER NOT NULL, ac INTEGER NOT NULL, initiative INTEGER, "
            "initiative_modifier INTEGER NOT NULL, conditions TEXT NOT NULL, "
            "defeated INTEGER NOT NULL, present INTEGER NOT NULL, left_reason TEXT, "
            "turn_position INTEGER, monster_ref TEXT, "
            "PRIMARY KEY (encounter_id, combatant_id)",
            indexes=(("character_id",),),
            without_rowid=True,
        ),
    )

    def row(self, s: Any) -> tuple[Any, ...]:
        return (s.campaign_id, s.status, s.round, s.turn_index, s.current_combatant_id,
                dumps(s.turn_order), s.outcome, s.version)

    def after(self, ctx: ProjectionContext, states: dict[str, Any]) -> None:
        t = ctx.table("rm_game_combatants")
        rows = []
        for encounter_id, s in states.items():
            ctx.conn.execute(f"DELETE FROM {t} WHERE encounter_id = ?", (encounter_id,))
            order = {cid: i for i, cid in enumerate(s.turn_order)}
            for c in s.combatants.values():
                rows.append((
                    encounter_id, c.combatant_id, c.kind, c.character_id, c.name, c.hp,
                    c.max_hp, c.ac, c.initiative, c.initiative_modifier,
                    dumps([r.index for r in c.conditions]), int(c.defeated),
                    int(c.combatant_id not in s.left), s.left.get(c.combatant_id),
                    order.get(c.combatant_id),
                    c.monster_ref.model_dump_json() if c.monster_ref else None))
        ctx.conn.executemany(f"INSERT INTO {t} VALUES ({','.join('?' * 16)})", rows)
