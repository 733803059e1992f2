"""Read model: one row per stream (category, version, first/last event time and type)."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.projection.projector import EnvelopeRow, ProjectionContext, Projector
from questlog.storage.readmodels import declare, integer, text

TABLE = declare(
    "rm_stream_catalog",
    text("stream_id", primary_key=True), text("category"), integer("version"),
    integer("first_position"), integer("last_position"), text("first_event_at"),
    text("last_event_at"), text("last_event_type"),
    indexes=(("category", "stream_id"), ("last_position",)),
    without_rowid=True,
    # Wall-clock times differ between a recorded log and its replay.
    digest_exclude=("first_event_at", "last_event_at"),
)
# A stream's first event stays; the rest follow its latest.
_KEEP = ("category", "first_position", "first_event_at")


class StreamCatalog(Projector):
    name = "stream_catalog"
    version = 1
    mode = "async"
    payload = False
    tables = (TABLE,)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        self.apply_rows(ctx, [(e.position, e.stream_id, e.stream_version, e.category, e.type,
                               e.recorded_at) for e in events])

    def apply_rows(self, ctx: ProjectionContext, rows: Sequence[EnvelopeRow]) -> None:
        streams: dict[str, dict[str, object]] = {}
        get = streams.get
        for position, stream_id, version, category, type_, at in rows:
            row = get(stream_id)
            if row is None:
                streams[stream_id] = {
                    "stream_id": stream_id, "category": category, "version": version,
                    "first_position": position, "last_position": position,
                    "first_event_at": at, "last_event_at": at, "last_event_type": type_}
            else:
                row["version"], row["last_position"] = version, position
                row["last_event_at"], row["last_event_type"] = at, type_
        ctx.session.executemany(ctx.upsert(TABLE.name, keep=_KEEP), list(streams.values()))
