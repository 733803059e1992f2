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

import pg_load
import pytest

from questlog import Store

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


def test_a_writer_killed_mid_load_loses_no_returned_event_while_another_writes(
        pg_url: str) -> None:
    Store.open(pg_url, projectors=[]).close()
    victim = pg_load.spawn_writer(pg_url, "victim", count=1_000_000)
    other = pg_load.spawn_writer(pg_url, "other", count=300)
    assert victim.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while len(lines) < 300 and time.monotonic() < deadline:
        line = victim.stdout.readline()
        if not line:
            break
        lines.append(line)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(30)
    out, err = other.communicate(timeout=240)
    assert other.returncode == 0, err
    returned = pg_load.acknowledged(lines)
    assert len(returned) >= 250, victim.stderr.read() if victim.stderr else ""
    with Store.open(pg_url, projectors=[]) as store:
        stored = {e.event_id: e.position for e in store.read_all()}
        assert sorted(stored.values()) == list(range(1, len(stored) + 1)), "gapless"
        assert {i: stored.get(i) for i in returned} == returned, (
            "an event whose call had returned is missing or moved")
        others = pg_load.acknowledged(out.splitlines())
        assert len(others) >= 300
        assert {i: stored.get(i) for i in others} == others
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
