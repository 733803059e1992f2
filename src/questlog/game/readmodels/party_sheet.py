"""The party sheet read model: its table and queries (projector:
`questlog.projections.game_party_sheet`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, json_text, text
from ...storage.session import Session
from ..projecting import loads
from ..records import PartySheet
from ..state import CharacterState

TABLE = declare(
    "rm_game_party_sheet",
    text("character_id", primary_key=True), json_text("state"), integer("position"),
    text("updated_at", null=True), text("campaign_id"), text("name"), integer("level"),
    integer("xp"), integer("current_hp"), integer("max_hp"), integer("temp_hp"),
    json_text("conditions"), integer("exhaustion"), json_text("spell_slots_max"),
    json_text("spell_slots_used"), integer("hit_die"), integer("hit_dice_total"),
    integer("hit_dice_used"), integer("death_successes"), integer("death_failures"),
    integer("stable"), integer("dead"), integer("gold"), json_text("purse"), integer("version"),
    indexes=(("campaign_id", "name"),),
    # Positions and times differ when a recorded log is replayed elsewhere.
    digest_exclude=("position", "updated_at"),
)


# -- queries ---------------------------------------------------------------------------

_SHEET_COLUMNS = tuple(PartySheet.model_fields)
_JSON_COLUMNS = ("conditions", "spell_slots_max", "spell_slots_used", "purse")
_SHEET = sa.select(*(TABLE.c[c] for c in _SHEET_COLUMNS))


def _sheet(row: Any) -> PartySheet:
    d = dict(zip(_SHEET_COLUMNS, row, strict=True))
    for key in _JSON_COLUMNS:
        d[key] = loads(d[key])
    return PartySheet.model_validate(d)


_ONE = _SHEET.where(TABLE.c.character_id == sa.bindparam("id"))


def sheet(session: Session, character_id: str) -> PartySheet | None:
    row = session.execute(_ONE, {"id": character_id}).fetchone()
    return None if row is None else _sheet(row)


def sheets(session: Session, character_ids: Sequence[str]) -> list[PartySheet]:
    """The sheets of these characters, by name."""
    if not character_ids:
        return []
    query = _SHEET.where(TABLE.c.character_id.in_(list(character_ids))).order_by(
        TABLE.c.name, TABLE.c.character_id)
    return [_sheet(r) for r in session.execute(query)]


def states(session: Session, character_ids: Sequence[str]) -> dict[str, CharacterState]:
    """The folded states of these characters (those the model holds)."""
    if not character_ids:
        return {}
    query = sa.select(TABLE.c.character_id, TABLE.c.state).where(
        TABLE.c.character_id.in_(list(character_ids)))
    return {r[0]: CharacterState.model_validate_json(r[1]) for r in session.execute(query)}
