"""A `litestream restore -f` follower, as read nodes need it.

Facts from the research note (§1.3) that shape this class:
- every (re)start restores afresh into an empty place: a follower that resumes
  from its `-txid` file refuses to when that txid is past the newest snapshot
  (litestream#1385), so the files are deleted before each start;
- a follower can stay alive and stop applying (litestream#1515): `check_stall`
  compares its txid with the replica's and restarts it when it sits still
  while the replica moves on;
- readers must open a fresh read-only connection per request (the Store opened
  read-only does exactly that).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from ..errors import ReplicationError
from .binary import find_binary, list_ltx, replica_txid
from .options import LitestreamOptions, go_duration, normalize_replica_url
from .restore import remove_database_files
from .supervisor import SupervisedProcess

log = logging.getLogger("questlog.replication")
litestream_log = logging.getLogger("questlog.litestream.follow")


class Follower:
    """Keep `data_dir/<db_name>` following a replica; restart afresh on death or stall."""

    def __init__(
        self,
        replica_url: str,
        data_dir: Path | str,
        *,
        db_name: str = "replica.db",
        options: LitestreamOptions | None = None,
    ) -> None:
        self.replica_url = normalize_replica_url(replica_url)
        self.data_dir = Path(data_dir).resolve()
        self.path = self.data_dir / db_name
        self.options = options or LitestreamOptions()
        self._process: SupervisedProcess | None = None
        self._lock = threading.Lock()
        self._observed_txid: int | None = None
        self._observed_since = time.monotonic()
        self._replica_txid_seen: int | None = None
        self.stalls = 0

    @property
    def txid_path(self) -> Path:
        return Path(f"{self.path}-txid")

    @property
    def process(self) -> SupervisedProcess:
        if self._process is None:
            raise ReplicationError("follower not started")
        return self._process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def restarts(self) -> int:
        return self._process.restarts if self._process is not None else 0

    def txid(self) -> int | None:
        """The txid the follower has applied (its `-txid` file), None before the first restore."""
        try:
            text = self.txid_path.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            return int(text, 16) if text else None
        except ValueError:
            return None

    @property
    def ready(self) -> bool:
        return self.pid is not None and self.txid() is not None and self.path.exists()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, *, timeout: float = 60.0) -> Follower:
        """Start following and wait for the first restore to land."""
        if self._process is not None:
            raise ReplicationError("follower already started")
        binary = find_binary(self.options.binary)
        if not list_ltx(self.replica_url, binary=binary):
            raise ReplicationError(
                f"replica {self.replica_url} is empty or does not exist: nothing to follow"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "restore", "-f", "-follow-interval",
                go_duration(self.options.follow_interval_s), "-integrity-check", "quick",
                "-o", str(self.path), self.replica_url]
        self._process = SupervisedProcess(
            "litestream-follow", lambda: argv, logger=litestream_log,
            before_start=self._clear, backoff_initial_s=0.2, backoff_max_s=5.0,
        )
        self._process.start(timeout=timeout)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("following %s into %s (pid %s, txid %s)", self.replica_url, self.path,
                 self.pid, self.txid())
        return self

    def _clear(self) -> None:
        # Restore afresh on every (re)start: resuming is unreliable in 0.5.17 (#1385).
        remove_database_files(self.path)
        with self._lock:
            self._observed_txid = None
            self._observed_since = time.monotonic()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready:
                return
            time.sleep(0.02)
        problem = None
        if self._process is not None:
            problem = self._process.last_error or self._process.last_problem()
        raise ReplicationError(
            f"follower of {self.replica_url} did not finish its first restore within "
            f"{timeout:.0f} s" + (f": {problem}" if problem else "")
        )

    def restart(self) -> None:
        """Kill the follower by PID; the supervisor restores afresh and follows again."""
        pid = self.process.kill_current()
        log.warning("restarting follower (killed pid %s); it will restore afresh", pid)

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None

    def __enter__(self) -> Follower:
        return self if self._process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- stall detection -----------------------------------------------------------------

    def replica_txid(self) -> int:
        return replica_txid(self.replica_url, binary=self.options.binary)

    def check_stall(self, replica_txid_now: int | None = None) -> bool:
        """True (and the follower restarted) when it sat still while the replica moved on.

        Stalled means: the replica holds a txid beyond the follower's, and the
        follower's txid has not changed for `stall_after_s`.
        """
        if replica_txid_now is None:
            try:
                replica_txid_now = self.replica_txid()
            except ReplicationError as exc:
                log.warning("cannot read the replica's txid: %s", exc)
                return False
        current = self.txid()
        now = time.monotonic()
        with self._lock:
            self._replica_txid_seen = replica_txid_now
            if current != self._observed_txid:
                self._observed_txid = current
                self._observed_since = now
                return False
            behind = current is not None and replica_txid_now > current
            stuck_for = now - self._observed_since
            stalled = behind and stuck_for >= self.options.stall_after_s
            if stalled:
                self.stalls += 1
                self._observed_since = now
        if stalled:
            log.error("follower stalled at txid %s while the replica is at %s for %.1f s "
                      "(litestream#1515); restoring afresh", current, replica_txid_now, stuck_for)
            self.restart()
        return stalled

    @property
    def last_replica_txid(self) -> int | None:
        with self._lock:
            return self._replica_txid_seen


__all__ = ["Follower", "list_ltx"]
