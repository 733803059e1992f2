"""The writer's connection on PostgreSQL: BEGIN with the log's lock, COMMIT, ROLLBACK.

Several processes (on several machines) may write one store. Each writer
transaction takes the log's transaction-scoped advisory lock in the same round
trip as its BEGIN, so it holds the lock from reading the head to its COMMIT:
positions are assigned one transaction at a time, and PostgreSQL makes a commit
visible before it releases the transaction's locks, so a reader never sees
position n+1 before n. A statement outside a transaction would not take that
lock, so every batch is a transaction (`single_statement_commits = False`); group
commit still makes one lock hold cover a whole batch.

A dropped connection (a server restart, a network cut) is replaced before the next
batch; a batch whose COMMIT got no answer fails to its callers, who may retry
with the same event ids (idempotent: nothing is doubled).
"""

from __future__ import annotations

from ..errors import StorageError
from ..storage.errors import StorageBusy
from .connections import Database
from .driver import PGConnection
from .errors import is_busy, is_unavailable, storage_error
from .schema import LOG_LOCK_KEY
from .session import PostgresSession

BEGIN_SQL = f"BEGIN; SELECT pg_advisory_xact_lock({LOG_LOCK_KEY})"


class PostgresWriteTransactions:
    """`storage.transactions.WriteTransactions` on the writer's own psycopg connection."""

    single_statement_commits = False

    def __init__(self, database: Database) -> None:
        self._database = database
        self.connection: PGConnection = database.writer_connection()
        self.session = PostgresSession(self.connection)

    def _reconnect(self) -> None:
        old = self.connection
        self.connection = self._database.writer_connection()
        self.session.connection = self.connection
        self._database.forget_writer_connection(old)

    def prepare(self) -> None:
        # Before each batch: a connection known to be broken is replaced at once.
        if self.connection.closed or self.connection.broken:
            self._reconnect()

    def begin(self) -> None:
        for attempt in (1, 2):
            try:
                self.connection.execute(BEGIN_SQL)
                return
            except Exception as exc:
                self.rollback()
                if is_busy(exc):  # lock_timeout (55P03), deadlock, serialization failure
                    raise StorageBusy(f"the log's write lock is held by another writer "
                                      f"({exc})") from exc
                if attempt == 1 and is_unavailable(exc):
                    # The server dropped the connection since the last batch (nothing was
                    # begun): a new connection, once.
                    self._reconnect()
                    continue
                raise

    def commit(self) -> None:
        from psycopg.pq import TransactionStatus

        if self.connection.info.transaction_status == TransactionStatus.INERROR:
            # PostgreSQL answers COMMIT of a failed transaction with a ROLLBACK, no error.
            self.rollback()
            raise StorageError("the write transaction failed earlier and was rolled back")
        cursor = self.connection.execute("COMMIT")
        if cursor.statusmessage != "COMMIT":  # pragma: no cover - guarded just above
            raise StorageError(f"the write transaction was not committed "
                               f"({cursor.statusmessage})")

    def rollback(self) -> None:
        from psycopg.pq import TransactionStatus

        conn = self.connection
        if conn.closed or conn.broken:
            return  # the server ended the transaction with the connection
        if conn.info.transaction_status != TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
            except Exception as exc:
                if not is_unavailable(exc):
                    raise

    def storage_fault(self, exc: BaseException) -> StorageError | None:
        return storage_error(exc)

    def close(self) -> None:
        """Nothing to do: `Database.dispose()` owns and closes the connection."""
