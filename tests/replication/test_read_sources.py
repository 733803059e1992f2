"""Which source `questlog read-node` serves, and how a read node reads its primary's head
(replication/read_source.py, replication/primary.py). The standby itself is tested on
real servers in tests/postgres/test_standby_read_node.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from questlog.errors import ConfigurationError, ReplicationError
from questlog.replication.primary import (
    HttpPrimary,
    PrimaryHead,
    StorePrimary,
    head_of_health,
    primary_head_source,
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


def test_read_node_without_a_source_says_what_to_give(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    proc = subprocess.run([QUESTLOG, "read-node", "--db", str(tmp_path / "file.db")], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no hot standby" in lines[0] and "--replica" in lines[0]
    assert not (tmp_path / "file.db").exists()  # nothing created
