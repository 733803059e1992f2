"""Several processes on one file, and a writer killed with SIGKILL mid-load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from questlog import Store

APPENDER = textwrap.dedent("""
    import sys
    from questlog import Store, NewEvent
    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store.open(path, projectors=[])
    for i in range(count):
        r = store.append(f"{name}-{i % 7}", [NewEvent(type="Tick", data={"i": i})])
        print(r.positions[0], flush=True)
    store.close()
""")


def _spawn(path: Path, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", APPENDER, str(path), name, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_four_processes_append_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "multi.db"
    Store.open(path, projectors=[]).close()
    procs = [_spawn(path, f"proc{n}", 300) for n in range(4)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower()
    returned = sorted(int(line) for out, _ in outputs for line in out.split())
    assert returned == list(range(1, 1201)), "every call got a unique, gapless position"
    store = Store.open(path, projectors=[])
    try:
        assert store.head_position() == 1200
        report = store.verify()
        assert report.ok, report.problems
        assert report.streams == 28
    finally:
        store.close()


def test_sigkill_mid_load_loses_no_returned_event(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    Store.open(path, projectors=[]).close()
    proc = _spawn(path, "victim", 1_000_000)
    assert proc.stdout is not None
    returned: list[int] = []
    deadline = time.monotonic() + 60
    while len(returned) < 400 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        returned.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert len(returned) >= 400, proc.stderr.read() if proc.stderr else ""
    store = Store.open(path, projectors=[])
    try:
        stored = {e.position for e in store.read_all()}
        assert set(returned) <= stored, "an event whose call had returned is missing"
        report = store.verify()
        assert report.ok, report.problems
        # The reopened store keeps appending where the log ends.
        r = store.append("after-1", [{"type": "Resumed", "data": {}}])
        assert r.positions == [max(stored) + 1]
    finally:
        store.close()


RACER = textwrap.dedent("""
    import sys, time
    from questlog import Store, NewEvent
    from questlog.errors import WrongExpectedVersion
    path, name, wins, log_alone = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = Store.open(path, projectors=[] if log_alone == "1" else None)
    store.append(f"warmup-{name}", [NewEvent(type="Ready")])  # the writer runs: start together
    time.sleep(max(0.0, float(sys.argv[5]) - time.time()))
    won = lost = 0
    while won < wins:
        if won + lost > 50 * wins:
            sys.exit(f"{name}: {lost} refusals for {won} appends: refused on stale versions?")
        version = store.stream_version("counter-1")
        try:
            store.append("counter-1", [NewEvent(type="Bumped", data={"by": name})],
                         expected_version=version)
            won += 1
            time.sleep(0.0005)  # let the others in between: the race is the point
        except WrongExpectedVersion as exc:
            assert exc.actual > version, (exc.actual, version)  # never an older version
            lost += 1
    print(won, lost)
    store.close()
""")


@pytest.mark.parametrize("log_alone", ["1", "0"], ids=["log-alone", "inline-projectors"])
def test_processes_racing_on_one_stream_with_expected_versions(tmp_path: Path,
                                                               log_alone: str) -> None:
    """Optimistic concurrency across processes: every refusal names a newer version than
    the one the caller read, and every process gets its appends in."""
    path = tmp_path / "race.db"
    Store.open(path, projectors=[]).close()
    start = str(time.time() + 5)  # every process has opened its store and started its writer
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(path), f"p{n}", "150",
                               log_alone, start],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(3)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    store = Store.open(path, projectors=[])
    try:
        events = store.read_stream("counter-1")
        assert [e.stream_version for e in events] == list(range(1, 451))
        assert sorted(Counter(e.data["by"] for e in events).values()) == [150, 150, 150]
        assert store.verify().ok
    finally:
        store.close()
