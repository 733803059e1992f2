"""Writers leave checkpoints to a `questlog replicate` that watches their file (issue 17 pt 12).

Real processes and the real Litestream binary: `questlog replicate` runs as its own
process beside a writer in this process, started after the writer opened the store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from questlog import Store
from questlog.checkpoint_guard import (
    ReplicationLock,
    replicate_lock_path,
    replication_watching,
    unadvertised_writers,
)
from questlog.events import NewEvent
from questlog.sqlite import wal

QUESTLOG = str(Path(sys.executable).parent / "questlog")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}


def _end(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[str, str]:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.communicate(timeout=5)


@contextlib.contextmanager
def replicate(db: Path, replica: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`questlog replicate` as its own process, yielded with what it printed until
    Litestream was up."""
    proc = subprocess.Popen([QUESTLOG, "--db", str(db), "replicate", "--replica",
                             f"file://{replica}"], env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("replicating "):
                break
        else:
            pytest.fail(f"replicate did not start: {''.join(lines)}")
        yield proc, "".join(lines)
    finally:
        _end(proc)


def _autocheckpoint(store: Store) -> int:
    """The writer connection's wal_autocheckpoint, read inside a write batch (after the
    writer made its checkpoint decision for that batch)."""
    store.append("tick", [NewEvent(type="Tick", data={})])
    return int(store.write(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]))


def test_writer_stops_checkpointing_when_replicate_starts_after_it(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = Store.open(db, projectors=[])  # no QUESTLOG_LITESTREAM_ACTIVE
    try:
        assert _autocheckpoint(store) > 0  # alone, the writer checkpoints as SQLite does
        with replicate(db, tmp_path / "replica"):
            assert replication_watching(db.resolve())
            assert _autocheckpoint(store) == 0
        assert _autocheckpoint(store) > 0  # replicate gone: checkpoints are the writer's again
        assert not replicate_lock_path(db.resolve()).exists()
    finally:
        store.close()


def test_a_killed_replicate_releases_its_lock(tmp_path: Path) -> None:
    db = (tmp_path / "k.db").resolve()
    db.touch()
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from questlog.checkpoint_guard import ReplicationLock; "
         "lock = ReplicationLock(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)",
         str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert replication_watching(db)
        with pytest.raises(BlockingIOError):
            ReplicationLock(db)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert replicate_lock_path(db).exists()  # left behind by the SIGKILL ...
    assert not replication_watching(db)  # ... but no longer held
    lock = ReplicationLock(db)  # and a new replicate takes it over
    assert replication_watching(db)
    lock.release()
    assert not replication_watching(db)


def test_a_second_replicate_on_the_same_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "two.db"
    Store.open(db, projectors=[]).close()
    with replicate(db, tmp_path / "r1") as (first, _):
        second = subprocess.run([QUESTLOG, "--db", str(db), "replicate", "--replica",
                                 f"file://{tmp_path / 'r2'}"], env=_env(), text=True,
                                capture_output=True, timeout=60)
        assert second.returncode != 0
        assert f"already replicated by another process (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr


def test_replicate_warns_about_a_writer_outside_questlog(tmp_path: Path) -> None:
    db = tmp_path / "foreign.db"
    Store.open(db, projectors=[]).close()
    # A plain SQLite writer (WAL, SQLite's default autocheckpoint) holding the file open.
    foreign = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('CREATE TABLE IF NOT EXISTS t (x)'); c.commit(); "
         "print('open', flush=True); time.sleep(60)", str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert foreign.stdout is not None and foreign.stdout.readline().strip() == "open"
        assert [pid for pid, _ in unadvertised_writers(db)] == [foreign.pid]
        with replicate(db, tmp_path / "replica") as (_, startup):
            pass
        warnings = [line for line in startup.splitlines() if "outside questlog" in line]
        assert len(warnings) == 1 and str(foreign.pid) in warnings[0], startup
    finally:
        os.kill(foreign.pid, signal.SIGKILL)
        foreign.wait(10)


def test_replicate_is_quiet_beside_questlog_writers(tmp_path: Path) -> None:
    db = tmp_path / "ours.db"
    store = Store.open(db, projectors=[])  # this process writes, and says so (writer marker)
    try:
        store.append("s", [NewEvent(type="Tick", data={})])
        assert unadvertised_writers(db) == []
        with replicate(db, tmp_path / "replica") as (_, startup):
            pass
        assert "outside questlog" not in startup
    finally:
        store.close()


def test_no_lock_is_trusted_briefly_and_a_new_lock_is_seen_before_it_is_announced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer asks about the replicate lock at most every ABSENT_RECHECK_S while there is
    none (each question is a system call that costs the writer a GIL hand-off), and the
    lock waits that long after it is taken, so no writer still checkpoints after it."""
    db = (tmp_path / "g.db").resolve()
    Store.open(db, projectors=[]).close()
    probes: list[str] = []
    real = wal.held_by_someone_else

    def counted(path: str) -> bool:
        probes.append(path)
        return real(path)

    monkeypatch.setattr(wal, "held_by_someone_else", counted)
    guard = wal.CheckpointGuard(db, litestream_always=False)
    assert guard.checkpoints_allowed() and guard.checkpoints_allowed()
    assert len(probes) == 1  # the second answer came from the first
    lock = ReplicationLock(db)  # returns only after the first answer has expired
    try:
        assert not guard.checkpoints_allowed()
        assert not guard.checkpoints_allowed()
        assert len(probes) == 3  # a held lock is asked about every time
    finally:
        lock.release()
    assert guard.checkpoints_allowed()  # gone: checkpoints are the writer's again at once
