"""Gapless, ordered positions under concurrent writers (32 threads; 4 processes), with
readers polling meanwhile that must never see a gap or a later position before an
earlier one. Every read a reader makes is recorded and checked afterwards."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from contract_backends import BackendUnderTest

from questlog import NewEvent, Store

# One read a poller made: the head it saw first, where it read from, what it got.
Snapshot = tuple[int, int, list[int]]

STREAMS = [f"{cat}-{n}" for cat in ("camp", "char", "enc") for n in range(4)]


def poll_log(store: Store, stop: Callable[[], bool]) -> list[Snapshot]:
    """Read the log from where the last read ended until `stop()`, recording each read.
    A final read after `stop()` sees everything committed before it."""
    snapshots: list[Snapshot] = []
    start = 1
    last = False
    while not last:
        last = stop()
        head = store.head_position()
        positions = [e.position for e in store.read_all(from_position=start)]
        snapshots.append((head, start, positions))
        start += len(positions)
        time.sleep(0.001)  # poll hard, but leave the writers the cores of a shared machine
    return snapshots


def check_snapshots(snapshots: Iterable[Snapshot], total: int) -> int:
    """Every read starts where the last ended, is gapless and ordered, includes all that
    the head it saw before promised, and the head never goes back. Returns how many
    reads found new events (the reader saw the log grow that many times)."""
    expected_start, last_head, reads = 1, 0, 0
    for head, start, positions in snapshots:
        reads += bool(positions)
        assert start == expected_start, (start, expected_start)
        assert positions == list(range(start, start + len(positions))), (
            f"a read from {start} saw a gap or a reordering: {positions[:20]}")
        assert head >= last_head, f"the head went back from {last_head} to {head}"
        assert start + len(positions) - 1 >= head, (
            f"head {head} was visible but a read from {start} returned {len(positions)}")
        expected_start, last_head = start + len(positions), head
    assert expected_start == total + 1, "the final read did not reach the end of the log"
    return reads


def check_log(store: Store, results: Iterable[tuple[str, list[int], int]], total: int) -> None:
    """What the callers were told matches the stored log, which is gapless and verified."""
    returned = sorted(p for _s, positions, _v in results for p in positions)
    assert returned == list(range(1, total + 1)), "positions returned are not 1..N, once each"
    by_position = {e.position: e for e in store.read_all()}
    assert sorted(by_position) == returned
    for stream, positions, version in results:
        for offset, position in enumerate(positions):
            e = by_position[position]
            assert (e.stream_id, e.stream_version) == (
                stream, version - len(positions) + 1 + offset)
    per_stream: dict[str, list[int]] = defaultdict(list)
    for e in by_position.values():
        per_stream[e.stream_id].append(e.stream_version)
    for stream, versions in per_stream.items():
        assert versions == list(range(1, len(versions) + 1)), stream
    report = store.verify()
    assert report.ok, report.problems
    assert report.events == total


def test_32_threads_append_gapless_while_readers_poll(backend: BackendUnderTest) -> None:
    threads_n, calls = 32, 20
    store = backend.open_store(projectors=[])
    results: list[tuple[str, list[int], int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n)
    done = threading.Event()
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        barrier.wait()
        try:
            for i in range(calls):
                stream = rng.choice(STREAMS)
                r = store.append(stream, [NewEvent(type="Tick", data={"w": n, "i": i, "k": k})
                                          for k in range(rng.randint(1, 3))])
                with lock:
                    results.append((stream, r.positions, r.stream_version))
        except BaseException as exc:  # reported below, not lost in a thread
            failures.append(exc)

    polled: list[list[Snapshot]] = [[], []]

    def reader(slot: int) -> None:
        try:
            polled[slot] = poll_log(store, done.is_set)
        except BaseException as exc:
            failures.append(exc)

    readers = [threading.Thread(target=reader, args=(k,)) for k in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    try:
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join()
        done.set()
        for t in readers:
            t.join()
        assert not failures, failures
        total = sum(len(p) for _s, p, _v in results)
        assert len(results) == threads_n * calls
        check_log(store, results, total)
        reads = [check_snapshots(snaps, total) for snaps in polled]
        assert min(reads) >= 3, "the readers did not see the log grow during the load"
    finally:
        done.set()
        store.close()


APPENDER = """
import random, threading, time
from questlog import NewEvent
name, threads_n, calls, go = args[0], int(args[1]), int(args[2]), args[3]
store = open_store(projectors=[])
store.write(lambda session: None)  # the writer runs
print("ready", flush=True)
lock = threading.Lock()
def work(n):
    rng = random.Random(f"{name}-{n}")
    for i in range(calls):
        stream = rng.choice(STREAMS)
        r = store.append(stream, [NewEvent(type="Tick", data={"p": name, "t": n, "i": i, "k": k})
                                  for k in range(rng.randint(1, 3))])
        with lock:
            print(json.dumps([stream, r.positions, r.stream_version]), flush=True)
while not os.path.exists(go):  # start together, once the readers poll too
    time.sleep(0.005)
threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
for t in threads: t.start()
for t in threads: t.join()
store.close()
"""

POLLER = """
import time
stop_file, deadline = args[0], time.time() + float(args[1])
store = open_store(projectors=[])
start, last = 1, False
while not last:
    last = os.path.exists(stop_file) or time.time() > deadline
    head = store.head_position()
    positions = [e.position for e in store.read_all(from_position=start)]
    print(json.dumps([head, start, positions]), flush=True)
    start += len(positions)
    time.sleep(0.001)
store.close()
"""


def test_4_processes_append_gapless_while_readers_poll(backend: BackendUnderTest,
                                                       tmp_path: Path) -> None:
    procs_n, threads_n, calls = 4, 4, 30
    backend.open_store(projectors=[]).close()  # the schema exists before they race
    go, stop_file = tmp_path / "go", tmp_path / "stop-polling"
    streams = f"STREAMS = {STREAMS!r}\n"
    writers = [backend.spawn_writer_process(streams + APPENDER, f"p{n}", str(threads_n),
                                            str(calls), str(go))
               for n in range(procs_n)]
    poller = backend.spawn_writer_process(POLLER, str(stop_file), "200")
    store = backend.open_store(projectors=[])
    done = threading.Event()
    polled: list[Snapshot] = []
    failures: list[BaseException] = []

    def reader() -> None:
        try:
            polled.extend(poll_log(store, done.is_set))
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=reader)
    try:
        for p in writers:
            assert p.stdout is not None and p.stdout.readline() == "ready\n", p.stderr
        assert poller.stdout is not None
        first_poll = poller.stdout.readline()  # the child poller is polling
        thread.start()
        go.touch()
        outputs = [p.communicate(timeout=240) for p in writers]
        done.set()
        stop_file.touch()  # every writer has exited
        thread.join()
        poller_out, poller_err = poller.communicate(timeout=60)
        for p, (_out, err) in zip(writers, outputs, strict=True):
            assert p.returncode == 0, err
        assert poller.returncode == 0, poller_err
        results = [tuple(json.loads(line)) for out, _ in outputs for line in out.split("\n")
                   if line]
        assert len(results) == procs_n * threads_n * calls
        total = sum(len(r[1]) for r in results)
        assert not failures, failures
        check_log(store, results, total)  # type: ignore[arg-type]
        assert check_snapshots(polled, total) >= 3
        child = [tuple(json.loads(line)) for line in (first_poll + poller_out).split("\n")
                 if line]
        assert check_snapshots(child, total) >= 3  # type: ignore[arg-type]
    finally:
        done.set()
        if thread.is_alive():
            thread.join()
        for p in [*writers, poller]:
            if p.poll() is None:
                p.kill()
                p.wait()
        store.close()


def test_a_subscriber_gets_every_event_once_in_order_while_threads_append(
        backend: BackendUnderTest) -> None:
    threads_n, calls = 8, 15
    with backend.open_store(projectors=[]) as store:
        store.append("camp-0", [NewEvent(type="Before")])
        stop = threading.Event()
        received: list[int] = []
        expected_total = 1 + threads_n * calls

        def subscriber() -> None:
            for event in store.subscribe(1, poll_interval=0.005, stop=stop):
                received.append(event.position)
                if len(received) == expected_total:
                    stop.set()

        def writer(n: int) -> None:
            for i in range(calls):
                store.append(STREAMS[(n + i) % len(STREAMS)], [NewEvent(type="Tick")])

        follower = threading.Thread(target=subscriber)
        follower.start()
        writers = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        follower.join(timeout=60)
        stop.set()
        assert not follower.is_alive()
        assert received == list(range(1, expected_total + 1))
