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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union

from . import schema
from .errors import QuestlogError, ReadOnlyStore, WriterClosed
from .settings import Settings, load_settings
from .storage.select import open_backend, redacted
from .storage.session import Session

if TYPE_CHECKING:  # the writer and planner (pydantic among them) load on the first write
    from .anchors import Anchor, Anchorer, AnchorReport
    from .completion import Completion
    from .content.api import ContentAPI
    from .events import AppendResult, ExpectedVersion, NewEvent, RecordedEvent
    from .game.api import GameAPI
    from .projection.manager import ProjectionManager
    from .projection.projector import Projector
    from .search.api import SearchAPI
    from .storage.backend import Backend
    from .storage.checkpoints import Checkpoints
    from .storage.leases import Leases
    from .storage.log import Log, VerifyReport
    from .storage.readmodels import ReadModels
    from .storage.signals import CommitSignal
    from .storage.snapshots import Snapshots
    from .writer import Writer

log = logging.getLogger("questlog")
T = TypeVar("T")
EventLike = Union["NewEvent", dict[str, Any]]


@dataclass
class HealthReport:
    """What `questlog doctor` prints and the store logs at startup."""

    driver: str
    sqlite_version: str
    sqlite_safe: bool
    sqlite_vec: Any  # questlog.sqlite.driver.VecStatus
    vector_backend: str
    vector_backend_reason: str
    litestream: str | None
    schema_revision: str | None
    schema_head: str
    backend: str = ""
    capabilities: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Store:
    """One questlog store: the log, its writer, its projections and read models."""

    # The projection side's ports, as the backend implements them (the store is the
    # projection engine's `ProjectionHost`).
    @property
    def log(self) -> Log:
        return self.backend.log

    @property
    def checkpoints(self) -> Checkpoints:
        return self.backend.checkpoints

    @property
    def readmodels(self) -> ReadModels:
        return self.backend.readmodels

    @property
    def snapshots(self) -> Snapshots:
        return self.backend.snapshots

    def commit_signal(self) -> CommitSignal | None:
        return self.backend.commit_signal()

    def leases(self) -> Leases | None:
        return self.backend.leases()

    def __init__(self, backend: Backend, settings: Settings,
                 projectors: Sequence[Projector] | None = None, *,
                 path: Path | None = None) -> None:
        self.backend = backend
        self.settings = settings
        # The store file of a SQLite backend (anchors, replication and messages use it);
        # a server's URL, without its password, for the others.
        self.path: Path = path if path is not None else getattr(
            backend, "path", Path(redacted(backend.url)))
        self.read_only = backend.read_only
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

        `path` is a file path or a URL (`sqlite:///...`); `storage.select` picks the
        backend.
        `projectors` replaces the discovered set (tests and benchmarks use it to run
        the log alone or with chosen read models). An existing SQLite file that holds
        other tables is refused (NotAStore) rather than given questlog's schema, unless
        `adopt`. Every failure to open is one QuestlogError naming the path.
        """
        settings = settings or load_settings()
        backend = open_backend(path if path is not None else settings.db, settings,
                               read_only=read_only, create=create, adopt=adopt)
        return cls(backend, settings, projectors, path=getattr(backend, "path", None))

    @property
    def location(self) -> Path | str:
        """Where the store lives, as `Store.open` takes it: the file of a SQLite store, the
        URL of a server's (with its password: show it through `storage.select.redacted`)."""
        path: Path | None = getattr(self.backend, "path", None)
        return path if path is not None else self.backend.url

    @property
    def db(self) -> Backend:
        """The backend (the name older callers, benchmarks among them, use)."""
        return self.backend

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
                from .writer import Writer

                anchorer = Anchorer.from_settings(self.backend, self.settings, self.location)
                try:
                    writer = Writer(self.backend, manager.hooks,
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

    def start_writer(self) -> None:
        """Start the writer now (registering projectors, rebuilding changed ones and
        catching up the inline ones), as the first write would."""
        self._write_ready()

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
               expected_version: ExpectedVersion = "any", *,  # events.ANY
               timeout: float | None = None, validate: bool = True) -> AppendResult:
        """Append events to one stream atomically; returns after the commit is durable.

        `validate`: known game event types on game streams must fit their models
        (InvalidEventPayload otherwise); False trusts them as recorded facts (replay): an
        inline projector that cannot apply one parks instead of failing the call.
        """
        return self._write_ready().append_events(((stream_id, events, expected_version),),
                                                 validate=validate, timeout=timeout)[0]

    def append_many(self, calls: Sequence[tuple[str, Sequence[EventLike], ExpectedVersion]], *,
                    timeout: float | None = None, validate: bool = True) -> list[AppendResult]:
        """Append to several streams in one atomic call: every check passes or nothing is written."""
        return self._write_ready().append_events(calls, validate=validate, timeout=timeout)

    def write(self, fn: Callable[[Session], T], timeout: float | None = None) -> T:
        """Run fn(session) inside the writer's transaction (isolated by a savepoint)."""
        result: T = self._write_ready().run(fn, timeout)
        return result

    def write_later(self, fn: Callable[[Session], T],
                    timeout: float | None = None) -> Completion[T]:
        """Queue fn(session) for the writer and return at once; `.result()` waits for it."""
        from .writer import WriteJob

        job = WriteJob(fn)
        self._write_ready().submit(job, timeout)
        return job.future

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in one short read transaction (keep it short on the primary)."""
        with self.backend.read() as session:
            yield session

    def read_stream(self, stream_id: str, *, from_version: int | None = None,
                    backwards: bool = False, limit: int | None = None) -> list[RecordedEvent]:
        with self.backend.read() as session:
            return self.backend.log.read_stream(session, stream_id, from_version=from_version,
                                          backwards=backwards, limit=limit)

    def read_all(self, from_position: int = 0, limit: int | None = None, *,
                 types: Sequence[str] | None = None, categories: Sequence[str] | None = None,
                 batch_size: int = 1000) -> Iterator[RecordedEvent]:
        """Events with position >= from_position, in log order, read in short batches."""
        position = from_position
        remaining = limit
        while remaining is None or remaining > 0:
            take = batch_size if remaining is None else min(batch_size, remaining)
            with self.backend.read() as session:
                events = self.backend.log.read_all(session, from_position=position, limit=take,
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
        signal = self.commit_signal()  # PostgreSQL: woken by commits of any process
        while not stop.is_set():
            got = False
            seen = signal.seen() if signal is not None else 0
            for event in self.read_all(position, types=types, categories=categories):
                got = True
                position = event.position + 1
                yield event
            if not got:
                if signal is not None:
                    signal.wait(seen, poll_interval)
                else:
                    stop.wait(poll_interval)

    def head_position(self) -> int:
        with self.backend.read() as session:
            return self.backend.log.head_position(session)

    def stream_version(self, stream_id: str) -> int:
        with self.backend.read() as session:
            return self.backend.log.stream_versions(session, [stream_id]).get(stream_id, 0)

    def verify(self) -> VerifyReport:
        with self.backend.read() as session:
            return self.backend.log.verify(session)

    def anchor(self, path: Path | None = None) -> Anchor:
        """Sign the committed head into the anchor file (questlog.anchors); needs
        QUESTLOG_ANCHOR_KEY. `path` overrides QUESTLOG_ANCHOR_PATH."""
        from .anchors import AnchorKey, anchor_path, take_anchor

        return take_anchor(self.backend, AnchorKey.from_settings(self.settings),
                           anchor_path(self.settings, self.location, path))

    def verify_anchors(self, path: Path | None = None) -> AnchorReport:
        """Check that the log still reaches every anchor in the file with the same hash."""
        from .anchors import AnchorKey, anchor_path, verify_anchors

        return verify_anchors(self.backend, AnchorKey.from_settings(self.settings),
                              anchor_path(self.settings, self.location, path))

    # -- projections and read models ------------------------------------------------------

    @property
    def projections(self) -> ProjectionManager:
        if self._projections is None:
            from .projection.manager import ProjectionManager
            from .projection.registry import discover

            projectors = self._projectors if self._projectors is not None else discover()
            self._projections = ProjectionManager(self, projectors)
        return self._projections

    @property
    def content(self) -> ContentAPI:
        """Content packs and their read models."""
        if "content" not in self._facades:
            from .content.api import ContentAPI

            self._facades["content"] = ContentAPI(self)
        api: ContentAPI = self._facades["content"]
        return api

    @property
    def game(self) -> GameAPI:
        """Game state commands and read models."""
        if "game" not in self._facades:
            from .game.api import GameAPI

            self._facades["game"] = GameAPI(self)
        api: GameAPI = self._facades["game"]
        return api

    @property
    def search(self) -> SearchAPI:
        """Semantic, keyword and hybrid search (callable)."""
        if "search" not in self._facades:
            from .search.api import SearchAPI

            self._facades["search"] = SearchAPI(self)
        api: SearchAPI = self._facades["search"]
        return api

    @property
    def aio(self) -> Any:
        """The asyncio twin of append/read (questlog.aio.AsyncStore)."""
        from .aio import AsyncStore

        return self._facades.setdefault("aio", AsyncStore(self))

    # -- health and lifecycle --------------------------------------------------------------

    def health(self) -> HealthReport:
        revision = self.backend.schema_revision()
        capabilities = self.backend.capabilities()
        from .errors import VectorSearchUnavailable
        from .replication.binary import installed_binary
        from .search.backend import choose_backend
        from .search.indexes import approximate_index_status

        try:
            choice = choose_backend(self.settings, self.backend.name)
            active, reason = choice.active, choice.reason
        except VectorSearchUnavailable as exc:
            active, reason = "unavailable", str(exc)
        return HealthReport(
            driver=str(capabilities.get("driver", "")),
            sqlite_version=str(capabilities.get("sqlite_version", "")),
            sqlite_safe=bool(capabilities.get("sqlite_safe", False)),
            sqlite_vec=approximate_index_status(), vector_backend=active,
            vector_backend_reason=reason, litestream=installed_binary(), schema_revision=revision,
            schema_head=schema.HEAD_REVISION, backend=self.backend.name,
            capabilities=capabilities,
        )

    def close(self) -> None:
        """Drain every accepted write, stop daemons and the writer, close connections."""
        if self._closed:
            return
        self._closed = True
        if self._projections is not None:
            self._projections.stop()
        if self._writer is not None:
            self._settle_lazy_checkpoints()
            self._writer.close()
        if self._anchorer is not None:
            self._anchorer.close()  # after the writer: anchors the last commit too
        self.backend.dispose()

    def _settle_lazy_checkpoints(self) -> None:
        """Write the inline checkpoints that batches moved only in this process's memory,
        so that other processes (`projections status`, `stats`) see them at the head. If
        that fails, nothing is lost: the next writer closes the gap by reading the log."""
        if self._projections is None or not self._projections.hooks.checkpoints_behind:
            return
        try:
            self.write(lambda session: None)  # a transactional batch moves them
        except QuestlogError as exc:
            log.warning("inline checkpoints left behind the head at close: %s", exc)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
