"""Projector checkpoints: how far each projector's live model has applied the log, on
which version, in which state, and how far a rebuild's shadow tables have come.

Exactly-once rests on writing a checkpoint in the same transaction as the rows it
covers: every method runs in the caller's session (the writer's transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .session import Session


@dataclass
class Checkpoint:
    name: str
    version: int
    mode: str
    position: int
    state: str            # "live" | "parked" | "rebuilding"
    updated_at: str
    failures: int
    last_error: str | None
    error_position: int | None
    rebuild_version: int | None
    rebuild_position: int | None
    rebuild_suffix: str | None


# What `update` may change: every field but the name, plus when a rebuild started.
COLUMNS: Final = frozenset(
    {"version", "mode", "position", "state", "updated_at", "failures", "last_error",
     "error_position", "rebuild_version", "rebuild_position", "rebuild_suffix",
     "rebuild_started_at"})


class Checkpoints(Protocol):
    def read(self, session: Session) -> dict[str, Checkpoint]:
        """Every projector's checkpoint, by name (the writer reads them every batch)."""
        ...

    def insert(self, session: Session, name: str, version: int, mode: str, state: str,
               updated_at: str) -> None:
        """A new projector's checkpoint at position 0."""
        ...

    def update(self, session: Session, names: Sequence[str],
               changes: Mapping[str, Any]) -> None:
        """Set `changes` (keys from COLUMNS) on the checkpoints of `names`."""
        ...
