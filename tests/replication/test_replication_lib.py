"""The replication library against the real Litestream binary, in this process."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from questlog import Store
from questlog.cli import cli
from questlog.errors import ReplicationError
from questlog.events import NewEvent
from questlog.replication import (
    Follower,
    LitestreamOptions,
    ReadNode,
    Replicator,
    format_timestamp,
    format_txid,
    list_ltx,
    normalize_replica_url,
    render_config,
    restore,
)
from questlog.replication.restore import restore_store
from questlog.replication.supervisor import forward_line
from questlog.settings import Settings


def _tick(store: Store, stream: str, n: int = 1) -> list[int]:
    return store.append(stream, [NewEvent(type="Tick", data={"i": i}) for i in range(n)]).positions


# -- pure parts ---------------------------------------------------------------------------


def test_config_names_every_knob_and_enables_the_control_socket(tmp_path: Path) -> None:
    opts = LitestreamOptions(sync_interval_s=0.3, monitor_interval_s=0.05, l0_retention_s=600)
    text = render_config(tmp_path / "a b.db", str(tmp_path / "rep"), tmp_path / "s.sock", opts)
    assert "socket:\n  enabled: true" in text
    assert f'path: "{tmp_path / "s.sock"}"' in text
    assert f'url: "file://{tmp_path / "rep"}"' in text  # a plain path became a file:// URL
    assert "sync-interval: 300ms" in text and "monitor-interval: 50ms" in text
    assert "l0-retention: 600000ms" in text and "busy-timeout: 5000ms" in text


def test_replica_urls_are_normalized_or_refused(tmp_path: Path) -> None:
    assert normalize_replica_url("s3://bucket/db") == "s3://bucket/db"
    assert normalize_replica_url(f"file://{tmp_path}") == f"file://{tmp_path}"
    with pytest.raises(ReplicationError, match="absolute path"):
        normalize_replica_url("file://relative/x")
    with pytest.raises(ReplicationError, match="empty"):
        normalize_replica_url("  ")


def test_timestamps_and_txids_are_formatted_for_litestream() -> None:
    assert format_timestamp("2026-01-31T12:00:00+01:00") == "2026-01-31T11:00:00.000000Z"
    assert format_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"
    assert format_txid(26) == format_txid("0x1a") == "000000000000001a"
    with pytest.raises(ReplicationError, match="invalid timestamp"):
        format_timestamp("yesterday")
    with pytest.raises(ReplicationError, match="hexadecimal"):
        format_txid("xyz")


def test_litestream_lines_are_logged_at_their_level(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("questlog.test.forward")
    with caplog.at_level(logging.DEBUG, logger="questlog.test.forward"):
        forward_line(logger, 'time=x level=WARN msg="slow"')
        forward_line(logger, "time=x level=ERROR msg=boom")
        forward_line(logger, "no level here")
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR, logging.INFO]


# -- errors ------------------------------------------------------------------------------


def test_missing_binary_is_a_clear_error(primary: Store, tmp_path: Path) -> None:
    opts = LitestreamOptions(binary=str(tmp_path / "no-litestream"))
    with pytest.raises(ReplicationError, match="litestream binary not found"):
        Replicator.for_store(primary, f"file://{tmp_path / 'r'}", options=opts).start()
    with pytest.raises(ReplicationError, match="litestream binary not found"):
        restore(f"file://{tmp_path / 'r'}", tmp_path / "x.db", binary=str(tmp_path / "nope"))


def test_empty_or_missing_replica_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for url in (f"file://{tmp_path / 'empty'}", f"file://{tmp_path / 'missing'}"):
        with pytest.raises(ReplicationError, match="empty or does not exist"):
            restore(url, tmp_path / "out.db")
        with pytest.raises(ReplicationError, match="empty or does not exist"):
            Follower(url, tmp_path / "node").start(timeout=5)
    assert not (tmp_path / "out.db").exists()


def test_cli_restore_from_an_empty_replica_fails_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["restore", "--replica", f"file://{tmp_path / 'none'}",
                                      "-o", str(tmp_path / "o.db")])
    assert result.exit_code != 0
    assert "empty or does not exist" in str(result.exception or result.output)


def test_wait_for_an_uncommitted_position_is_refused(replicator: Replicator,
                                                     primary: Store) -> None:
    head = primary.head_position()
    with pytest.raises(ReplicationError, match="not committed"):
        replicator.wait_replicated(head + 5, timeout=2)


# -- replicate, wait, restore ---------------------------------------------------------------


def test_wait_replicated_puts_the_position_on_the_replica(replicator: Replicator,
                                                          primary: Store, tmp_path: Path) -> None:
    positions = _tick(primary, "campaign-1", 3)
    ack = replicator.wait_replicated(positions[-1], timeout=10)
    assert ack.position == positions[-1] and ack.replicated_txid >= ack.txid
    assert replicator.replicated_position >= positions[-1]
    # a position already covered returns without another sync
    again = replicator.wait_replicated(positions[0], timeout=10)
    assert again.elapsed_s < 0.05
    result = restore(replicator.replica_url, tmp_path / "copy.db")
    assert result.txid >= ack.txid
    copy = Store.open(result.path, read_only=True)
    try:
        assert [e.position for e in copy.read_all()] == positions
    finally:
        copy.close()
    status = replicator.status()
    assert status.pid is not None and status.replicated_at is not None


def test_supervisor_restarts_killed_litestream_without_loss(replicator: Replicator,
                                                            primary: Store,
                                                            tmp_path: Path) -> None:
    first = replicator.process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    positions = _tick(primary, "campaign-2", 10)
    deadline = time.monotonic() + 20
    while replicator.process.pid in (None, first) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert replicator.process.pid not in (None, first)
    assert replicator.process.restarts == 1
    replicator.wait_replicated(positions[-1], timeout=15)
    copy = restore_store(replicator.replica_url, tmp_path / "after-kill.db")
    assert copy.head_position == positions[-1]
    assert copy.verify["ok"] is True


def test_point_in_time_restore_holds_exactly_what_came_before(replicator: Replicator,
                                                              primary: Store,
                                                              tmp_path: Path) -> None:
    before = _tick(primary, "campaign-pitr", 4)
    replicator.wait_replicated(before[-1])
    time.sleep(1.2)
    moment = datetime.now(UTC)
    time.sleep(1.2)
    after = _tick(primary, "campaign-pitr", 3)
    replicator.wait_replicated(after[-1])

    at_t = restore_store(replicator.replica_url, tmp_path / "at-t.db", timestamp=moment)
    assert at_t.head_position == before[-1]
    assert at_t.verify["ok"] is True
    inline = [p for p in at_t.projections if p["mode"] == "inline"]
    assert inline and all(p["position"] == before[-1] for p in inline)

    store = Store.open(tmp_path / "at-t.db", read_only=True)
    try:
        assert [e.position for e in store.read_all()] == before
        assert all(e.recorded_at < format_timestamp(moment) for e in store.read_all())
    finally:
        store.close()

    latest = restore_store(replicator.replica_url, tmp_path / "latest.db")
    assert latest.head_position == after[-1]

    # the same point through the CLI, by txid this time
    txid = str(at_t.as_dict()["txid"])
    result = CliRunner().invoke(cli, ["--json", "restore", "--replica", replicator.replica_url,
                                      "-o", str(tmp_path / "by-txid.db"), "--txid", txid])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["head_position"] == before[-1]


def test_restore_refuses_to_overwrite_unless_forced(replicator: Replicator, primary: Store,
                                                     tmp_path: Path) -> None:
    _tick(primary, "campaign-3")
    replicator.wait_replicated()
    out = tmp_path / "twice.db"
    restore(replicator.replica_url, out)
    with pytest.raises(ReplicationError, match="already exists"):
        restore(replicator.replica_url, out)
    assert restore(replicator.replica_url, out, force=True).path == out.resolve()


# -- follower ------------------------------------------------------------------------------


def test_follower_detects_a_stall_and_restores_afresh(replicator: Replicator, primary: Store,
                                                      tmp_path: Path) -> None:
    _tick(primary, "campaign-f")
    replicator.wait_replicated()
    opts = LitestreamOptions(stall_after_s=0.5)
    follower = Follower(replicator.replica_url, tmp_path / "node", options=opts).start()
    try:
        pid = follower.pid
        assert pid is not None and follower.txid() is not None
        os.kill(pid, signal.SIGSTOP)  # alive but no longer applying: litestream#1515's symptom
        positions = _tick(primary, "campaign-f", 5)
        replicator.wait_replicated(positions[-1])
        assert not follower.check_stall()  # first observation only records the txid
        stalled_at = follower.txid()
        deadline = time.monotonic() + 10
        stalled = False
        while not stalled and time.monotonic() < deadline:
            time.sleep(0.2)
            stalled = follower.check_stall()
        assert stalled and follower.stalls == 1
        replica_txid = follower.replica_txid()
        assert stalled_at is not None and replica_txid > stalled_at
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if follower.pid not in (None, pid) and follower.txid() == replica_txid:
                break
            time.sleep(0.05)
        assert follower.pid not in (None, pid), "a new follower process"
        assert follower.txid() == replica_txid, "restored afresh up to the replica's txid"
        assert follower.restarts == 1
        node = Store.open(follower.path, read_only=True)
        try:
            assert node.head_position() == positions[-1]
        finally:
            node.close()
    finally:
        follower.stop()
    assert list_ltx(replicator.replica_url)


def test_replicate_command_runs_litestream_beside_a_writer(tmp_path: Path) -> None:
    """`questlog replicate` as its own process while this process writes."""
    import subprocess
    import sys

    path = tmp_path / "sidecar.db"
    replica = f"file://{tmp_path / 'sidecar-replica'}"
    writer = Store.open(path, settings=Settings(db=path))
    questlog = str(Path(sys.executable).parent / "questlog")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    proc = subprocess.Popen([questlog, "--db", str(path), "--json", "replicate", "--replica",
                             replica, "--log-level", "warning"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert "replicating" in proc.stderr.readline()  # Litestream is up
        positions = _tick(writer, "campaign-side", 5)  # written while it runs
        os.kill(proc.pid, signal.SIGTERM)  # stops after a final sync
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert json.loads(out)["replica_url"] == replica
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        writer.close()
    restored = restore_store(replica, tmp_path / "side-restored.db")
    assert restored.head_position == positions[-1] and restored.verify["ok"] is True


def test_ops_template_is_a_config_litestream_accepts(tmp_path: Path) -> None:
    import subprocess

    from questlog.replication import find_binary

    template = Path(__file__).resolve().parents[2] / "ops" / "litestream.yml.tmpl"
    env = {**os.environ, "QUESTLOG_LITESTREAM_SOCKET": str(tmp_path / "s.sock"),
           "QUESTLOG_DB": str(tmp_path / "t.db"),
           "QUESTLOG_REPLICA_URL": f"file://{tmp_path / 'rep'}"}
    proc = subprocess.run([find_binary(), "databases", "-config", str(template)], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "t.db") in proc.stdout and "file" in proc.stdout


def test_unreachable_replica_fails_start_with_litestreams_reason(primary: Store,
                                                                 tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    rep = Replicator.for_store(primary, f"file://{blocker / 'replica'}")
    with pytest.raises(ReplicationError, match="not confirmed on replica.*not a directory"):
        rep.start(timeout=3)
    assert rep._process is None  # stopped and cleaned up, nothing left running


def _reaches(node: ReadNode, position: int, timeout: float) -> bool:
    """Whether a read node serves `position` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while node.position() < position:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def test_read_node_reports_lag_and_a_stalled_follower(replicator: Replicator, primary: Store,
                                                      tmp_path: Path) -> None:
    first = _tick(primary, "campaign-rn", 2)
    replicator.wait_replicated(first[-1])
    node = ReadNode(replicator.replica_url, tmp_path / "rn",
                    options=LitestreamOptions(stall_after_s=0.5), monitor_interval_s=3600)
    node.start()
    try:
        assert _reaches(node, first[-1], 10)
        node.poll_once(force=True)
        health = node.health()
        assert health["role"] == "read" and health["status"] == "ok"
        assert health["position"] == first[-1] and health["lag_seconds"] == 0.0
        assert health["lag_positions"] is None  # no --primary: positions are unknown
        follower_pid = node.follower.pid
        assert follower_pid is not None
        os.kill(follower_pid, signal.SIGSTOP)
        later = _tick(primary, "campaign-rn", 3)
        replicator.wait_replicated(later[-1])
        node.poll_once(force=True)
        time.sleep(0.6)
        node.poll_once(force=True)  # stalled: restarts the follower afresh
        assert node.follower.stalls == 1
        assert _reaches(node, later[-1], 20)
        health = node.health()
        assert health["replication"]["stalls_detected"] == 1
        assert health["replication"]["follower_pid"] not in (None, follower_pid)
        assert not _reaches(node, later[-1] + 1, 0.2)
    finally:
        node.stop()
