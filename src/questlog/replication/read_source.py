"""What a read node serves from, and the one place that chooses it.

A read node (`questlog read-node`, `http.create_app(role="read")`) needs the same
few things of its source whatever copies the data: the read-only `store`, whether
it is `ready`, its `position` (what `min_position` waits for) and its `/health`
body. Two sources have them:
- `readnode.ReadNode`: a Litestream follower restoring a SQLite store's replica
  into a local file (`--replica URL --data-dir DIR`);
- `standby.StandbyReadNode`: a server's hot standby (`--db postgresql://…`), which
  the server itself keeps in step with its primary.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigurationError
from ..storage.select import redacted

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store


class ReadSource(Protocol):
    @property
    def store(self) -> Store:
        """The read-only store the node's routes read (after `start`)."""
        ...

    @property
    def ready(self) -> bool:
        """Whether reads can be served now (a follower restoring afresh cannot)."""
        ...

    def start(self, *, timeout: float = 60.0) -> ReadSource: ...

    def stop(self) -> None: ...

    def position(self) -> int:
        """The highest event position this node serves."""
        ...

    def health(self) -> dict[str, Any]:
        """The node's /health body: role, status, position, lag."""
        ...


def read_source(*, replica: str | None, data_dir: Path | None, db: str | Path | None,
                primary: str | None, settings: Settings) -> ReadSource:
    """The source `questlog read-node` was given: a Litestream replica (`replica` and
    `data_dir`) or a hot standby (`db`, else QUESTLOG_DB)."""
    if replica is not None:
        if primary is not None and not primary.lower().startswith(("http://", "https://")):
            raise ConfigurationError(
                f"--primary {redacted(primary)}: a Litestream read node (--replica) reads its "
                "primary's head from the write node's /health: give its http(s):// URL")
        if db is not None:
            raise ConfigurationError(
                "give --replica (a Litestream replica to follow) or --db (a PostgreSQL hot "
                "standby), not both")
        if data_dir is None:
            raise ConfigurationError("--replica needs --data-dir DIR (where the follower "
                                     "keeps its copy)")
        from .readnode import ReadNode

        return ReadNode(replica, data_dir, primary_url=primary,
                        primary_token=settings.read_token, settings=settings)
    if data_dir is not None:
        raise ConfigurationError("--data-dir goes with --replica; a hot standby (--db) keeps "
                                 "its own data")
    if db is None and settings.db == type(settings).fields()["db"].make_default():
        raise ConfigurationError(
            "no source to serve: give --replica URL --data-dir DIR (Litestream) or "
            "--db postgresql://… (a hot standby)")
    from .standby import StandbyReadNode

    return StandbyReadNode(db if db is not None else settings.db, primary=primary,
                           primary_token=settings.read_token, settings=settings)
