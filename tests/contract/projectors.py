"""The contract suite's projectors and how to read and predict their models.

Every contract test that needs a read model uses these, so when the way
projectors declare tables changes, this is the one module to adapt.

`StreamCounter` keeps one row per stream: how many of its events were applied,
and the position and stream version of the last one. A doubled event shows as
a count one too high, a lost one as one too low, an event applied out of order
as a wrong last position. `fold(events)` computes the same model from the log
in plain Python. `generation` is stamped on each row (left out of the digest)
so a test can tell a rebuilt model from the one it replaces.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from questlog import RecordedEvent, Store
from questlog.projection.projector import ProjectionContext, Projector
from questlog.storage.readmodels import declare, integer, text


def _declare(name: str) -> sa.Table:
    return declare(name, text("stream_id", primary_key=True), integer("events"),
                   integer("last_position"), integer("last_version"), integer("generation"),
                   digest_exclude=("generation",))

# stream_id -> (events, last_position, last_version)
Model = dict[str, tuple[int, int, int]]


class StreamCounter(Projector):
    """Inline: counts every event per stream."""

    name = "contract_inline"
    version = 1
    mode = "inline"
    tables: ClassVar[tuple[sa.Table, ...]] = (_declare("rm_contract_inline"),)

    def __init__(self) -> None:
        self.generation = 1
        self.delay_s = 0.0        # a pause per applied batch, to make a rebuild slow
        self.applied_batches = 0  # incremented after each apply (any thread)
        self._lock = threading.Lock()

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        # The backend's upsert by primary key, built once per physical table (live or
        # shadow): `events` adds up, the rest follow the latest event.
        ctx.session.executemany(ctx.upsert(self.tables[0].name, add=("events",)),
                                [{"stream_id": e.stream_id, "events": 1,
                                  "last_position": e.position, "last_version": e.stream_version,
                                  "generation": self.generation} for e in events])
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.applied_batches += 1


class AsyncStreamCounter(StreamCounter):
    """The same model kept by the async daemon / catch-up."""

    name = "contract_async"
    mode = "async"
    tables: ClassVar[tuple[sa.Table, ...]] = (_declare("rm_contract_async"),)


def both() -> list[StreamCounter]:
    return [StreamCounter(), AsyncStreamCounter()]


@functools.cache
def _select(logical: str) -> sa.Select[Any]:
    t = sa.table(logical, *(sa.column(c) for c in
                            ("stream_id", "events", "last_position", "last_version",
                             "generation")))
    return sa.select(t.c.stream_id, t.c.events, t.c.last_position, t.c.last_version,
                     t.c.generation).order_by(t.c.stream_id)


def read_rows(store: Store, projector: type[Projector] | Projector
              ) -> list[tuple[str, int, int, int, int]]:
    """The projector's rows, generation included, in stream order."""
    with store.read() as session:
        return [tuple(r) for r in session.execute(_select(projector.tables[0].name)).fetchall()]


def read_model(store: Store, projector: type[Projector] | Projector) -> Model:
    return {r[0]: (r[1], r[2], r[3]) for r in read_rows(store, projector)}


def fold(events: Iterable[RecordedEvent]) -> Model:
    """The model the log implies, computed without the store."""
    model: Model = {}
    for e in events:
        count = model.get(e.stream_id, (0, 0, 0))[0]
        model[e.stream_id] = (count + 1, e.position, e.stream_version)
    return model
