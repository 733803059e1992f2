"""`PostgresSession`: a psycopg 3 connection seen as a `storage.Session`.

Core statements are compiled once per statement object for the `postgresql+psycopg`
dialect with psycopg's positional `%s` placeholders and cached (`storage.compiled`),
as the SQLite session does; SQL text passes straight to psycopg (only code in this
package may write it, with `%s` placeholders). The connection is in autocommit
mode: transactions are begun explicitly (the writer's `BEGIN`, a reader's
`BEGIN ... READ ONLY`), so a session knows what it is in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from ..storage.compiled import CompiledCache, positional
from ..storage.lookups import KeyLookup
from ..storage.session import Cursor, Params
from .driver import PGConnection

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.sql.expression import Executable


@cache
def dialect() -> Dialect:
    """SQLAlchemy's psycopg dialect with positional placeholders, loaded on first use.

    Its types are questlog's on PostgreSQL, in DDL and in the casts psycopg's dialect
    puts on every bound value alike: `Integer` is BIGINT (SQLite's integers are 64-bit)
    and text is TEXT without a declared collation (SQLite's NOCASE has no PostgreSQL
    twin: `$1::VARCHAR COLLATE "NOCASE"` would fail). An integer primary key is
    BIGSERIAL, not SERIAL: it stands for SQLite's 64-bit rowid (a 63-bit search chunk id
    does not fit a 32-bit integer)."""
    from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
    from sqlalchemy.dialects.postgresql.base import PGDDLCompiler, PGTypeCompiler

    class QuestlogTypes(PGTypeCompiler):
        def visit_INTEGER(self, type_: Any, **kw: Any) -> str:
            return "BIGINT"

        def visit_integer(self, type_: Any, **kw: Any) -> str:
            return "BIGINT"

        def visit_TEXT(self, type_: Any, **kw: Any) -> str:
            return "TEXT"

        def visit_text(self, type_: Any, **kw: Any) -> str:
            return "TEXT"

        def visit_string(self, type_: Any, **kw: Any) -> str:
            return "TEXT"

    class QuestlogDDL(PGDDLCompiler):
        def get_column_specification(self, column: Any, **kw: Any) -> str:
            spec: str = super().get_column_specification(column, **kw)  # type: ignore[no-untyped-call]
            return spec.replace(" SERIAL", " BIGSERIAL", 1)

    engine_dialect = pg_psycopg.dialect(paramstyle="format")  # type: ignore[no-untyped-call]
    engine_dialect.type_compiler_instance = QuestlogTypes(engine_dialect)
    engine_dialect.ddl_compiler = QuestlogDDL
    return engine_dialect


@cache
def lookup_sql(lookup: KeyLookup) -> str:
    """PostgreSQL SQL text of a `KeyLookup` (its names are declared identifiers)."""
    sql = (f"SELECT {', '.join(lookup.columns)} FROM {lookup.table} WHERE "
           + " AND ".join(f"{key} = %s" for key in lookup.keys))
    if lookup.order_by:
        sql += f" ORDER BY {', '.join(lookup.order_by)}"
    return sql if lookup.limit is None else f"{sql} LIMIT {int(lookup.limit)}"


_compiled = CompiledCache(dialect)


def compile_statement(statement: Executable, params: Params = None
                      ) -> tuple[str, tuple[Any, ...]]:
    """PostgreSQL SQL text (psycopg placeholders) and positional values for a Core statement."""
    return _compiled.compile_statement(statement, params)


class PostgresSession:
    """One psycopg connection (autocommit mode; transactions begun explicitly)."""

    dialect = "postgresql"

    __slots__ = ("connection",)

    def __init__(self, connection: PGConnection) -> None:
        self.connection = connection

    @property
    def in_transaction(self) -> bool:
        """Inside a transaction that can still go on (a failed one, which only a rollback
        ends, is not: code that sees False lets the whole batch fail)."""
        from psycopg.pq import TransactionStatus

        status = self.connection.info.transaction_status
        return status in (TransactionStatus.INTRANS, TransactionStatus.ACTIVE)

    def execute(self, statement: Executable | KeyLookup | str, params: Params = None
                ) -> Cursor:
        if isinstance(statement, str):
            return self.connection.execute(statement, params)  # type: ignore[no-any-return]
        if isinstance(statement, KeyLookup):
            return self.connection.execute(  # type: ignore[no-any-return]
                lookup_sql(statement), statement.values(params))
        entry = _compiled.plain.get(statement)
        if entry is not None and not entry.expanding and type(params) is dict:
            try:
                values = tuple(map(params.__getitem__, entry.names))
            except KeyError:
                values = positional(entry, params)
            return self.connection.execute(entry.sql, values)  # type: ignore[no-any-return]
        sql, values = compile_statement(statement, params)
        return self.connection.execute(sql, values)  # type: ignore[no-any-return]

    def executemany(self, statement: Executable | str,
                    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self.connection.cursor() as cursor:
            if isinstance(statement, str):
                cursor.executemany(statement, rows)
                return
            first = rows[0]
            if type(first) is tuple:
                # Positional rows in the statement's own parameter order (an insert of a
                # declared table: its columns' order), passed straight through.
                entry = _compiled.get(statement, None)
                if len(entry.names) != len(first):
                    raise TypeError(f"the statement takes {len(entry.names)} values per row "
                                    f"({', '.join(entry.names)}), not {len(first)}")
                cursor.executemany(entry.sql, rows)
                return
            if type(first) is not dict and not isinstance(first, Mapping):
                raise TypeError("Core statements take named parameters (mappings) or tuples")
            entry = _compiled.get(statement, tuple(first.keys()))
            if len(entry.names) == len(first):
                values: list[Any] = list(map(entry.row, rows))  # type: ignore[arg-type]
            else:
                values = [positional(entry, r) for r in rows]  # type: ignore[arg-type]
            cursor.executemany(entry.sql, values)

    def render(self, statement: Executable) -> tuple[str, tuple[Any, ...]]:
        return compile_statement(statement)

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        # PostgreSQL resolves ROLLBACK TO / RELEASE to the innermost savepoint of that
        # name, so nesting works with fixed names (and psycopg's prepared statements hit).
        conn = self.connection
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            from psycopg.pq import TransactionStatus

            # A broken connection has no transaction left to roll back into.
            if conn.info.transaction_status in (TransactionStatus.INTRANS,
                                                TransactionStatus.INERROR):
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
