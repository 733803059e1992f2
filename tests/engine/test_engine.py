"""The projection engine: inline isolation, async parking, version rebuilds, digests."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import engine_helpers as h
import pytest

from questlog import NewEvent, Store
from questlog.errors import ProjectionError, UnknownProjector
from questlog.projection.registry import discover
from questlog.settings import Settings


def ev(type_: str = "Happened", **data: object) -> NewEvent:
    return NewEvent(type=type_, data=dict(data))


def test_registry_finds_generic_models_without_a_list() -> None:
    names = [p.name for p in discover()]
    assert "stream_catalog" in names and "event_counts" in names
    assert names == sorted(names)


def test_inline_failure_fails_only_its_call(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "x.db", projectors=[h.Exploding()])
    try:
        store.append("s-0", [ev()])
        gate, started = threading.Event(), threading.Event()

        def hold(conn: object) -> None:
            started.set()
            gate.wait(10)

        holder = threading.Thread(target=store.write, args=(hold,))
        holder.start()
        started.wait(5)
        results: dict[str, object] = {}

        def call(name: str, boom: bool) -> None:
            try:
                results[name] = store.append(name, [ev(i=1), ev(boom=boom), ev(i=3)])
            except Exception as exc:
                results[name] = exc

        callers = [threading.Thread(target=call, args=(f"s-{n}", n == 2)) for n in (1, 2, 3)]
        for c in callers:
            c.start()
        deadline = time.monotonic() + 10  # all three queued behind the holder: one batch
        while store.writer.queue_depth() < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        for c in callers + [holder]:
            c.join(10)
        assert isinstance(results["s-2"], ProjectionError)
        assert "exploding" in str(results["s-2"]) and "boom" in str(results["s-2"])
        assert store.read_stream("s-2") == []
        # The two other calls, each whole and in one piece, in the order they were queued.
        assert [e.stream_id for e in store.read_all()] in (
            ["s-0"] + ["s-1"] * 3 + ["s-3"] * 3, ["s-0"] + ["s-3"] * 3 + ["s-1"] * 3)
        with store.read() as conn:
            rows = conn.execute("SELECT position, stream_id FROM rm_exploding ORDER BY 1").fetchall()
        assert rows == [(e.position, e.stream_id) for e in store.read_all()]
        assert store.verify().ok
        status = {r["name"]: r for r in store.projections.status()}
        assert status["exploding"]["position"] == store.head_position()
    finally:
        store.close()




@pytest.fixture
def generic_and_failing() -> list[object]:
    return [*discover(), h.AlwaysFailing()]


def test_parked_projector(tmp_path: Path, generic_and_failing: list[object]) -> None:
    settings = Settings(projection_max_failures=3, projection_poll_s=0.01)
    store = Store.open(tmp_path / "p.db", settings=settings,
                       projectors=generic_and_failing)  # type: ignore[arg-type]
    try:
        store.append("s-1", [ev(), ev()])
        poison = store.append("s-1", [ev("Poison")])
        store.append("s-2", [ev()])
        store.projections.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = {r["name"]: r for r in store.projections.status()}
            if status["always_failing"]["state"] == "parked" and status["event_counts"]["lag"] == 0:
                break
            time.sleep(0.05)
        store.projections.stop()
        failing = status["always_failing"]
        assert failing["state"] == "parked"
        assert failing["error_position"] == poison.positions[0]
        assert "cannot handle Poison" in failing["last_error"]
        assert failing["position"] < store.head_position()
        assert status["event_counts"]["lag"] == 0 and status["stream_catalog"]["lag"] == 0
        store.projections.unpark(["always_failing"])
        assert {r["name"]: r for r in store.projections.status()}["always_failing"]["state"] == "live"
        with pytest.raises(UnknownProjector, match="known:"):
            store.projections.unpark(["nope"])
    finally:
        store.close()


def test_changed_version_is_rebuilt_on_open(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    store = Store.open(path, projectors=[h.CounterV1()])
    store.append("a-1", [ev("One"), ev("Two")])
    store.append("b-1", [ev("Three")])
    store.close()
    store = Store.open(path, projectors=[h.CounterV2()])
    try:
        # Reads before the writer starts still see the old, complete model.
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM rm_counter").fetchone()[0] == 2
        store.append("a-1", [ev("Four")])  # starting the writer rebuilds the stale projector
        with store.read() as conn:
            rows = conn.execute("SELECT stream_id, n, last_type FROM rm_counter ORDER BY 1").fetchall()
        assert rows == [("a-1", 3, "Four"), ("b-1", 1, "Three")]
        status = store.projections.status()[0]
        assert status["stored_version"] == 2 and status["state"] == "live" and status["lag"] == 0
    finally:
        store.close()


def test_rebuild_equals_incremental_and_status(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    try:
        for i in range(300):
            store.append(f"campaign-{i % 7}", [ev(f"T{i % 4}", i=i)])
        store.projections.catch_up()
        before = store.projections.hashes()
        store.projections.rebuild(["event_counts", "stream_catalog"])
        assert store.projections.hashes() == before
        with store.read() as conn:
            total = conn.execute("SELECT sum(count) FROM rm_event_counts").fetchone()[0]
            shadows = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name LIKE '%__rb%'"
            ).fetchone()[0]
        assert total == 300 and shadows == 0
        status = {r["name"]: r for r in store.projections.status()}
        assert status["event_counts"]["state"] == "live" and status["event_counts"]["lag"] == 0
    finally:
        store.close()


def test_replay_expect_names_the_differing_model(tmp_path: Path) -> None:
    src = Store.open(tmp_path / "src.db", projectors=[])
    for i in range(30):
        src.append(f"campaign-{i % 3}", [ev("Said", n=i)])
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(e.envelope()) + "\n" for e in src.read_all()))
    src.close()
    cmd = [sys.executable, "-m", "questlog.cli", "--db", str(tmp_path / "a.db"), "--json",
           "replay", str(log)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    digests = json.loads(first.stdout)["digests"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(digests))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**digests, "event_counts": "0" * 64}))
    cmd_b = [sys.executable, "-m", "questlog.cli", "--db", str(tmp_path / "b.db"), "replay",
             str(log)]
    ok = subprocess.run([*cmd_b, "--expect", str(good)], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "digests match" in ok.stdout
    mismatch = subprocess.run([*cmd_b, "--expect", str(bad)], capture_output=True, text=True,
                              timeout=120)
    assert mismatch.returncode != 0
    assert "event_counts" in mismatch.stderr and "Traceback" not in mismatch.stderr


def test_inline_projector_closes_a_gap_left_by_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "gap.db"
    with_projector = Store.open(path, projectors=[h.CounterV1()])
    with_projector.append("a-1", [ev()])
    without = Store.open(path, projectors=[])  # e.g. another process running the log alone
    without.append("a-1", [ev(), ev()])
    without.append("b-1", [ev()])
    without.close()
    with_projector.append("b-1", [ev()])  # the next batch closes the gap, in order
    with with_projector.read() as conn:
        rows = conn.execute("SELECT stream_id, n FROM rm_counter ORDER BY 1").fetchall()
    assert rows == [("a-1", 3), ("b-1", 2)]
    with_projector.projections.catch_up()
    with with_projector.read() as conn:
        again = conn.execute("SELECT stream_id, n FROM rm_counter ORDER BY 1").fetchall()
    assert again == rows, "catch-up after the gap applied nothing twice"
    with_projector.close()


def test_a_batch_that_writes_nothing_never_moves_checkpoints_back(tmp_path: Path) -> None:
    """The writer plans from what it remembers of the log; a batch that writes no event
    (an idempotent retry) must not move inline checkpoints to a head another process has
    passed, or the next batch would project that process's events a second time."""
    import uuid

    path = tmp_path / "tip.db"
    a = Store.open(path, projectors=[h.CounterV1()])
    b = Store.open(path, projectors=[h.CounterV1()])
    try:
        retried = NewEvent(type="Counted", event_id=uuid.uuid4())
        a.append("s-1", [retried])
        a.append("s-1", [NewEvent(type="Counted")])
        b.append("s-2", [NewEvent(type="Counted")])
        b.append("s-2", [NewEvent(type="Counted")])
        assert a.append("s-1", [retried]).positions == [1]  # a retry: writes nothing
        a.append("s-3", [NewEvent(type="Counted")])
        with a.read() as conn:
            counts = dict(conn.execute("SELECT stream_id, n FROM rm_counter").fetchall())
            (position,) = conn.execute("SELECT position FROM projector_checkpoints "
                                       "WHERE name = 'counter'").fetchone()
        assert counts == {"s-1": 2, "s-2": 2, "s-3": 1}
        assert position == a.head_position() == 5
    finally:
        a.close()
        b.close()
