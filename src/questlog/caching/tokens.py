"""Which read models (projector checkpoints) each kind of read answer depends on.

One place says it, for the in-process caches (content, search) and the HTTP ETags.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from ..storage.read_positions import ReadPositions, TokenMemo
from ..storage.session import Session


class ReadModels(NamedTuple):
    """The projectors whose checkpoints decide whether an answer is current; `with_head`
    adds the log's head position (answers read from the log itself, e.g. time travel)."""

    names: tuple[str, ...]
    with_head: bool = False

    def token(self, positions: ReadPositions, session: Session) -> str:
        """The current token: one statement, no read-model table touched."""
        if self.with_head:
            return positions.head_and_checkpoints_token(session, self.names)
        return positions.checkpoints_token(session, self.names)

    def known_token(self, memo: TokenMemo | None) -> str | None:
        """The current token without a session, when the backend's memo can tell (a read
        node whose file has not changed); None: read it with `first_token`."""
        return memo.known(self) if memo is not None else None

    def first_token(self, positions: ReadPositions, memo: TokenMemo | None,
                    session: Session) -> str:
        """The current token, read as the session's first statement (so the memo, when
        there is one, can remember it with the file's state from just before)."""
        if memo is None:
            return self.token(positions, session)
        return memo.read(self, session, lambda s: self.token(positions, s))


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
