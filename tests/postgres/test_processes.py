"""Several writer processes on one PostgreSQL store: a writer killed with SIGKILL in the
middle of its load while another goes on, and processes racing on one stream with
expected versions (each process plans from its own memory of the log; a stale one
must be found out under the log's lock, never written)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from questlog import Store

APPENDER = textwrap.dedent("""
    import sys
    from questlog import Store, NewEvent
    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store.open(url, projectors=[])
    for i in range(count):
        r = store.append(f"{name}-{i % 7}", [NewEvent(type="Tick", data={"i": i})])
        print(r.positions[0], flush=True)
    store.close()
""")

RACER = textwrap.dedent("""
    import sys, time
    from questlog import Store, NewEvent
    from questlog.errors import WrongExpectedVersion
    url, name, wins, log_alone = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = Store.open(url, projectors=[] if log_alone == "1" else None)
    store.append(f"warmup-{name}", [NewEvent(type="Ready")])
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    won = lost = 0
    while won < wins:
        if won + lost > 50 * wins:
            sys.exit(f"{name}: {lost} refusals for {won} appends: refused on stale versions?")
        version = store.stream_version("counter-1")
        try:
            store.append("counter-1", [NewEvent(type="Bumped", data={"by": name})],
                         expected_version=version)
            won += 1
            time.sleep(0.0005)
        except WrongExpectedVersion as exc:
            assert exc.actual > version, (exc.actual, version)  # never an older version
            lost += 1
    print(won, lost)
    store.close()
""")


def _spawn(url: str, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", APPENDER, url, name, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_writer_killed_mid_load_loses_no_returned_event_while_another_writes(
        pg_url: str) -> None:
    Store.open(pg_url, projectors=[]).close()
    victim = _spawn(pg_url, "victim", 1_000_000)
    other = _spawn(pg_url, "other", 300)
    assert victim.stdout is not None
    returned: list[int] = []
    deadline = time.monotonic() + 120
    while len(returned) < 300 and time.monotonic() < deadline:
        line = victim.stdout.readline()
        if not line:
            break
        returned.append(int(line))
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(30)
    out, err = other.communicate(timeout=240)
    assert other.returncode == 0, err
    assert len(returned) >= 300, victim.stderr.read() if victim.stderr else ""
    with Store.open(pg_url, projectors=[]) as store:
        stored = [e.position for e in store.read_all()]
        assert stored == list(range(1, len(stored) + 1)), "positions are gapless"
        assert set(returned) <= set(stored), "an event whose call had returned is missing"
        assert {int(p) for p in out.split()} <= set(stored)
        report = store.verify()
        assert report.ok, report.problems
        assert store.append("after-1", [{"type": "Resumed", "data": {}}]).positions == [
            len(stored) + 1]


@pytest.mark.parametrize("log_alone", ["1", "0"], ids=["log-alone", "inline-projectors"])
def test_processes_racing_on_one_stream_with_expected_versions(pg_url: str,
                                                               log_alone: str) -> None:
    Store.open(pg_url, projectors=[]).close()
    procs = [subprocess.Popen([sys.executable, "-c", RACER, pg_url, f"p{n}", "100", log_alone],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(3)]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.communicate()[1]
    outputs = [p.communicate("go\n", timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    with Store.open(pg_url, projectors=[]) as store:
        events = store.read_stream("counter-1")
        assert [e.stream_version for e in events] == list(range(1, 301))
        assert sorted(Counter(e.data["by"] for e in events).values()) == [100, 100, 100]
        assert store.verify().ok
