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
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any, ClassVar, get_args

import orjson
import sqlalchemy as sa
from pydantic import BaseModel

from ..events import RecordedEvent
from ..fastjson import canonical_bytes
from ..projection.projector import ProjectionContext, Projector
from .fold import STATE_TYPES, apply_event
from .normalize import canonical_of

VOLATILE = {"position", "updated_at"}


def entity_id(stream: str) -> str:
    """'character-aria' -> 'aria'."""
    return stream.split("-", 1)[1] if "-" in stream else stream


def data_of(event: RecordedEvent) -> dict[str, Any]:
    """The event's canonical payload (upcast, variants normalised, every field present);
    PoisonEvent when it cannot be read. See normalize.py. Shared by every projector of
    the event (`normalize.canonical_of`): read it, never change it."""
    return canonical_of(event)


def _check_order(cls: type[Projector], table: str, cols: tuple[str, ...]) -> None:
    """Rows are written as tuples in `cols` order: it must be the declared column order."""
    declared = next((t for t in cls.tables if t.name == table), None)
    if declared is not None and tuple(c.name for c in declared.columns) != cols:
        raise TypeError(f"{cls.__name__}: the columns of {table} are declared in another "
                        f"order than {cols}")


_EMPTY: dict[type, str] = {list: "[]", dict: "{}"}


def dumps(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: by orjson where it writes these very bytes
    (`fastjson.canonical_bytes`; read models write several such columns per row on the
    writer's hot path), else by Python's json as always (which also writes NaN)."""
    if not value and type(value) in _EMPTY:   # most lists of a row are empty (conditions)
        return _EMPTY[type(value)]
    out = canonical_bytes(value)
    if out is not None:
        return out.decode("utf-8")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    """A JSON column as written by `dumps` (NULL stays None)."""
    return None if text is None else json.loads(text)


class StateMemo:
    """The states a projector last wrote, by (physical table, key), each with the very
    JSON text it wrote: a row whose stored text is that text is that state, so the next
    batch takes the object instead of validating the text again (pydantic's
    `model_validate_json` of a campaign state is ~0.15 ms, once per touched row and batch
    on the writer's hot path).

    Why it cannot go stale: an entry is taken out (`take`) before its state is folded any
    further and only put back (`keep`) with the text just written, so a batch that fails
    or is rolled back leaves either no entry or one whose text the row does not hold
    (rolled back: the row keeps its old text), and the next load validates the stored
    text as before. Equal text is the test, not positions or versions, so another
    process, a rebuild or a skipped event cannot make an entry pass for a row it is not.
    A state is what validating its dump gives (the folds rely on that already: a batch
    boundary reloads every state), so a memo hit changes no row.

    An entry may carry `extra`, something the projector derived from the state when it
    wrote it (the encounter tracker: its combatant rows): taken and kept with the state,
    it is exactly as current as the state is.
    """

    LIMIT = 256   # entries per projector (the least recently written go first)

    def __init__(self) -> None:
        # OrderedDict: each of pop, set and popitem(last=False) is one atomic call, so
        # a rebuild on another thread sharing the projector cannot corrupt it.
        self._entries: OrderedDict[tuple[str, str], tuple[Any, Any, Any]] = OrderedDict()

    def take(self, table: sa.Table, key: str, text: Any) -> tuple[Any, Any] | None:
        """(state, extra) of the state whose dump is `text` (now owned by the caller), or
        None. `text` is every text of the row that holds the state: the state's JSON, or
        (state, compact part) for a `FoldingProjector` with a `compact` part."""
        entry = self._entries.pop((table.name, key), None)
        return (entry[1], entry[2]) if entry is not None and entry[0] == text else None

    def keep(self, table: sa.Table, key: str, text: Any, state: Any, extra: Any = None) -> None:
        entries = self._entries
        entries[table.name, key] = (text, state, extra)
        if len(entries) > self.LIMIT:
            entries.popitem(last=False)


class CompactPart:
    """A list of small models in a state, stored apart from the state's JSON in a column of
    its own as one array of field values per entry (`[["m-1","user",false],...]`), not one
    object per entry: pydantic's dump of a campaign's last 50 message refs was two thirds
    of the time and of the bytes of writing its row, once per touched campaign and batch.
    The entries' fields must be text, integers or booleans (or None): orjson writes them
    as Python's json does, and nothing it would write otherwise (a NaN float as null)."""

    PLAIN = frozenset({str, int, bool, str | None, int | None, bool | None})

    def __init__(self, state: type[BaseModel], part: str) -> None:
        self.part = part
        (self.entry,) = get_args(state.model_fields[part].annotation)
        self.fields = tuple(self.entry.model_fields)
        odd = [f for f, info in self.entry.model_fields.items()
               if info.annotation not in self.PLAIN]
        if odd:
            raise TypeError(f"{self.entry.__name__}: a compact part holds text, integers "
                            f"and booleans, not the fields {', '.join(odd)}")
        get = attrgetter(*self.fields)   # one field: the value itself, not a tuple
        self._values: Callable[[Any], Sequence[Any]] = (
            get if len(self.fields) > 1 else lambda entry: (get(entry),))

    def text(self, state: Any) -> str:
        entries = list(map(self._values, getattr(state, self.part)))
        try:
            # orjson straight away (tuples as arrays): a canonical form is not needed, the
            # text is the same for the same values and digests read JSON columns canonically
            return orjson.dumps(entries).decode("utf-8")
        except TypeError:   # what orjson refuses (lone surrogates, integers past 64 bits)
            return dumps([list(entry) for entry in entries])

    def fill(self, data: dict[str, Any], text: str) -> None:
        """Put the part stored as `text` into `data`, the state's decoded JSON."""
        fields = self.fields
        data[self.part] = [dict(zip(fields, values, strict=True)) for values in loads(text)]


class FoldingProjector(Projector):
    """One row per stream of `category`: key, state JSON, position, updated_at, the
    compact part (if any), columns()."""

    category: ClassVar[str]
    table: ClassVar[str]
    key: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]   # extra columns, filled by row()
    # columns read with each state (`load_columns` returns their values by key)
    load_columns: ClassVar[tuple[str, ...]] = ()
    # a list part of the state kept in the column of its name (`CompactPart`), or None
    compact: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "tables" in cls.__dict__:
            _check_order(cls, cls.table, (cls.key, "state", "position", "updated_at",
                                          *cls._compact_columns(), *cls.columns))

    @classmethod
    def _compact_columns(cls) -> tuple[str, ...]:
        return (cls.compact,) if cls.compact else ()

    @property
    def _compact_part(self) -> CompactPart | None:
        if self.compact is None:
            return None
        part: CompactPart | None = self.__dict__.get("_compact")
        if part is None:
            part = self.__dict__["_compact"] = CompactPart(STATE_TYPES[self.category],
                                                           self.compact)
        return part

    def row(self, state: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def after(self, ctx: ProjectionContext, states: dict[str, Any]) -> None:
        """Hook for derived tables, called with every state touched by the batch."""

    @property
    def _decoded(self) -> StateMemo:
        memo: StateMemo | None = self.__dict__.get("_state_memo")
        if memo is None:
            memo = self.__dict__["_state_memo"] = StateMemo()
        return memo

    def load_many(self, ctx: ProjectionContext, states: dict[str, Any],
                  keys: Iterable[str], extras: dict[str, Any] | None = None
                  ) -> dict[str, tuple[Any, ...]]:
        """Put the state of every stream of `keys` not in `states` there (from its row,
        or empty), reading all their rows in one statement; returns the `load_columns`
        values of the rows found, by key. `extras` receives, by key, what `write` kept
        with each state taken from the memo (see `StateMemo`)."""
        wanted = [k for k in dict.fromkeys(keys) if k not in states]
        if not wanted:
            return {}
        model = STATE_TYPES[self.category]
        table = ctx.table(self.table)
        compact = self._compact_part
        stored = 4 + (compact is not None)   # key, state, position, updated_at[, compact]
        found = {r[0]: r for r in ctx.rows(
            self.table, (self.key,), [(k,) for k in wanted],
            (self.key, "state", "position", "updated_at", *self._compact_columns(),
             *self.load_columns))}
        memo = self._decoded
        for key in wanted:
            got = found.get(key)
            if got is None:
                states[key] = model()
                continue
            texts = got[1] if compact is None else (got[1], got[4])
            taken = memo.take(table, key, texts)
            if taken is not None:
                state = taken[0]
                if extras is not None and taken[1] is not None:
                    extras[key] = taken[1]
            else:
                if compact is None:
                    state = model.model_validate_json(got[1])
                else:
                    data = json.loads(got[1])
                    compact.fill(data, got[4])
                    state = model.model_validate(data)
            state.position, state.updated_at = got[2], got[3]
            states[key] = state
        return {key: got[stored:] for key, got in found.items()}

    def load(self, ctx: ProjectionContext, states: dict[str, Any], key: str) -> Any:
        """The state of stream `key` (from its row, or empty), cached in `states`."""
        if key not in states:
            self.load_many(ctx, states, (key,))
        return states[key]

    def write(self, ctx: ProjectionContext, states: dict[str, Any],
              row: Callable[[str, Any], tuple[Any, ...]] | None = None,
              extras: dict[str, Any] | None = None) -> None:
        """One row per state; `row(key, state)` gives the columns (default: self.row).
        `extras[key]` is kept with the state in the memo (`load_many` hands it back)."""
        compact = self._compact_part
        texts: dict[str, Any]
        stored: list[tuple[Any, ...]]   # key, state, position, updated_at[, compact]
        if compact is None:
            texts = {key: state.model_dump_json(exclude=VOLATILE)
                     for key, state in states.items()}
            stored = [(key, texts[key], state.position, state.updated_at)
                      for key, state in states.items()]
        else:
            exclude = VOLATILE | {compact.part}
            texts = {key: (state.model_dump_json(exclude=exclude), compact.text(state))
                     for key, state in states.items()}
            stored = [(key, texts[key][0], state.position, state.updated_at, texts[key][1])
                      for key, state in states.items()]
        # Tuples in the table's column order (`columns` follows the declaration).
        ctx.write_rows(self.table, (self.key, "state", "position", "updated_at",
                                    *self._compact_columns(), *self.columns), [
            (*head, *(row(key, state) if row else self.row(state)))
            for head, (key, state) in zip(stored, states.items(), strict=True)])
        table = ctx.table(self.table)
        memo = self._decoded
        for key, state in states.items():
            memo.keep(table, key, texts[key], state, None if extras is None else extras[key])

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        states: dict[str, Any] = {}
        self.load_many(ctx, states, [entity_id(e.stream_id) for e in events])
        for event in events:
            apply_event(states[entity_id(event.stream_id)], self.category, event)
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
        named = [(entity_id(e.stream_id), list(self.entry_ids(e))) for e in events]
        # Every entry the batch names, read in one statement: each is loaded into its
        # state before the first event naming it is folded, as it stood before the batch.
        stored = {(r[0], r[1]): r for r in ctx.rows(
            self.table, (self.owner_column, self.id_column),
            list(dict.fromkeys((owner, i) for owner, ids in named for i in ids)), cols)}
        states: dict[str, Any] = {}
        # (owner, entry) -> stream version that introduced it, for every touched entry
        touched: dict[tuple[str, str], int] = {}
        for event, (owner, ids) in zip(events, named, strict=True):
            state = states.get(owner)
            if state is None:
                state = states[owner] = model()
            for entry_id in ids:
                if (owner, entry_id) not in touched:
                    touched[owner, entry_id] = self._put(stored.get((owner, entry_id)), cols,
                                                         entry_id, getattr(state, self.part))
            held = {entry_id for entry_id in ids if entry_id in getattr(state, self.part)}
            apply_event(state, self.category, event)
            entries = getattr(state, self.part)   # a fold may replace the whole part
            for entry_id in ids:
                if entry_id in entries and entry_id not in held:
                    touched[owner, entry_id] = event.stream_version
        gone: list[tuple[str, str]] = []
        rows: list[tuple[Any, ...]] = []   # in the table's column order (cols)
        for (owner, entry_id), version in touched.items():
            entry = getattr(states[owner], self.part).get(entry_id)
            if entry is None:
                gone.append((owner, entry_id))
            else:
                rows.append((owner, entry_id, *self._columns(entry), *[version][:len(first)]))
        if gone:
            ctx.delete_rows(self.table, (self.owner_column, self.id_column), gone)
        if rows:
            ctx.write_rows(self.table, cols, rows)

    def _put(self, got: tuple[Any, ...] | None, cols: tuple[str, ...], entry_id: str,
             entries: dict[str, Any]) -> int:
        """Put the entry's stored row (if any) into `entries`; returns its first version
        (0: none)."""
        if got is None:
            return 0
        values = dict(zip(cols, got, strict=True))
        entries[entry_id] = self.model.model_validate({
            self.id_column: entry_id,
            **{f: json.loads(values[f]) if f in self.json_fields and values[f] is not None
               else values[f] for f in self.fields}})
        return int(values[self.first_column]) if self.first_column else 0

    def _columns(self, entry: BaseModel) -> tuple[Any, ...]:
        values = entry.model_dump(mode="json")   # whole: cheaper than building `include`
        return tuple(dumps(values[f]) if f in self.json_fields and values[f] is not None
                     else values[f] for f in self.fields)
