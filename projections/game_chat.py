"""Read model: chat history per campaign (paged; superseded messages kept but flagged,
so queries hide them; the latest N feed a prompt).

The campaign aggregate keeps only the last 50 message ids, so this model does not
fold whole states: it reads every message through the fold's `message_of`."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.game.fold import message_of
from questlog.game.projecting import data_of, entity_id
from questlog.projection.projector import ProjectionContext, Projector, Table


class GameChat(Projector):
    name = "game_chat"
    version = 1
    mode = "inline"
    event_types = frozenset({"MessageAppended", "MessageSuperseded"})
    categories = frozenset({"campaign"})
    tables = (
        Table(
            "rm_game_chat",
            "campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT NOT NULL, "
            "role TEXT NOT NULL, content TEXT NOT NULL, gm_thought TEXT, "
            "is_dice_result INTEGER NOT NULL, detailed_content TEXT, ai_response_json TEXT, "
            "character_id TEXT, timestamp TEXT, superseded INTEGER NOT NULL DEFAULT 0, "
            "superseded_reason TEXT, PRIMARY KEY (campaign_id, seq)",
            indexes=(("campaign_id", "message_id"), ("campaign_id", "superseded", "seq")),
            without_rowid=True,
        ),
    )

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        t = ctx.table("rm_game_chat")
        rows: list[tuple[object, ...]] = []
        for e in events:
            d = data_of(e)
            campaign_id = entity_id(e.stream_id)
            if e.type == "MessageAppended":
                m = message_of(d)   # the fold's reading of the message, defaults included
                # seq = the campaign stream version: gapped but ordered and replay-stable.
                rows.append((campaign_id, e.stream_version, m.message_id, m.role, m.content,
                             m.gm_thought, int(bool(m.is_dice_result)), m.detailed_content,
                             m.ai_response_json, m.character_id, m.timestamp))
                continue
            self._flush(ctx, t, rows)
            ctx.conn.execute(
                f"UPDATE {t} SET superseded = 1, superseded_reason = ? "
                "WHERE campaign_id = ? AND message_id = ?",
                (d["reason"], campaign_id, d["message_id"]))
        self._flush(ctx, t, rows)

    @staticmethod
    def _flush(ctx: ProjectionContext, t: str, rows: list[tuple[object, ...]]) -> None:
        if rows:
            ctx.conn.executemany(
                f"INSERT INTO {t} (campaign_id, seq, message_id, role, content, gm_thought, "
                "is_dice_result, detailed_content, ai_response_json, character_id, timestamp) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            rows.clear()
