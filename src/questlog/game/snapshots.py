"""Aggregate snapshots: the folded state of a stream at a version, kept in `snapshots`.

A snapshot is tagged with its aggregate's fold version, so a changed fold
simply ignores older snapshots (they are overwritten by the next one). One
row per (stream, fold version) holds the latest snapshot; time travel uses it
only when it lies at or before the point asked for. They are kept through
the backend's `Snapshots` port (aggregate = the stream's category, aggregate_version
= the fold version); a cache, not part of the log, written through the writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..events import utc_now
from ..storage.session import Session
from ..storage.snapshots import Snapshots, StoredSnapshot
from .fold import STATE_TYPES
from .state import FOLD_VERSIONS

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True, slots=True)
class Snapshot:
    stream_id: str
    stream_version: int
    position: int
    state: Any


def fold_version(category: str) -> int:
    return FOLD_VERSIONS[category]


def read_snapshot(snapshots: Snapshots, session: Session, category: str,
                  stream_id: str) -> Snapshot | None:
    """The stored snapshot of `stream_id` for the current fold version, if any."""
    stored = snapshots.read(session, stream_id, category, fold_version(category))
    if stored is None:
        return None
    state = STATE_TYPES[category].model_validate_json(stored.state)
    return Snapshot(stream_id, stored.stream_version, stored.position, state)


def write_snapshot(store: Store, category: str, stream_id: str, state: Any) -> None:
    """Store `state` (folded up to state.version) as the snapshot of `stream_id`.

    Never moves a snapshot backwards: a newer stored one wins.
    """
    stored = StoredSnapshot(state.version, state.position, state.model_dump_json())
    version = fold_version(category)
    store.write(lambda session: store.snapshots.write(session, stream_id, category, version,
                                                      stored, utc_now()))


def drop_snapshots(store: Store) -> int:
    """Delete every snapshot (they are a cache); returns how many were removed."""
    return int(store.write(store.snapshots.clear))
