"""A read node on a server's hot standby (PostgreSQL streaming replication).

The server replicates by itself; the node only opens the standby's store read-only
(no migration, no writer, no LISTEN, no lease) and reports how far behind it is.
The engine says how its replay goes through the backend's `standby()` port
(`storage.standby`; PostgreSQL's in `postgres/standby.py`).

What `/health` reports (null when unknown, never guessed):
- `position`, `commit_time`: the newest event the standby has replayed, and its
  `recorded_at`.
- With `--primary` (the write node's http(s) URL, or the primary's database URL):
  `primary_position` is the primary's head as last polled (every second),
  `lag_positions` = `primary_position - position`, and `lag_seconds` the commit-time
  gap between the primary's head and this node's (0 when no position is missing).
  All three are null while the last poll failed (`primary_error` says why;
  `primary_polled_at` is when a poll last succeeded).
- Without it: the standby cannot know what it has not received, so `lag_positions`
  and `primary_position` are null, and `lag_seconds` is the replay delay: 0 when
  every WAL record received is replayed, else the age of the last replayed commit.
  (On a server that is not in recovery the node reads the primary itself: 0 and 0.)
- `replication`: the raw replay facts (`standby`, `received_wal`, `replayed_wal`,
  `replay_behind_bytes`, `last_replayed_commit_at`, `replay_paused`,
  `replay_delay_s`), the standby and primary URLs (no passwords), `primary_error`,
  `primary_polled_at`.
`status` is `degraded` when the primary cannot be read, replay is paused, the
replay facts cannot be read, or the server is no longer a standby (promoted).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, QuestlogError, ReplicationError
from ..settings import Settings
from ..storage.select import parse_location, redacted
from .primary import PrimaryHead, PrimaryMonitor, Ticker, primary_head_source, read_head

if TYPE_CHECKING:
    from ..storage.standby import ReplayState, StandbyReplay
    from ..store import Store


class StandbyReadNode:
    """A read node serving a hot standby (a `read_source.ReadSource`)."""

    def __init__(self, location: str | Path, *, primary: str | None = None,
                 primary_token: str | None = None, settings: Settings | None = None,
                 monitor_interval_s: float = 1.0) -> None:
        self.location = location
        self.url = redacted(str(location))
        self.settings = settings
        self.primary: PrimaryMonitor | None = (
            PrimaryMonitor(primary_head_source(primary, token=primary_token,
                                               settings=settings))
            if primary else None)
        self.monitor_interval_s = monitor_interval_s
        self._store: Store | None = None
        self._replay: StandbyReplay | None = None
        self._started_on_standby = False
        self._ticker = Ticker("standby-read-node-monitor", monitor_interval_s, self.poll_once)
        self._last_position = 0

    @property
    def store(self) -> Store:
        if self._store is None:
            raise ReplicationError("read node not started")
        return self._store

    @property
    def ready(self) -> bool:
        return self._store is not None

    def start(self, *, timeout: float = 60.0) -> StandbyReadNode:
        """Open the standby's store read-only (`timeout`: unused, the server is up or not)."""
        from ..store import Store

        if parse_location(self.location).path is not None:
            raise ConfigurationError(
                f"{self.url} is a store file, which has no hot standby: a read node serves a "
                "PostgreSQL standby (--db postgresql://…) or follows a Litestream replica "
                "(--replica URL --data-dir DIR)")
        store = Store.open(self.location, settings=self.settings, read_only=True, create=False)
        try:
            replay = store.backend.standby()
            if replay is None:
                raise ConfigurationError(
                    f"{self.url}: this backend has no server-side standby; follow a "
                    "Litestream replica instead (--replica URL --data-dir DIR)")
            with store.read() as session:
                self._started_on_standby = replay.state(session).in_recovery
            self.poll_once()  # the first /health already knows the primary's head
        except BaseException:
            store.close()
            if self.primary is not None:
                self.primary.close()
            raise
        self._store, self._replay = store, replay
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._ticker.stop()
        if self.primary is not None:
            self.primary.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> StandbyReadNode:
        return self if self._store is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- position ------------------------------------------------------------------------

    def position(self) -> int:
        """The newest event the standby has replayed (errors reach the caller: a read that
        cannot reach the standby answers 503 through the storage error handlers)."""
        position = self.store.head_position()
        self._last_position = position
        return position

    # -- monitoring ----------------------------------------------------------------------

    def poll_once(self) -> None:
        """Refresh the primary's head (with --primary)."""
        if self.primary is not None:
            self.primary.poll()

    def health(self) -> dict[str, Any]:
        """The read node's /health body (the module docstring defines every field)."""
        view = self.primary.view() if self.primary is not None else None
        primary_error = view.error if view is not None else None
        replication: dict[str, Any] = {
            "source": "standby", "standby_url": self.url,
            "primary_url": self.primary.url if self.primary is not None else None,
            "primary_error": primary_error,
            "primary_polled_at": view.last_polled_at if view is not None else None}
        body: dict[str, Any] = {
            "role": "read", "status": "starting", "position": self._last_position,
            "commit_time": None, "primary_position": None, "lag_positions": None,
            "lag_seconds": None, "replication": replication}
        if not self.ready or self._replay is None:
            return body
        try:
            state, own = self._read_state()
        except (QuestlogError, OSError) as exc:
            body.update(status="degraded", reason=f"the standby cannot be read: {exc}")
            return body
        except Exception as exc:  # a driver error: read through the neutral tree
            from ..storage.errors import storage_error

            fault = storage_error(exc)
            if fault is None:
                raise
            body.update(status="degraded", reason=f"the standby cannot be read: {fault}")
            return body
        replication.update(state.as_dict())
        body.update(position=own.position, commit_time=own.commit_time)
        if view is not None:
            body.update(view.lag(own).as_dict())
        elif not state.in_recovery:  # the server is the primary itself
            body.update(primary_position=own.position, lag_positions=0, lag_seconds=0.0)
        elif state.replay_delay_s is not None:
            body["lag_seconds"] = round(state.replay_delay_s, 3)
        reason = (primary_error
                  or ("replay is paused on the standby" if state.replay_paused else None)
                  or ("the server is no longer a standby (promoted?)"
                      if self._started_on_standby and not state.in_recovery else None))
        body["status"] = "ok" if reason is None else "degraded"
        if reason is not None:
            body["reason"] = reason
        return body

    def _read_state(self) -> tuple[ReplayState, PrimaryHead]:
        """The replay facts, the head and its commit time, in one read transaction."""
        assert self._replay is not None
        store = self.store
        with store.read() as session:
            state = self._replay.state(session)
            own = read_head(store, session)
        self._last_position = own.position
        return state, own
