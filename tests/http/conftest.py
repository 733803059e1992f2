"""Fixtures for the HTTP API: in-process apps over real stores, and a real write node."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from questlog import Store
from questlog.http import create_app
from questlog.settings import Settings

# The tokens module sits next to this file; tests import it by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_tokens import API_TOKEN


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "http.db"
    s = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN, max_body_bytes=4096))
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store, min_position_timeout_s=0.3)) as c:
        yield c


@contextlib.contextmanager
def running_node(db: Path, log_path: Path, **env_overrides: str) -> Iterator[str]:
    """`questlog serve` over `db` as a real process on 127.0.0.1 (no replica, no projector
    daemon), with QUESTLOG_API_TOKEN and `env_overrides`; yields its URL, ends it by PID."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env["QUESTLOG_API_TOKEN"] = API_TOKEN
    env.update(env_overrides)
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "questlog"), "--db", str(db), "serve",
         "--port", str(port), "--no-projector-daemon", "--min-position-timeout", "0.2",
         "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


@pytest.fixture(scope="module")
def write_node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`questlog serve` as a real process on 127.0.0.1 (no replica: the API alone)."""
    tmp = tmp_path_factory.mktemp("node")
    with running_node(tmp / "api.db", tmp / "node.log") as url:
        yield url


@pytest.fixture(scope="session")
def start_node() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """`running_node`, for tests that start a node over a store they filled."""
    return running_node
