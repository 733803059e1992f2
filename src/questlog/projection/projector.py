"""What a projector is: a name, a version, the events it handles, its tables, its code.

Read-model tables are declared, not created by hand: each is a SQLAlchemy Core
`Table` made by `declare` (columns, indexes, digest options); the engine creates
it under a physical name (the live name, or a shadow while rebuilding) through
the backend's `ReadModels` port and swaps a rebuilt shadow in. A projector
writes Core statements on `ctx.table(logical)` (the physical `sa.Table`), built
once per physical table (`ctx.statement`, `ctx.upsert`), run on `ctx.session`,
so the same code fills the live model and a shadow on every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import sqlalchemy as sa
from sqlalchemy.sql.expression import Executable

from ..events import RecordedEvent
from ..storage.log import EnvelopeRow  # row-mode projectors' events, re-exported
from ..storage.readmodels import ReadModels, declare
from ..storage.session import Session

if TYPE_CHECKING:
    from .host import ProjectionHost

__all__ = ["EnvelopeRow", "Mode", "ProjectionContext", "Projector", "declare"]

Mode = Literal["inline", "async"]

# Statements built per physical table, by label. The table is the key (hashed by
# identity); shadows' entries go when they are swapped in or dropped.
_statements: dict[sa.Table, dict[str, Executable]] = {}


def forget_statements(tables: Sequence[sa.Table]) -> None:
    """Drop the statements built for these (shadow) tables."""
    for table in tables:
        _statements.pop(table, None)


@dataclass
class ProjectionContext:
    """Handed to `Projector.apply`: the writer's session and the physical tables."""

    session: Session
    tables: dict[str, sa.Table]
    readmodels: ReadModels
    prepared: Any = None
    rebuilding: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def conn(self) -> Session:
        """The session, for projectors that still write SQL text (content, search)."""
        return self.session

    def table(self, logical: str) -> sa.Table:
        try:
            return self.tables[logical]
        except KeyError:
            raise KeyError(f"projector has no table {logical!r}") from None

    def statement(self, logical: str, label: str,
                  build: Callable[[sa.Table], Executable]) -> Executable:
        """`build(table)` for the physical table of `logical`, built once and cached
        under `label` (the session caches its compiled form by statement)."""
        table = self.tables[logical] if logical in self.tables else self.table(logical)
        built = _statements.get(table)
        if built is None:
            built = _statements[table] = {}
        statement = built.get(label)
        if statement is None:
            statement = built[label] = build(table)
        return statement

    def upsert(self, logical: str, *, add: Sequence[str] = (),
               keep: Sequence[str] = ()) -> Executable:
        """Insert-or-replace by primary key on the physical table (see ReadModels.upsert)."""
        return self.readmodels.upsert(self.table(logical), add=add, keep=keep)

    # Batch access by key: ONE statement each, however many keys or rows (inline
    # projectors run on the writer's hot path, where every statement counts; see
    # ReadModels.rows_by_keys).

    def rows(self, logical: str, key: Sequence[str], keys: Sequence[tuple[Any, ...]],
             columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """The rows of `logical` whose `key` columns equal one of `keys` (tuples), each as
        a tuple of `columns`, in no particular order."""
        return self.readmodels.rows_by_keys(self.session, self.table(logical), key, keys,
                                            columns)

    def delete_rows(self, logical: str, key: Sequence[str],
                    keys: Sequence[tuple[Any, ...]]) -> None:
        """Delete the rows of `logical` whose `key` columns equal one of `keys`."""
        self.readmodels.delete_by_keys(self.session, self.table(logical), key, keys)

    def write_rows(self, logical: str, columns: Sequence[str],
                   rows: Sequence[tuple[Any, ...]], *, replace: bool = True) -> None:
        """Insert rows (tuples of `columns`); with `replace` (the default) a row replaces
        the one with its primary key."""
        self.readmodels.write_rows(self.session, self.table(logical), columns, rows,
                                   replace=replace)


class Projector(ABC):
    """Base class of every read-model projector (subclass it in `projections/`)."""

    name: ClassVar[str]
    version: ClassVar[int]
    mode: ClassVar[Mode] = "inline"
    event_types: ClassVar[frozenset[str] | None] = None
    categories: ClassVar[frozenset[str] | None] = None
    tables: ClassVar[tuple[sa.Table, ...]] = ()   # made by `declare`
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

    def prepare(self, store: ProjectionHost, events: Sequence[RecordedEvent]) -> Any:
        """Expensive work for async projectors, outside any transaction (default: none)."""
        return None

    @abstractmethod
    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        """Write the rows for these events (only handled ones, in position order)."""

    def on_swap(self, session: Session) -> None:  # noqa: B027 - optional hook
        """Called inside the swap transaction after a rebuild replaced the live tables."""
