"""Small projectors used only by the engine tests (declared and written like shipped ones)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from questlog.events import RecordedEvent
from questlog.projection.projector import ProjectionContext, Projector
from questlog.storage.readmodels import declare, integer, text


class Exploding(Projector):
    """Inline; refuses any event whose data has "boom"."""

    name = "exploding"
    version = 1
    mode = "inline"
    tables = (declare("rm_exploding", integer("position", primary_key=True),
                      text("stream_id")),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            if e.data.get("boom"):
                raise ValueError(f"cannot project {e.type} with boom")
        ctx.session.executemany(ctx.statement("rm_exploding", "insert", sa.insert),
                                [{"position": e.position, "stream_id": e.stream_id}
                                 for e in events])


class AlwaysFailing(Projector):
    name = "always_failing"
    version = 1
    mode = "async"
    event_types = frozenset({"Poison"})
    tables = (declare("rm_always_failing", integer("position", primary_key=True)),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        raise RuntimeError("this projector cannot handle Poison")


class CounterV1(Projector):
    name = "counter"
    version = 1
    mode = "inline"
    tables = (declare("rm_counter", text("stream_id", primary_key=True), integer("n")),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        ctx.session.executemany(ctx.upsert("rm_counter", add=("n",)),
                                [{"stream_id": e.stream_id, "n": 1} for e in events])


class CounterV2(Projector):
    """Same name, new version and a new column: the engine must rebuild it."""

    name = "counter"
    version = 2
    mode = "inline"
    tables = (declare("rm_counter", text("stream_id", primary_key=True), integer("n"),
                      text("last_type")),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        ctx.session.executemany(
            ctx.upsert("rm_counter", add=("n",)),
            [{"stream_id": e.stream_id, "n": 1, "last_type": e.type} for e in events])


class Tally(Projector):
    """Inline; sums the integer `amount` of `Scored` events per stream. An amount that is
    not an integer is an event it genuinely cannot apply."""

    name = "tally"
    version = 1
    mode = "inline"
    event_types = frozenset({"Scored"})
    tables = (declare("rm_tally", text("stream_id", primary_key=True), integer("total"),
                      integer("events")),)

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        upsert = ctx.upsert("rm_tally", add=("total", "events"))
        for e in events:
            amount = e.data["amount"]
            if not isinstance(amount, int):
                raise TypeError(f"amount must be an integer, got {amount!r}")
            ctx.session.execute(upsert, {"stream_id": e.stream_id, "total": amount,
                                         "events": 1})
