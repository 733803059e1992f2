"""A read node: a follower, the read-only store on its file, and lag bookkeeping.

How the node knows how far behind it is:
- **position lag** needs the primary's last replicated *event position*, which
  only the write node knows (it confirms positions with `wait_replicated`).
  With `primary_url` the node polls the write node's `/health` and compares
  its own head with the primary's `primary_position` (the position confirmed
  on the replica) and their commit times. Without it, position lag is unknown
  (null) — the replica's files carry Litestream txids, not event positions.
  While the last poll of the primary failed, the primary's position and both lags
  are null (`primary_error` says why; `primary_polled_at` is the last success).
- **txid lag and stalls** come from the replica itself (`litestream ltx`):
  the follower's `-txid` file against the replica's highest txid. A follower
  that stays behind without moving for `stall_after_s` is restarted afresh.
- **seconds**: with a primary, the commit-time gap between the primary's
  replicated head and this node's head; without one, how long the follower
  has been behind the replica (0 when caught up).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ReplicationError
from ..settings import Settings
from .follower import Follower
from .options import LitestreamOptions
from .primary import HttpPrimary, PrimaryHead, PrimaryMonitor, Ticker, read_head

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("questlog.replication")


class ReadNode:
    """A read node on a Litestream follower (a `read_source.ReadSource`): everything a
    read-only HTTP node needs besides the HTTP app itself."""

    def __init__(
        self,
        replica_url: str,
        data_dir: Path | str,
        *,
        primary_url: str | None = None,
        primary_token: str | None = None,
        options: LitestreamOptions | None = None,
        settings: Settings | None = None,
        monitor_interval_s: float = 1.0,
        replica_check_interval_s: float = 3.0,
    ) -> None:
        self.options = options or LitestreamOptions()
        self.follower = Follower(replica_url, data_dir, options=self.options)
        self.primary = (PrimaryMonitor(HttpPrimary(primary_url, primary_token))
                        if primary_url else None)
        self.primary_url = self.primary.url if self.primary is not None else None
        self.settings = settings
        self.monitor_interval_s = monitor_interval_s
        # Listing a remote replica costs requests (S3 LISTs): checked less often than the
        # primary's /health, and still several times within stall_after_s.
        self.replica_check_interval_s = replica_check_interval_s
        self._last_replica_check = 0.0
        self._store: Store | None = None
        self._ticker = Ticker("read-node-monitor", monitor_interval_s, self.poll_once)
        self._lock = threading.Lock()  # the replica's txid and since when the node is behind
        self._replica_txid: int | None = None
        self._behind_since: float | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            raise ReplicationError("read node not started")
        return self._store

    @property
    def ready(self) -> bool:
        return self._store is not None and self.follower.ready

    def start(self, *, timeout: float = 60.0) -> ReadNode:
        from ..store import Store

        self.follower.start(timeout=timeout)
        try:
            self._store = Store.open(self.follower.path, settings=self.settings, read_only=True)
        except BaseException:
            self.follower.stop()
            raise
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._ticker.stop()
        self.follower.stop()
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> ReadNode:
        return self if self._store is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- position ------------------------------------------------------------------------

    def position(self) -> int:
        """This node's head position (0 while the follower restores afresh)."""
        if not self.ready:
            return 0
        try:
            return self.store.head_position()
        except Exception as exc:  # the file can vanish between `ready` and the read
            log.debug("position read failed while the follower restores: %s", exc)
            return 0

    def head(self) -> PrimaryHead:
        """This node's head and its commit time ((0, None) while the follower restores)."""
        if not self.ready:
            return PrimaryHead(0, None)
        try:
            return read_head(self.store)
        except Exception as exc:  # the file can vanish between `ready` and the read
            log.debug("head read failed while the follower restores: %s", exc)
            return PrimaryHead(0, None)

    # -- monitoring ----------------------------------------------------------------------

    def poll_once(self, *, force: bool = False) -> None:
        """Refresh the primary's position and, when due, the replica's txid (stall check)."""
        if self.primary is not None:
            self.primary.poll()
        now = time.monotonic()
        if not force and now - self._last_replica_check < self.replica_check_interval_s:
            return
        self._last_replica_check = now
        try:
            replica_txid = self.follower.replica_txid()
        except ReplicationError as exc:
            log.warning("cannot list the replica: %s", exc)
            replica_txid = None
        if replica_txid is not None:
            self.follower.check_stall(replica_txid)
            current = self.follower.txid()
            with self._lock:
                self._replica_txid = replica_txid
                if current is not None and current >= replica_txid:
                    self._behind_since = None
                elif self._behind_since is None:
                    self._behind_since = time.monotonic()

    def health(self) -> dict[str, Any]:
        """The read node's /health body (see the module docstring for the lag definitions)."""
        ready = self.ready
        own = self.head()
        follower_txid = self.follower.txid()
        view = self.primary.view() if self.primary is not None else None
        primary_error = view.error if view is not None else None
        with self._lock:
            replica_txid = self._replica_txid
            behind_since = self._behind_since
        if view is not None:
            lag = view.lag(own).as_dict()
        else:  # no primary: how long the follower has been behind the replica
            behind_s = 0.0 if behind_since is None else time.monotonic() - behind_since
            lag = {"primary_position": None, "lag_positions": None,
                   "lag_seconds": round(behind_s, 3)}
        stalled_recently = self.follower.stalls > 0 and behind_since is not None
        status = "starting" if not ready else (
            "degraded" if (primary_error or stalled_recently or self.follower.pid is None)
            else "ok")
        return {
            "role": "read", "status": status, "position": own.position,
            "commit_time": own.commit_time, **lag,
            "replication": {
                "replica_url": self.follower.replica_url, "follower_pid": self.follower.pid,
                "follower_restarts": self.follower.restarts, "follower_txid": follower_txid,
                "replica_txid": replica_txid,
                "lag_txids": (None if replica_txid is None or follower_txid is None
                              else max(0, replica_txid - follower_txid)),
                "stalls_detected": self.follower.stalls, "primary_url": self.primary_url,
                "primary_error": primary_error,
                "primary_polled_at": view.last_polled_at if view is not None else None,
            },
        }
