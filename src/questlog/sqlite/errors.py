"""SQLite's driver errors, translated by result code into the neutral tree.

One table says what each primary result code (https://sqlite.org/rescode.html)
means; `storage_error`, `translate`, `is_corruption`, `is_busy` and
`open_failure` all read it. Extended codes carry the primary one in their low
byte; pysqlite3 (and the stdlib driver since Python 3.11) sets
`sqlite_errorcode`. A message's wording is never looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NotAStore, QuestlogError, ReadOnlyStore, StoreUnavailable
from ..storage.errors import (
    IntegrityConflict,
    StorageBusy,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIOError,
    register_driver_errors,
)

SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_PROTOCOL = 15
SQLITE_CONSTRAINT = 19
SQLITE_NOTADB = 26

# What each primary result code means in the neutral tree. The faults of the file (not
# of the call) are the StorageError kinds; a busy lock is a retryable StorageError too.
KIND_OF_CODE: dict[int, type[QuestlogError]] = {
    SQLITE_BUSY: StorageBusy,
    SQLITE_LOCKED: StorageBusy,
    SQLITE_FULL: StorageFull,
    SQLITE_IOERR: StorageIOError,     # every SQLITE_IOERR_* extended code
    SQLITE_CANTOPEN: StorageIOError,
    SQLITE_PROTOCOL: StorageIOError,
    SQLITE_CORRUPT: StorageCorrupt,
    SQLITE_NOTADB: StorageCorrupt,
    SQLITE_CONSTRAINT: IntegrityConflict,
}

_CHAIN_DEPTH = 8  # how far down `__cause__` a wrapped driver error is looked for


def result_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of a driver error (SQLAlchemy's wrapper unwrapped)."""
    code = getattr(getattr(exc, "orig", None) or exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def kind_of(exc: BaseException) -> type[QuestlogError] | None:
    code = result_code(exc)
    return KIND_OF_CODE.get(code) if code is not None else None


def translate(exc: BaseException) -> QuestlogError | None:
    """The neutral error for `exc` or the driver error it was raised from, else None.

    An error that already is a neutral one is returned as it is.
    """
    cause: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):  # a projector's wrapped failure, say
        if cause is None:
            return None
        if isinstance(cause, (StorageError, IntegrityConflict)):
            return cause
        kind = kind_of(cause)
        if kind is not None:
            driver_error = getattr(cause, "orig", None) or cause
            name = (getattr(driver_error, "sqlite_errorname", None)
                    or f"code {getattr(driver_error, 'sqlite_errorcode', '?')}")
            what = "storage fault" if issubclass(kind, StorageError) else "refused"
            error = kind(f"{what} ({name}): {driver_error}")
            error.__cause__ = driver_error
            return error
        cause = cause.__cause__
    return None


def storage_error(exc: BaseException) -> StorageError | None:
    """The typed StorageError for a driver error that is the server's fault, else None."""
    error = translate(exc)
    return error if isinstance(error, StorageError) else None


def is_corruption(exc: BaseException) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB."""
    return kind_of(exc) is StorageCorrupt


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock."""
    return kind_of(exc) is StorageBusy


def open_failure(exc: BaseException, path: Path, *, read_only: bool) -> QuestlogError | None:
    """What a driver error raised while opening `path` means, as one clear error.

    Decided by the result code, then by looking at the path for why it could not be
    opened; None for an error that is not about opening the file.
    """
    code = result_code(exc)
    if code == SQLITE_NOTADB:
        return NotAStore(f"{path} is not a questlog store (not a SQLite database)")
    if code == SQLITE_CORRUPT:
        return NotAStore(f"{path} cannot be opened as a questlog store: the file is corrupt "
                         f"({exc}); `questlog verify` names the damage")
    if code == SQLITE_READONLY:  # the writer needs the file and its directory writable
        where = path if path.exists() and not os.access(path, os.W_OK) else path.parent
        return ReadOnlyStore(f"{path} cannot be opened for writing: {where} is read-only "
                             "(reading commands still work)")
    if code == SQLITE_CANTOPEN:
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


def code_name(exc: BaseException) -> str | None:
    """`SQLITE_CORRUPT` and the like for a driver error with a result code, else None."""
    driver_error = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    code = getattr(driver_error, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    return getattr(driver_error, "sqlite_errorname", None) or f"SQLite error {code}"


class SQLiteDriverErrors:
    """`storage.errors.DriverErrors` for pysqlite3 (or the stdlib driver)."""

    def error_class(self) -> type[Exception]:
        from .driver import load_dbapi

        return load_dbapi().Error  # type: ignore[no-any-return]

    def database_error_class(self) -> type[Exception]:
        from .driver import load_dbapi

        return load_dbapi().DatabaseError  # type: ignore[no-any-return]

    def translate(self, exc: BaseException) -> QuestlogError | None:
        return translate(exc)

    def code_name(self, exc: BaseException) -> str | None:
        return code_name(exc)


# Registered on import: the driver is loaded (and can raise) only through this package.
register_driver_errors(SQLiteDriverErrors())
