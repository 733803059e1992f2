"""SQLite connections of one store file: readers, the writer's connection, pragmas.

Every connection is opened here on the DB-API module of `driver` (the version gate
refuses to write on a SQLite with the WAL-reset race), with its pragmas and the
sqlite-vec extension loaded before anyone uses it. Reads and the writer use the
driver's connections directly: a read command must not pay for importing SQLAlchemy
(about ten bare interpreter starts); only schema administration (alembic) builds an
engine, over the same connection factory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkpoint_guard import WriterMarker
from ..errors import ConfigurationError, UnsafeSQLiteVersion
from ..settings import Settings
from . import driver
from .driver import DBAPIConnection, load_sqlite_vec, remember_vec_status
from .wal import CheckpointGuard

if TYPE_CHECKING:
    import sqlalchemy as sa

# Idle read connections a primary keeps for reuse (what its SQLAlchemy pool kept).
READ_POOL_SIZE = 4
# Prepared statements each connection keeps (the driver's default is 100). The driver's
# cache is not LRU: once full, each new statement evicts the newest one, so statements
# first used after it filled (a store's start alone prepares ~180: content, search,
# catch-up) evict one another forever and are prepared anew on every execution. The
# game mix's writer spent ~6 % of its time in sqlite3_prepare that way. Well above what
# the code can prepare; a statement costs a few KB.
CACHED_STATEMENTS = 1024


class ReadConnections:
    """Read connections of one file: up to `keep` idle ones are reused (0: a fresh
    connection for every read, as a read node on a Litestream follower needs)."""

    def __init__(self, connect: Callable[[], DBAPIConnection], *, keep: int) -> None:
        self._connect = connect
        self.keep = keep
        self._idle: list[DBAPIConnection] = []
        self._lock = threading.Lock()

    def acquire(self) -> DBAPIConnection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def release(self, conn: DBAPIConnection) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(conn)
                return
        conn.close()

    def dispose(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Database:
    """The connections of one store file: pooled readers, and the writer's connection.

    `read_only=True` opens the file with `mode=ro` and keeps no idle connection, so
    every read gets a fresh one: what a read node on a Litestream follower needs.
    """

    def __init__(self, path: Path | str, settings: Settings, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.settings = settings
        self.read_only = read_only
        self.dbapi = driver.load_dbapi()
        self.sqlite_version: str = self.dbapi.sqlite_version
        self.driver: str = self.dbapi.__name__.split(".")[0]
        # Nobody can be writing a file whose directory is read-only and that has no WAL
        # files (a writer must create them): read it as immutable, since SQLite cannot
        # create the -shm index a WAL database otherwise needs even to be read.
        self.immutable = read_only and not os.access(self.path.parent, os.W_OK) and not any(
            Path(f"{self.path}{suffix}").exists() for suffix in ("-wal", "-shm"))
        # Writers leave checkpoints to a Litestream that watches the file (checkpoint_guard).
        self.checkpoint_guard = CheckpointGuard(self.path.resolve(),
                                                litestream_always=settings.litestream_active)
        self._writer_marker: WriterMarker | None = None
        if not read_only:
            self.check_safe_for_writing()
            self._writer_marker = WriterMarker.try_acquire(self.path.resolve())
        self._reader = ReadConnections(lambda: self._connect(read_only=True),
                                       keep=0 if read_only else READ_POOL_SIZE)
        self._writer_connections: list[DBAPIConnection] = []

    # -- connections ---------------------------------------------------------------------

    def check_safe_for_writing(self) -> None:
        safe = driver.sqlite_version_is_safe(self.sqlite_version)
        if not safe and not self.settings.allow_unsafe_sqlite:
            raise UnsafeSQLiteVersion(
                f"SQLite {self.sqlite_version} (driver {self.driver}) has the WAL-reset corruption "
                "bug (3.7.0-3.51.2); install pysqlite3>=0.6.1, or set "
                "QUESTLOG_ALLOW_UNSAFE_SQLITE=1 to write anyway"
            )

    def _connect(self, *, read_only: bool) -> DBAPIConnection:
        """A new connection with questlog's pragmas (and sqlite-vec unless numpy is chosen)."""
        settings = self.settings
        path = self.path.resolve()
        if read_only and self.read_only:
            conn = self.dbapi.connect(
                f"file:{path}?mode=ro{'&immutable=1' if self.immutable else ''}",
                uri=True, check_same_thread=False,
                timeout=settings.busy_timeout_ms / 1000, cached_statements=CACHED_STATEMENTS,
            )
        else:
            conn = self.dbapi.connect(
                str(path), check_same_thread=False, timeout=settings.busy_timeout_ms / 1000,
                cached_statements=CACHED_STATEMENTS,
            )
        conn.isolation_level = None  # we issue BEGIN ourselves
        conn.execute(f"PRAGMA busy_timeout={int(settings.busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys=ON")
        if not self.read_only:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
        if settings.vector_backend != "numpy":
            remember_vec_status(load_sqlite_vec(conn))
        if read_only:
            conn.execute("PRAGMA query_only=1")
        else:
            conn.execute(f"PRAGMA synchronous={settings.durability}")
            self.checkpoint_guard.apply(conn)
        return conn

    def writer_connection(self) -> DBAPIConnection:
        """A dedicated raw connection for the single writer (closed by `dispose`)."""
        if self.read_only:
            raise ConfigurationError("store opened read-only has no writer connection")
        conn = self._connect(read_only=False)
        self._writer_connections.append(conn)
        return conn

    def admin_engine(self) -> sa.Engine:
        """An engine for schema administration (init/migrate), never for event writes."""
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        engine = sa.create_engine(f"sqlite:///{self.path.resolve()}", module=self.dbapi,
                                  creator=lambda: self._connect(read_only=False),
                                  poolclass=NullPool)

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @contextmanager
    def read(self) -> Iterator[DBAPIConnection]:
        """A raw read connection inside one short read transaction."""
        conn = self._reader.acquire()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                # A read (query_only) has nothing to commit: ROLLBACK ends it even after
                # SQLITE_CORRUPT, where COMMIT fails again and would mask the first error.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        finally:
            self._reader.release(conn)

    def dispose(self) -> None:
        self._reader.dispose()
        for conn in self._writer_connections:
            try:
                conn.close()
            except Exception:  # already closed by the writer thread
                pass
        self._writer_connections.clear()
        if self._writer_marker is not None:
            self._writer_marker.release()
            self._writer_marker = None
