"""A read node on a PostgreSQL hot standby (issue 12, point 5), on real servers.

A primary of its own (pgserver), a standby made from it with `pg_basebackup -R` and
started from the same binaries on its own socket directory, and `questlog read-node
--db <standby>` as a process on 127.0.0.1. Appends go to the primary through a
Store; the node must serve them once replayed, wait for `min_position`, refuse
writes with 403, and report its lag honestly — including while replay is paused.
Every process started here is stopped by its PID or data directory, even on failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from questlog import NewEvent, Store
from questlog.errors import ReadOnlyStore
from questlog.replication.standby import StandbyReadNode

QUESTLOG = str(Path(sys.executable).parent / "questlog")
TOKEN = "standby-test-token"
STANDBY_PORT = 5433  # its own socket directory: never meets the primary's socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pgserver() -> Any:
    """pgserver, or a skip on a user's machine without it (a failure under CI=true)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR as root
            import pgserver
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but pgserver is not installed (bash ops/setup.sh)")
        pytest.skip("pgserver is not installed")
    return pgserver


@dataclass
class Pair:
    primary_url: str   # the store's database on the primary
    standby_url: str   # the same database on the standby
    standby_pgdata: Path
    system_user: str | None

    def sql_on_standby(self, statement: str) -> Any:
        with psycopg.connect(self.standby_url, autocommit=True) as conn:
            return conn.execute(statement).fetchone()


def _database_url(server_uri: str, database: str, *, host: str | None = None,
                  port: int | None = None) -> str:
    import sqlalchemy as sa

    url = sa.make_url(server_uri).set(database=database)
    if host is not None:
        url = url.update_query_dict({"host": host, "port": str(port)})
    return url.render_as_string(hide_password=False)


def _own(path: Path, user: str | None, mode: int) -> None:
    """The directories the server's OS user must own (pgserver runs it as its own user
    when the tests run as root)."""
    if user is not None:
        os.chown(path, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    path.chmod(mode)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    pgserver = _pgserver()
    from pgserver._commands import pg_basebackup, pg_ctl

    directory = Path(tempfile.mkdtemp(prefix="questlog-standby-"))
    directory.chmod(0o755)  # the server's user walks through it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(directory / "primary", cleanup_mode="stop")
    user = server.system_user
    standby = directory / "standby"
    sockets = directory / "standby-socket"
    started = False
    try:
        base = server.get_uri()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute("CREATE DATABASE standby_store")
        primary_url = _database_url(base, "standby_store")
        Store.open(primary_url).close()  # the schema, made on the primary only
        standby.mkdir()
        sockets.mkdir()
        _own(standby, user, 0o700)
        _own(sockets, user, 0o777)
        pg_basebackup(["-D", str(standby), "-R", "-X", "stream", "-c", "fast",
                       "-d", base], user=user, timeout=60)
        pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {sockets}", "-o", f"-p {STANDBY_PORT}",
                "-l", str(standby / "standby.log"), "start"],
               pgdata=standby, user=user, timeout=60)
        started = True
        yield Pair(primary_url, _database_url(base, "standby_store", host=str(sockets),
                                              port=STANDBY_PORT), standby, user)
    finally:
        if started or (standby / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=standby, user=user, timeout=60)
        server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


def _wait(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _append(primary: Store, stream: str, n: int) -> list[int]:
    events = [NewEvent(type="Tick", data={"i": i}) for i in range(n)]
    return primary.append(stream, events).positions


@contextlib.contextmanager
def _read_node(pair: Pair, tmp_path: Path, *extra: str) -> Iterator[str]:
    """`questlog read-node --db <standby>` on a free port; ended by its PID."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env["QUESTLOG_API_TOKEN"] = TOKEN
    log_path = tmp_path / "read-node.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [QUESTLOG, "read-node", "--db", pair.standby_url, "--port", str(port),
             "--min-position-timeout", "1", "--log-level", "warning", *extra],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, log_path.read_text()
            try:
                return bool(httpx.get(f"{url}/health", timeout=2).status_code == 200)
            except httpx.HTTPError:
                return False

        assert _wait(up, 30), log_path.read_text()
        yield url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _events(url: str, stream: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}/streams/{stream}", params=params, timeout=10)


def test_read_node_on_a_standby_follows_the_primary(pair: Pair, tmp_path: Path) -> None:
    with Store.open(pair.primary_url) as primary, \
            _read_node(pair, tmp_path, "--primary", pair.primary_url) as url:
        health = httpx.get(f"{url}/health", timeout=5).json()
        assert health["role"] == "read" and health["replication"]["standby"] is True
        assert health["replication"]["source"] == "standby"

        # Read your writes: a position just appended on the primary, read on the standby.
        positions = _append(primary, "campaign-standby", 3)
        resp = _events(url, "campaign-standby", min_position=positions[-1])
        assert resp.status_code == 200, resp.text
        assert [e["position"] for e in resp.json()["events"]] == positions

        # Caught up: no position missing, no second of lag, nothing waiting for replay.
        def caught_up() -> bool:
            h = httpx.get(f"{url}/health", timeout=5).json()
            return bool(h["position"] == positions[-1] and h["primary_position"] == positions[-1])

        assert _wait(caught_up), httpx.get(f"{url}/health", timeout=5).json()
        health = httpx.get(f"{url}/health", timeout=5).json()
        assert health["status"] == "ok" and health["lag_positions"] == 0
        assert health["lag_seconds"] == 0.0
        assert health["commit_time"] == primary.read_all(positions[-1], 1).__next__().recorded_at
        replication = health["replication"]
        assert replication["replay_behind_bytes"] == 0 and replication["replay_delay_s"] == 0.0
        assert replication["replayed_wal"] == replication["received_wal"]
        assert replication["primary_error"] is None
        assert replication["standby_url"].startswith("postgresql://")

        # The other read routes run on the read-only store too (nothing they do writes).
        log_page = httpx.get(f"{url}/v1/events", params={"min_position": positions[-1]},
                             timeout=10)
        assert log_page.status_code == 200
        assert [e["position"] for e in log_page.json()["events"]][-3:] == positions
        status = httpx.get(f"{url}/v1/projections", timeout=10)
        assert status.status_code == 200, status.text
        assert status.json()["head_position"] == positions[-1]
        metrics = httpx.get(f"{url}/metrics", timeout=10)
        assert metrics.status_code == 200
        assert f"questlog_head_position {positions[-1]}" in metrics.text

        # Writes: 403 whatever the token, and nothing written on either server.
        body = {"expected_version": "any", "events": [{"type": "Hack", "data": {}}]}
        for headers in ({"Authorization": f"Bearer {TOKEN}"}, {}):
            resp = httpx.post(f"{url}/streams/campaign-standby/events", json=body,
                              headers=headers, timeout=10)
            assert resp.status_code == 403, resp.text
            assert resp.json()["error"] == "read_only_replica"
            assert "read-only replica" in resp.json()["detail"]
        assert primary.head_position() == positions[-1]

        # Replay paused: the node falls behind, says by how much, and min_position waits
        # (bounded) then answers 503 as on a Litestream read node.
        pair.sql_on_standby("SELECT pg_wal_replay_pause()")
        try:
            assert _wait(lambda: pair.sql_on_standby("SELECT pg_get_wal_replay_pause_state()")
                         == ("paused",))
            later = _append(primary, "campaign-standby", 2)

            def behind() -> bool:
                h = httpx.get(f"{url}/health", timeout=5).json()
                return bool(h["primary_position"] == later[-1])

            assert _wait(behind), httpx.get(f"{url}/health", timeout=5).json()
            health = httpx.get(f"{url}/health", timeout=5).json()
            assert health["position"] == positions[-1]
            assert health["lag_positions"] == 2
            assert health["lag_seconds"] is not None and health["lag_seconds"] >= 0.0
            assert health["status"] == "degraded" and "paused" in health["reason"]
            assert health["replication"]["replay_paused"] is True
            started = time.monotonic()
            resp = _events(url, "campaign-standby", min_position=later[-1])
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"] == "min_position_not_reached"
            assert time.monotonic() - started >= 0.9  # it waited --min-position-timeout
        finally:
            pair.sql_on_standby("SELECT pg_wal_replay_resume()")
        resp = _events(url, "campaign-standby", min_position=later[-1])
        assert resp.status_code == 200, resp.text
        assert [e["position"] for e in resp.json()["events"]] == positions + later
        assert _wait(lambda: httpx.get(f"{url}/health", timeout=5).json()["lag_positions"] == 0)


def test_without_a_primary_the_node_reports_replay_lag_only(pair: Pair) -> None:
    with Store.open(pair.primary_url) as primary, StandbyReadNode(pair.standby_url) as node:
        last = _append(primary, "campaign-alone", 1)[-1]
        assert _wait(lambda: node.position() >= last)
        assert _wait(lambda: node.health()["lag_seconds"] == 0.0)
        health = node.health()
        # The standby cannot know what it has not received: no position lag, no primary.
        assert health["lag_positions"] is None and health["primary_position"] is None
        assert health["position"] >= last and health["status"] == "ok"
        assert health["replication"]["last_replayed_commit_at"] is not None
        assert not _wait(lambda: node.position() >= last + 1000, 0.2)
        # Opened read-only without LISTEN (a standby refuses it): pollers poll.
        assert node.store.read_only and node.store.commit_signal() is None


def test_a_writer_is_refused_on_a_standby_in_one_line(pair: Pair) -> None:
    with Store.open(pair.primary_url) as primary:
        last = _append(primary, "campaign-refused", 1)[-1]
    assert _wait(lambda: pair.sql_on_standby("SELECT max(position) FROM events") == (last,))
    before = pair.sql_on_standby("SELECT count(*) FROM events")
    with pytest.raises(ReadOnlyStore, match="hot standby"):
        Store.open(pair.standby_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    for argv in (["serve", "--port", str(free_port())],
                 ["events", "append", "campaign-refused", "Tick", "--data", "{}"]):
        proc = subprocess.run([QUESTLOG, "--db", pair.standby_url, *argv], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "hot standby" in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
    # Reading commands open it read-only and work.
    proc = subprocess.run([QUESTLOG, "--db", pair.standby_url, "--json", "events", "read",
                           "campaign-refused"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "Tick" in proc.stdout, proc.stderr
    assert pair.sql_on_standby("SELECT count(*) FROM events") == before
