"""What the projection engine keeps per projector, and helpers its parts share.

A projector's checkpoint (the `storage.checkpoints` port) says how far its live model
has applied the log, on which version, in which state, and how far a rebuild's
shadow tables have come.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ..errors import ProjectionError
from ..storage.checkpoints import Checkpoint, Checkpoints
from ..storage.log import LogReader
from ..storage.readmodels import ReadModels, physical
from ..storage.session import Session
from .projector import Projector

__all__ = ["Checkpoint", "Checkpoints", "Progress", "ReadModels", "live_tables",
           "position_of", "read_items", "shadow_tables", "wrap_failure"]

Progress = Callable[[int, int], None]  # (done, total)

# The physical copies of each rebuild's shadow tables, by (projector, suffix): one object
# per physical table, so statements built on it are built once.
_shadows: dict[tuple[str, str], dict[str, sa.Table]] = {}


def live_tables(p: Projector) -> dict[str, sa.Table]:
    return {t.name: t for t in p.tables}


def shadow_tables(p: Projector, suffix: str) -> dict[str, sa.Table]:
    key = (p.name, suffix)
    tables = _shadows.get(key)
    if tables is None:
        tables = _shadows[key] = {t.name: physical(t, f"{t.name}__rb{suffix}")
                                  for t in p.tables}
    return tables


def forget_shadows(p: Projector, suffix: str) -> list[sa.Table]:
    """Forget the shadow copies of a finished (or abandoned) rebuild; returns them."""
    return list(_shadows.pop((p.name, suffix), {}).values())


def position_of(item: Any) -> int:
    """Position of an event or of an envelope row."""
    return int(item[0]) if isinstance(item, tuple) else int(item.position)


def read_items(log: LogReader, conn: Session, rows: bool, payload: bool,
               **where: Any) -> list[Any]:
    """Envelope rows (row mode) or RecordedEvents, in log order."""
    if rows:
        return log.read_envelopes(conn, **where)
    return log.read_all(conn, payload=payload, **where)


def wrap_failure(p: Projector, events: Sequence[Any], exc: Exception) -> ProjectionError:
    if isinstance(exc, ProjectionError):
        return exc
    pos = getattr(exc, "position", None) or (position_of(events[0]) if events else None)
    return ProjectionError(
        f"projector {p.name!r} failed on events {position_of(events[0])}..{position_of(events[-1])}: "
        f"{type(exc).__name__}: {exc}" if events else f"projector {p.name!r} failed: {exc}",
        projector=p.name, position=pos)
