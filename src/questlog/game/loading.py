"""Loading aggregates from the store: snapshot plus tail, and time travel.

`load_state` folds a stream up to a bound — a global position, a stream
version or a wall-clock timestamp — starting from the newest usable snapshot
(one that lies at or before the bound), so the result always equals the fold
of the whole prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .decider import stream_id
from .errors import InvalidCommand
from .fold import STATE_TYPES, fold
from .snapshots import read_snapshot

if TYPE_CHECKING:
    from ..store import Store

CATEGORIES = ("campaign", "character", "encounter")


@dataclass(frozen=True, slots=True)
class Loaded:
    state: Any
    version: int          # stream version folded (0 = no stream)
    tail: int             # events folded on top of the snapshot (or from the start)
    from_snapshot: bool


def normalize_timestamp(value: str) -> str:
    """An ISO 8601 time as the log's UTC format (naive times are taken as UTC)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidCommand(f"invalid timestamp {value!r}: use ISO 8601") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def load_state(store: Store, category: str, entity_id: str, *, position: int | None = None,
               version: int | None = None, timestamp: str | None = None,
               use_snapshots: bool = True) -> Loaded:
    """The aggregate's state, optionally as it was at a position / version / time."""
    if category not in CATEGORIES:
        raise InvalidCommand(f"unknown aggregate {category!r}: one of {', '.join(CATEGORIES)}")
    if sum(x is not None for x in (position, version, timestamp)) > 1:
        raise InvalidCommand("give at most one of position, version, timestamp")
    sid = stream_id(category, entity_id)
    log = store.backend.log
    with store.read() as conn:
        if timestamp is not None:
            version = log.stream_version_at(conn, sid, normalize_timestamp(timestamp))
        snap = read_snapshot(store.snapshots, conn, category, sid) if use_snapshots else None
        if snap is not None and ((position is not None and snap.position > position)
                                 or (version is not None and snap.stream_version > version)):
            snap = None
        start = snap.stream_version if snap is not None else 0
        events = log.read_stream(conn, sid, from_version=start + 1, to_version=version,
                                 to_position=position)
    state = snap.state if snap is not None else STATE_TYPES[category]()
    fold(category, events, state)
    return Loaded(state, state.version, len(events), snap is not None)
