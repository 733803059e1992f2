"""`SQLiteSession`: a DB-API connection of pysqlite3 seen as a `storage.Session`.

Core statements are compiled once per statement object for SQLite's `qmark`
paramstyle and cached, so a projector's prepared insert costs a dict lookup per
call, not a compilation. SQL text passes straight to the driver (only code in
this package may write it).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from ..storage.session import Cursor, Params

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Compiled, Dialect
    from sqlalchemy.sql.expression import Executable

_CACHE_SIZE = 1024
_savepoint_ids = itertools.count()


@cache
def _dialect() -> Dialect:
    """SQLite's dialect for compiling Core statements, loaded on the first one: a session
    that only runs SQL text (every read command) never imports SQLAlchemy."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    return sqlite_dialect.dialect(paramstyle="qmark")


class _CompiledCache:
    """Compiled forms keyed by statement identity; the entry holds the statement, so its
    id cannot be reused while cached."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[int, tuple[str, ...] | None],
                                   tuple[Executable, Compiled]] = OrderedDict()

    def get(self, statement: Executable, keys: tuple[str, ...] | None) -> Compiled:
        key = (id(statement), keys)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is statement:
            self._entries.move_to_end(key)
            return entry[1]
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=_dialect(), column_keys=list(keys) if keys is not None else None)
        self._entries[key] = (statement, compiled)
        if len(self._entries) > _CACHE_SIZE:
            self._entries.popitem(last=False)
        return compiled  # type: ignore[no-any-return]


_compiled = _CompiledCache()


def _positional(compiled: Compiled, params: Mapping[str, Any] | None) -> tuple[Any, ...]:
    binds = compiled.binds  # type: ignore[attr-defined]
    names = compiled.positiontup or ()  # type: ignore[attr-defined]
    given = params or {}
    return tuple(given[name] if name in given else binds[name].effective_value
                 for name in names)


def compile_statement(statement: Executable, params: Params = None
                      ) -> tuple[str, tuple[Any, ...]]:
    """SQLite SQL text and positional parameters for a Core statement."""
    if params is not None and not isinstance(params, Mapping):
        raise TypeError("Core statements take named parameters (a mapping)")
    compiled = _compiled.get(statement, None)
    if any(getattr(b, "expanding", False) for b in compiled.binds.values()):  # type: ignore[attr-defined]
        # IN (...) over a list given in the statement: the placeholders depend on the
        # values, so this form is compiled on every call.
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=_dialect(), compile_kwargs={"render_postcompile": True})
        values = {**compiled.params, **(params or {})}
        return str(compiled), tuple(values[n] for n in compiled.positiontup or ())
    return str(compiled), _positional(compiled, params)


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
        if not isinstance(first, Mapping):
            raise TypeError("Core statements take named parameters (mappings)")
        compiled = _compiled.get(statement, tuple(first.keys()))
        names = compiled.positiontup or ()  # type: ignore[attr-defined]
        self.connection.executemany(
            str(compiled), [tuple(r[n] for n in names) for r in rows])

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        label = f"{name}_{next(_savepoint_ids)}"
        self.connection.execute(f"SAVEPOINT {label}")
        try:
            yield
        except BaseException:
            self.connection.execute(f"ROLLBACK TO {label}")
            self.connection.execute(f"RELEASE {label}")
            raise
        self.connection.execute(f"RELEASE {label}")
