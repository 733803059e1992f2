"""PostgreSQL connections of one store: pooled readers, the writer's own connection.

Readers borrow from a `psycopg_pool.ConnectionPool` (checked before each loan, so a
connection the server dropped is replaced, not handed out) and read inside one
`REPEATABLE READ READ ONLY` transaction: every statement of a read sees the same
snapshot, as a SQLite read transaction does. The writer has a connection of its
own, opened again when it broke (a server restart, a network cut). Every
connection is in autocommit mode: questlog issues BEGIN itself. An SQLAlchemy
engine exists only for alembic (`admin_engine`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..settings import Settings
from .driver import PGConnection
from .schema import lock_schema

if TYPE_CHECKING:
    import sqlalchemy as sa
    from psycopg_pool import ConnectionPool

# Read connections a store keeps open at most (idle ones are closed after a while).
READ_POOL_MAX = 8
# Seconds to wait for a server to answer a new connection, and for a pooled one.
CONNECT_TIMEOUT_S = 10
POOL_TIMEOUT_S = 15
READ_BEGIN_SQL = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
WRITER_ISOLATION_SQL = "SET default_transaction_isolation TO 'read committed'"


def conninfo_of(url: str) -> str:
    """The libpq connection URI of a store URL: SQLAlchemy's `postgresql+psycopg://` (a
    driver named in the scheme) is written as the plain `postgresql://` libpq reads."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


class Database:
    """The connections of one PostgreSQL store (one database on a server)."""

    def __init__(self, url: str, settings: Settings, *, read_only: bool = False) -> None:
        self.url = url
        self.conninfo = conninfo_of(url)
        self.settings = settings
        self.read_only = read_only
        self._pool: ConnectionPool[Any] | None = None
        self._pool_lock = threading.Lock()
        self._writer_connections: list[PGConnection] = []

    # -- connections ---------------------------------------------------------------------

    def connect(self, *, application: str = "questlog", autocommit: bool = True) -> PGConnection:
        """A new connection with questlog's settings (autocommit unless told otherwise)."""
        import psycopg

        conn = psycopg.connect(self.conninfo, autocommit=autocommit,
                               application_name=application, connect_timeout=CONNECT_TIMEOUT_S)
        self._configure(conn)
        return conn

    def _configure(self, conn: PGConnection) -> None:
        # A writer waiting longer than this for the log's lock gets StorageBusy, which the
        # writer retries for `lock_retry_s` (as SQLite's busy timeout).
        conn.execute(f"SET lock_timeout = {int(self.settings.busy_timeout_ms)}")
        if not conn.autocommit:
            conn.commit()  # the SET began a transaction: end it, keeping the setting

    def _reader_pool(self) -> ConnectionPool[Any]:
        pool = self._pool
        if pool is not None:
            return pool
        with self._pool_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self.conninfo, min_size=1, max_size=READ_POOL_MAX,
                    kwargs={"autocommit": True, "application_name": "questlog-reader",
                            "connect_timeout": CONNECT_TIMEOUT_S},
                    configure=self._configure, check=ConnectionPool.check_connection,
                    timeout=POOL_TIMEOUT_S, name="questlog-readers", open=True)
            return self._pool

    @contextmanager
    def probe(self) -> Iterator[PGConnection]:
        """One connection of its own, in a read transaction, closed after: opening a store
        asks the server once and fails fast (no pool, no retries in the background)."""
        conn = self.connect(application="questlog-open")
        try:
            conn.execute(READ_BEGIN_SQL)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[PGConnection]:
        """A read connection inside one short REPEATABLE READ, READ ONLY transaction."""
        with self._reader_pool().connection() as conn:
            conn.execute(READ_BEGIN_SQL)
            try:
                yield conn
            finally:
                if not conn.broken and not conn.closed:
                    conn.execute("ROLLBACK")  # nothing to commit; ends a failed one too

    def writer_connection(self) -> PGConnection:
        """A dedicated connection for the single writer of this process."""
        if self.read_only:
            raise ConfigurationError("store opened read-only has no writer connection")
        conn = self.connect(application="questlog-writer")
        # The writer reads the head after taking the log's lock: in READ COMMITTED each
        # statement sees what committed before it started, whatever the server's or the
        # role's default isolation says (under REPEATABLE READ a transaction's snapshot
        # would predate its lock, and a batch would fail once on a stale head before
        # its retry; see transactions.py).
        conn.execute(WRITER_ISOLATION_SQL)
        self._writer_connections.append(conn)
        return conn

    def forget_writer_connection(self, conn: PGConnection) -> None:
        """A broken writer connection replaced by a new one: close and forget it."""
        try:
            conn.close()
        except Exception:  # already gone with the server
            pass
        if conn in self._writer_connections:
            self._writer_connections.remove(conn)

    def admin_engine(self) -> sa.Engine:
        """An engine for schema administration (init/migrate), never for event writes.
        Its transactions hold the schema lock, so two processes opening a new store one
        after the other create its schema once."""
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        # Not autocommit: alembic's transaction must be one (DDL and the schema lock in it).
        engine = sa.create_engine("postgresql+psycopg://", poolclass=NullPool,
                                  creator=lambda: self.connect(application="questlog-admin",
                                                               autocommit=False))

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            lock_schema(conn)

        return engine

    def dispose(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        for conn in self._writer_connections:
            try:
                conn.close()
            except Exception:  # already closed by the writer thread
                pass
        self._writer_connections.clear()
