"""`SQLiteSession`: a DB-API connection of pysqlite3 seen as a `storage.Session`.

Core statements are compiled once per statement object for SQLite's `qmark`
paramstyle and cached, so a projector's prepared insert costs a dict lookup per
call, not a compilation. SQL text passes straight to the driver (only code in
this package may write it).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from ..storage.session import Cursor, Params

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Compiled, Dialect
    from sqlalchemy.sql.expression import Executable

_CACHE_SIZE = 1024


class _Entry:
    """A statement compiled for SQLite, with what each execution needs precomputed."""

    __slots__ = ("compiled", "expanding", "names", "row", "sql", "statement")

    def __init__(self, statement: Executable, compiled: Compiled) -> None:
        self.statement = statement
        self.compiled = compiled
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())  # type: ignore[attr-defined]
        # A mapping's values in parameter order, as a tuple (built in C).
        self.row: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            operator.itemgetter(*self.names) if len(self.names) > 1 else self._one_or_none)
        # IN (...) over a list given in the statement: the placeholders depend on the
        # values, so such a statement is compiled again on every call.
        self.expanding = any(getattr(b, "expanding", False)
                             for b in compiled.binds.values())  # type: ignore[attr-defined]

    def _one_or_none(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[name] for name in self.names)


@cache
def _dialect() -> Dialect:
    """SQLite's dialect for compiling Core statements, loaded on the first one: a session
    that only runs SQL text (every read command) never imports SQLAlchemy."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    return sqlite_dialect.dialect(paramstyle="qmark")


class _CompiledCache:
    """Compiled forms by statement (and, for executemany, the row keys). The statement is
    the key itself (hashed by identity), so a hit costs one dict lookup; when full, the
    oldest entry goes (a statement still in use is simply compiled again)."""

    def __init__(self) -> None:
        self.plain: dict[Executable, _Entry] = {}
        self._keyed: dict[tuple[Executable, tuple[str, ...]], _Entry] = {}

    def get(self, statement: Executable, keys: tuple[str, ...] | None) -> _Entry:
        if keys is None:
            entry = self.plain.get(statement)
            if entry is None:
                entry = self.plain[statement] = self._compile(statement, None)
                self._trim(self.plain)
            return entry
        entry = self._keyed.get((statement, keys))
        if entry is None:
            entry = self._keyed[statement, keys] = self._compile(statement, keys)
            self._trim(self._keyed)
        return entry

    @staticmethod
    def _compile(statement: Executable, keys: tuple[str, ...] | None) -> _Entry:
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=_dialect(), column_keys=list(keys) if keys is not None else None)
        return _Entry(statement, compiled)

    @staticmethod
    def _trim(entries: dict[Any, _Entry]) -> None:
        if len(entries) > _CACHE_SIZE:
            del entries[next(iter(entries))]


_compiled = _CompiledCache()


def _positional(entry: _Entry, params: Mapping[str, Any] | None) -> tuple[Any, ...]:
    given = params or {}
    try:
        return tuple(map(given.__getitem__, entry.names))   # every value given: the common case
    except KeyError:
        binds = entry.compiled.binds  # type: ignore[attr-defined]
        return tuple(given[name] if name in given else binds[name].effective_value
                     for name in entry.names)


def _one_off(statement: Executable) -> bool:
    """A statement built per call (execution option `one_off=True`): compiled each time
    and never kept, so it cannot push the prepared statements out of the cache."""
    return bool(statement.get_execution_options().get("one_off", False))


def compile_statement(statement: Executable, params: Params = None
                      ) -> tuple[str, tuple[Any, ...]]:
    """SQLite SQL text and positional parameters for a Core statement."""
    if params is not None and type(params) is not dict and not isinstance(params, Mapping):
        raise TypeError("Core statements take named parameters (a mapping)")
    if _one_off(statement):
        entry = _Entry(statement, statement.compile(dialect=_dialect()))  # type: ignore[attr-defined]
    else:
        entry = _compiled.get(statement, None)
    if entry.expanding:
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=_dialect(), compile_kwargs={"render_postcompile": True})
        values = {**compiled.params, **(params or {})}
        return str(compiled), tuple(values[n] for n in compiled.positiontup or ())
    return entry.sql, _positional(entry, params)


class SQLiteSession:
    """One pysqlite3 connection (autocommit mode; transactions begun explicitly)."""

    dialect = "sqlite"

    __slots__ = ("connection",)

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @property
    def in_transaction(self) -> bool:
        return bool(self.connection.in_transaction)

    def execute(self, statement: Executable | str, params: Params = None) -> Cursor:
        if isinstance(statement, str):
            return self.connection.execute(statement, params if params is not None else ())  # type: ignore[no-any-return]
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
