"""`SQLiteSession`: a DB-API connection of pysqlite3 seen as a `storage.Session`.

Core statements are compiled once per statement object for SQLite's `qmark`
paramstyle and cached (`storage.compiled`), so a projector's prepared insert
costs a dict lookup per call, not a compilation. SQL text passes straight to the driver (only code in
this package may write it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from ..storage.compiled import CompiledCache, positional
from ..storage.lookups import KeyLookup
from ..storage.session import Cursor, Params

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.sql.expression import Executable


@cache
def _dialect() -> Dialect:
    """SQLite's dialect for compiling Core statements, loaded on the first one: a session
    that only runs SQL text (every read command) never imports SQLAlchemy."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    return sqlite_dialect.dialect(paramstyle="qmark")


@cache
def lookup_sql(lookup: KeyLookup) -> str:
    """SQLite SQL text of a `KeyLookup` (its names are declared identifiers)."""
    sql = (f"SELECT {', '.join(lookup.columns)} FROM {lookup.table} WHERE "
           + " AND ".join(f"{key} = ?" for key in lookup.keys))
    if lookup.order_by:
        sql += f" ORDER BY {', '.join(lookup.order_by)}"
    return sql if lookup.limit is None else f"{sql} LIMIT {int(lookup.limit)}"


_compiled = CompiledCache(_dialect)
_positional = positional


def compile_statement(statement: Executable, params: Params = None
                      ) -> tuple[str, tuple[Any, ...]]:
    """SQLite SQL text and positional parameters for a Core statement."""
    return _compiled.compile_statement(statement, params)


class SQLiteSession:
    """One pysqlite3 connection (autocommit mode; transactions begun explicitly)."""

    dialect = "sqlite"

    __slots__ = ("connection",)

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @property
    def in_transaction(self) -> bool:
        return bool(self.connection.in_transaction)

    def execute(self, statement: Executable | KeyLookup | str, params: Params = None
                ) -> Cursor:
        if isinstance(statement, str):
            return self.connection.execute(statement, params if params is not None else ())  # type: ignore[no-any-return]
        if isinstance(statement, KeyLookup):
            return self.connection.execute(  # type: ignore[no-any-return]
                lookup_sql(statement), statement.values(params))
        entry = _compiled.plain.get(statement)
        if entry is not None and not entry.expanding and type(params) is dict:
            # The common case (a prepared statement, named values): no function calls.
            try:
                values = tuple(map(params.__getitem__, entry.names))
            except KeyError:
                values = _positional(entry, params)
            return self.connection.execute(entry.sql, values)  # type: ignore[no-any-return]
        sql, values = compile_statement(statement, params)
        return self.connection.execute(sql, values)  # type: ignore[no-any-return]

    def executemany(self, statement: Executable | str,
                    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]) -> None:
        if isinstance(statement, str):
            self.connection.executemany(statement, rows)
            return
        if not rows:
            return
        first = rows[0]
        if type(first) is tuple:
            # Positional rows: one value per parameter of the statement in its own order
            # (an insert of a declared table: its columns' order), passed straight through.
            entry = _compiled.get(statement, None)
            if len(entry.names) != len(first):
                raise TypeError(f"the statement takes {len(entry.names)} values per row "
                                f"({', '.join(entry.names)}), not {len(first)}")
            self.connection.executemany(entry.sql, rows)
            return
        if type(first) is not dict and not isinstance(first, Mapping):  # dict: no ABC check
            raise TypeError("Core statements take named parameters (mappings) or tuples")
        entry = _compiled.get(statement, tuple(first.keys()))
        if len(entry.names) == len(first):
            # Every parameter comes from the rows (the writer's hot path: inline projectors
            # write through here).
            values: list[Any] = list(map(entry.row, rows))  # type: ignore[arg-type]
        else:
            values = [_positional(entry, r) for r in rows]  # type: ignore[arg-type]
        self.connection.executemany(entry.sql, values)

    def render(self, statement: Executable) -> tuple[str, tuple[Any, ...]]:
        return compile_statement(statement)

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        # SQLite resolves ROLLBACK TO / RELEASE to the innermost savepoint of that name, so
        # nesting works with fixed names, and the driver's statement cache keeps hitting.
        self.connection.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.connection.execute(f"ROLLBACK TO {name}")
            self.connection.execute(f"RELEASE {name}")
            raise
        self.connection.execute(f"RELEASE {name}")
