"""Read-model tables: declared once as SQLAlchemy Core `Table`s, created, rebuilt in
shadow copies, swapped in, and digested through the `ReadModels` port.

A projector declares each table with `declare` (columns, indexes, digest options);
the same declaration under another name (`physical`) is the shadow a rebuild fills.
Backends implement `ReadModels`: the DDL, the probe and the swap are engine matters;
digests are not: `storage.digests` canonicalises and orders the rows in Python and
`digest_rows` (here) hashes them, so every backend that holds the same values gives
the same digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.expression import Executable

from .session import Session

_OPTIONS = "questlog"  # the key of a declared table's `info` holding its ReadModelOptions
_JSON = "questlog_json"  # the key of a column's `info` marking JSON text (json_text)


@dataclass(frozen=True)
class ReadModelOptions:
    """How the engine treats a declared table beyond its columns.

    `digest_order` orders rows for `projections hash` (default: every digested
    column, in declaration order); `digest_exclude` leaves volatile columns (wall-clock
    times, positions) out of it; `digest=False` leaves the table out altogether.
    `without_rowid` is a storage hint (SQLite: `WITHOUT ROWID`); `virtual` names an
    engine-specific virtual table (SQLite: `CREATE VIRTUAL TABLE ... USING <virtual>`),
    which a backend without it must provide by other means.
    """

    indexes: tuple[tuple[str, ...], ...] = ()
    without_rowid: bool = False
    virtual: str | None = None
    digest_order: tuple[str, ...] | None = None
    digest_exclude: tuple[str, ...] = ()
    digest: bool = True


def declare(name: str, *columns: sa.Column[Any] | sa.Constraint,
            indexes: Sequence[Sequence[str]] = (), without_rowid: bool = False,
            virtual: str | None = None, digest_order: Sequence[str] | None = None,
            digest_exclude: Sequence[str] = (), digest: bool = True) -> sa.Table:
    """A read-model table: Core columns and constraints, plus the engine's options.

    Indexes are named `<table>__ix<n>` after their place in `indexes`, so a physical
    copy names its own.
    """
    options = ReadModelOptions(
        indexes=tuple(tuple(cols) for cols in indexes), without_rowid=without_rowid,
        virtual=virtual, digest_order=tuple(digest_order) if digest_order else None,
        digest_exclude=tuple(digest_exclude), digest=digest)
    table = sa.Table(name, sa.MetaData(), *columns, info={_OPTIONS: options},
                     sqlite_with_rowid=not without_rowid)
    for n, cols in enumerate(options.indexes):
        sa.Index(f"{name}__ix{n}", *(table.c[c.strip('"')] for c in cols))
    return table


def text(name: str, *, null: bool = False, **kw: Any) -> sa.Column[Any]:
    """A text column, NOT NULL unless `null` (shorthand for declarations)."""
    return sa.Column(name, sa.Text, nullable=null, **kw)


def integer(name: str, *, null: bool = False, **kw: Any) -> sa.Column[Any]:
    """An integer column (flags too: 0/1, the same on every engine), NOT NULL unless `null`."""
    return sa.Column(name, sa.Integer, nullable=null, **kw)


def json_text(name: str, *, null: bool = False, **kw: Any) -> sa.Column[Any]:
    """A column holding JSON as text (NOT NULL unless `null`): text on every engine, and
    digested as canonical JSON (`storage.digests`), so key order and spacing never count."""
    info = {**kw.pop("info", {}), _JSON: True}
    return sa.Column(name, sa.Text, nullable=null, info=info, **kw)


def is_json_column(column: sa.Column[Any]) -> bool:
    """Whether the column was declared with `json_text` (or carries its marker)."""
    return bool(column.info.get(_JSON))


def real(name: str, *, null: bool = False, **kw: Any) -> sa.Column[Any]:
    """A floating-point column, NOT NULL unless `null`."""
    return sa.Column(name, sa.Float, nullable=null, **kw)


def options_of(table: sa.Table) -> ReadModelOptions:
    options = table.info.get(_OPTIONS)
    if not isinstance(options, ReadModelOptions):
        raise TypeError(f"table {table.name!r} was not declared with storage.readmodels.declare")
    return options


def physical(table: sa.Table, name: str) -> sa.Table:
    """The same declaration under another name (a rebuild's shadow), its indexes renamed."""
    if name == table.name:
        return table
    copy = table.to_metadata(sa.MetaData(), name=name)
    prefix = f"{table.name}__ix"
    for index in copy.indexes:
        if index.name and index.name.startswith(prefix):
            index.name = f"{name}__ix{index.name[len(prefix):]}"  # type: ignore[assignment]
    return copy


def digest_columns(table: sa.Table) -> list[str]:
    """The columns `projections hash` covers, in declaration order."""
    exclude = set(options_of(table).digest_exclude)
    return [c.name for c in table.columns if c.name not in exclude]


def digest_order(table: sa.Table) -> list[str]:
    options = options_of(table)
    return list(options.digest_order) if options.digest_order else digest_columns(table)


def _encode(value: Any) -> Any:
    """A value as the digest encodes it, whatever the driver returned for it: integers
    (and booleans) as numbers, reals tagged by their repr, bytes tagged as hex."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return {"$b": value.hex()}
    if isinstance(value, float):
        return {"$f": repr(value)}
    return value


def encode_line(row: Sequence[Any]) -> bytes:
    """One row as the digest hashes it: a compact JSON array of its encoded values."""
    return json.dumps([_encode(v) for v in row], ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def digest_rows(columns: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]]) -> str:
    """SHA-256 over the column names and the rows (given in digest order), one JSON
    line per row. `storage.digests.rows_digest` puts a table's rows in canonical form
    and order first; this is only the hashing of what it hands over."""
    h = hashlib.sha256()
    if not columns:
        return h.hexdigest()
    h.update(json.dumps(list(columns)).encode())
    for rows in batches:
        for row in rows:
            h.update(encode_line(row))
            h.update(b"\n")
    return h.hexdigest()


class ReadModels(Protocol):
    """Read-model tables in one backend. Every method runs in the caller's session (so
    a rebuild's swap and the checkpoints it moves share one transaction)."""

    def exists(self, session: Session, name: str) -> bool:
        """Whether the table `name` exists (any read-model table, live or shadow)."""
        ...

    def create(self, session: Session, table: sa.Table) -> None:
        """Create the table and its indexes (a physical copy: live or shadow)."""
        ...

    def drop(self, session: Session, name: str) -> None:
        """Drop the table `name` if it exists."""
        ...

    def swap(self, session: Session, shadow: sa.Table, live: sa.Table) -> None:
        """Replace the live table by the filled shadow, inside the session's
        transaction: readers see the old table until it commits, then the new one."""
        ...

    def digest(self, session: Session, table: sa.Table) -> str:
        """The live table's digest: exactly `storage.digests.table_digest(self, session,
        table)` (backends delegate to it; `projections hash` calls it directly, so no
        engine's order or types can enter a digest)."""
        ...

    def upsert(self, table: sa.Table, *, add: Sequence[str] = (),
               keep: Sequence[str] = ()) -> Executable:
        """An insert that replaces the row with the same primary key: every other column
        takes the new value, except `add` columns (old + new) and `keep` columns (the old
        value stays). Built once per (table, add, keep); run with named parameters."""
        ...

    # Batch access by key, for projectors on the writer's hot path: each is ONE statement
    # however many keys or rows (on SQLite, one answer row: every row a cursor steps
    # through, and every statement, hands the GIL to the producer threads and waits to get
    # it back). Keys are tuples of the `key` columns' values; rows are tuples.

    def rows_by_keys(self, session: Session, table: sa.Table, key: Sequence[str],
                     keys: Sequence[tuple[Any, ...]], columns: Sequence[str]
                     ) -> list[tuple[Any, ...]]:
        """The rows of `table` whose `key` columns equal one of `keys`, each as a tuple
        of `columns`, in no particular order (a key without a row gives nothing)."""
        ...

    def delete_by_keys(self, session: Session, table: sa.Table, key: Sequence[str],
                       keys: Sequence[tuple[Any, ...]]) -> None:
        """Delete every row of `table` whose `key` columns equal one of `keys`."""
        ...

    def write_rows(self, session: Session, table: sa.Table, columns: Sequence[str],
                   rows: Sequence[tuple[Any, ...]], *, replace: bool) -> None:
        """Insert rows (tuples of `columns`; other columns take their defaults); with
        `replace`, a row replaces the one with the same primary key (as `upsert`). Values
        are bound as they are, on every engine: text, integers, floats, bytes or None (a
        `json_text` column takes the JSON text itself)."""
        ...
