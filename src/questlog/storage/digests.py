"""Digests of read-model tables that do not depend on the engine holding them.

`questlog projections hash` must print the same digests for the same log on
SQLite and on PostgreSQL (and `questlog copy` proves a moved store by them), so
nothing of the digest is left to the engine: each backend only hands over the
rows of a table's digest columns, in any order, with whatever Python types its
driver returns; this module puts every value in one canonical form, orders the
rows in Python and hashes them.

The encoding
------------
Columns: `storage.readmodels.digest_columns(table)` (declaration order, minus
`digest_exclude`). Each value is first made canonical according to its column's
declared kind (`column_kind`):

- NULL stays null, in every kind.
- **real** (`sa.Float`, `sa.Numeric`): any number (int, float, `Decimal`, bool) is
  the float of its value, so `3`, `3.0` and `Decimal("3")` are one value.
- **integer** (`sa.Integer`, `sa.Boolean`; flags are 0/1 on every engine): a
  boolean is 0/1, an integral number (`3.0`, `Decimal("3")`) is the int; a
  non-integral number (SQLite keeps `2.5` in an INTEGER column) is its float.
- **json** (a column declared with `storage.readmodels.json_text`): parsed and
  re-encoded by `events.canonical_json` (sorted keys, no spaces, UTF-8 kept),
  whether the driver returns text or parsed objects and arrays; text that does not
  parse stays as it is (so a driver must not hand back a top-level JSON *string*
  parsed: `"x"` parsed is `x`, which reads as text).
- **bytes** (`sa.LargeBinary`; also `memoryview`/`bytearray` in any column): bytes.
- **text** and anything else: a `datetime` is UTC text in the log's format
  (`%Y-%m-%dT%H:%M:%S.%fZ`; a naive one is taken as UTC), a `date` its ISO text,
  a UUID its canonical text; numbers outside a numeric column follow the integer
  rule; text stays as stored (no case folding, no Unicode normalisation).

Rows are ordered by a total order computed here, never by the engine's collation
(SQLite compares text by bytes or NOCASE as declared, PostgreSQL by the database's
locale): the key is the tuple of the canonical values of the `digest_order`
columns (default: every digest column), each compared as null < numbers (by
value) < text (by code point, which is UTF-8 byte order) < bytes, then the row's
encoded line as the last tie-break. For the tables declared today this is the
order SQLite's `ORDER BY` gave (the order the digests of
`tests/fixtures/*.digests.json` were first taken in), except that text is never
compared case-insensitively.

The ordered canonical rows are then hashed by `storage.readmodels.digest_rows`:
SHA-256 over the JSON list of column names, then one compact JSON array per row
and a newline, where a float is `{"$f": repr(value)}` and bytes `{"$b": hex}`.
A table that does not exist (a model never built) digests as no columns.

Ordering in Python holds one table's rows in memory while it is hashed (the
SRD's largest read model is a few megabytes); the log itself is never digested
here.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, Literal

import sqlalchemy as sa

from ..events import canonical_json
from .readmodels import (
    ReadModels,
    digest_columns,
    digest_order,
    digest_rows,
    encode_line,
    is_json_column,
)
from .session import Session

Kind = Literal["real", "integer", "json", "bytes", "text"]
_LOG_TIME: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


def column_kind(column: sa.Column[Any]) -> Kind:
    """How the digest reads a column's values, from its declaration alone."""
    if is_json_column(column):
        return "json"
    sql_type = column.type
    if isinstance(sql_type, (sa.Float, sa.Numeric)) and not isinstance(sql_type, sa.Integer):
        return "real"
    if isinstance(sql_type, (sa.Integer, sa.Boolean)):
        return "integer"
    if isinstance(sql_type, sa.LargeBinary):
        return "bytes"
    return "text"


def _number(value: bool | int | float | Decimal, kind: Kind) -> int | float:
    if kind == "real":
        return float(value)
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    if math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def canonical(value: Any, kind: Kind) -> Any:
    """The value as the digest sees it: None, int, float, str or bytes."""
    if value is None:
        return None
    if isinstance(value, (bool, int, float, Decimal)):
        return _number(value, kind)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if kind == "json":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return canonical_json(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime(_LOG_TIME)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dict, list)):  # parsed JSON in a column not declared as JSON
        return canonical_json(value)
    return str(value)


def _order_key(value: Any) -> tuple[Any, ...]:
    """One canonical value's place: null < numbers < text < bytes (a total order)."""
    if value is None:
        return (0,)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return (1, 1, 0)
        return (1, 0, value)
    if isinstance(value, str):
        return (2, value)
    return (3, value)


def canonical_rows(table: sa.Table, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows of the table's digest columns (then any `digest_order` column not among
    them), in any order, as canonical digest-column tuples in the digest's order."""
    columns = digest_columns(table)
    order = digest_order(table)
    extra = [c for c in order if c not in columns]
    kinds = [column_kind(table.c[c]) for c in (*columns, *extra)]
    at = {name: i for i, name in enumerate((*columns, *extra))}
    order_at = [at[c] for c in order]
    width = len(columns)
    keyed: list[tuple[tuple[Any, ...], bytes, tuple[Any, ...]]] = []
    for row in rows:
        values = tuple(canonical(v, k) for v, k in zip(row, kinds, strict=True))
        line = encode_line(values[:width])
        keyed.append((tuple(_order_key(values[i]) for i in order_at), line, values[:width]))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [values for _key, _line_bytes, values in keyed]


def rows_digest(table: sa.Table, rows: Iterable[Sequence[Any]]) -> str:
    """The digest of a declared table holding `rows` (values of its digest columns, then
    any `digest_order` column not among them; in any order, any driver's types)."""
    columns = digest_columns(table)
    if not columns:
        return digest_rows([], ())
    return digest_rows(columns, [canonical_rows(table, rows)])


def table_digest(readmodels: ReadModels, session: Session, table: sa.Table) -> str:
    """The digest of a live read-model table, read through any backend's session."""
    columns = digest_columns(table)
    if not columns or not readmodels.exists(session, table.name):
        # A model never built (e.g. a store only ever opened read-only) has no rows.
        return digest_rows([], ())
    extra = [c for c in digest_order(table) if c not in columns]
    query = sa.select(*(table.c[c] for c in (*columns, *extra)))
    return rows_digest(table, session.execute(query))
