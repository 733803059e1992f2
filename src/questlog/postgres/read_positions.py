"""The log positions read models reflect, read in one cheap statement (caching tokens):
PostgreSQL's twin of `questlog.sqlite.read_positions` (same functions, same meaning;
a token is only ever compared with tokens of the same store)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# One row, one string: the named checkpoints (name, position, version, updated_at) in
# name order, as JSON.
_CHECKPOINTS_SQL = (
    "SELECT coalesce(json_agg(json_build_array(name, position, version, updated_at) "
    "ORDER BY name), '[]')::text FROM projector_checkpoints WHERE name = ANY(%s)")
_HEAD_SQL = "SELECT coalesce(max(position), 0) FROM events"
_STREAM_VERSION_SQL = "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = %s"


def checkpoints_token(session: Any, names: Sequence[str]) -> str:
    """The named projectors' checkpoints as one string (a missing one has no entry)."""
    (token,) = session.execute(_CHECKPOINTS_SQL, (list(names),)).fetchone()
    return str(token)


def head_and_checkpoints_token(session: Any, names: Sequence[str]) -> str:
    """The log's head position and the named checkpoints as one string."""
    head, cps = session.execute(f"SELECT ({_HEAD_SQL}), ({_CHECKPOINTS_SQL})",
                                (list(names),)).fetchone()
    return f"{int(head)}:{cps}"


def head_token(session: Any) -> str:
    (head,) = session.execute(_HEAD_SQL).fetchone()
    return str(int(head))


def stream_version_token(session: Any, stream_id: str) -> str:
    (version,) = session.execute(_STREAM_VERSION_SQL, (stream_id,)).fetchone()
    return str(int(version))


class PostgresReadPositions:
    """`storage.read_positions.ReadPositions` (main's port) on PostgreSQL (stateless)."""

    def checkpoints_token(self, session: Any, names: Sequence[str]) -> str:
        return checkpoints_token(session, names)

    def head_and_checkpoints_token(self, session: Any, names: Sequence[str]) -> str:
        return head_and_checkpoints_token(session, names)

    def head_token(self, session: Any) -> str:
        return head_token(session)

    def stream_version_token(self, session: Any, stream_id: str) -> str:
        return stream_version_token(session, stream_id)


READ_POSITIONS = PostgresReadPositions()
