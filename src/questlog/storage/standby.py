"""Standby replay: how far a read-only copy of a server has applied its primary's log.

A server-replicated engine (PostgreSQL's streaming replication) keeps hot standbys
that answer reads while they replay the primary's write-ahead log. A read node
serving such a standby needs two facts from it that no event position carries:
how much of the WAL it has received but not yet replayed, and when the last
transaction it replayed was committed on the primary. `Backend.standby()` hands
out this port; a backend whose copies are made outside the server (SQLite files
followed by Litestream) has none: None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .session import Session


@dataclass(frozen=True)
class ReplayState:
    """One reading of a server's replay; a field is None when the server cannot say it."""

    in_recovery: bool                  # a standby replaying a primary's WAL (False: a primary)
    received: str | None               # the last WAL location received (engine's notation)
    replayed: str | None               # the last WAL location replayed
    behind_bytes: int | None           # received but not replayed yet
    last_replayed_commit_at: str | None  # primary's commit time of the last replayed
    #                                      transaction (ISO 8601, UTC)
    replay_paused: bool | None         # replay paused by an operator
    # Seconds replay is behind what this server received: 0 when everything received is
    # replayed (or on a primary), else the age of the last replayed commit by the server's
    # clock; None when unknown. WAL the server has not received yet is invisible here: only
    # the primary knows its own head (a read node's `--primary`).
    replay_delay_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"standby": self.in_recovery, "received_wal": self.received,
                "replayed_wal": self.replayed, "replay_behind_bytes": self.behind_bytes,
                "last_replayed_commit_at": self.last_replayed_commit_at,
                "replay_paused": self.replay_paused, "replay_delay_s": self.replay_delay_s}


class StandbyReplay(Protocol):
    def state(self, session: Session) -> ReplayState:
        """The server's replay now (any read session; the values are not snapshot-bound)."""
        ...
