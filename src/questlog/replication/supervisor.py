"""A supervised child process: started, watched, restarted with backoff, stopped by PID.

Litestream's replicate and follow processes are long-lived Go programs; when
one dies (crash, OOM kill, an operator's kill) the supervisor logs why and
starts it again after an exponentially growing pause, reset once the process
has stayed up for a while. Its output lines are forwarded into Python logging
at the level Litestream printed. On Linux the child also gets a parent-death
signal, so a SIGKILLed questlog never leaves an orphan Litestream behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO

from ..errors import ReplicationError

_LEVEL_RE = re.compile(r"\blevel=(\w+)")
_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO,
           "WARN": logging.WARNING, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def forward_line(logger: logging.Logger, line: str) -> None:
    """Log one line of Litestream output at the level it names (INFO when it names none)."""
    match = _LEVEL_RE.search(line)
    level = _LEVELS.get(match.group(1).upper(), logging.INFO) if match else logging.INFO
    logger.log(level, "%s", line)


class SupervisedProcess:
    """Run `argv()` as a child; restart it whenever it exits until `stop()` is called."""

    def __init__(
        self,
        name: str,
        argv: Callable[[], Sequence[str]],
        *,
        logger: logging.Logger,
        before_start: Callable[[], None] | None = None,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        healthy_after_s: float = 30.0,
        on_output: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._argv = argv
        self._log = logger
        self._before_start = before_start
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._healthy_after = healthy_after_s
        self._on_output = on_output
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self.starts = 0
        self.last_exit: int | None = None
        self.last_error: str | None = None
        self.recent_output: deque[str] = deque(maxlen=20)  # for error messages

    # -- public --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        with self._lock:
            proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def last_problem(self) -> str | None:
        """The most recent ERROR/WARN line the child printed, if any."""
        for line in reversed(self.recent_output):
            if "level=ERROR" in line or "level=WARN" in line or line.startswith("Error:"):
                return line
        return None

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self, *, timeout: float = 10.0) -> None:
        """Start the child and its watcher; return once the first start was attempted."""
        if self._thread is not None:
            raise ReplicationError(f"{self.name} is already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._watch, name=f"supervise-{self.name}",
                                        daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise ReplicationError(f"{self.name} did not start within {timeout:.0f} s")
        if self.last_error is not None and self.starts == 0:
            self.stop()
            raise ReplicationError(f"cannot start {self.name}: {self.last_error}")

    def kill_current(self, sig: int = signal.SIGKILL) -> int | None:
        """Signal the running child by its PID (the watcher then restarts it)."""
        pid = self.pid
        if pid is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return None
        return pid

    def stop(self, timeout: float = 10.0) -> None:
        """Stop supervising: SIGTERM the child by PID, SIGKILL it if it lingers, join."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None:
            _terminate(proc, timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    # -- internals -----------------------------------------------------------------------

    def _spawn(self) -> subprocess.Popen[str]:
        if self._before_start is not None:
            self._before_start()
        argv = list(self._argv())
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1,
            # Own session: a terminal's Ctrl-C reaches questlog, which stops the child in
            # order (final sync first) instead of both dying at once.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._log.info("%s started (pid %d): %s", self.name, proc.pid, " ".join(argv))
        return proc

    def _pump(self, stream: IO[str]) -> None:
        for raw in stream:
            line = raw.rstrip()
            if not line:
                continue
            forward_line(self._log, line)
            self.recent_output.append(line)
            if self._on_output is not None:
                try:
                    self._on_output(line)
                except Exception:  # an observer must never kill the pump
                    self._log.exception("output observer failed")
        stream.close()

    def _watch(self) -> None:
        backoff = self._backoff_initial
        while not self._stopping.is_set():
            try:
                proc = self._spawn()
            except Exception as exc:  # missing binary, bad argv, before_start failed
                self.last_error = str(exc)
                self._log.error("%s failed to start: %s", self.name, exc)
                self._started.set()
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, self._backoff_max)
                continue
            with self._lock:
                self._proc = proc
            if self._stopping.is_set():  # stop() ran while we were spawning
                _terminate(proc, 5.0)
                self._started.set()
                return
            self.starts += 1
            self.last_error = None
            self._started.set()
            began = time.monotonic()
            assert proc.stdout is not None
            pump = threading.Thread(target=self._pump, args=(proc.stdout,),
                                    name=f"{self.name}-log", daemon=True)
            pump.start()
            code = proc.wait()
            pump.join(2.0)
            self.last_exit = code
            if self._stopping.is_set():
                self._log.info("%s stopped (pid %d, exit %s)", self.name, proc.pid, code)
                return
            if time.monotonic() - began >= self._healthy_after:
                backoff = self._backoff_initial
            self._log.warning("%s (pid %d) exited with %s; restarting in %.1f s",
                              self.name, proc.pid, code, backoff)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self._backoff_max)


def _terminate(proc: subprocess.Popen[str], timeout: float) -> None:
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(5.0)
