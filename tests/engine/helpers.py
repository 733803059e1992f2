"""Small projectors used only by the engine tests."""

from __future__ import annotations

from collections.abc import Sequence

from questlog.events import RecordedEvent
from questlog.projection.projector import ProjectionContext, Projector, Table


class Exploding(Projector):
    """Inline; refuses any event whose data has "boom"."""

    name = "exploding"
    version = 1
    mode = "inline"
    tables = (Table("rm_exploding", "position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL"),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            if e.data.get("boom"):
                raise ValueError(f"cannot project {e.type} with boom")
        ctx.conn.executemany(f"INSERT INTO {ctx.table('rm_exploding')} VALUES (?, ?)",
                             [(e.position, e.stream_id) for e in events])


class AlwaysFailing(Projector):
    name = "always_failing"
    version = 1
    mode = "async"
    event_types = frozenset({"Poison"})
    tables = (Table("rm_always_failing", "position INTEGER PRIMARY KEY"),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        raise RuntimeError("this projector cannot handle Poison")


class CounterV1(Projector):
    name = "counter"
    version = 1
    mode = "inline"
    tables = (Table("rm_counter", "stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL"),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        ctx.conn.executemany(
            f"INSERT INTO {ctx.table('rm_counter')} VALUES (?, 1) "
            "ON CONFLICT(stream_id) DO UPDATE SET n = n + 1", [(e.stream_id,) for e in events])


class CounterV2(Projector):
    """Same name, new version and a new column: the engine must rebuild it."""

    name = "counter"
    version = 2
    mode = "inline"
    tables = (Table("rm_counter",
                    "stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL, last_type TEXT NOT NULL"),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        ctx.conn.executemany(
            f"INSERT INTO {ctx.table('rm_counter')} VALUES (?, 1, ?) "
            "ON CONFLICT(stream_id) DO UPDATE SET n = n + 1, last_type = excluded.last_type",
            [(e.stream_id, e.type) for e in events])


class Tally(Projector):
    """Inline; sums the integer `amount` of `Scored` events per stream. An amount that is
    not an integer is an event it genuinely cannot apply."""

    name = "tally"
    version = 1
    mode = "inline"
    event_types = frozenset({"Scored"})
    tables = (Table("rm_tally",
                    "stream_id TEXT PRIMARY KEY, total INTEGER NOT NULL, events INTEGER NOT NULL"),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            amount = e.data["amount"]
            if not isinstance(amount, int):
                raise TypeError(f"amount must be an integer, got {amount!r}")
            ctx.conn.execute(
                f"INSERT INTO {ctx.table('rm_tally')} VALUES (?, ?, 1) ON CONFLICT(stream_id) "
                "DO UPDATE SET total = total + excluded.total, events = events + 1",
                (e.stream_id, amount))
