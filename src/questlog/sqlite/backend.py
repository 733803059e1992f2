"""`SQLiteBackend`: one store file, and every port implemented on it.

Opening checks the file (a directory, a missing parent, a foreign SQLite file,
a schema to create or upgrade) and answers every failure as one QuestlogError
naming the path, decided by SQLite's result code (`errors.open_failure`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import schema as alembic_schema
from ..errors import NotAStore, SchemaOutOfDate, StoreNotInitialized, StoreUnavailable
from ..settings import Settings
from ..storage.session import Session
from . import schema
from .connections import Database
from .driver import load_dbapi, sqlite_version_is_safe, vec_status
from .errors import open_failure
from .read_positions import READ_POSITIONS, SQLiteReadPositions
from .session import SQLiteSession
from .token_memo import FileTokenMemo

if TYPE_CHECKING:  # loaded when first asked for: read commands never build read models
    from .checkpoints import SQLiteCheckpoints
    from .log import SQLiteLog
    from .readmodels import SQLiteReadModels
    from .snapshots import SQLiteSnapshots
    from .transactions import SQLiteWriteTransactions


class SQLiteBackend:
    """The SQLite backend of one store (`storage.backend.Backend`)."""

    name = "sqlite"
    read_positions: SQLiteReadPositions = READ_POSITIONS

    @property
    def log(self) -> SQLiteLog:
        """The log's SQL, imported on first use: `content get` never reads the log."""
        from .log import LOG

        return LOG

    # Read-model ports declare SQLAlchemy Core tables: imported on first use, so a read
    # command (`events read`, `content get`) never loads SQLAlchemy.
    @property
    def checkpoints(self) -> SQLiteCheckpoints:
        from .checkpoints import CHECKPOINTS

        return CHECKPOINTS

    @property
    def readmodels(self) -> SQLiteReadModels:
        from .readmodels import READ_MODELS

        return READ_MODELS

    @property
    def snapshots(self) -> SQLiteSnapshots:
        from .snapshots import SNAPSHOTS

        return SNAPSHOTS

    def __init__(self, database: Database) -> None:
        self.database = database
        self.path: Path = database.path
        self.settings: Settings = database.settings
        self.read_only: bool = database.read_only
        self.url = f"sqlite:///{database.path.resolve()}"
        # Read-only: every session is a fresh connection (a follower rewrites the file in
        # place), so tokens are remembered while a stat shows the file unchanged. A primary's
        # pooled sessions cost less than the stats, and its WAL always has frames. No
        # memo when the read caches are off: every read then reads.
        self.token_memo: FileTokenMemo | None = (
            FileTokenMemo(database.path)
            if database.read_only and self.settings.read_cache_entries > 0 else None)

    @classmethod
    def open(cls, target: Path, settings: Settings, *, read_only: bool = False,
             create: bool = True, adopt: bool = False) -> SQLiteBackend:
        """Open (and with `create`, initialise or upgrade) the store file `target`."""
        if target.is_dir():
            raise StoreUnavailable(f"{target} is a directory, not a store file")
        if read_only and not target.exists():
            raise StoreNotInitialized(f"no store at {target}")
        if not target.exists() and not create:
            raise StoreNotInitialized(f"no store at {target} (run `questlog init`)")
        if not target.parent.is_dir():
            raise StoreUnavailable(f"cannot create {target}: directory {target.parent} "
                                   "does not exist")
        if create and not read_only and target.exists() and not adopt:
            schema.refuse_foreign_file(target)
        db = Database(target, settings, read_only=read_only)
        try:
            with db.read() as conn:
                revision = schema.current_revision(conn)
                foreign = revision is None and schema.holds_foreign_tables(conn)
            head = alembic_schema.HEAD_REVISION
            if revision is None:
                if foreign and (read_only or not create):
                    raise NotAStore(f"{target} is a SQLite database with other tables, not a "
                                    "questlog store")
                if read_only or not create:
                    raise StoreNotInitialized(
                        f"{target} has no questlog schema (run `questlog init`)")
                alembic_schema.upgrade(db)
            elif revision != head and not schema.usable_as_is(revision, head):
                known = revision.isdigit() and int(revision) < int(head)
                if known and not read_only and create:
                    alembic_schema.upgrade(db)
                else:
                    raise SchemaOutOfDate(
                        f"{target} is at schema revision {revision}, this questlog expects "
                        f"{head} (run `questlog migrate`)")
        except BaseException as exc:
            db.dispose()
            failure = open_failure(getattr(exc, "orig", None) or exc, target,
                                   read_only=read_only)
            if failure is not None:
                raise failure from exc
            raise
        return cls(db)

    # -- sessions ----------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in one short read transaction (keep it short on the primary)."""
        with self.database.read() as conn:
            yield SQLiteSession(conn)

    def open_writer(self) -> SQLiteWriteTransactions:
        """The single writer's own connection (called on the writer thread)."""
        from .transactions import SQLiteWriteTransactions

        return SQLiteWriteTransactions(self.database)

    # -- facts -------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        with self.database.read() as conn:
            return schema.current_revision(conn)

    def capabilities(self) -> dict[str, Any]:
        """What `questlog doctor` prints about this backend."""
        from .transactions import SQLiteWriteTransactions

        db = self.database
        vec = vec_status()
        return {
            "driver": db.driver,
            "sqlite_version": db.sqlite_version,
            "sqlite_safe": sqlite_version_is_safe(db.sqlite_version),
            "sqlite_vec": vec.loaded,
            "single_statement_batches": SQLiteWriteTransactions.single_statement_commits,
            "writer_processes": "one per file (other processes queue on the file lock)",
            "replication": "litestream",
            "durability": self.settings.durability,
            "read_only": self.read_only,
        }

    def make_durable(self) -> None:
        """fsync the WAL and the main file: every commit visible now survives a power cut,
        whatever `synchronous` the writer runs at (at FULL this is nearly free)."""
        for path in (Path(f"{self.path}-wal"), self.path):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # no WAL right now: everything is in the main file
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def commit_signal(self) -> None:
        """None: SQLite announces no commits, pollers poll."""
        return None

    def leases(self) -> None:
        """None: one writer process per file runs every async projector."""
        return None

    def standby(self) -> None:
        """None: a SQLite file's copies are Litestream's, which read nodes follow."""
        return None

    def dispose(self) -> None:
        self.database.dispose()


def driver_report() -> dict[str, Any]:
    """What `questlog doctor` says of the engine where no store exists yet."""
    dbapi = load_dbapi()
    return {"backend": "sqlite", "driver": dbapi.__name__,
            "sqlite_version": dbapi.sqlite_version,
            "sqlite_safe": sqlite_version_is_safe(dbapi.sqlite_version),
            "sqlite_vec": vec_status().__dict__}


def migrate(path: Path, settings: Settings) -> tuple[str | None, str]:
    """`questlog migrate` on a store file: (revision before, revision after)."""
    db: Database | None = None
    try:
        if not path.exists():
            raise StoreNotInitialized(f"no store at {path} (run `questlog init`)")
        schema.refuse_foreign_file(path)
        db = Database(path, settings)
        return alembic_schema.upgrade(db)
    except Exception as exc:
        failure = open_failure(getattr(exc, "orig", None) or exc, path, read_only=False)
        if failure is not None:
            raise failure from exc
        raise
    finally:
        if db is not None:
            db.dispose()
