"""psycopg's errors, translated by SQLSTATE into the neutral tree.

One table says what each SQLSTATE (or, failing that, its two-character class;
https://www.postgresql.org/docs/current/errcodes-appendix.html) means;
`translate`, `storage_error`, `is_busy`, `code_name` and `open_failure` all read it;
`PostgresDriverErrors` hands them to `storage.errors` when this package is imported. A
connection that broke (no SQLSTATE at all, or class 08) is `StorageUnavailable`.
A message's wording is never looked at.
"""

from __future__ import annotations

from ..errors import QuestlogError, StorageError, StoreUnavailable
from ..storage.errors import (
    IntegrityConflict,
    StorageBusy,
    StorageCorrupt,
    StorageFull,
    StorageIOError,
    StorageUnavailable,
    register_driver_errors,
)

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
LOCK_NOT_AVAILABLE = "55P03"
UNIQUE_VIOLATION = "23505"
DISK_FULL = "53100"
IO_ERROR = "58030"
DATA_CORRUPTED = "XX001"
INDEX_CORRUPTED = "XX002"
INVALID_CATALOG_NAME = "3D000"      # the database does not exist
INVALID_PASSWORD = "28P01"
ADMIN_SHUTDOWN = "57P01"
CRASH_SHUTDOWN = "57P02"
CANNOT_CONNECT_NOW = "57P03"
READ_ONLY_SQL_TRANSACTION = "25006"  # a write on a hot standby

KIND_OF_STATE: dict[str, type[QuestlogError]] = {
    SERIALIZATION_FAILURE: StorageBusy,
    DEADLOCK_DETECTED: StorageBusy,
    LOCK_NOT_AVAILABLE: StorageBusy,
    DISK_FULL: StorageFull,
    IO_ERROR: StorageIOError,
    DATA_CORRUPTED: StorageCorrupt,
    INDEX_CORRUPTED: StorageCorrupt,
    ADMIN_SHUTDOWN: StorageUnavailable,
    CRASH_SHUTDOWN: StorageUnavailable,
    CANNOT_CONNECT_NOW: StorageUnavailable,
}
KIND_OF_CLASS: dict[str, type[QuestlogError]] = {
    "23": IntegrityConflict,     # integrity constraint violation: unique, foreign key, check
    "08": StorageUnavailable,    # connection exception
    "53": StorageFull,           # insufficient resources (disk, memory, connections)
    "58": StorageIOError,        # system error
    "XX": StorageCorrupt,        # internal error: data or index corrupted
}

_CHAIN_DEPTH = 8  # how far down `__cause__` a wrapped driver error is looked for


def _psycopg_error() -> type[BaseException] | None:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - this package is used only with psycopg
        return None
    return psycopg.Error


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a psycopg error (SQLAlchemy's wrapper unwrapped), else None."""
    state = getattr(getattr(exc, "orig", None) or exc, "sqlstate", None)
    return state if isinstance(state, str) else None


def kind_of(exc: BaseException) -> type[QuestlogError] | None:
    driver_error = getattr(exc, "orig", None) or exc
    base = _psycopg_error()
    if base is None or not isinstance(driver_error, base):
        return None
    state = sqlstate(driver_error)
    if state is None:
        # No SQLSTATE: the client library failed (a dropped or refused connection).
        import psycopg

        return StorageUnavailable if isinstance(driver_error, psycopg.OperationalError) else None
    return KIND_OF_STATE.get(state) or KIND_OF_CLASS.get(state[:2])


def translate(exc: BaseException) -> QuestlogError | None:
    """The neutral error for `exc` or the driver error it was raised from, else None.

    An error that already is a neutral one is returned as it is.
    """
    cause: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if cause is None:
            return None
        if isinstance(cause, (StorageError, IntegrityConflict)):
            return cause
        kind = kind_of(cause)
        if kind is not None:
            driver_error = getattr(cause, "orig", None) or cause
            state = sqlstate(driver_error) or "connection"
            what = "storage fault" if issubclass(kind, StorageError) else "refused"
            first_line = str(driver_error).strip().splitlines()[0] if str(driver_error) else ""
            error = kind(f"{what} (PostgreSQL {state}): {first_line}")
            error.__cause__ = driver_error
            return error
        cause = cause.__cause__
    return None


def storage_error(exc: BaseException) -> StorageError | None:
    """The typed StorageError for a driver error that is the server's fault, else None."""
    error = translate(exc)
    return error if isinstance(error, StorageError) else None


def is_busy(exc: BaseException) -> bool:
    """A lock that was not granted in time, a deadlock, a serialization failure."""
    return kind_of(exc) is StorageBusy


def is_unavailable(exc: BaseException) -> bool:
    """The connection broke or the server is going away."""
    return kind_of(exc) is StorageUnavailable


def open_failure(exc: BaseException, where: str) -> QuestlogError | None:
    """What a driver error raised while opening the store `where` (a redacted URL)
    means, as one clear error; None for an error that is not about opening."""
    state = sqlstate(exc)
    if state == INVALID_CATALOG_NAME:
        return StoreUnavailable(f"cannot open {where}: the database does not exist "
                                "(create it first: createdb NAME)")
    if state is not None and state.startswith("28"):
        return StoreUnavailable(f"cannot open {where}: the server refused the credentials")
    if kind_of(exc) is StorageUnavailable:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return StoreUnavailable(f"cannot connect to {where}: {first[0] if first else 'no answer'}")
    return None


def code_name(exc: BaseException) -> str | None:
    """`SQLSTATE 23505` for a psycopg error with a SQLSTATE, else None."""
    base = _psycopg_error()
    driver_error = getattr(exc, "orig", None) or exc
    if base is None or not isinstance(driver_error, base):
        return None
    state = sqlstate(driver_error)
    return f"SQLSTATE {state}" if state is not None else None


class PostgresDriverErrors:
    """`storage.errors.DriverErrors` for psycopg 3."""

    def error_class(self) -> type[Exception]:
        import psycopg

        return psycopg.Error

    def database_error_class(self) -> type[Exception]:
        import psycopg

        return psycopg.DatabaseError

    def translate(self, exc: BaseException) -> QuestlogError | None:
        return translate(exc)

    def code_name(self, exc: BaseException) -> str | None:
        return code_name(exc)


# Registered on import: this package is imported (by storage.select) before psycopg can
# raise anything questlog would have to read.
register_driver_errors(PostgresDriverErrors())
