"""The neutral storage error tree: what any backend's driver errors become.

Each engine package translates its driver's exceptions into these by exception
type and the engine's own result code (SQLite's `sqlite_errorcode`, later
PostgreSQL's SQLSTATE), never by the wording of a message. Code outside the
engine packages catches these, never a driver's exception class; where a driver
error reaches it untranslated (an HTTP route, the CLI's last line of defence), it
asks `translate`, `storage_error`, `is_corruption` or `code_name` below, which
ask the engine packages that registered themselves.

- `StorageError` and its faults (`StorageFull`, `StorageIOError`,
  `StorageCorrupt`, `StorageBusy`) are the server's fault, never the caller's:
  the public classes of `questlog.errors`, re-exported here.
- `IntegrityConflict` is a statement a constraint refused (a unique key such as a
  position another writer took, a foreign key, a check): the write's fault, which
  the writer answers by re-planning or by refusing that one call.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import (
    QuestlogError,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIOError,
)

__all__ = [
    "DriverErrors",
    "IntegrityConflict",
    "StorageBusy",
    "StorageCorrupt",
    "StorageError",
    "StorageFull",
    "StorageIOError",
    "StorageUnavailable",
    "code_name",
    "driver_error_classes",
    "is_corruption",
    "register_driver_errors",
    "storage_error",
    "translate",
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


# -- translating a driver's errors without knowing the driver ---------------------------


class DriverErrors(Protocol):
    """How one engine package recognises its driver's exceptions.

    Each engine package registers one (`register_driver_errors`) when it is imported,
    which is before its driver can raise anything. Code outside the engine packages
    asks the functions below, never a driver class or a result code.
    """

    def error_class(self) -> type[Exception]:
        """The driver's root exception (DB-API `Error`)."""
        ...

    def database_error_class(self) -> type[Exception]:
        """The driver's errors raised by the database itself (DB-API `DatabaseError`)."""
        ...

    def translate(self, exc: BaseException) -> QuestlogError | None:
        """The neutral error for `exc` (or the driver error it was raised from), else None."""
        ...

    def code_name(self, exc: BaseException) -> str | None:
        """The engine's name of the error's result code (SQLite: `SQLITE_CORRUPT`), or None
        when `exc` is no error of this driver with a code."""
        ...


_DRIVERS: list[DriverErrors] = []


def register_driver_errors(driver: DriverErrors) -> None:
    if driver not in _DRIVERS:
        _DRIVERS.append(driver)


def driver_error_classes(*, database_only: bool = False) -> tuple[type[Exception], ...]:
    """The root exception classes of every loaded driver (DB-API `DatabaseError` of each
    with `database_only`), e.g. for an HTTP app's error handlers."""
    return tuple(d.database_error_class() if database_only else d.error_class()
                 for d in _DRIVERS)


def translate(exc: BaseException) -> QuestlogError | None:
    """The neutral error (StorageError kinds, IntegrityConflict) of a driver error, the
    error itself when it is already one, else None."""
    if isinstance(exc, (StorageError, IntegrityConflict)):
        return exc
    for driver in _DRIVERS:
        error = driver.translate(exc)
        if error is not None:
            return error
    return None


def storage_error(exc: BaseException) -> StorageError | None:
    """The StorageError for a driver error that is the server's fault, else None."""
    error = translate(exc)
    return error if isinstance(error, StorageError) else None


def is_corruption(exc: BaseException) -> bool:
    """Whether `exc` says the store's file (or database) is damaged."""
    return isinstance(translate(exc), StorageCorrupt)


def code_name(exc: BaseException) -> str | None:
    """The name of a driver error's result code, or None for anything else."""
    for driver in _DRIVERS:
        name = driver.code_name(exc)
        if name is not None:
            return name
    return None
