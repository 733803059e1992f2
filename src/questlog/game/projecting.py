"""Helpers the game's projectors share (in `projections/game_*.py`).

`FoldingProjector` keeps one row per stream holding the aggregate's folded
state (JSON, without the volatile position/time) plus the columns queries
filter on; per batch it loads each touched stream's row once, folds the new
events with the very fold the commands use, and writes the row back once.
So a read model and its aggregate cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from ..events import RecordedEvent
from ..projection.projector import ProjectionContext, Projector
from .fold import STATE_TYPES, apply_event
from .normalize import canonical_data

VOLATILE = {"position", "updated_at"}


def entity_id(stream: str) -> str:
    """'character-aria' -> 'aria'."""
    return stream.split("-", 1)[1] if "-" in stream else stream


def data_of(event: RecordedEvent) -> dict[str, Any]:
    """The event's canonical payload (upcast, variants normalised, every field present);
    PoisonEvent when it cannot be read. See normalize.py."""
    return canonical_data(event.type, event.schema_version, event.data,
                          stream_id=event.stream_id, position=event.position)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class FoldingProjector(Projector):
    """One row per stream of `category`: key, state JSON, position, updated_at, columns()."""

    category: ClassVar[str]
    table: ClassVar[str]
    key: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]   # extra columns, filled by row()

    def row(self, state: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def after(self, ctx: ProjectionContext, states: dict[str, Any]) -> None:
        """Hook for derived tables, called with every state touched by the batch."""

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        t = ctx.table(self.table)
        model = STATE_TYPES[self.category]
        states: dict[str, Any] = {}
        for event in events:
            key = entity_id(event.stream_id)
            state = states.get(key)
            if state is None:
                got = ctx.conn.execute(
                    f"SELECT state, position, updated_at FROM {t} WHERE {self.key} = ?",
                    (key,)).fetchone()
                if got is None:
                    state = model()
                else:
                    state = model.model_validate_json(got[0])
                    state.position, state.updated_at = got[1], got[2]
                states[key] = state
            apply_event(state, self.category, event)
        cols = (self.key, "state", "position", "updated_at", *self.columns)
        marks = ",".join("?" * len(cols))
        ctx.conn.executemany(
            f"INSERT OR REPLACE INTO {t} ({', '.join(cols)}) VALUES ({marks})",
            [(key, state.model_dump_json(exclude=VOLATILE), state.position, state.updated_at,
              *self.row(state)) for key, state in states.items()])
        self.after(ctx, states)
