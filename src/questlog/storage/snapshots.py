"""Aggregate snapshots: the folded state of a stream at a version, a cache beside the log.

One row per (stream, aggregate, aggregate version) holds the latest snapshot; a
changed fold (a new aggregate version) simply ignores older ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .session import Session


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    stream_version: int
    position: int
    state: str   # the state as JSON


class Snapshots(Protocol):
    def read(self, session: Session, stream_id: str, aggregate: str,
             aggregate_version: int) -> StoredSnapshot | None: ...

    def write(self, session: Session, stream_id: str, aggregate: str, aggregate_version: int,
              snapshot: StoredSnapshot, taken_at: str) -> None:
        """Store the snapshot unless a newer one (a higher stream version) is stored."""
        ...

    def clear(self, session: Session) -> int:
        """Delete every snapshot; returns how many there were."""
        ...
