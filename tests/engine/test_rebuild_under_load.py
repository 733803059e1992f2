"""A rebuild of a 200k-event log never shows readers an empty or half-built model;
a process killed during catch-up or rebuild converges and applies nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from questlog import NewEvent, Store
from questlog.settings import Settings

N_EVENTS = 200_000


def _fill(store: Store, total: int, per_call: int = 2000) -> None:
    for start in range(0, total, per_call):
        store.append(f"campaign-{start // per_call % 50}",
                     [NewEvent(type=f"T{i % 5}", data={"i": start + i}) for i in range(per_call)])


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    store = Store.open(path, settings=Settings(durability="NORMAL"))
    _fill(store, N_EVENTS)
    store.projections.catch_up()
    store.close()
    return path


def test_readers_never_see_a_partial_model_during_rebuild(big_log: Path) -> None:
    store = Store.open(big_log)
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    polls = [0]

    def reader() -> None:
        while not stop.is_set():
            with store.read() as conn:
                total = conn.execute("SELECT coalesce(sum(count), 0) FROM rm_event_counts"
                                     ).fetchone()[0]
                streams = conn.execute("SELECT count(*) FROM rm_stream_catalog").fetchone()[0]
            polls[0] += 1
            if (total, streams) != (N_EVENTS, 50):
                seen.append((total, streams))

    t = threading.Thread(target=reader)
    t.start()
    try:
        before = store.projections.hashes()
        store.projections.rebuild(["event_counts", "stream_catalog"])
        after = store.projections.hashes()
    finally:
        stop.set()
        t.join()
        store.close()
    assert seen == [], f"a reader saw a partial model: {seen[:5]}"
    assert polls[0] > 10
    assert after == before


WORKER = textwrap.dedent("""
    import sys
    from questlog import Store
    from questlog.settings import Settings
    path, what = sys.argv[1], sys.argv[2]
    store = Store.open(path, settings=Settings(projection_batch_size=500))
    print("ready", flush=True)
    if what == "catch_up":
        store.projections.catch_up(["event_counts", "stream_catalog"])
    else:
        store.projections.rebuild(["event_counts", "stream_catalog"])
    print("done", flush=True)
""")


@pytest.mark.parametrize("what", ["catch_up", "rebuild"])
def test_sigkill_during_projection_converges(tmp_path: Path, what: str) -> None:
    path = tmp_path / f"{what}.db"
    store = Store.open(path, settings=Settings(durability="NORMAL"))
    _fill(store, 60_000)
    if what == "rebuild":
        store.projections.catch_up()
    live_before = store.projections.hashes()
    store.close()
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(path), what],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    # Kill it once it has made some progress but (very likely) not finished.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        check = Store.open(path)
        status = {r["name"]: r for r in check.projections.status()}
        check.close()
        ec = status["event_counts"]
        progress = ec["rebuild_position"] if what == "rebuild" else ec["position"]
        if progress and progress > 0:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    store = Store.open(path)
    try:
        if what == "rebuild":
            # The interrupted rebuild left the live model untouched.
            assert store.projections.hashes() == live_before
            store.projections.rebuild(["event_counts", "stream_catalog"])  # starts again
        store.projections.catch_up()
        converged = store.projections.hashes()
        with store.read() as conn:
            total = conn.execute("SELECT sum(count) FROM rm_event_counts").fetchone()[0]
        assert total == store.head_position() == 60_000, "an event was applied twice or skipped"
        store.projections.rebuild(["event_counts", "stream_catalog"])
        assert store.projections.hashes() == converged
        assert store.verify().ok
    finally:
        store.close()
