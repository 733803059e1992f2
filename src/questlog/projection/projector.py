"""What a projector is: a name, a version, the events it handles, its tables, its code.

Read-model tables are declared, not created by hand: the engine creates them
from `tables` under a physical name (the live name, or a shadow while
rebuilding) and swaps a rebuilt shadow in by renaming. A projector writes
through `ctx.table(logical)` so the same code fills the live model and a shadow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..db import DBAPIConnection
from ..events import RecordedEvent

if TYPE_CHECKING:
    from ..store import Store

Mode = Literal["inline", "async"]
# Where and what an event is, without its payload, as the log's SQL returns it
# (eventstore.ROW_COLUMNS): (position, stream_id, stream_version, category, type, recorded_at)
EnvelopeRow = tuple[int, str, int, str, str, str]


@dataclass(frozen=True)
class Table:
    """A read-model table.

    `columns` is the column list of CREATE TABLE (constraints included);
    `indexes` lists column tuples to index; `virtual`, when set, makes it
    `CREATE VIRTUAL TABLE {name} USING {virtual}` instead (columns ignored).
    `digest_order` orders rows for `projections hash` (default: every column);
    `digest_exclude` leaves volatile columns (wall-clock times) out of it.
    """

    name: str
    columns: str = ""
    indexes: tuple[tuple[str, ...], ...] = ()
    without_rowid: bool = False
    virtual: str | None = None
    digest_order: str | None = None
    digest_exclude: tuple[str, ...] = ()
    digest: bool = True

    def create_sql(self, physical: str) -> list[str]:
        if self.virtual is not None:
            return [f"CREATE VIRTUAL TABLE {physical} USING {self.virtual}"]
        suffix = " WITHOUT ROWID" if self.without_rowid else ""
        statements = [f"CREATE TABLE {physical} ({self.columns}){suffix}"]
        for n, cols in enumerate(self.indexes):
            statements.append(
                f"CREATE INDEX {physical}__ix{n} ON {physical} ({', '.join(cols)})"
            )
        return statements


@dataclass
class ProjectionContext:
    """Handed to `Projector.apply`: the writer's connection and the physical table names."""

    conn: DBAPIConnection
    tables: dict[str, str]
    prepared: Any = None
    rebuilding: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self, logical: str) -> str:
        try:
            return self.tables[logical]
        except KeyError:
            raise KeyError(f"projector has no table {logical!r}") from None


class Projector(ABC):
    """Base class of every read-model projector (subclass it in `projections/`)."""

    name: ClassVar[str]
    version: ClassVar[int]
    mode: ClassVar[Mode] = "inline"
    event_types: ClassVar[frozenset[str] | None] = None
    categories: ClassVar[frozenset[str] | None] = None
    tables: ClassVar[tuple[Table, ...]] = ()
    # False: apply() reads only envelope fields (no data/metadata/hash), so catch-up and
    # rebuilds skip decoding JSON.
    payload: ClassVar[bool] = True

    def handles(self, event: RecordedEvent) -> bool:
        if self.event_types is not None and event.type not in self.event_types:
            return False
        return self.categories is None or event.category in self.categories

    def handles_row(self, row: EnvelopeRow) -> bool:
        if self.event_types is not None and row[4] not in self.event_types:
            return False
        return self.categories is None or row[3] in self.categories

    @classmethod
    def row_mode(cls) -> bool:
        """True when rebuilds and catch-up may hand `apply_rows` raw envelope rows."""
        return not cls.payload and cls.apply_rows is not Projector.apply_rows

    def apply_rows(self, ctx: ProjectionContext, rows: Sequence[EnvelopeRow]) -> None:
        """Optional fast path of a projector with `payload = False`: the same as `apply`,
        on envelope rows, so rebuilding millions of events builds no event objects."""
        raise NotImplementedError

    def prepare(self, store: Store, events: Sequence[RecordedEvent]) -> Any:
        """Expensive work for async projectors, outside any transaction (default: none)."""
        return None

    @abstractmethod
    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        """Write the rows for these events (only handled ones, in position order)."""

    def on_swap(self, conn: DBAPIConnection) -> None:  # noqa: B027 - optional hook
        """Called inside the swap transaction after a rebuild replaced the live tables."""
