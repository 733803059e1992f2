"""The dice requests read model: its table and queries (projector:
`questlog.projections.game_dice_requests`)."""

from __future__ import annotations

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, json_text, text
from ...storage.session import Session
from ..projecting import loads
from ..records import DiceRequestEntry

TABLE = declare(
    "rm_game_dice_requests",
    text("campaign_id", primary_key=True), text("request_id", primary_key=True),
    json_text("character_ids"), text("roll_type"), text("formula"), text("reason"),
    text("skill", null=True), text("ability", null=True), integer("dc", null=True),
    text("encounter_id", null=True), integer("requested_version"),
    without_rowid=True,
)


# -- queries ---------------------------------------------------------------------------

_PENDING = sa.select(*(TABLE.c[c] for c in DiceRequestEntry.model_fields)).where(
    TABLE.c.campaign_id == sa.bindparam("id")).order_by(TABLE.c.requested_version)


def pending(session: Session, campaign_id: str) -> list[DiceRequestEntry]:
    return [DiceRequestEntry(request_id=r[0], character_ids=loads(r[1]), roll_type=r[2],
                             formula=r[3], reason=r[4], skill=r[5], ability=r[6], dc=r[7],
                             encounter_id=r[8])
            for r in session.execute(_PENDING, {"id": campaign_id})]
