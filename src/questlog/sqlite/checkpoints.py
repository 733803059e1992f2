"""Projector checkpoints in SQLite's `projector_checkpoints` table (migration 0001)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson

from ..storage.checkpoints import COLUMNS, Checkpoint
from ..storage.session import Session

_CP_COLUMNS = ("name, version, mode, position, state, updated_at, failures, last_error, "
               "error_position, rebuild_version, rebuild_position, rebuild_suffix")

# One row for all checkpoints: the writer reads them in every batch with inline projectors,
# and each row a cursor steps through is a GIL hand-off (see the log's reads).
_READ_SQL = f"SELECT json_group_array(json_array({_CP_COLUMNS})) FROM projector_checkpoints"
_INSERT_SQL = ("INSERT INTO projector_checkpoints (name, version, mode, position, state, "
               "updated_at) VALUES (?, ?, ?, 0, ?, ?)")


@lru_cache(maxsize=256)
def _update_sql(keys: tuple[str, ...], names: int) -> str:
    unknown = set(keys) - COLUMNS
    if unknown:
        raise ValueError(f"not checkpoint columns: {', '.join(sorted(unknown))}")
    sets = ", ".join(f"{k} = ?" for k in keys)
    where = "name = ?" if names == 1 else f"name IN ({','.join('?' * names)})"
    return f"UPDATE projector_checkpoints SET {sets} WHERE {where}"


class SQLiteCheckpoints:
    def read(self, session: Session) -> dict[str, Checkpoint]:
        (rows,) = session.execute(_READ_SQL).fetchone()
        # orjson: the columns are 64-bit integers and text, which it reads exactly
        return {r[0]: Checkpoint(*r) for r in orjson.loads(rows)}

    def insert(self, session: Session, name: str, version: int, mode: str, state: str,
               updated_at: str) -> None:
        session.execute(_INSERT_SQL, (name, version, mode, state, updated_at))

    def update(self, session: Session, names: Sequence[str],
               changes: Mapping[str, Any]) -> None:
        if not names or not changes:
            return
        keys = tuple(changes)
        session.execute(_update_sql(keys, len(names)), (*changes.values(), *names))


CHECKPOINTS = SQLiteCheckpoints()
