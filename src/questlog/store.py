"""The facade: `Store.open(path)` and everything a game server calls.

Opening is cheap (no writer thread, no projector imports): read paths such as
`questlog events read` pay for nothing they do not use. The writer starts on
the first write; starting it registers projectors, rebuilds changed ones and
brings inline projectors to the head before any caller's write is accepted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import eventstore, schema
from .completion import Completion
from .db import (
    Database,
    DBAPIConnection,
    HealthReport,
    litestream_binary,
    load_dbapi,
    open_failure,
    sqlite_version_is_safe,
    vec_status,
)
from .errors import (
    NotAStore,
    ReadOnlyStore,
    SchemaOutOfDate,
    StoreNotInitialized,
    StoreUnavailable,
    WriterClosed,
)
from .events import ANY, AppendResult, ExpectedVersion, NewEvent, RecordedEvent
from .planner import make_call
from .settings import Settings, load_settings
from .sqlite.checkpoints import CHECKPOINTS
from .sqlite.readmodels import READ_MODELS
from .sqlite.session import SQLiteSession
from .sqlite.snapshots import SNAPSHOTS
from .storage.checkpoints import Checkpoints
from .storage.readmodels import ReadModels
from .storage.session import Session
from .storage.snapshots import Snapshots
from .writer import WriteJob, Writer

if TYPE_CHECKING:
    from .anchors import Anchor, Anchorer, AnchorReport
    from .projection.manager import ProjectionManager
    from .projection.projector import Projector

log = logging.getLogger("questlog")
T = TypeVar("T")
EventLike = NewEvent | dict[str, Any]


def holds_foreign_tables(conn: DBAPIConnection) -> bool:
    """True for a SQLite database with tables but without questlog's schema."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return bool(tables) and "alembic_version" not in tables


def refuse_foreign_file(target: Path) -> None:
    """Raise NotAStore when `target` is a SQLite file with tables but no questlog schema.

    Looked at through a read-only connection, so a refused file is left byte for byte
    as it was (the store's own connections would switch it to WAL first).
    """
    dbapi = load_dbapi()
    try:
        conn = dbapi.connect(f"file:{target}?mode=ro", uri=True)
        try:
            foreign = holds_foreign_tables(conn)
        finally:
            conn.close()
    except dbapi.Error as exc:
        failure = open_failure(exc, target, read_only=False)
        if failure is not None:
            raise failure from exc
        raise
    if foreign:
        raise NotAStore(f"{target} is a SQLite database with other tables, not a questlog "
                        "store; refusing to add questlog's schema to it (`questlog init "
                        "--force` does)")


class Store:
    """One questlog store: the log, its writer, its projections and read models."""

    # The projection side's ports (until the backend exposes them as attributes).
    checkpoints: Checkpoints = CHECKPOINTS
    readmodels: ReadModels = READ_MODELS
    snapshots: Snapshots = SNAPSHOTS

    def __init__(self, db: Database, settings: Settings,
                 projectors: Sequence[Projector] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.path = db.path
        self.read_only = db.read_only
        self._writer: Writer | None = None
        self._writer_lock = threading.RLock()
        self._writer_ready = threading.Event()
        self._starting_thread: int | None = None
        self._projectors = list(projectors) if projectors is not None else None
        self._projections: ProjectionManager | None = None
        self._facades: dict[str, Any] = {}
        self._anchorer: Anchorer | None = None
        self._closed = False

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str | None = None, *, settings: Settings | None = None,
             read_only: bool = False, create: bool = True,
             projectors: Sequence[Projector] | None = None, adopt: bool = False) -> Store:
        """Open (and with `create`, initialise) the store at `path` (default: settings.db).

        `projectors` replaces the discovered set (tests and benchmarks use it to run
        the log alone or with chosen read models). An existing SQLite file that holds
        other tables is refused (NotAStore) rather than given questlog's schema, unless
        `adopt`. Every failure to open is one QuestlogError naming the path.
        """
        settings = settings or load_settings()
        target = Path(path) if path is not None else settings.db
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
            refuse_foreign_file(target)
        db = Database(target, settings, read_only=read_only)
        try:
            with db.read() as conn:
                revision = schema.current_revision(conn)
                foreign = revision is None and holds_foreign_tables(conn)
            if revision is None:
                if foreign and (read_only or not create):
                    raise NotAStore(f"{target} is a SQLite database with other tables, not a "
                                    "questlog store")
                if read_only or not create:
                    raise StoreNotInitialized(
                        f"{target} has no questlog schema (run `questlog init`)")
                schema.upgrade(db)
            elif revision != schema.HEAD_REVISION:
                known = revision.isdigit() and int(revision) < int(schema.HEAD_REVISION)
                if known and not read_only and create:
                    schema.upgrade(db)
                else:
                    raise SchemaOutOfDate(
                        f"{target} is at schema revision {revision}, this questlog expects "
                        f"{schema.HEAD_REVISION} (run `questlog migrate`)")
        except BaseException as exc:
            db.dispose()
            failure = open_failure(getattr(exc, "orig", None) or exc, target,
                                   read_only=read_only)
            if failure is not None:
                raise failure from exc
            raise
        return cls(db, settings, projectors)

    # -- writer ----------------------------------------------------------------------------

    @property
    def writer(self) -> Writer:
        if self._writer is not None:
            return self._writer
        with self._writer_lock:
            if self._writer is None:
                if self._closed:
                    raise WriterClosed("the store is closed")
                if self.read_only:
                    raise ReadOnlyStore(f"{self.path} is opened read-only")
                manager = self.projections
                from .anchors import Anchorer

                anchorer = Anchorer.from_settings(self.db, self.settings)
                try:
                    writer = Writer(self.db, manager.hooks,
                                    on_commit=anchorer.committed if anchorer else None)
                except BaseException:
                    if anchorer is not None:
                        anchorer.close()
                    raise
                self._anchorer = anchorer
                self._starting_thread = threading.get_ident()
                self._writer = writer
                try:
                    manager.startup()
                except BaseException:
                    self._writer = None
                    writer.close()
                    if anchorer is not None:
                        anchorer.close()
                    self._anchorer = None
                    raise
                finally:
                    self._starting_thread = None
                self._writer_ready.set()
            return self._writer

    def ready_writer(self) -> Writer | None:
        """The writer if it is running and synced, else None (never blocks)."""
        return self._writer if self._writer_ready.is_set() else None

    def _write_ready(self) -> Writer:
        # While the writer starts (projector sync), other threads wait on the lock;
        # only the starting thread's own sync jobs pass.
        writer = self._writer
        if writer is not None and (self._writer_ready.is_set()
                                   or self._starting_thread == threading.get_ident()):
            return writer
        return self.writer

    def append(self, stream_id: str, events: Sequence[EventLike],
               expected_version: ExpectedVersion = ANY, *,
               timeout: float | None = None, validate: bool = True) -> AppendResult:
        """Append events to one stream atomically; returns after the commit is durable.

        `validate`: known game event types on game streams must fit their models
        (InvalidEventPayload otherwise); False trusts them as recorded facts (replay): an
        inline projector that cannot apply one parks instead of failing the call.
        """
        call = make_call(stream_id, events, expected_version, validate=validate,
                         max_depth=self.settings.max_json_depth)
        return self._write_ready().append([call], timeout)[0]

    def append_many(self, calls: Sequence[tuple[str, Sequence[EventLike], ExpectedVersion]], *,
                    timeout: float | None = None, validate: bool = True) -> list[AppendResult]:
        """Append to several streams in one atomic call: every check passes or nothing is written."""
        depth = self.settings.max_json_depth
        encoded = [make_call(s, evs, exp, validate=validate, max_depth=depth)
                   for s, evs, exp in calls]
        return self._write_ready().append(encoded, timeout)

    def write(self, fn: Callable[[DBAPIConnection], T], timeout: float | None = None) -> T:
        """Run fn(conn) inside the writer's transaction (isolated by a savepoint)."""
        result: T = self._write_ready().run(fn, timeout)
        return result

    def write_later(self, fn: Callable[[DBAPIConnection], T],
                    timeout: float | None = None) -> Completion[T]:
        """Queue fn(conn) for the writer and return at once; `.result()` waits for it."""
        job = WriteJob(fn)
        self._write_ready().submit(job, timeout)
        return job.future

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in one short read transaction (keep it short on the primary)."""
        with self.db.read() as conn:
            yield SQLiteSession(conn)

    def read_stream(self, stream_id: str, *, from_version: int | None = None,
                    backwards: bool = False, limit: int | None = None) -> list[RecordedEvent]:
        with self.db.read() as conn:
            return eventstore.read_stream(conn, stream_id, from_version=from_version,
                                          backwards=backwards, limit=limit)

    def read_all(self, from_position: int = 0, limit: int | None = None, *,
                 types: Sequence[str] | None = None, categories: Sequence[str] | None = None,
                 batch_size: int = 1000) -> Iterator[RecordedEvent]:
        """Events with position >= from_position, in log order, read in short batches."""
        position = from_position
        remaining = limit
        while remaining is None or remaining > 0:
            take = batch_size if remaining is None else min(batch_size, remaining)
            with self.db.read() as conn:
                events = eventstore.read_all(conn, from_position=position, limit=take,
                                             types=types, categories=categories)
            yield from events
            if len(events) < take:
                return
            position = events[-1].position + 1
            if remaining is not None:
                remaining -= len(events)

    def subscribe(self, from_position: int = 0, *, poll_interval: float = 0.1,
                  stop: threading.Event | None = None, types: Sequence[str] | None = None,
                  categories: Sequence[str] | None = None) -> Iterator[RecordedEvent]:
        """Yield events from `from_position` on, then new ones as they are committed."""
        position = from_position
        stop = stop or threading.Event()
        while not stop.is_set():
            got = False
            for event in self.read_all(position, types=types, categories=categories):
                got = True
                position = event.position + 1
                yield event
            if not got:
                stop.wait(poll_interval)

    def head_position(self) -> int:
        with self.db.read() as conn:
            return eventstore.head_position(conn)

    def stream_version(self, stream_id: str) -> int:
        with self.db.read() as conn:
            return eventstore.stream_versions(conn, [stream_id]).get(stream_id, 0)

    def verify(self) -> eventstore.VerifyReport:
        with self.db.read() as conn:
            return eventstore.verify(conn)

    def anchor(self, path: Path | None = None) -> Anchor:
        """Sign the committed head into the anchor file (questlog.anchors); needs
        QUESTLOG_ANCHOR_KEY. `path` overrides QUESTLOG_ANCHOR_PATH."""
        from .anchors import AnchorKey, anchor_path, take_anchor

        return take_anchor(self.db, AnchorKey.from_settings(self.settings),
                           anchor_path(self.settings, self.path, path))

    def verify_anchors(self, path: Path | None = None) -> AnchorReport:
        """Check that the log still reaches every anchor in the file with the same hash."""
        from .anchors import AnchorKey, anchor_path, verify_anchors

        return verify_anchors(self.db, AnchorKey.from_settings(self.settings),
                              anchor_path(self.settings, self.path, path))

    # -- projections and read models ------------------------------------------------------

    @property
    def projections(self) -> ProjectionManager:
        if self._projections is None:
            from .projection.manager import ProjectionManager
            from .projection.registry import discover

            projectors = self._projectors if self._projectors is not None else discover()
            self._projections = ProjectionManager(self, projectors)
        return self._projections

    def _facade(self, name: str, module: str, cls: str) -> Any:
        if name not in self._facades:
            import importlib

            self._facades[name] = getattr(importlib.import_module(module), cls)(self)
        return self._facades[name]

    @property
    def content(self) -> Any:
        """Content packs and their read models (questlog.content.api.ContentAPI)."""
        return self._facade("content", "questlog.content.api", "ContentAPI")

    @property
    def game(self) -> Any:
        """Game state commands and read models (questlog.game.api.GameAPI)."""
        return self._facade("game", "questlog.game.api", "GameAPI")

    @property
    def search(self) -> Any:
        """Semantic, keyword and hybrid search (questlog.search.api.SearchAPI; callable)."""
        return self._facade("search", "questlog.search.api", "SearchAPI")

    @property
    def aio(self) -> Any:
        """The asyncio twin of append/read (questlog.aio.AsyncStore)."""
        from .aio import AsyncStore

        return self._facades.setdefault("aio", AsyncStore(self))

    # -- health and lifecycle --------------------------------------------------------------

    def health(self) -> HealthReport:
        with self.db.read() as conn:
            revision = schema.current_revision(conn)
        vec = vec_status()
        from .errors import VectorSearchUnavailable
        from .search.backend import choose_backend

        try:
            choice = choose_backend(self.settings)
            active, reason = choice.active, choice.reason
        except VectorSearchUnavailable as exc:
            active, reason = "unavailable", str(exc)
        return HealthReport(
            driver=self.db.driver, sqlite_version=self.db.sqlite_version,
            sqlite_safe=sqlite_version_is_safe(self.db.sqlite_version),
            sqlite_vec=vec, vector_backend=active, vector_backend_reason=reason,
            litestream=litestream_binary(), schema_revision=revision,
            schema_head=schema.HEAD_REVISION,
        )

    def close(self) -> None:
        """Drain every accepted write, stop daemons and the writer, close connections."""
        if self._closed:
            return
        self._closed = True
        if self._projections is not None:
            self._projections.stop()
        if self._writer is not None:
            self._writer.close()
        if self._anchorer is not None:
            self._anchorer.close()  # after the writer: anchors the last commit too
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
