"""The writer's two ways to write a batch, and what keeps the faster one safe."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from questlog import ANY, NO_STREAM, NewEvent, Store, schema
from questlog.errors import SchemaOutOfDate, WrongExpectedVersion
from questlog.events import GENESIS_HASH
from questlog.planner import BatchState, LogTip, make_call, plan_calls
from questlog.settings import Settings
from questlog.sqlite.connections import Database


def ev(type_: str = "Happened", **data: object) -> NewEvent:
    return NewEvent(type=type_, data=dict(data))


def streams_table(store: Store) -> dict[str, tuple[int, int]]:
    with store.read() as conn:
        return {sid: (v, lp) for sid, v, lp in conn.execute(
            "SELECT stream_id, version, last_position FROM streams")}


def test_log_alone_writes_batches_as_single_statements(bare_store: Store) -> None:
    results: list[int] = []

    def producer(n: int) -> None:
        for i in range(20):
            results.append(bare_store.append(f"s-{n}", [ev(i=i)]).stream_version)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer = bare_store.writer
    # The first batch reads the log in a transaction; later ones are single statements.
    assert writer.single_statement_batches >= 1
    assert writer.single_statement_batches <= writer.commits
    assert streams_table(bare_store) == {
        f"s-{n}": (20, max(e.position for e in bare_store.read_stream(f"s-{n}")))
        for n in range(8)}
    assert bare_store.verify().ok


def test_inline_projectors_keep_only_the_batches_they_handle_in_a_transaction(
        store: Store) -> None:
    """The shipped models read none of `Happened`: after the first batch (a transaction,
    which settles the checkpoints) such batches are single statements; an event a model
    reads puts its batch back in a transaction."""
    import json

    fixture = Path(__file__).parents[1] / "fixtures" / "game_session.jsonl"
    created = json.loads(fixture.read_text(encoding="utf-8").splitlines()[0])
    assert created["type"] == "CampaignCreated"
    store.append("campaign-1", [ev()])
    store.append("campaign-1", [ev()])
    assert store.writer.single_statement_batches == 1
    store.append(created["stream_id"], [{k: created[k] for k in ("type", "data", "metadata")}])
    assert store.writer.single_statement_batches == 1
    summary = next(r for r in store.projections.status()
                   if r["name"] == "game_campaign_summary")
    assert summary["position"] == summary["head"] == store.head_position()


def test_another_writer_between_batches_is_seen(store_path: Path) -> None:
    """Two stores on one file (as two processes would be): each writer's memory of the
    log goes stale when the other appends, and must never be trusted then."""
    a = Store.open(store_path, projectors=[])
    b = Store.open(store_path, projectors=[])
    try:
        a.append("campaign-1", [ev(n=1)], expected_version=NO_STREAM)
        a.append("campaign-1", [ev(n=2)], expected_version=1)
        assert a.writer.single_statement_batches >= 1  # a's tip is warm
        b.append("campaign-1", [ev(n=3)], expected_version=2)
        b.append("other-1", [ev(n=4)])
        # a still remembers version 2 and head 2: its planned INSERT must not land.
        with pytest.raises(WrongExpectedVersion) as err:
            a.append("campaign-1", [ev(n=5)], expected_version=2)
        assert err.value.actual == 3
        result = a.append("campaign-1", [ev(n=5)], expected_version=3)
        assert result.positions == [5] and result.stream_version == 4
        b.append("other-1", [ev(n=6)])
        result = a.append("other-1", [ev(n=7)], expected_version=ANY)  # tip stale again
        assert result.positions == [7] and result.stream_version == 3
        assert [e.data["n"] for e in a.read_all()] == [1, 2, 3, 4, 5, 6, 7]
        assert streams_table(a) == {"campaign-1": (4, 5), "other-1": (3, 7)}
        assert a.verify().ok
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("log_alone", [True, False], ids=["single-statement", "transaction"])
def test_a_refusal_is_never_judged_on_a_stale_tip(store_path: Path, log_alone: bool) -> None:
    """A call the writer would refuse from what it remembers must be judged again when
    another process has moved the stream meanwhile (nothing is written to reveal it)."""
    projectors = [] if log_alone else None  # None: the shipped set, inline ones included
    a = Store.open(store_path, projectors=projectors)
    b = Store.open(store_path, projectors=projectors)
    try:
        a.append("campaign-1", [ev(n=1)], expected_version=NO_STREAM)
        a.append("campaign-1", [ev(n=2)], expected_version=1)
        b.append("campaign-1", [ev(n=3)], expected_version=2)
        # a remembers version 2; the stream is at 3, so expecting 3 is right.
        assert a.append("campaign-1", [ev(n=4)], expected_version=3).stream_version == 4
        b.append("campaign-1", [ev(n=5)], expected_version=4)
        with pytest.raises(WrongExpectedVersion) as err:
            a.append("campaign-1", [ev(n=6)], expected_version=NO_STREAM)
        assert err.value.actual == 5
        assert [e.data["n"] for e in a.read_stream("campaign-1")] == [1, 2, 3, 4, 5]
        assert a.verify().ok
    finally:
        a.close()
        b.close()


def test_a_write_job_makes_the_writer_read_the_log_again(bare_store: Store) -> None:
    bare_store.append("s-1", [ev()])
    bare_store.append("s-1", [ev()])
    before = bare_store.writer.single_statement_batches
    assert bare_store.write(lambda conn: 42) == 42
    bare_store.append("s-1", [ev()])  # read in a transaction: the job may have written
    assert bare_store.writer.single_statement_batches == before
    bare_store.append("s-1", [ev()])
    assert bare_store.writer.single_statement_batches == before + 1
    assert [e.stream_version for e in bare_store.read_stream("s-1")] == [1, 2, 3, 4]


def test_stream_table_follows_any_insert_by_trigger(bare_store: Store) -> None:
    bare_store.append("s-1", [ev(), ev()])
    assert streams_table(bare_store) == {"s-1": (2, 2)}


def test_migrating_a_0001_store_adds_the_stream_trigger(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path, Settings())
    try:
        schema.upgrade(db, "0001")
    finally:
        db.dispose()
    with pytest.raises(SchemaOutOfDate, match="0001"):
        Store.open(path, projectors=[], create=False)  # only an opening that may create migrates
    db = Database(path, Settings())
    try:
        before, after = schema.upgrade(db)
    finally:
        db.dispose()
    assert (before, after) == ("0001", schema.HEAD_REVISION)
    store = Store.open(path, projectors=[])
    try:
        store.append("s-1", [ev(), ev()])
        store.append("s-2", [ev()])
        assert streams_table(store) == {"s-1": (2, 2), "s-2": (1, 3)}
        assert store.verify().ok
    finally:
        store.close()


def test_a_failed_plan_leaves_the_state_as_it_was() -> None:
    state = BatchState(0, GENESIS_HASH, {"a-1": 0, "b-1": 4}, {})
    call_ok = make_call("a-1", [ev()], NO_STREAM)
    call_bad = make_call("b-1", [ev()], 3)
    with pytest.raises(WrongExpectedVersion):
        plan_calls([call_ok, call_bad], state, {}, "2026-01-01T00:00:00.000000Z")
    assert (state.head, state.head_hash, state.versions) == (0, GENESIS_HASH,
                                                             {"a-1": 0, "b-1": 4})
    plan = plan_calls([call_ok], state, {}, "2026-01-01T00:00:00.000000Z",
                      record=False)
    assert [r[0] for r in plan.rows] == [1] and plan.recorded == []
    assert state.head == 1 and state.versions["a-1"] == 1


def test_log_tip_forgets_and_bounds_what_it_remembers() -> None:
    tip = LogTip(max_streams=2)
    assert not tip.valid
    tip.learn({"a-1": 3}, ["a-1", "b-1"])
    assert tip.missing(["a-1", "b-1", "c-1"]) == ["c-1"]
    state = tip.state()
    state.head, state.head_hash = 9, "f" * 64
    state.versions["c-1"] = 1
    tip.settle(state)
    # Three streams exceed the bound: versions are dropped, the head is still known.
    assert tip.valid and tip.head == 9 and tip.versions == {}
    tip.forget()
    assert not tip.valid
