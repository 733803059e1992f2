"""SQLite connections of one store file: engines, pragmas, the writer's connection.

Every connection goes through SQLAlchemy engines built here, on the DB-API module
of `driver` (the version gate refuses to write on a SQLite with the WAL-reset
race). The sqlite-vec connect hook runs in the pool's creator, before any
connection is pooled, so no pooled connection ever lacks the extension.

Hot paths use the raw DB-API connection under the SQLAlchemy pool: per-row Core
overhead would cost the writer most of its throughput.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool, QueuePool

from ..checkpoint_guard import WriterMarker
from ..errors import ConfigurationError, UnsafeSQLiteVersion
from ..settings import Settings
from . import driver
from .driver import DBAPIConnection, load_sqlite_vec, remember_vec_status
from .wal import CheckpointGuard


class Database:
    """The engines of one store file: a pooled reader, and the writer's connection.

    `read_only=True` opens the file with `mode=ro` and a NullPool, so every read
    gets a fresh connection: what a read node on a Litestream follower needs.
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
        self._reader = self._make_engine(read_only=True, pooled=not read_only)
        self._writer_engine: sa.Engine | None = None
        self._writer_proxies: list[Any] = []

    # -- engines -------------------------------------------------------------------------

    def check_safe_for_writing(self) -> None:
        safe = driver.sqlite_version_is_safe(self.sqlite_version)
        if not safe and not self.settings.allow_unsafe_sqlite:
            raise UnsafeSQLiteVersion(
                f"SQLite {self.sqlite_version} (driver {self.driver}) has the WAL-reset corruption "
                "bug (3.7.0-3.51.2); install pysqlite3>=0.6.1, or set "
                "QUESTLOG_ALLOW_UNSAFE_SQLITE=1 to write anyway"
            )

    def _make_engine(self, *, read_only: bool, pooled: bool) -> sa.Engine:
        settings = self.settings
        path = self.path.resolve()
        vec_wanted = settings.vector_backend != "numpy"

        def creator() -> DBAPIConnection:
            if read_only and self.read_only:
                conn = self.dbapi.connect(
                    f"file:{path}?mode=ro{'&immutable=1' if self.immutable else ''}",
                    uri=True, check_same_thread=False,
                    timeout=settings.busy_timeout_ms / 1000,
                )
            else:
                conn = self.dbapi.connect(
                    str(path), check_same_thread=False, timeout=settings.busy_timeout_ms / 1000
                )
            conn.isolation_level = None  # we issue BEGIN ourselves
            conn.execute(f"PRAGMA busy_timeout={int(settings.busy_timeout_ms)}")
            conn.execute("PRAGMA foreign_keys=ON")
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
            if vec_wanted:
                remember_vec_status(load_sqlite_vec(conn))
            if read_only:
                conn.execute("PRAGMA query_only=1")
            else:
                conn.execute(f"PRAGMA synchronous={settings.durability}")
                self.checkpoint_guard.apply(conn)
            return conn

        url = f"sqlite:///{path}"
        if pooled:
            return sa.create_engine(url, module=self.dbapi, creator=creator, poolclass=QueuePool,
                                    pool_size=4, max_overflow=16, pool_pre_ping=False)
        return sa.create_engine(url, module=self.dbapi, creator=creator, poolclass=NullPool)

    def writer_connection(self) -> DBAPIConnection:
        """A dedicated raw connection for the single writer (the caller owns and closes it)."""
        if self.read_only:
            raise ConfigurationError("store opened read-only has no writer connection")
        if self._writer_engine is None:
            self._writer_engine = self._make_engine(read_only=False, pooled=False)
        proxy = self._writer_engine.raw_connection()
        self._writer_proxies.append(proxy)  # the proxy owns the connection: keep it alive
        return proxy.driver_connection

    def admin_engine(self) -> sa.Engine:
        """An engine for schema administration (init/migrate), never for event writes."""
        engine = self._make_engine(read_only=False, pooled=False)

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @contextmanager
    def read(self) -> Iterator[DBAPIConnection]:
        """A raw read connection inside one short read transaction."""
        proxy = self._reader.raw_connection()
        conn: DBAPIConnection = proxy.driver_connection
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
            proxy.close()

    def dispose(self) -> None:
        self._reader.dispose()
        for proxy in self._writer_proxies:
            try:
                proxy.close()
            except Exception:  # already closed by the writer thread
                pass
        self._writer_proxies.clear()
        if self._writer_engine is not None:
            self._writer_engine.dispose()
        if self._writer_marker is not None:
            self._writer_marker.release()
            self._writer_marker = None
