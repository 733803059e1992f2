"""The read-positions port: what a cached read answer depends on, read cheaply.

`questlog.caching` keys every cached answer (and HTTP's ETags) by a token: the
named projectors' checkpoints, possibly with the log's head, or one stream's
version. A backend reads each token in one cheap statement that touches no
read-model table. SQLite: `questlog.sqlite.read_positions`.
"""

from __future__ import annotations

from collections.abc import Sequence
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
