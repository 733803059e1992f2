"""The read-positions port: what a cached read answer depends on, read cheaply.

`questlog.caching` keys every cached answer (and HTTP's ETags) by a token: the
named projectors' checkpoints, possibly with the log's head, or one stream's
version. A backend reads each token in one cheap statement that touches no
read-model table. SQLite: `questlog.sqlite.read_positions`.

A backend whose sessions are dear may also remember tokens (`TokenMemo`): a read-only
SQLite store (a read node) opens a fresh connection per read, and its memo answers a
token without one while a stat shows the file unchanged (`questlog.sqlite.token_memo`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Protocol

from .session import Session


class ReadPositions(Protocol):
    def checkpoints_token(self, session: Session, names: Sequence[str]) -> str:
        """The named projectors' checkpoints as one string (a missing one has no entry)."""
        ...

    def head_and_checkpoints_token(self, session: Session, names: Sequence[str]) -> str:
        """The log's head position and the named checkpoints as one string."""
        ...

    def head_token(self, session: Session) -> str:
        """The log's head position."""
        ...

    def stream_version_token(self, session: Session, stream_id: str) -> str:
        """One stream's version (0: no stream)."""
        ...


class TokenMemo(Protocol):
    """Tokens known without a session while the store provably has not changed.

    `key` names what a token is of (a `caching.ReadModels`, a stream, the head): the
    same key must always be read the same way.
    """

    def known(self, key: Hashable) -> str | None:
        """The token last read for `key` if nothing in the store changed since (no
        session, no statement), else None: read it with `read`."""
        ...

    def read(self, key: Hashable, session: Session, read: Callable[[Session], str]) -> str:
        """`read(session)` — which must be the session's first statement, where its
        snapshot begins — remembered for `known` with what the store looked like just
        before it."""
        ...
