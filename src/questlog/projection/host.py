"""What the projection engine needs of the store that runs it: a narrow port.

The manager, the rebuilder and a projector's `prepare` read in short read
transactions, write through the store's single writer (now or later), append the
operator's skip decisions, and use the log, checkpoint and read-model ports. The
`Store` (the composition root) is one such host; nothing here imports it, so the
projection engine does not depend on the facade that assembles it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..completion import Completion
    from ..events import AppendResult, ExpectedVersion
    from ..settings import Settings
    from ..storage.checkpoints import Checkpoints
    from ..storage.leases import Leases
    from ..storage.log import Log
    from ..storage.readmodels import ReadModels
    from ..storage.session import Session
    from ..storage.signals import CommitSignal

T = TypeVar("T")


class ProjectionHost(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def log(self) -> Log:
        """The log port (reads of events, skip lookups)."""
        ...

    @property
    def checkpoints(self) -> Checkpoints: ...

    @property
    def readmodels(self) -> ReadModels: ...

    def read(self) -> AbstractContextManager[Session]:
        """A session in one short read transaction."""
        ...

    def write(self, fn: Callable[[Session], T], timeout: float | None = None) -> T:
        """Run fn(session) in the single writer's transaction and wait for it."""
        ...

    def write_later(self, fn: Callable[[Session], T],
                    timeout: float | None = None) -> Completion[T]:
        """Queue fn(session) for the writer; `.result()` waits for it."""
        ...

    def append(self, stream_id: str, events: Sequence[Any],
               expected_version: ExpectedVersion = ...) -> AppendResult:
        """Append events to one stream through the writer (the skip decisions)."""
        ...

    def commit_signal(self) -> CommitSignal | None:
        """A wake-up on commits of any process (storage.signals), or None: poll."""
        ...

    def leases(self) -> Leases | None:
        """New leases for async projectors (storage.leases), or None: this process runs
        them all."""
        ...
