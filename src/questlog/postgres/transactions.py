"""The writer's connection on PostgreSQL: the one-round-trip batch, BEGIN with the
log's lock, COMMIT, ROLLBACK.

Several processes (on several machines) may write one store. Every write of the log
holds the log's transaction-scoped advisory lock (`schema.LOG_LOCK_KEY`) from reading
the head to its commit, so positions are assigned one transaction at a time, and
PostgreSQL makes a commit visible before it releases the transaction's locks, so a
reader never sees position n+1 before n. A batch is written one of two ways (the
policy is `questlog.writer`'s):

- **One round trip** (`single_statement_commits = True`): a batch of appends planned
  from the writer's memory of the log (`planner.LogTip`: this process wrote last) is
  ONE statement sent in autocommit, `SELECT questlog_append_after(head, hash, rows...)`
  (migration 0003, `log.PostgresLog.insert_after`). The function takes the lock, reads
  the head, and inserts the rows as planned when the head is still the (position, hash)
  they were planned after. When another writer appended meanwhile, it still writes the
  batch, after those events, if every stream of the batch (refused calls' included) is
  still at the version it was planned against: then every expected-version decision
  stands and every stream version is right, and only the positions move (by one offset,
  which the writer adds to its callers' results) and the hash chain is recomputed from
  the real head, in SQL, exactly as `events.event_digest` computes it (`verify`
  recomputes it in Python). Not for a batch with caller-chosen event ids (a retried
  call answers stored positions, which must not move). Otherwise it writes nothing and
  returns NULL, and the writer forgets its tip and redoes the batch as a transaction
  (below), no caller failed. So several writer processes on their own streams each keep
  the one round trip. The lock is held to the statement's own commit: the implicit
  transaction of an autocommit statement commits, then releases its locks, as an
  explicit one does.
- **The transaction**: `BEGIN` and `pg_advisory_xact_lock` in one round trip, the head
  and versions read, the rows inserted (and inline projectors run), `COMMIT`. Used for
  write jobs, batches an inline projector handles, and whenever the tip is not known.

Why the head check is right, in READ COMMITTED (the writer's connection sets it,
whatever the server's default): a statement's snapshot is taken when it starts, before
the lock is granted, so a check in the calling statement itself could miss a commit
that landed while it waited. The function is VOLATILE PL/pgSQL, whose statements each
take a fresh snapshot: its head query runs after the lock is granted and sees every
commit of every earlier holder. Should it ever run on an older snapshot (a caller in
REPEATABLE READ), the check may pass on a stale head, and then the primary key on
`position` (positions are gapless: whoever wrote after the head took `head + 1`) and
the unique (stream_id, stream_version) make the insert fail, writing nothing: the
writer treats that refusal as a moved head too. Expected-version refusals judged
against the tip stand only when the statement inserted rows (the head was the tip's
under the lock, so every version the tip held was current; or the batch's streams were
checked one by one under the lock), or when a head read finds the tip current
(`Writer._tip_is_current`, for a batch with no row to write). After a batch written
past other writers' events the writer keeps only its batch's streams in its tip: the
others' versions may have moved.

A connection lost during the statement (or found dead by it: the server ended an idle
connection) leaves its outcome unknown: it may have committed and the answer been lost.
That is `StorageUnavailable`, never a plain refusal. The writer then redoes the batch
as a transaction on a new connection treating every event id of the batch as
caller-chosen (`planner.ids_sent`): its BEGIN waits for the log's lock, so for any
holder still committing; a call whose events landed is answered with their stored
positions, the others are written. No interleaving doubles a batch: event ids are
unique, and a statement still in flight that comes after the redo finds the head or
its streams moved and writes nothing.

A dropped connection (a server restart, a network cut) is replaced before the next
batch; a transaction whose COMMIT got no answer fails to its callers, who may retry
with the same event ids (idempotent: nothing is doubled).

Why every commit here stays synchronous, although it bounds several writer processes:
the lock is held through the commit's WAL flush, so flushes from different processes
happen one at a time and never group. Committing with `synchronous_commit = off`
(the lock then released once the commit record is written) and flushing before the
acknowledgement was measured on 2026-12-01 (a prototype, `benchmarks/postgres.py`
interleaved with this code under load average 4-6: 4 processes 3.0x and 2.4x one
where this code gave 1.42x and 0.67x) and not adopted:
- An acknowledgement is safe only after a flush that provably covers the commit. A
  following transaction that only takes an xid (`SELECT pg_current_xact_id()`) does
  NOT flush: PostgreSQL commits a transaction that wrote no WAL before its commit
  record asynchronously, whatever `synchronous_commit` says (measured on 16.2 with the
  walwriter slowed; the immediate-shutdown case of `tests/postgres/test_restart.py`
  then loses acknowledged events). One that writes a WAL record does
  (`pg_logical_emit_message(true, ...)`; which roles may call it was not checked).
- But every reader of the primary sees a batch from its commit on, before the flush,
  and questlog's processes outlive a server crash (they reconnect). A crash in that
  window (any server process crashing resets shared memory and the WAL buffers with it)
  may lose the batch (what was already written to the OS survives), and the next
  appends take its positions with other events. What a reader did with the lost events
  survives: a subscription has moved past those positions and never sees the new events
  there; an answer cached under a position
  token (`read_positions`) may be served again when the log reaches that position once
  more; an async projector that read them writes their rows and its checkpoint through
  the writer after the restart (its check compares positions only). A standby is
  unaffected (it receives flushed WAL only), and writes committed before the crash that
  were derived from the lost events lie later in the WAL and are lost with them: the
  danger is only in what outlives the crash outside the server.
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

    single_statement_commits = True
    gather_callers = True
    gather_after_transactions = True

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
