"""The log port on SQLite (`store.backend.log`): range reads both ways, tip, ids, hashes."""

from __future__ import annotations

from pathlib import Path

from questlog import NewEvent, Store
from questlog.events import GENESIS_HASH


def _store(path: Path) -> Store:
    store = Store.open(path, projectors=[])
    store.append("a-1", [NewEvent(type="X"), NewEvent(type="Y")])
    store.append("b-1", [NewEvent(type="X")])
    store.append("a-1", [NewEvent(type="Z")])
    store.append("b-2", [NewEvent(type="Y")])
    return store


def test_read_all_forwards_and_backwards_with_bounds_and_filters(store_path: Path) -> None:
    store = _store(store_path)
    log = store.backend.log
    try:
        with store.read() as s:
            assert [e.position for e in log.read_all(s)] == [1, 2, 3, 4, 5]
            assert [e.position for e in log.read_all(s, backwards=True)] == [5, 4, 3, 2, 1]
            assert [e.position for e in log.read_all(s, from_position=2, to_position=4,
                                                     backwards=True)] == [4, 3, 2]
            assert [e.position for e in log.read_all(s, backwards=True, limit=2)] == [5, 4]
            assert [e.type for e in log.read_all(s, types=["X"])] == ["X", "X"]
            assert [e.stream_id for e in log.read_all(s, categories=["b"],
                                                      backwards=True)] == ["b-2", "b-1"]
            bare = log.read_all(s, payload=False, to_position=1)
            assert [(e.position, e.data, e.hash) for e in bare] == [(1, {}, "")]
            assert [e.stream_version for e in log.read_stream(s, "a-1", backwards=True)] == [
                3, 2, 1]
            assert [e.stream_version for e in log.read_stream(s, "a-1", from_version=2)] == [
                2, 3]
    finally:
        store.close()


def test_head_tip_versions_ids_and_hashes(store_path: Path) -> None:
    store = _store(store_path)
    log = store.backend.log
    try:
        with store.read() as s:
            events = log.read_all(s)
            assert log.head(s) == (5, events[-1].hash)
            assert log.head_position(s) == 5
            tip = log.tip(s, ["a-1", "b-1", "nope-1"])
            assert (tip.head, tip.head_hash) == (5, events[-1].hash)
            assert tip.versions == {"a-1": 3, "b-1": 1}
            assert log.stream_versions(s, ["b-2", "nope-1"]) == {"b-2": 1}
            found = log.existing_events(s, [events[2].event_id, "not-an-id"])
            assert list(found) == [events[2].event_id]
            assert (found[events[2].event_id].position,
                    found[events[2].event_id].stream_id) == (3, "b-1")
            assert log.hashes_at(s, [1, 5, 99]) == {1: events[0].hash, 5: events[-1].hash}
            assert log.verify(s).ok
    finally:
        store.close()


def test_an_empty_log(store_path: Path) -> None:
    store = Store.open(store_path, projectors=[])
    try:
        with store.read() as s:
            assert store.backend.log.head(s) == (0, GENESIS_HASH)
            tip = store.backend.log.tip(s, ["a-1"])
            assert (tip.head, tip.head_hash, tip.versions) == (0, GENESIS_HASH, {})
            assert store.backend.log.read_all(s, backwards=True) == []
    finally:
        store.close()
