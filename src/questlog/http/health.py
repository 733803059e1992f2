"""What `/health` says: storage faults that make writes fail, and how much an anonymous
caller may see.

A write that fails on storage (disk full, I/O error) marks the node degraded with
the reason until the writer commits again: recovery is seen by the first write
that succeeds, whoever sends it (a client's retry after Retry-After).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..errors import StorageError
    from ..store import Store

# What /health shows a caller without the read token when the server sets one: enough for
# a probe, nothing about replica URLs, process ids, the primary's URL or errors.
PUBLIC_HEALTH_FIELDS = ("status", "position")


class WriteFaults:
    """The last storage fault a write met, while no commit has succeeded since."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._commits_then = 0

    def failed(self, exc: StorageError) -> None:
        with self._lock:
            self._reason = f"writes are failing: {exc}"
            self._commits_then = self._commits()

    def reason(self) -> str | None:
        """Why writes fail now, or None once the writer has committed since the fault."""
        with self._lock:
            if self._reason is not None and self._commits() != self._commits_then:
                self._reason = None
            return self._reason

    def _commits(self) -> int:
        # Never start the writer from here (a start on a full disk fails again): -1 until
        # it runs.
        writer = self._store.ready_writer()
        return -1 if writer is None else writer.commits


def public_view(body: dict[str, Any]) -> dict[str, Any]:
    """The anonymous caller's part of a /health body."""
    return {key: body[key] for key in PUBLIC_HEALTH_FIELDS if key in body}
