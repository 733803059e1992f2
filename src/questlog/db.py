"""SQLite connections: the driver, the pragmas, sqlite-vec, and the health check.

Every connection goes through SQLAlchemy engines built here, on a DB-API module
that can load extensions and links a SQLite without the WAL-reset race
(3.7.0-3.51.2 corrupt a database when another process — Litestream — checkpoints
while this one writes; fixed in 3.51.3, backported to 3.50.7 and 3.44.6).
The sqlite-vec connect hook is registered when the engine is created, before
any connection is pooled, so no pooled connection ever lacks the extension.

Hot paths use the raw DB-API connection under the SQLAlchemy pool: per-row
Core overhead would cost the writer most of its throughput.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool, QueuePool

from .checkpoint_guard import CheckpointGuard, WriterMarker
from .errors import (
    ConfigurationError,
    NotAStore,
    QuestlogError,
    ReadOnlyStore,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIOError,
    StoreUnavailable,
    UnsafeSQLiteVersion,
)
from .settings import Settings

DBAPIConnection = Any  # pysqlite3 / sqlite3 connection objects carry no type stubs


def _parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def sqlite_version_is_safe(version: str) -> bool:
    """False for SQLite releases with the WAL-reset race (3.7.0 to 3.51.2, minus backports)."""
    v = _parse_version(version)
    if v >= (3, 51, 3):
        return True
    if (3, 50, 7) <= v < (3, 51, 0):
        return True
    if (3, 44, 6) <= v < (3, 45, 0):
        return True
    return v < (3, 7, 0)


def load_dbapi() -> ModuleType:
    """pysqlite3 when installed (it ships a current SQLite), else stdlib sqlite3."""
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError:  # pragma: no cover - pysqlite3 is a hard dependency
        return importlib.import_module("sqlite3")


# Primary result codes (https://sqlite.org/rescode.html) that mean the file, not the call,
# is at fault. Extended codes carry the primary one in their low byte.
_STORAGE_FAULTS: dict[int, type[StorageError]] = {
    13: StorageFull,     # SQLITE_FULL
    10: StorageIOError,  # SQLITE_IOERR (every SQLITE_IOERR_* extended code)
    14: StorageIOError,  # SQLITE_CANTOPEN
    15: StorageIOError,  # SQLITE_PROTOCOL
    11: StorageCorrupt,  # SQLITE_CORRUPT
    26: StorageCorrupt,  # SQLITE_NOTADB
}


def storage_error(exc: BaseException) -> StorageError | None:
    """The typed StorageError for a driver error that is a storage fault, else None.

    Decided by SQLite's result code (`sqlite_errorcode`, set by pysqlite3 and by the
    stdlib driver since Python 3.11), never by the message's wording; the exceptions
    `exc` was raised from are looked at too.
    """
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 8:  # a projector's wrapped failure, say
        if isinstance(cause, StorageError):
            return cause
        code = getattr(cause, "sqlite_errorcode", None)
        kind = _STORAGE_FAULTS.get(code & 0xFF) if isinstance(code, int) else None
        if kind is not None:
            name = getattr(cause, "sqlite_errorname", None) or f"code {code}"
            error = kind(f"storage fault ({name}): {cause}")
            error.__cause__ = cause
            return error
        cause = cause.__cause__
        seen += 1
    return None


@dataclass
class VecStatus:
    loaded: bool
    version: str | None = None
    reason: str | None = None


_vec_lock = threading.Lock()
_vec_status: VecStatus | None = None


def sqlite_vec_path() -> str | None:
    """Path of the sqlite-vec loadable extension, found without importing the package
    (its __init__ imports numpy, which would cost every cold command ~100 ms)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or spec.origin is None:
        return None
    return os.path.join(os.path.dirname(spec.origin), "vec0")


def _load_sqlite_vec(dbapi_conn: DBAPIConnection) -> VecStatus:
    path = sqlite_vec_path()
    if path is None:
        return VecStatus(False, reason="sqlite-vec package not installed")
    if not hasattr(dbapi_conn, "enable_load_extension"):
        return VecStatus(False, reason="this SQLite driver cannot load extensions")
    try:
        dbapi_conn.enable_load_extension(True)
        try:
            dbapi_conn.load_extension(path)
        finally:
            dbapi_conn.enable_load_extension(False)
        row = dbapi_conn.execute("select vec_version()").fetchone()
        return VecStatus(True, version=str(row[0]))
    except Exception as exc:  # any failure means: fall back to numpy
        return VecStatus(False, reason=f"sqlite-vec failed to load: {exc}")


def vec_status() -> VecStatus:
    """Whether sqlite-vec loaded in this process (probing once on a memory database)."""
    global _vec_status
    with _vec_lock:
        if _vec_status is None:
            mod = load_dbapi()
            conn = mod.connect(":memory:")
            try:
                _vec_status = _load_sqlite_vec(conn)
            finally:
                conn.close()
        return _vec_status


class Database:
    """The engines of one store file: a pooled reader, and the writer's connection.

    `read_only=True` opens the file with `mode=ro` and a NullPool, so every read
    gets a fresh connection: what a read node on a Litestream follower needs.
    """

    def __init__(self, path: Path | str, settings: Settings, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.settings = settings
        self.read_only = read_only
        self.dbapi = load_dbapi()
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
        if not sqlite_version_is_safe(self.sqlite_version) and not self.settings.allow_unsafe_sqlite:
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
                status = _load_sqlite_vec(conn)
                global _vec_status
                with _vec_lock:
                    if _vec_status is None:
                        _vec_status = status
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


def is_corruption(exc: BaseException) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB, by SQLite's result code (never the wording)."""
    code = getattr(getattr(exc, "orig", None) or exc, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in (11, 26)


def open_failure(exc: BaseException, path: Path, *, read_only: bool) -> QuestlogError | None:
    """What a driver error raised while opening `path` means, as one clear error.

    Decided by SQLite's result code, then by looking at the path for why it could
    not be opened; None for an error that is not about opening the file.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    primary = code & 0xFF
    if primary == 26:  # SQLITE_NOTADB
        return NotAStore(f"{path} is not a questlog store (not a SQLite database)")
    if primary == 11:  # SQLITE_CORRUPT
        return NotAStore(f"{path} cannot be opened as a questlog store: the file is corrupt "
                         f"({exc}); `questlog verify` names the damage")
    if primary == 8:  # SQLITE_READONLY: the writer needs the file and its directory writable
        where = path if path.exists() and not os.access(path, os.W_OK) else path.parent
        return ReadOnlyStore(f"{path} cannot be opened for writing: {where} is read-only "
                             "(reading commands still work)")
    if primary == 14:  # SQLITE_CANTOPEN
        if path.is_dir():
            return StoreUnavailable(f"{path} is a directory, not a store file")
        if not path.parent.is_dir():
            return StoreUnavailable(f"cannot open {path}: directory {path.parent} does not exist")
        if path.exists() and not os.access(path, os.R_OK):
            return StoreUnavailable(f"cannot open {path}: permission denied")
        if read_only:
            return StoreUnavailable(
                f"cannot read {path}: SQLite needs its -shm/-wal files, which cannot be "
                f"created in {path.parent} (open it once where it can be written)")
        return StoreUnavailable(f"cannot open {path} ({exc})")
    return None


def litestream_binary() -> str | None:
    """The litestream executable: next to this interpreter (venv) first, then PATH."""
    candidate = Path(sys.executable).parent / "litestream"
    if candidate.exists():
        return str(candidate)
    return shutil.which("litestream")


@dataclass
class HealthReport:
    """What `questlog doctor` prints and the store logs at startup."""

    driver: str
    sqlite_version: str
    sqlite_safe: bool
    sqlite_vec: VecStatus
    vector_backend: str
    vector_backend_reason: str
    litestream: str | None
    schema_revision: str | None
    schema_head: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
