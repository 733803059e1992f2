"""Which read models (projector checkpoints) each kind of read answer depends on.

One place says it, for the in-process caches (content, search) and the HTTP ETags.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType
from typing import Any


def positions_of(session: Any) -> ModuleType:
    """The read-positions statements of the session's engine. (Main has since put them
    behind a port, `backend.read_positions`; PostgresBackend provides it.)"""
    if session.dialect == "postgresql":
        from ..postgres import read_positions as postgres_positions

        return postgres_positions
    from ..sqlite import read_positions

    return read_positions


@dataclass(frozen=True)
class ReadModels:
    """The projectors whose checkpoints decide whether an answer is current; `with_head`
    adds the log's head position (answers read from the log itself, e.g. time travel)."""

    names: tuple[str, ...]
    with_head: bool = False

    def token(self, session: Any) -> str:
        """The current token: one statement, no read-model table touched."""
        positions = positions_of(session)
        if self.with_head:
            return str(positions.head_and_checkpoints_token(session, self.names))
        return str(positions.checkpoints_token(session, self.names))


CONTENT = ReadModels(("content",))
# Search ranks the search index's chunks and filters them by content (types, packs, where).
SEARCH = ReadModels(("content", "search_index"))


@functools.cache
def game_read_models() -> ReadModels:
    """Every game read model (the `game_*` projectors), plus the head: the state route
    folds streams from the log itself."""
    from ..projection.registry import discover

    names = tuple(sorted(p.name for p in discover() if p.name.startswith("game_")))
    return ReadModels(names, with_head=True)
