"""Read-model tables in PostgreSQL: DDL from the Core declarations, the `pg_tables`
probe, swaps by `RENAME` in the writer's transaction, digests and `ON CONFLICT` upserts,
and the batch reads and writes by key of projectors on the writer's hot path (keys bound
as arrays, `= ANY(%s)` or `unnest`: one statement whatever their number; rows written by
psycopg's `executemany`, which pipelines them in one round trip).

A swap runs inside the writer's transaction, but PostgreSQL's catalogue is not
read under a reader's snapshot: a reader whose snapshot predates the swap's commit
would find the renamed shadow under the live name and read it under that old
snapshot (missing the rows the swap's transaction wrote). So when the shadow has
the live table's structure (the same DDL, recorded as a fingerprint in the table's
comment at creation), the swap moves ROWS, which MVCC keeps consistent: it
deletes the live rows and inserts the shadow's, then drops the shadow; a reader
sees the old model until the swap commits, then the new one, whatever its
snapshot. Only a shadow of another structure (a projector whose table changed) is
renamed over the live table, and its indexes with it.

The declarations are engine-neutral; what differs from SQLite:

- `Integer` columns are BIGINT (SQLite's integers are 64-bit; PostgreSQL's INTEGER
  is not), so the same values fit on both.
- SQLite's `NOCASE` collation (ASCII letters compare case-insensitively) has no
  built-in twin without ICU (which pgserver's build lacks): such columns are plain
  text here; case-insensitive lookups are the content queries' matter.
- A SQLite virtual table (`virtual=`, FTS5) is created as a plain table of its
  declared columns, which PostgreSQL's search ports index by their own means.
- Digests are not the engine's: `storage.digests.table_digest` canonicalises and
  orders the rows in Python, so both engines give the same digest of the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..storage.session import Session
from .schema import table_exists
from .session import dialect

if TYPE_CHECKING:  # imported where statements are built: `exists` (cold reads) needs none
    import sqlalchemy as sa
    from sqlalchemy.sql.expression import Executable

_INDEXES_OF_SQL = ("SELECT indexname FROM pg_catalog.pg_indexes "
                   "WHERE schemaname = current_schema() AND tablename = %s")
_COMMENT_OF_SQL = "SELECT obj_description(to_regclass(%s), 'pg_class')"
_FINGERPRINT = "questlog-ddl:"


def create_statements(table: sa.Table) -> list[str]:
    """PostgreSQL DDL of a declared (physical) table and its indexes."""
    # A SQLite virtual table (FTS5) is its declared columns here, a plain table, which
    # the keyword index makes its own (a generated tsvector column + GIN: keywords.py).
    from sqlalchemy.schema import CreateIndex, CreateTable

    from ..storage.readmodels import options_of

    ddl = dialect()
    statements = [str(CreateTable(table).compile(dialect=ddl)).strip()]
    statements.extend(str(CreateIndex(ix).compile(dialect=ddl))
                      for ix in sorted(table.indexes, key=lambda ix: str(ix.name)))
    if options_of(table).virtual is not None:
        from .keywords import keyword_ddl

        statements.extend(keyword_ddl(table.name))
    return statements


def fingerprint(table: sa.Table) -> str:
    """The table's DDL, whatever its physical name, as a short digest."""
    ddl = "\n".join(create_statements(table)).replace(table.name, "{table}")
    return _FINGERPRINT + hashlib.sha256(ddl.encode()).hexdigest()[:32]


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _array_type(table: sa.Table, column: str) -> str:
    import sqlalchemy as sa

    return "bigint[]" if isinstance(table.c[column].type, sa.Integer) else "text[]"


def _key_filter(table: sa.Table, key: Sequence[str]) -> str:
    """`WHERE` over one bound array per key column."""
    if len(key) == 1:
        return f'"{key[0]}" = ANY(%s::{_array_type(table, key[0])})'
    arrays = ", ".join(f"%s::{_array_type(table, c)}" for c in key)
    return f"({_names(key)}) IN (SELECT * FROM unnest({arrays}))"


def _key_arrays(key: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    return tuple([k[i] for k in keys] for i in range(len(key)))


class PostgresReadModels:
    def __init__(self) -> None:
        self._upserts: dict[tuple[sa.Table, tuple[str, ...], tuple[str, ...]], Executable] = {}
        self._batch_sql: dict[tuple[Any, ...], str] = {}

    def exists(self, session: Session, name: str) -> bool:
        return table_exists(session, name)

    def create(self, session: Session, table: sa.Table) -> None:
        for sql in create_statements(table):
            session.execute(sql)
        session.execute(f"COMMENT ON TABLE \"{table.name}\" IS '{fingerprint(table)}'")

    def drop(self, session: Session, name: str) -> None:
        session.execute(f'DROP TABLE IF EXISTS "{name}"')

    def swap(self, session: Session, shadow: sa.Table, live: sa.Table) -> None:
        (comment,) = session.execute(_COMMENT_OF_SQL, (f'"{live.name}"',)).fetchone()
        if comment is not None and comment == fingerprint(shadow):
            # The same structure: move rows, so readers of any snapshot stay consistent.
            columns = ", ".join(f'"{c.name}"' for c in shadow.columns)
            session.execute(f'DELETE FROM "{live.name}"')
            session.execute(f'INSERT INTO "{live.name}" ({columns}) '
                            f'SELECT {columns} FROM "{shadow.name}"')
            session.execute(f'DROP TABLE "{shadow.name}"')
            return
        session.execute(f'DROP TABLE IF EXISTS "{live.name}"')
        session.execute(f'ALTER TABLE "{shadow.name}" RENAME TO "{live.name}"')
        # Index names are per schema: give the shadow's indexes (its primary key's too)
        # the live table's names, so the next rebuild's shadow can take its own again.
        for (index,) in session.execute(_INDEXES_OF_SQL, (live.name,)).fetchall():
            if index.startswith(shadow.name):
                session.execute(f'ALTER INDEX "{index}" RENAME TO '
                                f'"{live.name}{index[len(shadow.name):]}"')

    def digest(self, session: Session, table: sa.Table) -> str:
        # Engine-independent: rows canonicalised and ordered in Python, never by the
        # database's collation (storage.digests), so SQLite and PostgreSQL agree.
        from ..storage.digests import table_digest

        return table_digest(self, session, table)

    def upsert(self, table: sa.Table, *, add: Sequence[str] = (),
               keep: Sequence[str] = ()) -> Executable:
        key = (table, tuple(add), tuple(keep))
        cached = self._upserts.get(key)
        if cached is not None:
            return cached
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        primary = [c.name for c in table.primary_key.columns]
        statement = pg_insert(table)
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

    # -- batch access by key (storage.readmodels.ReadModels) -------------------------------

    def rows_by_keys(self, session: Session, table: sa.Table, key: Sequence[str],
                     keys: Sequence[tuple[Any, ...]], columns: Sequence[str]
                     ) -> list[tuple[Any, ...]]:
        if not keys:
            return []
        cache_key = ("rows", table, tuple(key), tuple(columns))
        sql = self._batch_sql.get(cache_key)
        if sql is None:
            sql = self._batch_sql[cache_key] = (
                f'SELECT {_names(columns)} FROM "{table.name}" WHERE {_key_filter(table, key)}')
        return [tuple(r) for r in session.execute(sql, _key_arrays(key, keys)).fetchall()]

    def delete_by_keys(self, session: Session, table: sa.Table, key: Sequence[str],
                       keys: Sequence[tuple[Any, ...]]) -> None:
        if not keys:
            return
        cache_key = ("delete", table, tuple(key))
        sql = self._batch_sql.get(cache_key)
        if sql is None:
            sql = self._batch_sql[cache_key] = (
                f'DELETE FROM "{table.name}" WHERE {_key_filter(table, key)}')
        session.execute(sql, _key_arrays(key, keys))

    def write_rows(self, session: Session, table: sa.Table, columns: Sequence[str],
                   rows: Sequence[tuple[Any, ...]], *, replace: bool) -> None:
        if not rows:
            return
        cache_key = ("write", table, tuple(columns), replace)
        sql = self._batch_sql.get(cache_key)
        if sql is None:
            sql = (f'INSERT INTO "{table.name}" ({_names(columns)}) '
                   f"VALUES ({', '.join('%s' for _ in columns)})")
            if replace:
                primary = [c.name for c in table.primary_key.columns]
                changes = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns
                                    if c not in primary)
                sql += (f" ON CONFLICT ({_names(primary)}) "
                        + (f"DO UPDATE SET {changes}" if changes else "DO NOTHING"))
            self._batch_sql[cache_key] = sql
        session.executemany(sql, rows)


READ_MODELS = PostgresReadModels()
