"""Which source `questlog read-node` serves, and how a read node reads its primary's head
(replication/read_source.py, replication/primary.py). The standby itself is tested on
real servers in tests/postgres/test_standby_read_node.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from questlog.errors import ConfigurationError, ReplicationError
from questlog.replication.primary import (
    HttpPrimary,
    PrimaryHead,
    PrimaryMonitor,
    StorePrimary,
    head_of_health,
    primary_head_source,
    read_head,
    seconds_behind,
)
from questlog.replication.read_source import read_source
from questlog.replication.readnode import ReadNode
from questlog.replication.standby import StandbyReadNode
from questlog.settings import Settings

QUESTLOG = str(Path(sys.executable).parent / "questlog")


def test_a_write_nodes_health_reads_as_its_replicated_head() -> None:
    replicating = {"position": 9, "commit_time": "2026-01-01T00:00:09Z", "primary_position": 7,
                   "replication": {"replicated_at": "2026-01-01T00:00:07Z"}}
    assert head_of_health(replicating) == PrimaryHead(7, "2026-01-01T00:00:07Z")
    plain = {"position": 4, "commit_time": "2026-01-01T00:00:04Z"}
    assert head_of_health(plain) == PrimaryHead(4, "2026-01-01T00:00:04Z")
    with pytest.raises(ReplicationError, match="names no position"):
        head_of_health({"status": "ok"})
    with pytest.raises(ReplicationError, match="replication field that is no object"):
        head_of_health({"position": 3, "replication": "litestream"})


def test_seconds_behind_is_the_commit_time_gap_or_unknown() -> None:
    assert seconds_behind("2026-01-01T00:00:09Z", "2026-01-01T00:00:06.5Z") == 2.5
    assert seconds_behind("2026-01-01T00:00:05Z", "2026-01-01T00:00:06Z") == 0.0
    assert seconds_behind(None, "2026-01-01T00:00:06Z") is None
    assert seconds_behind("2026-01-01T00:00:06Z", "not a time") is None


def test_the_primary_is_read_by_http_or_from_its_database(tmp_path: Path) -> None:
    assert isinstance(primary_head_source("http://127.0.0.1:8080/"), HttpPrimary)
    source = primary_head_source("postgresql://reader:secret@db.example/campaign")
    assert isinstance(source, StorePrimary) and "secret" not in source.url
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        primary_head_source("ftp://somewhere")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(ReplicationError, match="unreachable"):
        HttpPrimary(f"http://127.0.0.1:{closed}").head()
    missing = StorePrimary(str(tmp_path / "none.db"))
    with pytest.raises(ReplicationError, match="unreadable"):
        missing.head()


def test_read_source_chooses_the_follower_or_the_standby(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "unused.db")
    litestream = read_source(replica=f"file://{tmp_path}/r", data_dir=tmp_path / "d", db=None,
                             primary=None, settings=settings)
    assert isinstance(litestream, ReadNode)
    standby = read_source(replica=None, data_dir=None, db="postgresql://h/db", primary=None,
                          settings=settings)
    assert isinstance(standby, StandbyReadNode) and standby.url == "postgresql://h/db"
    with pytest.raises(ConfigurationError, match="not both"):
        read_source(replica="file:///r", data_dir=tmp_path, db="postgresql://h/db",
                    primary=None, settings=settings)
    with pytest.raises(ConfigurationError, match="--data-dir"):
        read_source(replica="file:///r", data_dir=None, db=None, primary=None,
                    settings=settings)
    with pytest.raises(ConfigurationError, match="--data-dir goes with --replica"):
        read_source(replica=None, data_dir=tmp_path, db="postgresql://h/db", primary=None,
                    settings=settings)
    with pytest.raises(ConfigurationError, match="give its http\\(s\\):// URL") as refused:
        read_source(replica="file:///r", data_dir=tmp_path / "d",
                    db=None, primary="postgresql://u:secret@h/db", settings=settings)
    assert "secret" not in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ConfigurationError, match="no source to serve: give --replica URL "
                       "--data-dir DIR \\(Litestream\\) or --db postgresql://"):
        read_source(replica=None, data_dir=None, db=None, primary=None, settings=Settings())


def test_read_node_cli_names_its_sources(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    proc = subprocess.run([QUESTLOG, "read-node"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "no source to serve: give --replica URL --data-dir DIR (Litestream) or "
        "--db postgresql://… (a hot standby)")
    assert not (tmp_path / "questlog.db").exists()
    proc = subprocess.run([QUESTLOG, "read-node", "--replica", f"file://{tmp_path}/r",
                           "--data-dir", str(tmp_path / "d"), "--primary",
                           "postgresql://h/db"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "http(s)://" in proc.stderr
    shown = subprocess.run([QUESTLOG, "read-node", "--help"], env=env, capture_output=True,
                           text=True, timeout=60).stdout
    db_help = " ".join(shown[shown.index("--db", shown.index("Options:")):].split())
    assert db_help.startswith("--db") and "hot standby" in db_help[:120], db_help[:200]


def test_read_node_without_a_source_says_what_to_give(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    proc = subprocess.run([QUESTLOG, "read-node", "--db", str(tmp_path / "file.db")], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no hot standby" in lines[0] and "--replica" in lines[0]
    assert not (tmp_path / "file.db").exists()  # nothing created


class FakeWriteNode:
    """A real HTTP server answering GET /health with whatever a test sets (a write node
    that misbehaves on purpose); `stop` closes it, so the next poll finds nothing."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {"position": 5, "commit_time": "2026-01-01T00:00:05Z"}
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = json.dumps(node.body).encode()
                self.send_response(node.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def write_node() -> Iterator[FakeWriteNode]:
    node = FakeWriteNode()
    yield node
    node.stop()


def test_a_failed_poll_makes_the_lag_unknown_not_stale(write_node: FakeWriteNode) -> None:
    monitor = PrimaryMonitor(HttpPrimary(write_node.url))
    own = PrimaryHead(3, "2026-01-01T00:00:02Z")
    monitor.poll()
    view = monitor.view()
    assert view.error is None and view.last_polled_at is not None
    assert view.lag(own).as_dict() == {"primary_position": 5, "lag_positions": 2,
                                       "lag_seconds": 3.0}
    write_node.stop()
    monitor.poll()
    failed = monitor.view()
    assert failed.error is not None and "unreachable" in failed.error
    # The old head (5) is not used: lag 0 or 2 would be a guess about a primary not heard.
    assert failed.lag(PrimaryHead(5, "2026-01-01T00:00:05Z")).as_dict() == {
        "primary_position": None, "lag_positions": None, "lag_seconds": None}
    assert failed.last_polled_at == view.last_polled_at  # when it was last heard


def test_a_read_nodes_health_nulls_the_lag_while_the_primary_is_unreachable(
        write_node: FakeWriteNode, tmp_path: Path) -> None:
    node = ReadNode(f"file://{tmp_path}/replica", tmp_path / "data", primary_url=write_node.url,
                    monitor_interval_s=3600)
    assert node.primary is not None
    node.primary.poll()
    assert node.health()["primary_position"] == 5
    write_node.stop()
    node.primary.poll()
    health = node.health()
    assert health["status"] == "starting"  # never started: no follower, no store
    assert (health["primary_position"], health["lag_positions"], health["lag_seconds"]) == (
        None, None, None)
    assert "unreachable" in health["replication"]["primary_error"]
    assert health["replication"]["primary_polled_at"] is not None


@pytest.mark.parametrize("status", [401, 403])
def test_a_primary_refusing_the_token_is_said_so_not_unreachable(
        write_node: FakeWriteNode, status: int) -> None:
    write_node.status, write_node.body = status, {"error": "unauthorized"}
    with pytest.raises(ReplicationError, match=f"refused /health with {status}.*READ_TOKEN") as e:
        HttpPrimary(write_node.url, "wrong").head()
    assert "unreachable" not in str(e.value)


def test_a_malformed_primary_health_is_a_replication_error(write_node: FakeWriteNode) -> None:
    write_node.body = {"position": 5, "replication": ["not", "an", "object"]}
    monitor = PrimaryMonitor(HttpPrimary(write_node.url))
    monitor.poll()  # no AttributeError: a poll failure like any other
    assert "no object" in str(monitor.view().error)


def test_a_stores_head_is_its_newest_event_and_its_commit_time(tmp_path: Path) -> None:
    from questlog import Store

    path = tmp_path / "head.db"
    with Store.open(path, settings=Settings(db=path)) as store:
        assert read_head(store) == PrimaryHead(0, None)
        store.append("campaign-1", [{"type": "A", "data": {"big": "x" * 100}}] * 3)
        last = list(store.read_all(0))[-1]
        assert read_head(store) == PrimaryHead(last.position, last.recorded_at)
        primary = StorePrimary(str(path))
        try:
            assert primary.head() == PrimaryHead(last.position, last.recorded_at)
        finally:
            primary.close()
