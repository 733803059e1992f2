"""The neutral storage error tree: what any backend's driver errors become.

Each engine package translates its driver's exceptions into these by exception
type and the engine's own result code (SQLite's `sqlite_errorcode`, later
PostgreSQL's SQLSTATE), never by the wording of a message. Code outside the
engine packages catches these, never a driver's exception class.

- `StorageError` and its faults (`StorageFull`, `StorageIOError`,
  `StorageCorrupt`, `StorageBusy`) are the server's fault, never the caller's:
  the public classes of `questlog.errors`, re-exported here.
- `IntegrityConflict` is a statement a constraint refused (a unique key such as a
  position another writer took, a foreign key, a check): the write's fault, which
  the writer answers by re-planning or by refusing that one call.
"""

from __future__ import annotations

from ..errors import (
    QuestlogError,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIOError,
)

__all__ = [
    "IntegrityConflict",
    "StorageBusy",
    "StorageCorrupt",
    "StorageError",
    "StorageFull",
    "StorageIOError",
    "StorageUnavailable",
]


class StorageBusy(StorageError):
    """Another connection held the write lock past the busy timeout (SQLITE_BUSY or
    SQLITE_LOCKED; lock_not_available / serialization failures on a server)."""

    retryable = True


class StorageUnavailable(StorageError):
    """The database server cannot be reached: the connection broke or was refused, or the
    server is shutting down (a server backend's connection failures; SQLite has none)."""

    retryable = True


class IntegrityConflict(QuestlogError):
    """A constraint refused the statement; nothing of it was written."""
