"""A read source for tests of read nodes: a real read-only store beside a readiness flag
the test switches, as a Litestream follower restoring afresh is not ready."""

from __future__ import annotations

from questlog import Store


class SwitchedReadSource:
    def __init__(self, store: Store, *, ready: bool) -> None:
        self._store, self.ready = store, ready

    @property
    def store(self) -> Store:
        return self._store

    def position(self) -> int:
        return self._store.head_position()

    def health(self) -> dict[str, object]:
        return {"role": "read", "status": "ok" if self.ready else "starting",
                "position": self.position() if self.ready else None}
