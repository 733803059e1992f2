"""Read-model tables in SQLite: DDL from the Core declarations, the one `sqlite_master`
probe (`schema.table_exists`), `RENAME` swaps, digests and `ON CONFLICT` upserts, and
the batch reads and writes by key of projectors on the writer's hot path.

SQLite's DDL is transactional and `ALTER TABLE ... RENAME` takes the writer's lock,
so a swap (drop the live table, rename the shadow over it) inside the writer's
transaction is atomic for readers: they see the old table until it commits.

SQLAlchemy is imported by the methods that build statements, not by this module:
`exists` is what a cold `content get` asks (storage.lookups).

Batch access by key (`rows_by_keys`, `delete_by_keys`, `write_rows`) is one statement
whatever the number of keys or rows (a write: up to `WRITE_CHUNK` rows), as the writer's
own lookups and insert are (`log.py`): reads and deletes bind ONE JSON array of keys and
reads answer in one row (`json_group_array`); writes are one multi-row
`INSERT ... VALUES (...), (...)` with every value bound as it is, as PostgreSQL's
`executemany` binds them. Every statement, and every row a cursor steps through, hands
the GIL to the producer threads and waits to get it back. JSON carries text and integers
exactly; a table read with a column of another kind (a REAL) takes a plain statement
instead (rows stepped one by one). Writes took their rows from `jsonb_each` of one JSON
array before: a row's text (a game state's JSON, 1-7 KB) was then escaped into the
array by orjson and parsed back by SQLite, ~10 µs a 2 KB row against ~2.5 bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

from ..fastjson import loads as decode_json
from ..storage.session import Session
from .schema import table_exists

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.sql.expression import Executable


# Rows of one multi-row INSERT (`write_rows`): each row count is a statement of its own in
# the connection's cache of prepared statements (1,024), so a table takes at most 64 shapes;
# a larger write is several statements (catch-up, rebuilds: not the writer's hot path).
WRITE_CHUNK = 64
# Bound parameters of one statement: SQLite's limit (SQLITE_MAX_VARIABLE_NUMBER) is 32,766
# by default since 3.32, 999 before and in builds that keep the old default: stay under it.
MAX_VARIABLES = 999


@cache
def _dialect() -> Dialect:
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    return sqlite_dialect.dialect()


def create_statements(table: sa.Table) -> list[str]:
    """SQLite DDL of a declared (physical) table and its indexes."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    from ..storage.readmodels import options_of

    virtual = options_of(table).virtual
    if virtual is not None:
        return [f"CREATE VIRTUAL TABLE {table.name} USING {virtual}"]
    statements = [str(CreateTable(table).compile(dialect=_dialect())).strip()]
    statements.extend(str(CreateIndex(ix).compile(dialect=_dialect()))
                      for ix in sorted(table.indexes, key=lambda ix: str(ix.name)))
    return statements


def _exact_in_json(table: sa.Table, columns: Sequence[str]) -> bool:
    """Whether JSON carries these columns' values exactly (text and integers)."""
    import sqlalchemy as sa

    return all(isinstance(table.c[c].type, sa.String | sa.Integer) for c in columns)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _key_filter(key: Sequence[str]) -> str:
    """`WHERE` over a bound JSON array of keys (of one column: its values; of several:
    arrays of their values)."""
    if len(key) == 1:
        return f'"{key[0]}" IN (SELECT value FROM json_each(?))'
    picks = ", ".join(f"value->>{i}" for i in range(len(key)))
    return f"({_names(key)}) IN (SELECT {picks} FROM json_each(?))"


def _keys_json(key: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> str:
    values = [k[0] for k in keys] if len(key) == 1 else [list(k) for k in keys]
    return orjson.dumps(values).decode("utf-8")


class SQLiteReadModels:
    def __init__(self) -> None:
        # by (table, add, keep); the table is part of the key, hashed by identity
        self._upserts: dict[tuple[sa.Table, tuple[str, ...], tuple[str, ...]], Executable] = {}
        # SQL text of the batch statements: (kind, table, names...) -> (sql, by JSON)
        self._batch_sql: dict[tuple[Any, ...], tuple[str, bool]] = {}
        self._write_sqls: dict[tuple[Any, ...], str] = {}   # by (table, columns, replace, rows)

    def exists(self, session: Session, name: str) -> bool:
        return table_exists(session, name)

    def create(self, session: Session, table: sa.Table) -> None:
        for sql in create_statements(table):
            session.execute(sql)

    def drop(self, session: Session, name: str) -> None:
        session.execute(f"DROP TABLE IF EXISTS {name}")

    def swap(self, session: Session, shadow: sa.Table, live: sa.Table) -> None:
        session.execute(f"DROP TABLE IF EXISTS {live.name}")
        session.execute(f"ALTER TABLE {shadow.name} RENAME TO {live.name}")

    def digest(self, session: Session, table: sa.Table) -> str:
        # Engine-independent: rows canonicalised and ordered in Python, not by SQLite's
        # collations (storage.digests).
        from ..storage.digests import table_digest

        return table_digest(self, session, table)

    def upsert(self, table: sa.Table, *, add: Sequence[str] = (),
               keep: Sequence[str] = ()) -> Executable:
        key = (table, tuple(add), tuple(keep))
        cached = self._upserts.get(key)
        if cached is not None:
            return cached
        import sqlalchemy as sa
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        primary = [c.name for c in table.primary_key.columns]
        if not add and not keep and not any(
                isinstance(c, sa.UniqueConstraint) for c in table.constraints):
            # Replacing the whole row by its primary key: SQLite's REPLACE does that in one
            # step, cheaper than an upsert's UPDATE of every column (inline projectors'
            # hot path); with no other unique constraint it deletes nothing else.
            replace: Executable = sa.insert(table).prefix_with("OR REPLACE")
            self._upserts[key] = replace
            return replace
        statement = sqlite_insert(table)
        changes: dict[str, Any] = {}
        for column in table.columns:
            if column.name in primary or column.name in keep:
                continue
            new = statement.excluded[column.name]
            changes[column.name] = table.c[column.name] + new if column.name in add else new
        built: Executable = (
            statement.on_conflict_do_update(index_elements=primary, set_=changes) if changes
            else statement.on_conflict_do_nothing(index_elements=primary))
        self._upserts[key] = built
        return built

    # -- batch access by key (see the module's docstring) ----------------------------------

    def rows_by_keys(self, session: Session, table: sa.Table, key: Sequence[str],
                     keys: Sequence[tuple[Any, ...]], columns: Sequence[str]
                     ) -> list[tuple[Any, ...]]:
        if not keys:
            return []
        cache_key = ("rows", table, tuple(key), tuple(columns))
        built = self._batch_sql.get(cache_key)
        if built is None:
            exact = _exact_in_json(table, columns)
            picked = (f"json_group_array(json_array({_names(columns)}))" if exact
                      else _names(columns))
            built = self._batch_sql[cache_key] = (
                f'SELECT {picked} FROM "{table.name}" WHERE {_key_filter(key)}', exact)
        sql, exact = built
        cursor = session.execute(sql, (_keys_json(key, keys),))
        if not exact:
            return [tuple(r) for r in cursor.fetchall()]
        (rows,) = cursor.fetchone()
        try:
            # orjson straight away: SQLite renders only 64-bit integers (which orjson
            # reads exactly) and text (JSON strings), never the long integers that make
            # `fastjson.loads` scan the text first (a scan of every state read).
            return [tuple(r) for r in orjson.loads(rows)]
        except orjson.JSONDecodeError:
            return [tuple(r) for r in decode_json(rows)]   # a REAL past double's range

    def delete_by_keys(self, session: Session, table: sa.Table, key: Sequence[str],
                       keys: Sequence[tuple[Any, ...]]) -> None:
        if not keys:
            return
        cache_key = ("delete", table, tuple(key))
        built = self._batch_sql.get(cache_key)
        if built is None:
            built = self._batch_sql[cache_key] = (
                f'DELETE FROM "{table.name}" WHERE {_key_filter(key)}', True)
        session.execute(built[0], (_keys_json(key, keys),))

    def write_rows(self, session: Session, table: sa.Table, columns: Sequence[str],
                   rows: Sequence[tuple[Any, ...]], *, replace: bool) -> None:
        if not rows:
            return
        chunk = max(1, min(WRITE_CHUNK, MAX_VARIABLES // len(columns)))
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            cache_key = (table, tuple(columns), replace, len(part))
            sql = self._write_sqls.get(cache_key)
            if sql is None:
                sql = self._write_sqls[cache_key] = self._write_sql(table, columns, replace,
                                                                   len(part))
            session.execute(sql, [value for row in part for value in row])

    @staticmethod
    def _write_sql(table: sa.Table, columns: Sequence[str], replace: bool,
                   count: int) -> str:
        """The statement writing `count` rows of `columns`, one `VALUES` tuple each."""
        import sqlalchemy as sa

        one = f"({', '.join('?' for _ in columns)})"
        source = "VALUES " + ", ".join([one] * count)
        primary = [c.name for c in table.primary_key.columns]
        head = f'INTO "{table.name}" ({_names(columns)}) {source}'
        if not replace:
            return f"INSERT {head}"
        if set(columns) == {c.name for c in table.columns} and not any(
                isinstance(c, sa.UniqueConstraint) for c in table.constraints):
            return f"INSERT OR REPLACE {head}"   # as `upsert`: one step, no UPDATE
        changes = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in primary)
        action = f"DO UPDATE SET {changes}" if changes else "DO NOTHING"
        return f"INSERT {head} ON CONFLICT ({_names(primary)}) {action}"


READ_MODELS = SQLiteReadModels()
