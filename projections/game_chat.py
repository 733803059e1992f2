"""Read model: chat history per campaign (paged; superseded messages kept but flagged,
so queries hide them; the latest N feed a prompt).

The campaign aggregate keeps only the last 50 message ids, so this model does not
fold whole states: it reads every message through the fold's `message_of`."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from questlog.events import RecordedEvent
from questlog.game.fold import message_of
from questlog.game.projecting import data_of, entity_id
from questlog.game.readmodels.chat import TABLE
from questlog.projection.projector import ProjectionContext, Projector

_MESSAGE = ("campaign_id", "seq", "message_id", "role", "content", "gm_thought",
            "is_dice_result", "detailed_content", "ai_response_json", "character_id",
            "timestamp")


class GameChat(Projector):
    name = "game_chat"
    version = 1
    mode = "inline"
    event_types = frozenset({"MessageAppended", "MessageSuperseded"})
    categories = frozenset({"campaign"})
    tables = (TABLE,)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        rows: list[tuple[object, ...]] = []
        for e in events:
            d = data_of(e)
            campaign_id = entity_id(e.stream_id)
            if e.type == "MessageAppended":
                m = message_of(d)   # the fold's reading of the message, defaults included
                # seq = the campaign stream version: gapped but ordered and replay-stable.
                rows.append((
                    campaign_id, e.stream_version, m.message_id, m.role, m.content,
                    m.gm_thought, int(bool(m.is_dice_result)), m.detailed_content,
                    m.ai_response_json, m.character_id, m.timestamp))
                continue
            self._flush(ctx, rows)
            ctx.session.execute(ctx.statement(TABLE.name, "supersede", _supersede), {
                "reason": d["reason"], "campaign": campaign_id, "message": d["message_id"]})
        self._flush(ctx, rows)

    @staticmethod
    def _flush(ctx: ProjectionContext, rows: list[tuple[object, ...]]) -> None:
        if rows:
            ctx.write_rows(TABLE.name, _MESSAGE, rows, replace=False)
            rows.clear()


def _supersede(t: sa.Table) -> sa.Update:
    return sa.update(t).where(
        t.c.campaign_id == sa.bindparam("campaign"), t.c.message_id == sa.bindparam("message")
    ).values(superseded=1, superseded_reason=sa.bindparam("reason"))

