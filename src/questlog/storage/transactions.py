"""The writer's own connection: how the single writer begins, ends and guards a batch.

Engine-neutral policy (batching, retries, when to use one statement) lives in
`questlog.writer`; the statements live in each engine's implementation.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import StorageError
from .session import Session


class WriteTransactions(Protocol):
    @property
    def session(self) -> Session:
        """The writer connection's session, valid until close()."""
        ...

    # Whether one write statement outside a transaction is atomic and durable on its own
    # and takes the write lock as a transaction would (SQLite's autocommit insert;
    # PostgreSQL's `questlog_append_after`, which takes the log's advisory lock itself):
    # then a batch planned from the writer's memory of the log may be written as one
    # statement (`LogRecorder.insert_after`).
    single_statement_commits: bool

    # Whether the writer should wait a little (a share of the last batch's time) for the
    # callers its last batch woke before writing the next: where each commit is a server
    # round trip and a flush (PostgreSQL), one full batch costs less than two half ones.
    gather_callers: bool
    # The same wait, only after a batch written as a transaction (inline projectors, write
    # jobs), where a batch costs far more than its commit (SQLite: a game mix's batch is
    # ~10 ms of projectors' work, whatever its size, so fuller batches cost less per event;
    # a single-statement batch of the log alone does not wait).
    gather_after_transactions: bool

    def prepare(self) -> None:
        """Before each batch (SQLite: Litestream's wal_autocheckpoint rule)."""
        ...

    def begin(self) -> None:
        """Begin a write transaction holding the write lock (raises StorageBusy)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None:
        """End the open transaction, if any, writing nothing of it."""
        ...

    def storage_fault(self, exc: BaseException) -> StorageError | None:
        """The neutral StorageError for an engine error that is the server's fault."""
        ...

    def close(self) -> None: ...
