"""Helpers the game's projectors share (in `projections/game_*.py`).

Every game read model derives its rows from the very fold the commands use,
so a read model and its aggregate cannot disagree:

- `FoldingProjector` keeps one row per stream holding the aggregate's folded
  state (JSON, without the volatile position/time) plus the columns queries
  filter on; per batch it loads each touched stream's row once, folds the new
  events, and writes the row back once.
- `PartProjector` keeps one row per entry of one keyed part of a state (a
  campaign's quests, NPCs or pending dice requests, a character's inventory).
  A row holds exactly the entry's fields, so the projector loads the entries
  an event names into an otherwise empty state, folds the event, and writes
  back what the fold made of them (an entry the fold removed leaves the table).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import BaseModel

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


def _check_order(cls: type[Projector], table: str, cols: tuple[str, ...]) -> None:
    """Rows are written as tuples in `cols` order: it must be the declared column order."""
    declared = next((t for t in cls.tables if t.name == table), None)
    if declared is not None and tuple(c.name for c in declared.columns) != cols:
        raise TypeError(f"{cls.__name__}: the columns of {table} are declared in another "
                        f"order than {cols}")


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    """A JSON column as written by `dumps` (NULL stays None)."""
    return None if text is None else json.loads(text)


class FoldingProjector(Projector):
    """One row per stream of `category`: key, state JSON, position, updated_at, columns()."""

    category: ClassVar[str]
    table: ClassVar[str]
    key: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]   # extra columns, filled by row()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "tables" in cls.__dict__:
            _check_order(cls, cls.table, (cls.key, "state", "position", "updated_at",
                                          *cls.columns))

    def row(self, state: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def after(self, ctx: ProjectionContext, states: dict[str, Any]) -> None:
        """Hook for derived tables, called with every state touched by the batch."""

    def load(self, ctx: ProjectionContext, states: dict[str, Any], key: str) -> Any:
        """The state of stream `key` (from its row, or empty), cached in `states`."""
        state = states.get(key)
        if state is None:
            model = STATE_TYPES[self.category]
            query = ctx.statement(self.table, "load", lambda t: sa.select(
                t.c.state, t.c.position, t.c.updated_at).where(
                t.c[self.key] == sa.bindparam("key")))
            got = ctx.session.execute(query, {"key": key}).fetchone()
            if got is None:
                state = model()
            else:
                state = model.model_validate_json(got[0])
                state.position, state.updated_at = got[1], got[2]
            states[key] = state
        return state

    def write(self, ctx: ProjectionContext, states: dict[str, Any],
              row: Callable[[str, Any], tuple[Any, ...]] | None = None) -> None:
        """One row per state; `row(key, state)` gives the columns (default: self.row)."""
        # Tuples in the table's column order (`columns` follows the declaration).
        ctx.session.executemany(ctx.upsert(self.table), [
            (key, state.model_dump_json(exclude=VOLATILE), state.position, state.updated_at,
             *(row(key, state) if row else self.row(state)))
            for key, state in states.items()])

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        states: dict[str, Any] = {}
        for event in events:
            apply_event(self.load(ctx, states, entity_id(event.stream_id)), self.category,
                        event)
        self.write(ctx, states)
        self.after(ctx, states)


class PartProjector(Projector):
    """One row per (stream, entry) of the keyed part `part` of a `category` state."""

    category: ClassVar[str] = "campaign"
    owner_column: ClassVar[str] = "campaign_id"   # the stream's entity id
    table: ClassVar[str]
    part: ClassVar[str]                 # a dict attribute of the state: entry id -> model
    model: ClassVar[type[BaseModel]]    # the model of one entry
    id_column: ClassVar[str]            # the entry id's field (and column)
    fields: ClassVar[tuple[str, ...]]   # the entry's other fields, one column each
    json_fields: ClassVar[frozenset[str]] = frozenset()   # of them, those held as JSON
    # stream version of the event that introduced the entry (None: no such column)
    first_column: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "tables" in cls.__dict__:
            first = (cls.first_column,) if cls.first_column else ()
            _check_order(cls, cls.table, (cls.owner_column, cls.id_column, *cls.fields, *first))

    def entry_ids(self, event: RecordedEvent) -> Iterable[str]:
        """Ids of the entries `event` may change (loaded before it is folded)."""
        raise NotImplementedError

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        first = (self.first_column,) if self.first_column else ()
        cols = (self.owner_column, self.id_column, *self.fields, *first)
        model = STATE_TYPES[self.category]
        states: dict[str, Any] = {}
        # (owner, entry) -> stream version that introduced it, for every touched entry
        touched: dict[tuple[str, str], int] = {}
        for event in events:
            owner = entity_id(event.stream_id)
            state = states.get(owner)
            if state is None:
                state = states[owner] = model()
            ids = list(self.entry_ids(event))
            for entry_id in ids:
                if (owner, entry_id) not in touched:
                    touched[owner, entry_id] = self._load(ctx, cols, owner, entry_id,
                                                          getattr(state, self.part))
            held = {entry_id for entry_id in ids if entry_id in getattr(state, self.part)}
            apply_event(state, self.category, event)
            entries = getattr(state, self.part)   # a fold may replace the whole part
            for entry_id in ids:
                if entry_id in entries and entry_id not in held:
                    touched[owner, entry_id] = event.stream_version
        gone: list[dict[str, str]] = []
        rows: list[tuple[Any, ...]] = []   # in the table's column order (cols)
        for (owner, entry_id), version in touched.items():
            entry = getattr(states[owner], self.part).get(entry_id)
            if entry is None:
                gone.append({"owner": owner, "entry": entry_id})
            else:
                rows.append((owner, entry_id, *self._columns(entry), *[version][:len(first)]))
        if gone:
            ctx.session.executemany(ctx.statement(self.table, "delete", lambda t: sa.delete(
                t).where(self._entry_is(t))), gone)
        if rows:
            ctx.session.executemany(ctx.upsert(self.table), rows)

    def _entry_is(self, t: sa.Table) -> sa.ColumnElement[bool]:
        return sa.and_(t.c[self.owner_column] == sa.bindparam("owner"),
                       t.c[self.id_column] == sa.bindparam("entry"))

    def _load(self, ctx: ProjectionContext, cols: tuple[str, ...], owner: str,
              entry_id: str, entries: dict[str, Any]) -> int:
        """Put the entry's row (if any) into `entries`; returns its first version (0: none)."""
        query = ctx.statement(self.table, "load", lambda t: sa.select(
            *(t.c[c] for c in cols)).where(self._entry_is(t)))
        got = ctx.session.execute(query, {"owner": owner, "entry": entry_id}).fetchone()
        if got is None:
            return 0
        values = dict(zip(cols, got, strict=True))
        entries[entry_id] = self.model.model_validate({
            self.id_column: entry_id,
            **{f: json.loads(values[f]) if f in self.json_fields and values[f] is not None
               else values[f] for f in self.fields}})
        return int(values[self.first_column]) if self.first_column else 0

    def _columns(self, entry: BaseModel) -> tuple[Any, ...]:
        values = entry.model_dump(mode="json", include=set(self.fields))
        return tuple(dumps(values[f]) if f in self.json_fields and values[f] is not None
                     else values[f] for f in self.fields)
