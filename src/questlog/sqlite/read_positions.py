"""The log positions read models reflect, read in one cheap statement (caching tokens):
the `storage.read_positions` port on SQLite.

`questlog.caching` keys every cached answer by what these statements return: one
row of `projector_checkpoints` per read model (primary key lookups), the log's head
(the last row of its primary key), or one stream's version — never the read model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..storage.session import Session

# One row, one string: the named checkpoints (name, position, version, updated_at) in
# name order, as JSON — the token itself, with no Python-side assembly.
_CHECKPOINTS_SQL = (
    "SELECT json_group_array(json_array(name, position, version, updated_at)) FROM "
    "(SELECT name, position, version, updated_at FROM projector_checkpoints "
    " WHERE name IN (SELECT value FROM json_each(?)) ORDER BY name)")
_HEAD_AND_CHECKPOINTS_SQL = (
    f"SELECT (SELECT COALESCE(MAX(position), 0) FROM events), ({_CHECKPOINTS_SQL})")
_HEAD_SQL = "SELECT COALESCE(MAX(position), 0) FROM events"
_STREAM_VERSION_SQL = "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?"


class SQLiteReadPositions:
    """`storage.read_positions.ReadPositions` on SQLite (stateless)."""

    def checkpoints_token(self, session: Session, names: Sequence[str]) -> str:
        (token,) = session.execute(_CHECKPOINTS_SQL, (json.dumps(list(names)),)).fetchone()
        return str(token)

    def head_and_checkpoints_token(self, session: Session, names: Sequence[str]) -> str:
        head, cps = session.execute(_HEAD_AND_CHECKPOINTS_SQL,
                                    (json.dumps(list(names)),)).fetchone()
        return f"{int(head)}:{cps}"

    def head_token(self, session: Session) -> str:
        (head,) = session.execute(_HEAD_SQL).fetchone()
        return str(int(head))

    def stream_version_token(self, session: Session, stream_id: str) -> str:
        (version,) = session.execute(_STREAM_VERSION_SQL, (stream_id,)).fetchone()
        return str(int(version))


READ_POSITIONS = SQLiteReadPositions()
