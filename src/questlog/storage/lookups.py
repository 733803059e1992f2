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

import re
from collections.abc import Mapping
from typing import NamedTuple

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class _Lookup(NamedTuple):
    table: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    order_by: tuple[str, ...] = ()
    limit: int | None = None


class KeyLookup(_Lookup):
    """`columns` of `table` where each of `keys` equals the value of that name,
    ordered by `order_by`, at most `limit` rows.

    A NamedTuple rather than a frozen dataclass: lookups are declared when a cold
    command imports its tables, and a dataclass compiles its generated methods then.
    """

    __slots__ = ()

    def __new__(cls, table: str, columns: tuple[str, ...], keys: tuple[str, ...],
                order_by: tuple[str, ...] = (), limit: int | None = None) -> KeyLookup:
        self = super().__new__(cls, table, columns, keys, order_by, limit)
        # Rendered into SQL as they are: only plain lower-case identifiers, and at least
        # one key (a lookup reads rows by key, never a whole table).
        names = (table, *columns, *keys, *order_by)
        bad = [n for n in names if not _IDENTIFIER.fullmatch(n)]
        if bad or not columns or not keys:
            raise ValueError(f"a KeyLookup needs columns, keys and plain identifiers: {self}")
        return self

    def values(self, params: object) -> tuple[object, ...]:
        """The bound values in the order of `keys`, from named parameters."""
        if not isinstance(params, Mapping):
            raise TypeError(f"a KeyLookup takes its values by name ({', '.join(self.keys)})")
        return tuple(params[key] for key in self.keys)
