"""Read model: how many events of each type the log holds (proves exactly-once)."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.projection.projector import ProjectionContext, Projector, Table


class EventTypeCounts(Projector):
    name = "event_counts"
    version = 1
    mode = "async"
    payload = False
    tables = (
        Table("rm_event_counts",
              "type TEXT PRIMARY KEY, count INTEGER NOT NULL, last_position INTEGER NOT NULL",
              without_rowid=True),
    )

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        counts: dict[str, list[int]] = {}
        for e in events:
            entry = counts.setdefault(e.type, [0, 0])
            entry[0] += 1
            entry[1] = e.position
        t = ctx.table("rm_event_counts")
        ctx.conn.executemany(
            f"INSERT INTO {t} (type, count, last_position) VALUES (?,?,?) "
            "ON CONFLICT(type) DO UPDATE SET count = count + excluded.count, "
            "last_position = excluded.last_position",
            [(k, v[0], v[1]) for k, v in counts.items()],
        )
