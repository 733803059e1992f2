"""Aggregate snapshots in PostgreSQL's `snapshots` table (migration 0001)."""

from __future__ import annotations

from ..storage.session import Session
from ..storage.snapshots import StoredSnapshot

_READ_SQL = ("SELECT stream_version, position, state FROM snapshots "
             "WHERE stream_id = %s AND aggregate = %s AND aggregate_version = %s")
_WRITE_SQL = (
    "INSERT INTO snapshots (stream_id, aggregate, aggregate_version, stream_version, "
    "position, state, taken_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (stream_id, aggregate, aggregate_version) DO UPDATE SET "
    "stream_version = excluded.stream_version, position = excluded.position, "
    "state = excluded.state, taken_at = excluded.taken_at "
    "WHERE excluded.stream_version > snapshots.stream_version")


class PostgresSnapshots:
    def read(self, session: Session, stream_id: str, aggregate: str,
             aggregate_version: int) -> StoredSnapshot | None:
        row = session.execute(_READ_SQL, (stream_id, aggregate, aggregate_version)).fetchone()
        return None if row is None else StoredSnapshot(int(row[0]), int(row[1]), str(row[2]))

    def write(self, session: Session, stream_id: str, aggregate: str, aggregate_version: int,
              snapshot: StoredSnapshot, taken_at: str) -> None:
        session.execute(_WRITE_SQL, (stream_id, aggregate, aggregate_version,
                                     snapshot.stream_version, snapshot.position,
                                     snapshot.state, taken_at))

    def clear(self, session: Session) -> int:
        return int(session.execute("DELETE FROM snapshots").rowcount)  # type: ignore[attr-defined]


SNAPSHOTS = PostgresSnapshots()
