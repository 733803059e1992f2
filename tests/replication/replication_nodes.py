"""Helpers for real processes on 127.0.0.1: questlog nodes and the Litestream processes they run.

Every process a test starts is ended by its PID in teardown: the node itself,
and any Litestream PID the node ever reported in /health (normally they die
with their node; this is the belt to those braces).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

QUESTLOG = str(Path(sys.executable).parent / "questlog")
TOKEN = "replication-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _is_litestream(pid: int) -> bool:
    try:
        return b"litestream" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@dataclass
class Node:
    """One `questlog serve` or `questlog read-node` process."""

    argv: list[str]
    log_path: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    litestream_pids: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Node:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.argv, "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
            env=self.env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    self.health()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node did not become healthy in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/health", timeout=5).json()
        rep = body.get("replication") or {}
        for key in ("pid", "follower_pid"):
            if isinstance(rep.get(key), int):
                self.litestream_pids.add(rep[key])
        return body

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            kill_pid(self.proc.pid, sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                kill_pid(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        deadline = time.monotonic() + 5
        for pid in self.litestream_pids:
            while pid_alive(pid) and _is_litestream(pid) and time.monotonic() < deadline:
                time.sleep(0.05)  # the parent-death signal normally ends them
            if pid_alive(pid) and _is_litestream(pid):
                kill_pid(pid)


def node_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env["QUESTLOG_API_TOKEN"] = TOKEN
    env.update(extra)
    return env


def write_node(tmp: Path, *, replica: str | None, name: str = "write") -> Node:
    argv = [QUESTLOG, "--db", str(tmp / f"{name}.db"), "serve", "--no-projector-daemon",
            "--log-level", "warning"]
    if replica is not None:
        argv += ["--replica", replica]
    return Node(argv, tmp / f"{name}.log", node_env())


def read_node(tmp: Path, *, replica: str, primary: str | None, name: str = "read") -> Node:
    argv = [QUESTLOG, "read-node", "--replica", replica, "--data-dir", str(tmp / name),
            "--min-position-timeout", "1", "--log-level", "warning"]
    if primary is not None:
        argv += ["--primary", primary]
    return Node(argv, tmp / f"{name}.log", node_env())


def append(node: Node, stream: str, n: int = 1, *, expected: Any = "any",
           wait_replicated: bool = False) -> dict[str, Any]:
    body = {"expected_version": expected, "wait_replicated": wait_replicated,
            "events": [{"type": "Tick", "data": {"i": i, "stream": stream}} for i in range(n)]}
    resp = httpx.post(f"{node.url}/streams/{stream}/events", json=body, headers=AUTH, timeout=30)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


@dataclass
class Cluster:
    tmp: Path
    replica: str
    write: Node
    read: Node
