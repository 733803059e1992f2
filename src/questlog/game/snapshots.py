"""Aggregate snapshots: the folded state of a stream at a version, kept in `snapshots`.

A snapshot is tagged with its aggregate's fold version, so a changed fold
simply ignores older snapshots (they are overwritten by the next one). One
row per (stream, fold version) holds the latest snapshot; time travel uses it
only when it lies at or before the point asked for. The `snapshots` table comes
from the schema migration (aggregate = the stream's category, aggregate_version =
the fold version); it is a cache, not part of the log, written through the writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..db import DBAPIConnection
from ..events import utc_now
from .fold import STATE_TYPES
from .state import FOLD_VERSIONS

if TYPE_CHECKING:
    from ..store import Store

TABLE = "snapshots"


@dataclass(frozen=True, slots=True)
class Snapshot:
    stream_id: str
    stream_version: int
    position: int
    state: Any


def fold_version(category: str) -> int:
    return FOLD_VERSIONS[category]


def read_snapshot(conn: DBAPIConnection, category: str, stream_id: str) -> Snapshot | None:
    """The stored snapshot of `stream_id` for the current fold version, if any."""
    row = conn.execute(
        f"SELECT stream_version, position, state FROM {TABLE} "
        "WHERE stream_id = ? AND aggregate = ? AND aggregate_version = ?",
        (stream_id, category, fold_version(category))).fetchone()
    if row is None:
        return None
    state = STATE_TYPES[category].model_validate_json(row[2])
    return Snapshot(stream_id, int(row[0]), int(row[1]), state)


def write_snapshot(store: Store, category: str, stream_id: str, state: Any) -> None:
    """Store `state` (folded up to state.version) as the snapshot of `stream_id`.

    Never moves a snapshot backwards: a newer stored one wins.
    """
    payload = state.model_dump_json()
    version = fold_version(category)

    def job(conn: DBAPIConnection) -> None:
        conn.execute(
            f"INSERT INTO {TABLE} (stream_id, aggregate, aggregate_version, stream_version, "
            "position, state, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(stream_id, aggregate, aggregate_version) DO UPDATE SET "
            "stream_version = excluded.stream_version, position = excluded.position, "
            "state = excluded.state, taken_at = excluded.taken_at "
            "WHERE excluded.stream_version > stream_version",
            (stream_id, category, version, state.version, state.position, payload, utc_now()))

    store.write(job)


def drop_snapshots(store: Store) -> int:
    """Delete every snapshot (they are a cache); returns how many were removed."""

    def job(conn: DBAPIConnection) -> int:
        return int(conn.execute(f"DELETE FROM {TABLE}").rowcount)

    return int(store.write(job))
