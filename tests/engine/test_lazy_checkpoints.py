"""Batches no inline projector handles take the log-alone path, and the checkpoints they
pass over advance lazily: exactly once and crash safe (issue 13, point 1)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import engine_helpers as h
import pytest

from questlog import Store, planner
from questlog.events import RecordedEvent
from questlog.projection.inline import LAZY_LIMIT

HELPERS = Path(__file__).with_name("engine_helpers.py")


def scored(amount: int = 1) -> dict[str, object]:
    return {"type": "Scored", "data": {"amount": amount}}


def pinged(n: int = 1) -> list[dict[str, object]]:
    return [{"type": "Pinged", "data": {"seq": i}} for i in range(n)]


def tallies(store: Store) -> dict[str, tuple[int, int]]:
    with store.read() as conn:
        return {s: (t, n) for s, t, n in conn.execute(
            "SELECT stream_id, total, events FROM rm_tally").fetchall()}


def stored_checkpoint(store: Store) -> int:
    with store.read() as conn:
        (position,) = conn.execute(
            "SELECT position FROM projector_checkpoints WHERE name = 'tally'").fetchone()
    return int(position)


def tally_status(store: Store) -> dict[str, object]:
    return next(r for r in store.projections.status() if r["name"] == "tally")


def test_unhandled_events_take_the_single_statement_and_checkpoints_follow_lazily(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "lazy.db", projectors=[h.Tally()])
    try:
        store.append("game-1", [scored(3)])
        settled = stored_checkpoint(store)
        assert settled == store.head_position()
        before = store.writer.single_statement_batches
        for _ in range(5):
            store.append("telemetry-1", pinged(2))
        assert store.writer.single_statement_batches == before + 5
        assert stored_checkpoint(store) == settled  # not moved on disk...
        status = tally_status(store)
        assert status["position"] == status["head"] == store.head_position()  # ...but implied
        assert status["lag"] == 0
        store.append("game-1", [scored(4)])  # handled: a transaction moves it, and applies
        assert stored_checkpoint(store) == store.head_position()
        assert tallies(store) == {"game-1": (7, 2)}
        store.projections.catch_up()
        assert tallies(store) == {"game-1": (7, 2)}, "catch-up applied nothing twice"
    finally:
        store.close()


def test_a_handled_event_in_a_batch_still_runs_the_projector(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "mixed.db", projectors=[h.Tally()])
    try:
        store.append("game-1", [scored(1)])
        before = store.writer.single_statement_batches
        store.append("game-1", [*pinged(3), scored(5)])
        assert store.writer.single_statement_batches == before
        assert tallies(store) == {"game-1": (6, 2)}
        assert stored_checkpoint(store) == store.head_position()
    finally:
        store.close()


def test_checkpoints_move_on_disk_before_the_lazy_gap_grows_long(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "limit.db", projectors=[h.Tally()])
    try:
        store.append("game-1", [scored(1)])
        store.append("telemetry-1", pinged(LAZY_LIMIT))  # passed over in one statement
        settled = stored_checkpoint(store)
        assert settled < store.head_position()
        before = store.writer.single_statement_batches
        store.append("telemetry-1", pinged(1))  # due: this batch moves the checkpoints
        assert store.writer.single_statement_batches == before
        assert stored_checkpoint(store) == store.head_position()
        assert tallies(store) == {"game-1": (1, 1)}
    finally:
        store.close()


def counting_recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types of the RecordedEvents the writer's planner builds from now on."""
    built: list[str] = []
    real = planner.RecordedEvent

    def recorded(*args: Any) -> RecordedEvent:
        event = real(*args)
        built.append(event.type)
        return event

    monkeypatch.setattr(planner, "RecordedEvent", recorded)
    return built


def test_a_batch_due_to_move_the_checkpoints_builds_no_recorded_event(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open(tmp_path / "due.db", projectors=[h.Tally()])
    try:
        store.append("game-1", [scored(1)])
        store.append("telemetry-1", pinged(LAZY_LIMIT))  # passed over in one statement
        built = counting_recorded(monkeypatch)
        transactions = store.writer.single_statement_batches
        store.append("telemetry-1", pinged(500))  # due: a transaction, unread events
        assert store.writer.single_statement_batches == transactions
        assert stored_checkpoint(store) == store.head_position()
        assert built == []
        store.append("game-1", [*pinged(3), scored(5)])  # mixed: only the handled one
        assert built == ["Scored"]
        assert tallies(store) == {"game-1": (6, 2)}
    finally:
        store.close()


_CRASH = textwrap.dedent("""
    import importlib.util, os, sys
    from questlog import Store
    spec = importlib.util.spec_from_file_location("engine_helpers", sys.argv[2])
    h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h)
    store = Store.open(sys.argv[1], projectors=[h.Tally()])
    store.append("game-1", [{"type": "Scored", "data": {"amount": 2}}])
    store.append("telemetry-1", [{"type": "Pinged"} for _ in range(40)])
    store.append("game-1", [{"type": "Scored", "data": {"amount": 3}}])
    store.append("telemetry-1", [{"type": "Pinged"} for _ in range(25)])
    os._exit(0)  # a crash: no close, the last checkpoint moves exist only in memory
""")


def test_a_crash_between_lazy_advances_neither_reapplies_nor_skips(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    done = subprocess.run([sys.executable, "-c", _CRASH, str(path), str(HELPERS)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    store = Store.open(path, projectors=[h.Tally()])
    try:
        assert store.head_position() == 67
        assert tallies(store) == {"game-1": (5, 2)}
        store.append("game-1", [scored(10)])  # after the passed-over events
        store.append("telemetry-1", pinged(3))
        store.append("game-2", [scored(1)])
        assert tallies(store) == {"game-1": (15, 3), "game-2": (1, 1)}
        assert stored_checkpoint(store) == store.head_position()
        store.projections.catch_up()
        assert tallies(store) == {"game-1": (15, 3), "game-2": (1, 1)}
    finally:
        store.close()


def test_another_writer_during_a_lazy_run_is_projected_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    a = Store.open(path, projectors=[h.Tally()])
    try:
        a.append("game-1", [scored(1)])
        a.append("telemetry-1", pinged(4))  # lazy in a's memory
        b = Store.open(path, projectors=[])  # another process, the log alone
        b.append("game-1", [scored(20)])  # handled, but b has no projector
        b.append("telemetry-2", pinged(2))
        b.close()
        a.append("telemetry-1", pinged(1))  # stale tip: redone, reading the log
        a.append("game-1", [scored(300)])
        assert tallies(a) == {"game-1": (321, 3)}
        assert stored_checkpoint(a) == a.head_position()
        a.projections.catch_up()
        assert tallies(a) == {"game-1": (321, 3)}
    finally:
        a.close()
