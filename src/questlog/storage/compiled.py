"""Core statements compiled once per dialect and cached: what every engine's session
shares (no SQL text here; each engine hands in its dialect and runs the result).

A statement is compiled for a positional paramstyle (SQLite `?`, psycopg `%s`) once
per statement object, with what each execution needs precomputed, so a projector's
prepared insert costs a dict lookup per call, not a compilation.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .session import Params

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Compiled, Dialect
    from sqlalchemy.sql.expression import Executable

CACHE_SIZE = 1024


class Entry:
    """A statement compiled for one dialect, with what each execution needs precomputed."""

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


class CompiledCache:
    """Compiled forms by statement (and, for executemany, the row keys). The statement is
    the key itself (hashed by identity), so a hit costs one dict lookup; when full, the
    oldest entry goes (a statement still in use is simply compiled again)."""

    def __init__(self, dialect: Callable[[], Dialect]) -> None:
        self.dialect = dialect   # loaded on the first compilation (SQLAlchemy stays unloaded)
        self.plain: dict[Executable, Entry] = {}
        self._keyed: dict[tuple[Executable, tuple[str, ...]], Entry] = {}

    def get(self, statement: Executable, keys: tuple[str, ...] | None) -> Entry:
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

    def _compile(self, statement: Executable, keys: tuple[str, ...] | None) -> Entry:
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=self.dialect(), column_keys=list(keys) if keys is not None else None)
        return Entry(statement, compiled)

    @staticmethod
    def _trim(entries: dict[Any, Entry]) -> None:
        if len(entries) > CACHE_SIZE:
            del entries[next(iter(entries))]

    def compile_statement(self, statement: Executable, params: Params = None
                          ) -> tuple[str, tuple[Any, ...]]:
        """SQL text and positional parameters for a Core statement."""
        if params is not None and type(params) is not dict and not isinstance(params, Mapping):
            raise TypeError("Core statements take named parameters (a mapping)")
        if _one_off(statement):
            entry = Entry(statement, statement.compile(  # type: ignore[attr-defined]
                dialect=self.dialect()))
        else:
            entry = self.get(statement, None)
        if entry.expanding:
            compiled = statement.compile(  # type: ignore[attr-defined]
                dialect=self.dialect(), compile_kwargs={"render_postcompile": True})
            values = {**compiled.params, **(params or {})}
            return str(compiled), tuple(values[n] for n in compiled.positiontup or ())
        return entry.sql, positional(entry, params)


def _one_off(statement: Executable) -> bool:
    """A statement built per call (execution option `one_off=True`): compiled each time
    and never kept, so it cannot push the prepared statements out of the cache."""
    return bool(statement.get_execution_options().get("one_off", False))


def positional(entry: Entry, params: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The values of a mapping in the statement's parameter order (literal values the
    statement holds itself fill in what the mapping does not give)."""
    given = params or {}
    try:
        return tuple(map(given.__getitem__, entry.names))   # every value given: the common case
    except KeyError:
        binds = entry.compiled.binds  # type: ignore[attr-defined]
        return tuple(given[name] if name in given else binds[name].effective_value
                     for name in entry.names)
