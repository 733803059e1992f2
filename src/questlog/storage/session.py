"""A session: one backend connection inside one transaction, as ports see it.

Backend-neutral code (projectors, read-model queries, the writer's jobs) runs
SQLAlchemy Core statements built from declared tables; the session compiles
each one for its dialect (cached, unless the statement is built per call and says
so with the execution option `one_off=True`) and runs it on its driver connection.
A `KeyLookup` (`storage.lookups`) is the one statement form that is not Core: the point
reads of cold commands, which each engine renders without importing SQLAlchemy. Code
inside an engine package may also pass SQL text in that engine's dialect.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # a session that only runs SQL text never imports SQLAlchemy
    from sqlalchemy.sql.expression import Executable

    from .lookups import KeyLookup

Params = Mapping[str, Any] | Sequence[Any] | None


class Cursor(Protocol):
    """What `Session.execute` returns: DB-API cursor reading (rows are tuples)."""

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Session(Protocol):
    @property
    def dialect(self) -> str:
        """The engine's dialect name: "sqlite", "postgresql"."""
        ...

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, statement: Executable | KeyLookup | str, params: Params = None
                ) -> Cursor:
        """Run one statement; named parameters (a mapping) for Core statements and
        lookups (`storage.lookups`: a point read that needs no SQLAlchemy)."""
        ...

    def executemany(self, statement: Executable | str,
                    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]) -> None:
        """Run a statement once per row: mappings of named parameters, or (Core) tuples
        holding every parameter in the statement's order — for an insert of a declared
        table, its columns' order (hot paths skip building a mapping per row)."""
        ...

    def render(self, statement: Executable) -> tuple[str, Sequence[Any]]:
        """A Core statement as SQL text in this engine's dialect and its positional
        parameters (for an engine's own code to embed, e.g. a content filter in a search)."""
        ...

    def savepoint(self, name: str = "sp") -> AbstractContextManager[None]:
        """A nested unit: rolled back (and the error re-raised) if its block raises."""
        ...
