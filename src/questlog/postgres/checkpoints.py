"""Projector checkpoints in PostgreSQL's `projector_checkpoints` table (migration 0001)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..storage.checkpoints import COLUMNS, Checkpoint
from ..storage.session import Session

_READ_SQL = ("SELECT name, version, mode, position, state, updated_at, failures, last_error, "
             "error_position, rebuild_version, rebuild_position, rebuild_suffix "
             "FROM projector_checkpoints")
_INSERT_SQL = ("INSERT INTO projector_checkpoints (name, version, mode, position, state, "
               "updated_at) VALUES (%s, %s, %s, 0, %s, %s)")


@lru_cache(maxsize=256)
def _update_sql(keys: tuple[str, ...]) -> str:
    unknown = set(keys) - COLUMNS
    if unknown:
        raise ValueError(f"not checkpoint columns: {', '.join(sorted(unknown))}")
    sets = ", ".join(f"{k} = %s" for k in keys)
    return f"UPDATE projector_checkpoints SET {sets} WHERE name = ANY(%s)"


class PostgresCheckpoints:
    def read(self, session: Session) -> dict[str, Checkpoint]:
        return {r[0]: Checkpoint(*r) for r in session.execute(_READ_SQL)}

    def insert(self, session: Session, name: str, version: int, mode: str, state: str,
               updated_at: str) -> None:
        session.execute(_INSERT_SQL, (name, version, mode, state, updated_at))

    def update(self, session: Session, names: Sequence[str],
               changes: Mapping[str, Any]) -> None:
        if not names or not changes:
            return
        sql = _update_sql(tuple(changes))
        session.execute(sql, (*changes.values(), list(names)))


CHECKPOINTS = PostgresCheckpoints()
