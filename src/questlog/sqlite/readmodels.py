"""Read-model tables in SQLite: DDL from the Core declarations, the one `sqlite_master`
probe (`schema.table_exists`), `RENAME` swaps, digests and `ON CONFLICT` upserts.

SQLite's DDL is transactional and `ALTER TABLE ... RENAME` takes the writer's lock,
so a swap (drop the live table, rename the shadow over it) inside the writer's
transaction is atomic for readers: they see the old table until it commits.

SQLAlchemy is imported by the methods that build statements, not by this module:
`exists` is what a cold `content get` asks (storage.lookups).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from ..storage.session import Session
from .schema import table_exists

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.sql.expression import Executable


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


class SQLiteReadModels:
    def __init__(self) -> None:
        # by (table, add, keep); the table is part of the key, hashed by identity
        self._upserts: dict[tuple[sa.Table, tuple[str, ...], tuple[str, ...]], Executable] = {}

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


READ_MODELS = SQLiteReadModels()
