"""Appending and reading: expected versions, atomicity, idempotency, concurrency."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest

from questlog import ANY, NO_STREAM, STREAM_EXISTS, NewEvent, Store
from questlog.errors import (
    Backpressure,
    DuplicateEventId,
    InvalidEvent,
    WriterClosed,
    WrongExpectedVersion,
)
from questlog.settings import Settings


def ev(type_: str = "Happened", **data: object) -> NewEvent:
    return NewEvent(type=type_, data=dict(data))


def test_append_and_read_stream(bare_store: Store) -> None:
    r1 = bare_store.append("campaign-1", [ev(n=1), ev(n=2)], expected_version=NO_STREAM)
    assert r1.positions == [1, 2] and r1.stream_version == 2
    r2 = bare_store.append("character-1", [ev("Born")], expected_version=NO_STREAM)
    assert r2.positions == [3]
    r3 = bare_store.append("campaign-1", [ev(n=3)], expected_version=2)
    assert r3.positions == [4] and r3.stream_version == 3
    events = bare_store.read_stream("campaign-1")
    assert [e.data["n"] for e in events] == [1, 2, 3]
    assert [e.stream_version for e in events] == [1, 2, 3]
    assert events[0].category == "campaign"
    back = bare_store.read_stream("campaign-1", backwards=True, limit=2)
    assert [e.stream_version for e in back] == [3, 2]
    assert [e.stream_version for e in bare_store.read_stream("campaign-1", from_version=2)] == [2, 3]
    assert [e.position for e in bare_store.read_all()] == [1, 2, 3, 4]
    assert [e.position for e in bare_store.read_all(3)] == [3, 4]
    assert [e.type for e in bare_store.read_all(types=["Born"])] == ["Born"]
    assert [e.position for e in bare_store.read_all(categories=["campaign"])] == [1, 2, 4]
    assert bare_store.stream_version("campaign-1") == 3
    assert bare_store.stream_version("nope-1") == 0
    assert bare_store.head_position() == 4


def test_expected_versions(bare_store: Store) -> None:
    with pytest.raises(WrongExpectedVersion) as info:
        bare_store.append("s-1", [ev()], expected_version=STREAM_EXISTS)
    assert (info.value.stream_id, info.value.expected, info.value.actual) == (
        "s-1", STREAM_EXISTS, 0)
    bare_store.append("s-1", [ev()], expected_version=NO_STREAM)
    with pytest.raises(WrongExpectedVersion) as info:
        bare_store.append("s-1", [ev()], expected_version=NO_STREAM)
    assert info.value.actual == 1
    with pytest.raises(WrongExpectedVersion) as info:
        bare_store.append("s-1", [ev()], expected_version=5)
    assert (info.value.expected, info.value.actual) == (5, 1)
    bare_store.append("s-1", [ev()], expected_version=STREAM_EXISTS)
    bare_store.append("s-1", [ev()], expected_version=ANY)
    assert bare_store.stream_version("s-1") == 3
    assert bare_store.head_position() == 3


def test_idempotent_retry_returns_first_result(bare_store: Store) -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    events = [NewEvent(event_id=ids[0], type="A", data={"x": 1}),
              NewEvent(event_id=ids[1], type="B", data={"x": 2})]
    first = bare_store.append("s-1", events, expected_version=NO_STREAM)
    bare_store.append("s-1", [ev()])
    again = bare_store.append("s-1", events, expected_version=NO_STREAM)
    assert again == first
    assert bare_store.head_position() == 3
    changed = [NewEvent(event_id=ids[0], type="A", data={"x": 999})]
    with pytest.raises(DuplicateEventId):
        bare_store.append("s-1", changed)
    mixed = [NewEvent(event_id=ids[0], type="A", data={"x": 1}), ev()]
    with pytest.raises(DuplicateEventId):
        bare_store.append("s-1", mixed)
    assert bare_store.head_position() == 3


def test_invalid_event_in_a_call_writes_nothing(bare_store: Store) -> None:
    bare_store.append("s-1", [ev()])
    with pytest.raises(InvalidEvent):
        bare_store.append("s-1", [ev(), {"type": "bad type!", "data": {}}, ev()])
    with pytest.raises(InvalidEvent):
        bare_store.append("s-1", [ev(), NewEvent(type="X", data={"s": {1, 2}})])  # not JSON
    with pytest.raises(InvalidEvent):
        bare_store.append("bad stream id!", [ev()])
    dup = uuid.uuid4()
    with pytest.raises(DuplicateEventId):
        bare_store.append("s-1", [NewEvent(event_id=dup, type="A"), NewEvent(event_id=dup, type="A")])
    assert bare_store.head_position() == 1
    assert bare_store.verify().ok


def test_append_many_is_atomic_across_streams(bare_store: Store) -> None:
    bare_store.append("character-1", [ev()])
    results = bare_store.append_many([
        ("campaign-1", [ev(), ev()], NO_STREAM),
        ("character-1", [ev()], 1),
        ("encounter-1", [ev()], NO_STREAM),
    ])
    assert [r.stream_version for r in results] == [2, 2, 1]
    assert bare_store.head_position() == 5
    with pytest.raises(WrongExpectedVersion):
        bare_store.append_many([
            ("campaign-1", [ev()], 2),
            ("character-1", [ev()], 1),  # stale: actual is 2
        ])
    assert bare_store.head_position() == 5
    assert bare_store.stream_version("campaign-1") == 2


def test_threads_distinct_streams_and_races(bare_store: Store) -> None:
    errors: list[BaseException] = []

    def distinct(n: int) -> None:
        try:
            for i in range(25):
                bare_store.append(f"player-{n}", [ev(i=i)], expected_version=i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=distinct, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def race(round_: int) -> None:
        barrier.wait()
        try:
            bare_store.append("race-1", [ev(r=round_)], expected_version=round_)
            with lock:
                outcomes["won"] += 1
        except WrongExpectedVersion:
            with lock:
                outcomes["lost"] += 1
        except BaseException as exc:
            errors.append(exc)

    for round_ in range(10):
        racers = [threading.Thread(target=race, args=(round_,)) for _ in range(8)]
        for t in racers:
            t.start()
        for t in racers:
            t.join()
        assert outcomes["won"] == round_ + 1, "exactly one winner per race"
    assert outcomes["lost"] == 70 and errors == []
    positions = [e.position for e in bare_store.read_all()]
    assert positions == list(range(1, 32 * 25 + 10 + 1))
    for n in range(32):
        assert [e.stream_version for e in bare_store.read_stream(f"player-{n}")] == list(
            range(1, 26))
    assert [e.stream_version for e in bare_store.read_stream("race-1")] == list(range(1, 11))
    assert bare_store.verify().ok


def test_backpressure_and_close(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "bp.db", writer_queue_size=1, append_timeout_s=0.2)
    store = Store.open(settings=settings, projectors=[])
    gate = threading.Event()
    started = threading.Event()

    def blocker(conn: object) -> None:
        started.set()
        gate.wait(10)

    t = threading.Thread(target=store.write, args=(blocker,))
    t.start()
    started.wait(5)
    waiting = threading.Thread(target=store.append, args=("s-1", [ev()]))
    waiting.start()  # fills the single queue slot
    import time

    time.sleep(0.1)
    with pytest.raises(Backpressure):
        store.append("s-2", [ev()])
    gate.set()
    t.join()
    waiting.join()
    store.close()
    with pytest.raises(WriterClosed):
        store.append("s-3", [ev()])
    reopened = Store.open(settings=settings, projectors=[])
    assert [e.stream_id for e in reopened.read_all()] == ["s-1"]
    reopened.close()


def test_close_drains_accepted_calls(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "drain.db", projectors=[])
    futures = []
    from questlog.planner import make_call
    from questlog.writer import AppendRequest

    writer = store.writer
    for i in range(200):
        request = AppendRequest([make_call("s-1", [ev(i=i)], ANY)])
        writer.submit(request)
        futures.append(request.future)
    store.close()
    assert [f.result()[0].stream_version for f in futures] == list(range(1, 201))
    again = Store.open(tmp_path / "drain.db", projectors=[])
    assert again.head_position() == 200
    again.close()


def test_subscribe_yields_new_events(bare_store: Store) -> None:
    bare_store.append("s-1", [ev(i=0)])
    stop = threading.Event()
    seen: list[int] = []

    def consume() -> None:
        for event in bare_store.subscribe(0, poll_interval=0.01, stop=stop):
            seen.append(event.position)
            if len(seen) == 3:
                stop.set()

    t = threading.Thread(target=consume)
    t.start()
    bare_store.append("s-1", [ev(i=1)])
    bare_store.append("s-2", [ev(i=2)])
    t.join(5)
    assert seen == [1, 2, 3]


def test_async_twin(bare_store: Store) -> None:
    async def main() -> list[int]:
        results = await asyncio.gather(*[
            bare_store.aio.append(f"s-{i}", [ev(i=i)], NO_STREAM) for i in range(20)])
        assert sorted(p for r in results for p in r.positions) == list(range(1, 21))
        events = await bare_store.aio.read_all(0)
        stream = await bare_store.aio.read_stream("s-3")
        assert stream[0].data == {"i": 3}
        with pytest.raises(WrongExpectedVersion):
            await bare_store.aio.append("s-3", [ev()], NO_STREAM)
        return [e.position for e in events]

    assert asyncio.run(main()) == list(range(1, 21))
