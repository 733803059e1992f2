"""Several processes on one file, and a writer killed with SIGKILL mid-load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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
