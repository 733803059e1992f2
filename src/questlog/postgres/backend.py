"""`PostgresBackend`: one store in one PostgreSQL database, every port implemented on it.

Opening connects, reads the schema revision and creates or upgrades the schema
through the shared Alembic history (`questlog.schema`; the statements are in
`schema.py`), under a schema lock so processes opening a new store together create
it once. Every failure to open is one QuestlogError naming the (password-less) URL.

A hot standby (a server in recovery) accepts no write at all: it is opened only
read-only (no migration, no writer, no LISTEN, no lease: a read node serves it), and
opening it for writing is refused at once with one line naming the primary's role.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .. import schema as alembic_schema
from ..errors import NotAStore, ReadOnlyStore, SchemaOutOfDate, StoreNotInitialized
from ..settings import Settings
from ..storage.select import redacted
from ..storage.session import Session
from . import schema
from .connections import Database
from .driver import server_facts
from .errors import open_failure
from .log import LOG, PostgresLog
from .read_positions import READ_POSITIONS, PostgresReadPositions
from .session import PostgresSession
from .standby import STANDBY_REPLAY, PostgresStandbyReplay, in_recovery
from .transactions import PostgresWriteTransactions

if TYPE_CHECKING:
    from .checkpoints import PostgresCheckpoints
    from .leases import AdvisoryLeases
    from .notify import CommitListener
    from .read_positions import PostgresReadPositions
    from .readmodels import PostgresReadModels
    from .snapshots import PostgresSnapshots


class PostgresBackend:
    """The PostgreSQL backend of one store (`storage.backend.Backend`)."""

    name = "postgresql"
    log: PostgresLog = LOG
    read_positions: PostgresReadPositions = READ_POSITIONS
    token_memo: None = None  # pooled sessions; a standby changes with no trace outside

    @property
    def checkpoints(self) -> PostgresCheckpoints:
        from .checkpoints import CHECKPOINTS

        return CHECKPOINTS

    @property
    def readmodels(self) -> PostgresReadModels:
        from .readmodels import READ_MODELS

        return READ_MODELS

    @property
    def snapshots(self) -> PostgresSnapshots:
        from .snapshots import SNAPSHOTS

        return SNAPSHOTS

    def __init__(self, database: Database, *, standby: bool = False) -> None:
        self.database = database
        # A hot standby when opened (a promoted one keeps this until reopened: it only
        # means LISTEN is not tried, and pollers poll).
        self.on_standby = standby
        self.settings: Settings = database.settings
        self.read_only: bool = database.read_only
        self.url = database.url
        self._signal: CommitListener | None = None
        self._signal_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresBackend({redacted(self.url)!r})"

    @classmethod
    def open(cls, url: str, settings: Settings, *, read_only: bool = False,
             create: bool = True, adopt: bool = False) -> PostgresBackend:
        """Open (and with `create`, initialise or upgrade) the store in the database `url`."""
        where = redacted(url)
        db = Database(url, settings, read_only=read_only)
        try:
            with db.probe() as conn:
                standby = in_recovery(conn)
                revision = schema.current_revision(conn)
                foreign = revision is None and schema.holds_foreign_tables(conn)
            if standby and not read_only:
                raise ReadOnlyStore(
                    f"{where} is a hot standby (in recovery, read-only): open it read-only "
                    "(`questlog read-node --db URL` serves it), and point writers at its "
                    "primary")
            head = alembic_schema.HEAD_REVISION
            if revision is None:
                if foreign and not adopt:
                    raise NotAStore(f"{where} is a database with other tables, not a questlog "
                                    "store; refusing to add questlog's schema to it")
                if read_only or not create:
                    raise StoreNotInitialized(f"{where} has no questlog schema "
                                              "(run `questlog init`)")
                alembic_schema.upgrade(db)
            elif revision != head:
                known = revision.isdigit() and int(revision) < int(head)
                if known and not read_only and create:
                    alembic_schema.upgrade(db)
                else:
                    raise SchemaOutOfDate(
                        f"{where} is at schema revision {revision}, this questlog expects "
                        f"{head} (run `questlog migrate`)")
        except BaseException as exc:
            db.dispose()
            failure = open_failure(getattr(exc, "orig", None) or exc, where)
            if failure is not None:
                raise failure from exc
            raise
        return cls(db, standby=standby)

    # -- sessions ----------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in one short read transaction (one snapshot for all its statements)."""
        with self.database.read() as conn:
            yield PostgresSession(conn)

    def open_writer(self) -> PostgresWriteTransactions:
        """This process's writer connection (called on the writer thread)."""
        return PostgresWriteTransactions(self.database)

    # -- facts -------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        with self.database.read() as conn:
            return schema.current_revision(conn)

    def capabilities(self) -> dict[str, Any]:
        """What `questlog doctor` prints about this backend."""
        import psycopg

        with self.database.read() as conn:
            facts = server_facts(conn)
        return {
            "driver": f"psycopg {psycopg.__version__}",
            "url": redacted(self.url),
            **facts.as_dict(),
            "single_statement_batches": PostgresWriteTransactions.single_statement_commits,
            "writer_processes": "many (positions under a transaction-scoped advisory lock)",
            "replication": "PostgreSQL streaming replication",
            "read_only": self.read_only,
        }

    def make_durable(self) -> None:
        """Nothing to do: a commit PostgreSQL acknowledged is in its WAL on disk already
        (questlog never turns `synchronous_commit` off)."""

    def commit_signal(self) -> CommitListener | None:
        """LISTEN/NOTIFY on the log's channel (one listening connection, on first use);
        None on a hot standby, where the server refuses LISTEN: pollers poll."""
        if self.on_standby:
            return None
        with self._signal_lock:
            if self._signal is None:
                from .notify import CommitListener

                self._signal = CommitListener(self.database)
            return self._signal

    def leases(self) -> AdvisoryLeases:
        """Session-level advisory locks on a connection of their own (one set per caller)."""
        from .leases import AdvisoryLeases

        return AdvisoryLeases(self.database)

    def standby(self) -> PostgresStandbyReplay:
        """How far this server replays its primary's WAL (on a primary: not behind)."""
        return STANDBY_REPLAY

    def dispose(self) -> None:
        with self._signal_lock:
            signal, self._signal = self._signal, None
        if signal is not None:
            signal.close()
        self.database.dispose()


def migrate(url: str, settings: Settings) -> tuple[str | None, str]:
    """`questlog migrate` on a PostgreSQL store: (revision before, revision after)."""
    where = redacted(url)
    db = Database(url, settings)
    try:
        with db.probe() as conn:
            revision = schema.current_revision(conn)
            foreign = revision is None and schema.holds_foreign_tables(conn)
        if revision is None and not foreign:
            raise StoreNotInitialized(f"no store at {where} (run `questlog init`)")
        if foreign:
            raise NotAStore(f"{where} is a database with other tables, not a questlog store")
        return alembic_schema.upgrade(db)
    except Exception as exc:
        failure = open_failure(getattr(exc, "orig", None) or exc, where)
        if failure is not None:
            raise failure from exc
        raise
    finally:
        db.dispose()
