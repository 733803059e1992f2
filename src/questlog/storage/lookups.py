"""`KeyLookup`: a point read of a declared read-model table, described without SQLAlchemy.

Read models are declared as SQLAlchemy Core tables and most of their queries are Core
statements, which costs a fresh process the import of SQLAlchemy (about half a second
here) before its first read. The reads a cold command makes (`questlog content get`:
one entry by its key) are all of one shape: some columns of one table where some
columns equal bound values. A `KeyLookup` says exactly that, and each engine's session
renders it in its own dialect (`Session.execute` takes one), so such a command answers
without importing SQLAlchemy. Names are declared identifiers, never user text; every
value is a bound parameter, passed by key name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """`columns` of `table` where each of `keys` equals the value of that name,
    ordered by `order_by`, at most `limit` rows."""

    table: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    order_by: tuple[str, ...] = ()
    limit: int | None = None

    def values(self, params: dict[str, object]) -> tuple[object, ...]:
        """The bound values in the order of `keys` (a missing one is a KeyError)."""
        return tuple(params[key] for key in self.keys)
