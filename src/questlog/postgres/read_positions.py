"""The log positions read models reflect, read in one cheap statement (caching tokens):
the `storage.read_positions` port on PostgreSQL.

`questlog.caching` keys every cached answer by what these statements return: the
named rows of `projector_checkpoints` (primary key lookups), the log's head (the
last entry of its primary key) or one stream's version — never a read model. The
names are bound as ONE array (`= ANY(%s)`), so the statement text never changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..storage.session import Session

# One row, one text: the named checkpoints (name, position, version, updated_at) in name
# order, as JSON text (cast: psycopg would parse `json` into Python objects).
_CHECKPOINTS_SQL = (
    "SELECT COALESCE(json_agg(json_build_array(name, position, version, updated_at) "
    "ORDER BY name COLLATE \"C\"), '[]')::text FROM projector_checkpoints "
    "WHERE name = ANY(%s)")
_HEAD_SQL = "SELECT COALESCE(MAX(position), 0) FROM events"
_HEAD_AND_CHECKPOINTS_SQL = f"SELECT ({_HEAD_SQL}), ({_CHECKPOINTS_SQL})"
_STREAM_VERSION_SQL = "SELECT COALESCE(MAX(version), 0) FROM streams WHERE stream_id = %s"


class PostgresReadPositions:
    """`storage.read_positions.ReadPositions` on PostgreSQL (stateless)."""

    def checkpoints_token(self, session: Session, names: Sequence[str]) -> str:
        (token,) = session.execute(_CHECKPOINTS_SQL, (list(names),)).fetchone()
        return str(token)

    def head_and_checkpoints_token(self, session: Session, names: Sequence[str]) -> str:
        head, cps = session.execute(_HEAD_AND_CHECKPOINTS_SQL, (list(names),)).fetchone()
        return f"{int(head)}:{cps}"

    def head_token(self, session: Session) -> str:
        (head,) = session.execute(_HEAD_SQL).fetchone()
        return str(int(head))

    def stream_version_token(self, session: Session, stream_id: str) -> str:
        (version,) = session.execute(_STREAM_VERSION_SQL, (stream_id,)).fetchone()
        return str(int(version))


READ_POSITIONS = PostgresReadPositions()
