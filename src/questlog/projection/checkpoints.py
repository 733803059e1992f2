"""What the projection engine keeps per projector, and helpers its parts share.

A projector's checkpoint row (`projector_checkpoints`) says how far its live model
has applied the log, on which version, in which state, and how far a rebuild's
shadow tables have come.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import eventstore
from ..db import DBAPIConnection
from ..errors import ProjectionError
from .projector import Projector

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class Checkpoint:
    name: str
    version: int
    mode: str
    position: int
    state: str
    updated_at: str
    failures: int
    last_error: str | None
    error_position: int | None
    rebuild_version: int | None
    rebuild_position: int | None
    rebuild_suffix: str | None


_CP_COLUMNS = ("name, version, mode, position, state, updated_at, failures, last_error, "
               "error_position, rebuild_version, rebuild_position, rebuild_suffix")


# One row for all checkpoints: the writer reads them in every batch with inline projectors,
# and each row a cursor steps through is a GIL hand-off (see eventstore).
_READ_CHECKPOINTS_SQL = (
    f"SELECT json_group_array(json_array({_CP_COLUMNS})) FROM projector_checkpoints")


def read_checkpoints(conn: DBAPIConnection) -> dict[str, Checkpoint]:
    (rows,) = conn.execute(_READ_CHECKPOINTS_SQL).fetchone()
    return {r[0]: Checkpoint(*r) for r in json.loads(rows)}


def table_exists(conn: DBAPIConnection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ? AND type = 'table'",
                        (name,)).fetchone() is not None


def live_tables(p: Projector) -> dict[str, str]:
    return {t.name: t.name for t in p.tables}


def shadow_tables(p: Projector, suffix: str) -> dict[str, str]:
    return {t.name: f"{t.name}__rb{suffix}" for t in p.tables}


def position_of(item: Any) -> int:
    """Position of an event or of an envelope row."""
    return int(item[0]) if isinstance(item, tuple) else int(item.position)


def read_items(conn: DBAPIConnection, rows: bool, payload: bool, **where: Any) -> list[Any]:
    """Envelope rows (row mode) or RecordedEvents, in log order."""
    if rows:
        return eventstore.read_all_rows(conn, columns=eventstore.ROW_COLUMNS, **where)
    return eventstore.read_all(conn, payload=payload, **where)


def wrap_failure(p: Projector, events: Sequence[Any], exc: Exception) -> ProjectionError:
    if isinstance(exc, ProjectionError):
        return exc
    pos = getattr(exc, "position", None) or (position_of(events[0]) if events else None)
    return ProjectionError(
        f"projector {p.name!r} failed on events {position_of(events[0])}..{position_of(events[-1])}: "
        f"{type(exc).__name__}: {exc}" if events else f"projector {p.name!r} failed: {exc}",
        projector=p.name, position=pos)
