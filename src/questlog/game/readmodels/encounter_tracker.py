"""The encounter tracker read model: its tables and queries (projector:
`questlog.projections.game_encounter_tracker`)."""

from __future__ import annotations

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, json_text, text
from ...storage.session import Session
from ..state import EncounterState

TABLE = declare(
    "rm_game_encounters",
    text("encounter_id", primary_key=True), json_text("state"), integer("position"),
    text("updated_at", null=True), text("campaign_id"), text("status"), integer("round"),
    integer("turn_index"), text("current_combatant_id", null=True), json_text("turn_order"),
    text("outcome", null=True), integer("version"),
    indexes=(("campaign_id", "status"),),
    digest_exclude=("position", "updated_at"),
)

COMBATANTS = declare(
    "rm_game_combatants",
    text("encounter_id", primary_key=True), text("combatant_id", primary_key=True),
    text("kind"), text("character_id", null=True), text("name"), integer("hp"),
    integer("max_hp"), integer("ac"), integer("initiative", null=True),
    integer("initiative_modifier"), json_text("conditions"), integer("defeated"),
    integer("present"), text("left_reason", null=True), integer("turn_position", null=True),
    json_text("monster_ref", null=True),
    indexes=(("character_id",),),
    without_rowid=True,
)


# -- queries ---------------------------------------------------------------------------

_STATE = sa.select(TABLE.c.state).where(TABLE.c.encounter_id == sa.bindparam("id"))


def encounter_state(session: Session, encounter_id: str) -> EncounterState | None:
    """The encounter's folded state (the tracker combines it with its PCs' states)."""
    row = session.execute(_STATE, {"id": encounter_id}).fetchone()
    return None if row is None else EncounterState.model_validate_json(row[0])
