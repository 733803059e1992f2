"""The chat read model: its table and queries (projector:
`questlog.projections.game_chat`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ...storage.readmodels import declare, integer, text
from ...storage.session import Session
from ..records import ChatMessage

TABLE = declare(
    "rm_game_chat",
    text("campaign_id", primary_key=True), integer("seq", primary_key=True),
    text("message_id"), text("role"), text("content"), text("gm_thought", null=True),
    integer("is_dice_result"), text("detailed_content", null=True),
    text("ai_response_json", null=True), text("character_id", null=True),
    text("timestamp", null=True), integer("superseded", server_default=sa.text("0")),
    text("superseded_reason", null=True),
    indexes=(("campaign_id", "message_id"), ("campaign_id", "superseded", "seq")),
    without_rowid=True,
)


# -- queries ---------------------------------------------------------------------------

_CHAT_COLUMNS = [TABLE.c[c] for c in ChatMessage.model_fields]
_OF_CAMPAIGN = TABLE.c.campaign_id == sa.bindparam("id")
_VISIBLE = TABLE.c.superseded == 0
# (every message, visible ones only) -> statement
_COUNT = {hide: sa.select(sa.func.count()).select_from(TABLE).where(
    _OF_CAMPAIGN, *([_VISIBLE] if hide else [])) for hide in (False, True)}
_PAGE = {hide: sa.select(*_CHAT_COLUMNS).where(_OF_CAMPAIGN, *([_VISIBLE] if hide else []))
         .order_by(TABLE.c.seq).limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
         for hide in (False, True)}
_RECENT = sa.select(*_CHAT_COLUMNS).where(_OF_CAMPAIGN, _VISIBLE).order_by(
    TABLE.c.seq.desc()).limit(sa.bindparam("limit"))


def _message(r: Any) -> ChatMessage:
    return ChatMessage(seq=r[0], message_id=r[1], role=r[2], content=r[3], gm_thought=r[4],
                       is_dice_result=bool(r[5]), detailed_content=r[6],
                       ai_response_json=r[7], character_id=r[8], timestamp=r[9],
                       superseded=bool(r[10]), superseded_reason=r[11])


def page(session: Session, campaign_id: str, number: int, size: int,
         include_superseded: bool) -> tuple[int, list[ChatMessage]]:
    """(messages in all, the messages of page `number`), oldest first."""
    hide = not include_superseded
    (total,) = session.execute(_COUNT[hide], {"id": campaign_id}).fetchone()
    rows = session.execute(_PAGE[hide], {"id": campaign_id, "limit": size,
                                         "offset": (number - 1) * size})
    return int(total), [_message(r) for r in rows]


def recent(session: Session, campaign_id: str, n: int) -> list[ChatMessage]:
    """The latest `n` visible messages, oldest first."""
    rows = session.execute(_RECENT, {"id": campaign_id, "limit": n}).fetchall()
    return [_message(r) for r in reversed(rows)]
