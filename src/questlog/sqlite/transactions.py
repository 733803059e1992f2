"""The single writer's connection on SQLite: BEGIN IMMEDIATE, COMMIT, ROLLBACK.

A write statement in autocommit takes the write lock when it starts, as
`BEGIN IMMEDIATE` would, and commits when it ends: so a batch of appends can be
one statement (`single_statement_commits`). Before every batch the connection
is put in line with Litestream's checkpoint rule (`wal.CheckpointGuard`).
"""

from __future__ import annotations

from ..errors import StorageError
from ..storage.errors import StorageBusy
from .connections import Database
from .driver import DBAPIConnection
from .errors import is_busy, storage_error
from .session import SQLiteSession


class SQLiteWriteTransactions:
    """`storage.transactions.WriteTransactions` on the writer's own pysqlite3 connection."""

    single_statement_commits = True
    gather_callers = False  # single-statement batches: not measured on SQLite's benchmarks yet
    gather_after_transactions = True   # game mix at 32x1: ~15 -> 17-30 events a batch

    def __init__(self, database: Database) -> None:
        self._database = database
        self.connection: DBAPIConnection = database.writer_connection()
        self.session = SQLiteSession(self.connection)

    def prepare(self) -> None:
        # Asked before every batch: a `questlog replicate` may have started since the last.
        self._database.checkpoint_guard.apply(self.connection)

    def begin(self) -> None:
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            if is_busy(exc):  # by result code: SQLITE_BUSY / SQLITE_LOCKED
                raise StorageBusy(f"the store's write lock is held by another connection "
                                  f"({exc})") from exc
            raise

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")

    def storage_fault(self, exc: BaseException) -> StorageError | None:
        return storage_error(exc)

    def close(self) -> None:
        """Nothing to do: `Database.dispose()` owns and closes the connection."""
