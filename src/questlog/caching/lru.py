"""A bounded, thread-safe LRU whose keys carry the log position their value reflects."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

_MISSING = object()


class PositionLRU(Generic[V]):
    """Values keyed by (token, key): `token` is the checkpoint token read before (or in
    the same read transaction as) the value was computed, so a value can only answer a
    lookup made at that same token. `max_entries=0` disables caching (every lookup misses).
    """

    def __init__(self, max_entries: int) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, Hashable], V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, key: Hashable) -> V | None:
        """The value cached under exactly (token, key), or None."""
        with self._lock:
            value = self._entries.get((token, key), _MISSING)
            if value is _MISSING:
                self.misses += 1
                return None
            self._entries.move_to_end((token, key))
            self.hits += 1
            return value  # type: ignore[return-value]

    def put(self, token: str, key: Hashable, value: V) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            self._entries[(token, key)] = value
            self._entries.move_to_end((token, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_compute(self, token: str, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value, or `compute()` cached under (token, key). `compute` must read
        state at least as new as `token` (read the token first)."""
        value = self.get(token, key)
        if value is None:
            value = compute()
            self.put(token, key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
