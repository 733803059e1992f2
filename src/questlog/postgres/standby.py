"""A hot standby's replay, as PostgreSQL reports it: the `storage.standby` port.

- `pg_last_wal_receive_lsn()` / `pg_last_wal_replay_lsn()`: how much WAL the standby
  has received from its primary and how much of it it has applied (their difference
  in bytes is WAL waiting for replay);
- `pg_last_xact_replay_timestamp()`: the primary's commit time of the last transaction
  replayed (NULL until one has been replayed since the standby started);
- `pg_is_wal_replay_paused()`: an operator's `pg_wal_replay_pause()`.

Every function here is callable by any role and writes nothing, so a read node needs
no privilege beyond reading the store. On a primary (`pg_is_in_recovery()` false)
the WAL locations are NULL and replay is, by definition, not behind.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..storage.session import Session
from ..storage.standby import ReplayState
from .driver import PGConnection

_REPLAY_SQL = """
SELECT recovering,
       receive::text, replay::text,
       pg_wal_lsn_diff(receive, replay)::bigint,
       replayed_at,
       CASE WHEN recovering THEN pg_is_wal_replay_paused() END,
       CASE WHEN NOT recovering THEN 0.0
            WHEN receive IS NULL OR replay IS NULL THEN NULL
            WHEN replay >= receive THEN 0.0
            ELSE EXTRACT(EPOCH FROM clock_timestamp() - replayed_at)::float8 END
FROM (SELECT pg_is_in_recovery() AS recovering, pg_last_wal_receive_lsn() AS receive,
             pg_last_wal_replay_lsn() AS replay,
             pg_last_xact_replay_timestamp() AS replayed_at) AS facts
"""
_IN_RECOVERY_SQL = "SELECT pg_is_in_recovery()"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class PostgresStandbyReplay:
    """`storage.standby.StandbyReplay` on PostgreSQL (stateless)."""

    def state(self, session: Session) -> ReplayState:
        row = session.execute(_REPLAY_SQL).fetchone()
        recovering, received, replayed, behind, replayed_at, paused, delay = row
        return ReplayState(
            in_recovery=bool(recovering), received=received, replayed=replayed,
            behind_bytes=None if behind is None else max(0, int(behind)),
            last_replayed_commit_at=_iso(replayed_at), replay_paused=paused,
            replay_delay_s=None if delay is None else max(0.0, float(delay)))


def in_recovery(conn: PGConnection) -> bool:
    """Whether the server a connection reaches is a standby in recovery (read-only)."""
    (recovering,) = conn.execute(_IN_RECOVERY_SQL).fetchone()
    return bool(recovering)


STANDBY_REPLAY = PostgresStandbyReplay()
