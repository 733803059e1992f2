"""The backend: one engine's implementation of every port, and how sessions begin.

A backend is built once per store by the composition root (`Store.open`, through
`storage.select.open_backend`) and hands each subsystem the narrow port it needs.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..settings import Settings
from .checkpoints import Checkpoints
from .leases import Leases
from .log import Log
from .read_positions import ReadPositions, TokenMemo
from .readmodels import ReadModels
from .session import Session
from .signals import CommitSignal
from .snapshots import Snapshots
from .standby import StandbyReplay
from .transactions import WriteTransactions


class Backend(Protocol):
    name: str   # "sqlite" | "postgresql"
    url: str    # where the store lives, as the user would write it
    settings: Settings
    read_only: bool

    @property
    def log(self) -> Log:
        """The log recorder, reader and verifier."""
        ...

    @property
    def checkpoints(self) -> Checkpoints:
        """Projector checkpoints."""
        ...

    @property
    def readmodels(self) -> ReadModels:
        """Read-model tables: create, shadow, swap, digest, upsert."""
        ...

    @property
    def read_positions(self) -> ReadPositions:
        """The tokens cached read answers are keyed by."""
        ...

    @property
    def token_memo(self) -> TokenMemo | None:
        """Tokens known without a session (storage.read_positions), or None: read them
        (sessions are cheap, or nothing can tell a change without one)."""
        ...

    @property
    def snapshots(self) -> Snapshots:
        """Aggregate snapshots."""
        ...

    def read(self) -> AbstractContextManager[Session]:
        """A session in one short read transaction."""
        ...

    def open_writer(self) -> WriteTransactions:
        """The single writer's own connection (called once, on the writer thread)."""
        ...

    def schema_revision(self) -> str | None:
        """The store's schema revision (None: no questlog schema)."""
        ...

    def capabilities(self) -> dict[str, Any]:
        """What `questlog doctor` prints: driver, server version, extensions, ..."""
        ...

    def make_durable(self) -> None:
        """Make every commit visible now survive a power cut (anchors call it)."""
        ...

    def commit_signal(self) -> CommitSignal | None:
        """A wake-up on commits of any process (storage.signals), or None: poll."""
        ...

    def leases(self) -> Leases | None:
        """New leases for async projectors (storage.leases), or None: one writer process
        per store, which runs them all."""
        ...

    def standby(self) -> StandbyReplay | None:
        """How far a server-replicated standby has replayed its primary (storage.standby),
        or None: the engine's copies are made outside it (SQLite files: Litestream)."""
        ...

    def dispose(self) -> None: ...
