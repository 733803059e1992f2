"""The log positions read models reflect, read in one cheap statement (caching tokens).

`questlog.caching` keys every cached answer by what these statements return: one
row of `projector_checkpoints` per read model (primary key lookups), the log's head
(the last row of its primary key), or one stream's version — never the read model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# One row, one string: the named checkpoints (name, position, version, updated_at) in
# name order, as JSON — the token itself, with no Python-side assembly.
_CHECKPOINTS_SQL = (
    "SELECT json_group_array(json_array(name, position, version, updated_at)) FROM "
    "(SELECT name, position, version, updated_at FROM projector_checkpoints "
    " WHERE name IN (SELECT value FROM json_each(?)) ORDER BY name)")
_HEAD_AND_CHECKPOINTS_SQL = (
    f"SELECT (SELECT COALESCE(MAX(position), 0) FROM events), ({_CHECKPOINTS_SQL})")
_STREAM_VERSION_SQL = "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?"


def checkpoints_token(session: Any, names: Sequence[str]) -> str:
    """The named projectors' checkpoints as one string (a missing one has no entry)."""
    (token,) = session.execute(_CHECKPOINTS_SQL, (json.dumps(list(names)),)).fetchone()
    return str(token)


def head_and_checkpoints_token(session: Any, names: Sequence[str]) -> str:
    """The log's head position and the named checkpoints as one string."""
    head, cps = session.execute(_HEAD_AND_CHECKPOINTS_SQL, (json.dumps(list(names)),)).fetchone()
    return f"{int(head)}:{cps}"


def head_token(session: Any) -> str:
    (head,) = session.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
    return str(int(head))


def stream_version_token(session: Any, stream_id: str) -> str:
    (version,) = session.execute(_STREAM_VERSION_SQL, (stream_id,)).fetchone()
    return str(int(version))
