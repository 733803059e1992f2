"""`litestream replicate` for one store: supervised, observable, and waitable.

`wait_replicated(position)` is the durable-off-box acknowledgement: it asks the
daemon, through its control socket, to sync and wait until the replica holds
the result. Everything committed before the request is covered once it
returns, so a caller that got `position` back from `append` may wait for it.
Concurrent waiters share one in-flight sync when it already covers them.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoint_guard import ReplicationLock, replicate_lock_path, unadvertised_writers
from ..errors import ReplicationError
from ..observability.metrics import timed_wait_replicated
from .binary import find_binary
from .control import ControlClient, SyncResult
from .options import LitestreamOptions, normalize_replica_url, render_config
from .supervisor import SupervisedProcess

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("questlog.replication")
litestream_log = logging.getLogger("questlog.litestream")


@dataclass(frozen=True)
class ReplicationAck:
    """A position confirmed on the replica, with Litestream's txids at that moment."""

    position: int
    txid: int
    replicated_txid: int
    elapsed_s: float


@dataclass
class ReplicationStatus:
    replica_url: str
    pid: int | None
    restarts: int
    replicated_position: int
    replicated_at: str | None
    txid: int
    replicated_txid: int
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


WORKDIR_PREFIX = "questlog-ls-"


def _remove_stale_workdirs() -> None:
    """Delete config/socket directories left by questlog processes that were SIGKILLed."""
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid_text = path.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # alive, another user's
            continue


class Replicator:
    """Run and supervise Litestream for one database file and answer 'is it replicated yet?'."""

    def __init__(
        self,
        db_path: Path | str,
        replica_url: str,
        *,
        options: LitestreamOptions | None = None,
        position_source: Callable[[], int] | None = None,
        commit_time_source: Callable[[int], str | None] | None = None,
        socket_path: Path | None = None,
        track_interval_s: float = 1.0,
    ) -> None:
        self.db_path = Path(db_path).resolve()
        self.replica_url = normalize_replica_url(replica_url)
        self.options = options or LitestreamOptions()
        self._position_source = position_source
        self._commit_time_source = commit_time_source
        self._track_interval = track_interval_s
        self._workdir: Path | None = None
        self._socket_path = socket_path
        self._process: SupervisedProcess | None = None
        self._client: ControlClient | None = None
        self._cond = threading.Condition()
        self._syncing = False
        self._replicated_position = 0
        self._replicated_at: str | None = None
        self._last_sync: SyncResult | None = None
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._tracker: threading.Thread | None = None
        self._lock: ReplicationLock | None = None

    @classmethod
    def for_store(cls, store: Store, replica_url: str, *,
                  options: LitestreamOptions | None = None, **kwargs: Any) -> Replicator:
        """A replicator for an open store, whose positions it tracks.

        Every questlog writer on the file, this store's included, stops
        checkpointing once `start` holds the replicate lock (checkpoint_guard).
        """

        def commit_time(position: int) -> str | None:
            for event in store.read_all(from_position=position, limit=1):
                return event.recorded_at if event.position == position else None
            return None

        return cls(store.path, replica_url, options=options,
                   position_source=store.head_position, commit_time_source=commit_time, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        if self._socket_path is None:
            raise ReplicationError("replicator not started")
        return self._socket_path

    @property
    def process(self) -> SupervisedProcess:
        if self._process is None:
            raise ReplicationError("replicator not started")
        return self._process

    @property
    def client(self) -> ControlClient:
        if self._client is None:
            raise ReplicationError("replicator not started")
        return self._client

    def start(self, *, timeout: float = 15.0, initial_sync: bool = True) -> Replicator:
        """Start Litestream, wait until its control socket answers, then sync once.

        The first sync surfaces an unreachable replica here rather than at the
        first `wait_replicated`.
        """
        if self._process is not None:
            raise ReplicationError("replicator already started")
        binary = find_binary(self.options.binary)
        if not self.db_path.exists():
            raise ReplicationError(f"database {self.db_path} does not exist")
        self._take_lock()
        try:
            # A private directory keeps the socket path short (unix sockets allow ~107 bytes).
            _remove_stale_workdirs()
            self._workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
            if self._socket_path is None:
                self._socket_path = self._workdir / "litestream.sock"
            config_path = self._workdir / "litestream.yml"
            config_path.write_text(render_config(self.db_path, self.replica_url, self._socket_path,
                                                 self.options))
            self._client = ControlClient(self._socket_path, timeout=self.options.sync_timeout_s)
            socket_path = self._socket_path

            def clear_socket() -> None:
                socket_path.unlink(missing_ok=True)  # a dead daemon's socket refuses the next bind

            self._process = SupervisedProcess(
                "litestream-replicate",
                lambda: [binary, "replicate", "-config", str(config_path)],
                logger=litestream_log, before_start=clear_socket,
            )
            self._process.start(timeout=timeout)
            self._wait_socket(timeout)
            if initial_sync:
                self.wait_replicated(timeout=timeout)
        except BaseException:
            self.stop(final_sync=False)
            raise
        self._stop.clear()
        if self._position_source is not None:
            self._tracker = threading.Thread(target=self._track, name="replication-tracker",
                                             daemon=True)
            self._tracker.start()
        log.info("replicating %s to %s (litestream pid %s)", self.db_path, self.replica_url,
                 self._process.pid)
        return self

    def _wait_socket(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        path = str(self.db_path)
        while time.monotonic() < deadline:
            if self.process.pid is None and self.process.last_exit is not None:
                pass  # restarting; keep waiting
            try:
                if any(d.get("path") == path for d in self.client.databases()):
                    return
            except ReplicationError:
                pass
            time.sleep(0.05)
        problem = self.process.last_problem()
        raise ReplicationError(
            f"litestream did not open its control socket for {path} within {timeout:.0f} s"
            + (f" (last exit {self.process.last_exit})"
               if self.process.last_exit is not None else "")
            + (f": {problem}" if problem else "")
        )

    def stop(self, *, final_sync: bool = True, timeout: float = 10.0) -> None:
        """Stop tracking and Litestream; by default sync what is committed first."""
        self._stop.set()
        if self._tracker is not None:
            self._tracker.join(timeout)
            self._tracker = None
        if final_sync and self._process is not None and self._process.running:
            try:
                self.wait_replicated(timeout=timeout)
            except ReplicationError as exc:
                log.warning("final sync before stopping litestream failed: %s", exc)
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        if self._lock is not None:
            self._lock.release()  # writers may checkpoint again
            self._lock = None

    def _take_lock(self) -> None:
        """Announce Litestream before it starts, so writers stop checkpointing first, and
        warn about processes that write the file without following that rule."""
        try:
            self._lock = ReplicationLock(self.db_path)
        except BlockingIOError:
            raise ReplicationError(
                f"{self.db_path} is already replicated by another process "
                f"(pid {ReplicationLock.holder(self.db_path)}); stop it first"
            ) from None
        except OSError as exc:
            raise ReplicationError(
                f"cannot create {replicate_lock_path(self.db_path)}: {exc}") from exc
        others = unadvertised_writers(self.db_path)
        if others:
            names = ", ".join(f"{pid} ({name})" for pid, name in others)
            log.warning("process %s has %s open for writing outside questlog: its checkpoints "
                        "can stall replication; stop it or write through questlog",
                        names, self.db_path)

    def __enter__(self) -> Replicator:
        return self if self._process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- waiting -------------------------------------------------------------------------

    @property
    def replicated_position(self) -> int:
        with self._cond:
            return self._replicated_position

    @timed_wait_replicated
    def wait_replicated(self, position: int | None = None, timeout: float | None = None
                        ) -> ReplicationAck:
        """Block until `position` (default: everything committed now) is on the replica.

        Raises ReplicationError when the replica does not confirm within `timeout`.
        """
        timeout = self.options.sync_timeout_s if timeout is None else timeout
        began = time.monotonic()
        deadline = began + timeout
        while True:
            with self._cond:
                covered = position is not None and position <= self._replicated_position
                while not covered and self._syncing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                    covered = position is not None and position <= self._replicated_position
                if covered:
                    last = self._last_sync
                    return ReplicationAck(position or 0, last.txid if last else 0,
                                          last.replicated_txid if last else 0,
                                          time.monotonic() - began)
                if self._syncing:  # timed out waiting for someone else's sync
                    raise ReplicationError(self._timeout_message(position, timeout))
                self._syncing = True
            try:
                head = self._covered_head(position)
                result = self._sync_until_replicated(deadline, position, timeout)
                with self._cond:
                    self._last_sync = result
                    self._last_error = None
                    if head > self._replicated_position:
                        self._replicated_position = head
                        self._replicated_at = None  # filled lazily by status()
                return ReplicationAck(position if position is not None else head, result.txid,
                                      result.replicated_txid, time.monotonic() - began)
            except ReplicationError as exc:
                with self._cond:
                    self._last_error = str(exc)
                raise
            finally:
                with self._cond:
                    self._syncing = False
                    self._cond.notify_all()

    def _covered_head(self, position: int | None) -> int:
        """The head read just before the sync request: every position up to it is covered."""
        if self._position_source is None:
            return position or 0
        head = self._position_source()  # ~15 us: a pooled read of MAX(position)
        if position is not None and position > head:
            raise ReplicationError(f"position {position} is not committed yet (head is {head})")
        return head

    def _sync_until_replicated(self, deadline: float, position: int | None,
                               timeout: float) -> SyncResult:
        last_exc: ReplicationError | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReplicationError(self._timeout_message(position, timeout, last_exc))
            try:
                result = self.client.sync(self.db_path, wait=True, timeout=remaining)
                if result.replicated_txid >= result.txid:
                    return result
            except ReplicationError as exc:  # daemon restarting, or a replica error
                last_exc = exc
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _timeout_message(self, position: int | None, timeout: float,
                         cause: Exception | None = None) -> str:
        what = f"position {position}" if position is not None else "the latest commit"
        tail = f": {cause}" if cause is not None else ""
        return (f"{what} was not confirmed on replica {self.replica_url} "
                f"within {timeout:.1f} s{tail}")

    def _track(self) -> None:
        # Keeps replicated_position fresh for /health and read nodes' lag reports.
        assert self._position_source is not None
        while not self._stop.wait(self._track_interval):
            try:
                head = self._position_source()
                if head > self.replicated_position:
                    self.wait_replicated(head, timeout=max(self._track_interval * 5, 5.0))
            except Exception as exc:  # reported through status(), never fatal
                with self._cond:
                    self._last_error = str(exc)
                log.warning("replication tracker: %s", exc)

    def status(self) -> ReplicationStatus:
        with self._cond:
            position = self._replicated_position
            replicated_at = self._replicated_at
            last = self._last_sync
            error = self._last_error
        if replicated_at is None and position > 0 and self._commit_time_source is not None:
            try:
                replicated_at = self._commit_time_source(position)
            except Exception:  # a status probe must not fail the caller
                replicated_at = None
            with self._cond:
                if self._replicated_position == position:
                    self._replicated_at = replicated_at
        process = self._process
        return ReplicationStatus(
            replica_url=self.replica_url, pid=process.pid if process else None,
            restarts=process.restarts if process else 0, replicated_position=position,
            replicated_at=replicated_at, txid=last.txid if last else 0,
            replicated_txid=last.replicated_txid if last else 0, last_error=error,
        )
