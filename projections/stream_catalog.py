"""Read model: one row per stream (category, version, first/last event time and type)."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.projection.projector import EnvelopeRow, ProjectionContext, Projector, Table


class StreamCatalog(Projector):
    name = "stream_catalog"
    version = 1
    mode = "async"
    payload = False
    tables = (
        Table(
            "rm_stream_catalog",
            "stream_id TEXT PRIMARY KEY, category TEXT NOT NULL, version INTEGER NOT NULL, "
            "first_position INTEGER NOT NULL, last_position INTEGER NOT NULL, "
            "first_event_at TEXT NOT NULL, last_event_at TEXT NOT NULL, "
            "last_event_type TEXT NOT NULL",
            indexes=(("category", "stream_id"), ("last_position",)),
            without_rowid=True,
            # Wall-clock times differ between a recorded log and its replay.
            digest_exclude=("first_event_at", "last_event_at"),
        ),
    )

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        self.apply_rows(ctx, [(e.position, e.stream_id, e.stream_version, e.category, e.type,
                               e.recorded_at) for e in events])

    def apply_rows(self, ctx: ProjectionContext, rows: Sequence[EnvelopeRow]) -> None:
        streams: dict[str, list[object]] = {}
        get = streams.get
        for position, stream_id, version, category, type_, at in rows:
            row = get(stream_id)
            if row is None:
                streams[stream_id] = [stream_id, category, version, position, position, at, at,
                                      type_]
            else:
                row[2], row[4], row[6], row[7] = version, position, at, type_
        t = ctx.table("rm_stream_catalog")
        ctx.conn.executemany(
            f"INSERT INTO {t} (stream_id, category, version, first_position, last_position, "
            "first_event_at, last_event_at, last_event_type) VALUES (?,?,?,?,?,?,?,?) "
            "ON CONFLICT(stream_id) DO UPDATE SET version = excluded.version, "
            "last_position = excluded.last_position, last_event_at = excluded.last_event_at, "
            "last_event_type = excluded.last_event_type",
            list(streams.values()),
        )
