"""Log contract: expected versions, idempotent ids, atomic multi-stream calls, reads,
head and verify, on every backend (through the public Store API only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from contract_backends import BackendUnderTest

from questlog import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    DuplicateEventId,
    NewEvent,
    QuestlogError,
    RecordedEvent,
    Store,
    WrongExpectedVersion,
)
from questlog.errors import ReadOnlyStore


@pytest.fixture
def store(backend: BackendUnderTest) -> Iterator[Store]:
    with backend.open_store(projectors=[]) as store:
        yield store


def ev(type_: str = "Happened", **data: object) -> NewEvent:
    return NewEvent(type=type_, data=dict(data))


def snapshot(store: Store) -> list[RecordedEvent]:
    return list(store.read_all())


# -- expected versions -------------------------------------------------------------------


def test_expected_versions_accept_the_right_state(store: Store) -> None:
    assert store.append("s-1", [ev()], expected_version=NO_STREAM).stream_version == 1
    assert store.append("s-1", [ev(), ev()], expected_version=STREAM_EXISTS).stream_version == 3
    assert store.append("s-1", [ev()], expected_version=3).stream_version == 4
    assert store.append("s-1", [ev()], expected_version=ANY).stream_version == 5
    assert store.append("s-2", [ev()], expected_version=ANY).positions == [6]
    assert store.stream_version("s-1") == 5
    assert store.stream_version("s-2") == 1
    assert store.stream_version("s-3") == 0


@pytest.mark.parametrize(("expected", "actual_stream"), [
    (NO_STREAM, "s-1"),          # the stream exists
    (STREAM_EXISTS, "s-new"),    # it does not
    (1, "s-1"),                  # it is at 2
    (3, "s-1"),                  # ahead of it
    (0, "s-1"),                  # 0 means "no events yet"
    (1, "s-new"),
])
def test_a_wrong_expected_version_writes_nothing_of_the_call(
        store: Store, expected: object, actual_stream: str) -> None:
    store.append("s-1", [ev(), ev()])
    before = snapshot(store)
    with pytest.raises(WrongExpectedVersion) as caught:
        store.append(actual_stream, [ev("A"), ev("B")], expected_version=expected)  # type: ignore[arg-type]
    assert caught.value.stream_id == actual_stream
    assert caught.value.expected == expected
    assert caught.value.actual == store.stream_version(actual_stream)
    assert snapshot(store) == before
    assert store.head_position() == 2
    # The refusal leaves the writer healthy: the next append takes the next position.
    assert store.append("s-1", [ev()], expected_version=2).positions == [3]


def test_expected_version_races_between_threads_let_exactly_one_win(store: Store) -> None:
    import threading

    store.append("race-1", [ev()])
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def contender(n: int) -> None:
        barrier.wait()
        try:
            store.append("race-1", [ev(by=n)], expected_version=1)
            result = "won"
        except WrongExpectedVersion as exc:
            assert exc.actual == 2
            result = "lost"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 15 + ["won"]
    assert store.stream_version("race-1") == 2


# -- idempotent event ids ----------------------------------------------------------------


def test_the_same_event_id_twice_is_a_no_op_returning_the_first_result(store: Store) -> None:
    store.append("s-1", [ev()])
    ids = [uuid.uuid4(), uuid.uuid4()]
    first = store.append("s-2", [NewEvent(type="A", data={"n": 1}, event_id=ids[0]),
                                 NewEvent(type="B", data={"n": 2}, event_id=ids[1])])
    assert first.positions == [2, 3] and first.stream_version == 2
    before = snapshot(store)
    again = store.append("s-2", [NewEvent(type="A", data={"n": 1}, event_id=ids[0]),
                                 NewEvent(type="B", data={"n": 2}, event_id=ids[1])])
    assert again == first
    assert snapshot(store) == before
    # Still a no-op once the stream has moved on, and whatever expected version it names.
    store.append("s-2", [ev()])
    later = store.append("s-2", [NewEvent(type="A", data={"n": 1}, event_id=ids[0]),
                                 NewEvent(type="B", data={"n": 2}, event_id=ids[1])],
                         expected_version=NO_STREAM)
    assert later == first
    assert store.head_position() == 4
    assert [e.event_id for e in store.read_stream("s-2")][:2] == [str(i) for i in ids]


@pytest.mark.parametrize("change", ["data", "type", "stream", "metadata"])
def test_the_same_event_id_with_other_content_is_refused(store: Store, change: str) -> None:
    event_id = uuid.uuid4()
    store.append("s-1", [NewEvent(type="A", data={"n": 1}, metadata={"m": 1},
                                  event_id=event_id)])
    before = snapshot(store)
    other = {"type": "A", "data": {"n": 1}, "metadata": {"m": 1}}
    stream = "s-1"
    if change == "stream":
        stream = "s-2"
    else:
        other[change] = "B" if change == "type" else {"n": 2}
    with pytest.raises(DuplicateEventId):
        store.append(stream, [NewEvent(event_id=event_id, **other)])  # type: ignore[arg-type]
    assert snapshot(store) == before


def test_an_id_repeated_inside_one_call_is_refused(store: Store) -> None:
    event_id = uuid.uuid4()
    with pytest.raises(DuplicateEventId):
        store.append("s-1", [NewEvent(type="A", event_id=event_id),
                             NewEvent(type="A", event_id=event_id)])
    # The same event object twice (its id chosen by NewEvent) is refused too.
    same = NewEvent(type="A")
    with pytest.raises(QuestlogError):
        store.append("s-1", [same, same])
    assert store.head_position() == 0
    assert store.append("s-1", [same]).positions == [1]


def test_a_call_mixing_a_stored_id_with_new_events_is_refused(store: Store) -> None:
    event_id = uuid.uuid4()
    store.append("s-1", [NewEvent(type="A", event_id=event_id)])
    with pytest.raises(DuplicateEventId):
        store.append("s-1", [NewEvent(type="A", event_id=event_id), ev()])
    assert store.head_position() == 1


# -- atomic multi-stream calls -----------------------------------------------------------


def test_append_many_writes_every_stream_or_none(store: Store) -> None:
    results = store.append_many([("a-1", [ev(), ev()], NO_STREAM),
                                 ("b-1", [ev()], ANY),
                                 ("a-1", [ev()], 2)])
    assert [(r.positions, r.stream_version) for r in results] == [
        ([1, 2], 2), ([3], 1), ([4], 3)]
    before = snapshot(store)
    with pytest.raises(WrongExpectedVersion) as caught:
        store.append_many([("c-1", [ev()], NO_STREAM),      # would pass
                           ("b-1", [ev()], 1),              # would pass
                           ("a-1", [ev()], 2)])             # a-1 is at 3
    assert (caught.value.stream_id, caught.value.actual) == ("a-1", 3)
    assert snapshot(store) == before
    assert store.stream_version("c-1") == 0
    event_id = uuid.uuid4()
    store.append("d-1", [NewEvent(type="A", event_id=event_id)])
    with pytest.raises(DuplicateEventId):
        store.append_many([("c-1", [ev()], ANY),
                           ("d-2", [NewEvent(type="Other", event_id=event_id)], ANY)])
    assert store.stream_version("c-1") == 0 and store.head_position() == 5


def test_concurrent_failing_calls_never_fail_their_neighbours(store: Store) -> None:
    """Group commit isolates each call: the refused ones write nothing, the others land."""
    import threading

    store.append("full-1", [ev()])
    errors: list[BaseException] = []
    lock = threading.Lock()

    def call(n: int) -> None:
        try:
            if n % 3 == 0:
                store.append("full-1", [ev(n=n)], expected_version=NO_STREAM)
            else:
                store.append(f"ok-{n}", [ev(n=n)], expected_version=NO_STREAM)
        except WrongExpectedVersion as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 10
    assert store.head_position() == 21
    assert sorted(e.stream_id for e in store.read_all(from_position=2)) == sorted(
        f"ok-{n}" for n in range(30) if n % 3)


# -- reads -------------------------------------------------------------------------------


def _fill(store: Store) -> None:
    for n in range(10):
        store.append(f"camp-{n % 2}", [ev("Even" if n % 2 == 0 else "Odd", n=n)])
        store.append(f"char-{n % 3}", [ev("Moved", n=n)])


def test_read_stream_forwards_backwards_limits_and_from_version(store: Store) -> None:
    store.append("s-1", [ev(n=n) for n in range(1, 6)])
    store.append("s-2", [ev()])
    store.append("s-1", [ev(n=6)])

    def versions(events: list[RecordedEvent]) -> list[int]:
        assert all(e.stream_id == "s-1" and e.data["n"] == e.stream_version for e in events)
        return [e.stream_version for e in events]

    assert versions(store.read_stream("s-1")) == [1, 2, 3, 4, 5, 6]
    assert [e.position for e in store.read_stream("s-1")] == [1, 2, 3, 4, 5, 7]
    assert versions(store.read_stream("s-1", from_version=4)) == [4, 5, 6]
    assert versions(store.read_stream("s-1", limit=2)) == [1, 2]
    assert versions(store.read_stream("s-1", from_version=2, limit=3)) == [2, 3, 4]
    assert versions(store.read_stream("s-1", backwards=True)) == [6, 5, 4, 3, 2, 1]
    assert versions(store.read_stream("s-1", backwards=True, limit=2)) == [6, 5]
    assert versions(store.read_stream("s-1", backwards=True, from_version=3)) == [3, 2, 1]
    assert versions(store.read_stream("s-1", from_version=7)) == []
    assert store.read_stream("nothing-here") == []


def test_read_all_in_order_with_filters_and_limits(store: Store) -> None:
    _fill(store)
    everything = snapshot(store)
    assert [e.position for e in everything] == list(range(1, 21))
    assert store.head_position() == 20
    assert [e.position for e in store.read_all(from_position=15)] == [15, 16, 17, 18, 19, 20]
    assert [e.position for e in store.read_all(from_position=3, limit=4)] == [3, 4, 5, 6]
    assert [e.position for e in store.read_all(limit=3, batch_size=2)] == [1, 2, 3]
    assert list(store.read_all(from_position=21)) == []
    camp = list(store.read_all(categories=["camp"]))
    assert camp == [e for e in everything if e.category == "camp"] and len(camp) == 10
    odd = list(store.read_all(types=["Odd"]))
    assert odd == [e for e in everything if e.type == "Odd"] and len(odd) == 5
    both = list(store.read_all(types=["Odd", "Moved"], categories=["char"]))
    assert both == [e for e in everything if e.category == "char"]
    assert list(store.read_all(types=["Odd"], categories=["char"])) == []
    limited = list(store.read_all(from_position=5, limit=3, types=["Moved"]))
    assert limited == [e for e in everything if e.type == "Moved" and e.position >= 5][:3]


def test_recorded_events_keep_what_was_appended(store: Store) -> None:
    event_id = uuid.uuid4()
    data = {"text": "ünïcode ✓", "n": 2**53, "f": 0.5, "nested": {"list": [1, None, True]}}
    metadata = {"correlation_id": "c-1", "actor": "gm"}
    store.append("campaign-7", [NewEvent(type="Said", data=data, metadata=metadata,
                                         event_id=event_id, schema_version=3)])
    [e] = store.read_stream("campaign-7")
    assert (e.position, e.event_id, e.stream_id, e.stream_version, e.category, e.type,
            e.schema_version, e.data, e.metadata) == (
        1, str(event_id), "campaign-7", 1, "campaign", "Said", 3, data, metadata)
    assert e.recorded_at.endswith(("Z", "+00:00")) and len(e.hash) == 64
    assert list(store.read_all()) == [e]


def test_verify_and_head_on_an_empty_and_a_filled_log(backend: BackendUnderTest) -> None:
    with backend.open_store(projectors=[]) as store:
        assert store.head_position() == 0
        report = store.verify()
        assert report.ok and report.events == 0
        _fill(store)
        report = store.verify()
        assert report.ok, report.problems
        assert (report.events, report.streams, report.first_bad_position) == (20, 5, None)
    # A reopened store has the same log and goes on from its head.
    with backend.open_store(projectors=[]) as store:
        assert store.head_position() == 20
        assert store.append("camp-0", [ev()], expected_version=5).positions == [21]
        assert store.verify().ok


_EVENTS = sa.table("events", sa.column("position"), sa.column("data"))
_TAMPER = {
    "update": sa.update(_EVENTS).where(_EVENTS.c.position == sa.bindparam("p"))
                .values(data='{"n": 2}'),
    "delete": sa.delete(_EVENTS).where(_EVENTS.c.position == sa.bindparam("p")),
}


@pytest.mark.parametrize("how", sorted(_TAMPER))
def test_the_log_refuses_updates_and_deletes_even_from_a_write_job(
        store: Store, how: str) -> None:
    """Events are never updated or deleted: the backend itself refuses it (the `events`
    table of DESIGN.md), so a bug in a write job cannot rewrite history."""
    store.append("s-1", [ev(n=1), ev(n=2)])
    before = snapshot(store)
    # The error's type is the backend's to choose until the neutral storage errors land.
    with pytest.raises(Exception):  # noqa: B017
        store.write(lambda session: session.execute(_TAMPER[how], {"p": 1}))
    assert snapshot(store) == before
    assert store.verify().ok
    assert store.append("s-1", [ev()]).positions == [3]


def test_a_read_only_store_reads_the_log_and_refuses_writes(
        backend: BackendUnderTest) -> None:
    with backend.open_store(projectors=[]) as store:
        _fill(store)
        expected = snapshot(store)
        with backend.open_store(projectors=[], read_only=True) as reader:
            assert snapshot(reader) == expected
            assert reader.head_position() == 20
            with pytest.raises(ReadOnlyStore):
                reader.append("camp-0", [ev()])
            # It follows the writer's commits.
            store.append("camp-9", [ev()])
            assert reader.head_position() == 21
            assert [e.stream_id for e in reader.read_all(from_position=21)] == ["camp-9"]


# -- the reader's bounds, envelopes, versions in time, read positions -------------------


def test_read_stream_bounds_envelopes_and_version_at_a_time(store: Store) -> None:
    store.append("b-1", [ev(n=1), ev(n=2)])
    store.append("b-2", [ev("Other")])
    store.append("b-1", [ev(n=3)])
    log = store.log
    with store.read() as session:
        by_version = log.read_stream(session, "b-1", to_version=2)
        by_position = log.read_stream(session, "b-1", to_position=3)
        envelopes = log.read_envelopes(session, from_position=2, types=["Happened"])
        events = log.read_all(session)
        at_second = log.stream_version_at(session, "b-1", events[1].recorded_at)
        before_all = log.stream_version_at(session, "b-1", "2000-01-01T00:00:00.000000Z")
        now = log.stream_version_at(session, "b-1", "9999-12-31T23:59:59.999999Z")
    assert [e.data["n"] for e in by_version] == [1, 2]
    assert [e.position for e in by_position] == [1, 2]
    assert [tuple(r) for r in envelopes] == [
        (e.position, e.stream_id, e.stream_version, e.category, e.type, e.recorded_at)
        for e in events if e.position >= 2 and e.type == "Happened"]
    assert (before_all, at_second, now) == (0, 2, 3)


def test_read_position_tokens_move_with_what_they_name(store: Store) -> None:
    positions = store.backend.read_positions

    def tokens() -> tuple[str, str, str, str]:
        with store.read() as session:
            return (positions.head_token(session),
                    positions.stream_version_token(session, "t-1"),
                    positions.checkpoints_token(session, ["nobody"]),
                    positions.head_and_checkpoints_token(session, ["nobody"]))

    empty = tokens()
    assert empty[:2] == ("0", "0")
    store.append("t-2", [ev()])
    after_other = tokens()
    assert after_other[0] == "1" and after_other[1] == "0"
    assert after_other[2] == empty[2] and after_other[3] != empty[3]
    store.append("t-1", [ev(), ev()])
    assert tokens()[:2] == ("3", "2")
