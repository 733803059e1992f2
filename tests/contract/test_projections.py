"""Projection contract: checkpoints move with their rows (exactly once across SIGKILL),
rebuilds fill a shadow that readers never see until the swap, and digests do not
change when a model is rebuilt from the log."""

from __future__ import annotations

import bisect
import os
import signal
import threading
import time

import contract_projectors as cp
from contract_backends import BackendUnderTest

from questlog import NewEvent, RecordedEvent, Store
from questlog.settings import Settings


def events(count: int) -> list[NewEvent]:
    return [NewEvent(type="T", data={"k": k}) for k in range(count)]


def checkpoints(store: Store) -> dict[str, int]:
    return {row["name"]: row["position"] for row in store.projections.status()}


def assert_models_match_the_log(store: Store, projectors: list[cp.StreamCounter]) -> None:
    """Caught up, every model equals the fold of the log, and a rebuild from scratch gives
    the same rows and the same digests."""
    store.projections.catch_up()
    log = list(store.read_all())
    head = log[-1].position if log else 0
    assert checkpoints(store) == {p.name: head for p in projectors}
    for p in projectors:
        assert cp.read_model(store, p) == cp.fold(log), p.name
    incremental = store.projections.hashes()
    rows = {p.name: cp.read_rows(store, p) for p in projectors}
    for p in projectors:
        p.generation += 1
    store.projections.rebuild()
    assert store.projections.hashes() == incremental
    for p in projectors:
        rebuilt = cp.read_rows(store, p)
        assert [r[:4] for r in rebuilt] == [r[:4] for r in rows[p.name]], p.name
        assert {r[4] for r in rebuilt} == ({p.generation} if rebuilt else set()), (
            "the rebuilt rows were not swapped in")


CRASHING_LOAD = """
from questlog import NewEvent
from questlog.settings import Settings
round_ = args[0]
store = open_store(projectors=projectors.both(),
                   settings=Settings(projection_batch_size=40, projection_poll_s=0.005))
store.projections.start()  # the async projector catches up while we append
i = 0
while True:
    r = store.append(f"load-{i % 9}", [NewEvent(type="Tick", data={"r": round_, "i": i, "k": k})
                                       for k in range(1 + i % 3)])
    print(r.positions[-1], flush=True)
    i += 1
"""


def test_checkpoints_apply_each_event_exactly_once_across_sigkill(
        backend: BackendUnderTest) -> None:
    backend.open_store(projectors=cp.both()).close()
    returned: list[int] = []
    for round_ in range(3):
        proc = backend.spawn_writer_process(CRASHING_LOAD, str(round_))
        assert proc.stdout is not None
        target = len(returned) + 150 + 50 * round_
        deadline = time.monotonic() + 90
        while len(returned) < target and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            returned.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)  # mid-load: appends and async catch-up in flight
        proc.wait(10)
        assert len(returned) >= target, proc.stderr.read() if proc.stderr else ""
        projectors = cp.both()
        with backend.open_store(projectors=projectors) as store:
            log = list(store.read_all())
            assert set(returned) <= {e.position for e in log}, "an acknowledged event is lost"
            assert store.verify().ok
            # Straight after the crash, before anything catches up: each model is the fold
            # of exactly the events up to its checkpoint (rows and checkpoint committed
            # together), and the inline one is at the head (it commits with the append).
            at = checkpoints(store)
            assert at["contract_inline"] == log[-1].position
            assert 0 <= at["contract_async"] <= log[-1].position
            for p in projectors:
                upto = [e for e in log if e.position <= at[p.name]]
                assert cp.read_model(store, p) == cp.fold(upto), (round_, p.name, at)
    projectors = cp.both()
    with backend.open_store(projectors=projectors) as store:
        assert_models_match_the_log(store, projectors)
        # The store goes on where the log ends, with its models.
        store.append("load-0", [NewEvent(type="Tick")])
        assert_models_match_the_log(store, projectors)


def test_readers_see_the_old_model_until_the_swap(backend: BackendUnderTest) -> None:
    counter = cp.StreamCounter()
    settings = Settings(projection_rebuild_batch_size=50)
    with backend.open_store(projectors=[counter], settings=settings) as store:
        for n in range(40):
            store.append_many([(f"s-{(n + k) % 13}", events(1 + k), "any") for k in range(3)])
        old = cp.read_model(store, counter)
        assert old == cp.fold(store.read_all())
        assert {r[4] for r in cp.read_rows(store, counter)} == {1}
        digests = store.projections.hashes()

        # (generation seen, whether a rebuild batch had been applied before the read, model)
        seen: list[tuple[frozenset[int], bool, cp.Model]] = []
        stop = threading.Event()
        failures: list[BaseException] = []

        def reader() -> None:
            try:
                while not stop.is_set():
                    underway = counter.applied_batches > 0
                    rows = cp.read_rows(store, counter)
                    seen.append((frozenset(r[4] for r in rows),
                                 underway, {r[0]: (r[1], r[2], r[3]) for r in rows}))
            except BaseException as exc:
                failures.append(exc)

        counter.generation, counter.delay_s, counter.applied_batches = 2, 0.05, 0
        thread = threading.Thread(target=reader)
        thread.start()
        try:
            store.projections.rebuild()
        finally:
            counter.delay_s = 0.0
            time.sleep(0.05)  # a few reads after the swap
            stop.set()
            thread.join()
        assert not failures, failures
        assert counter.applied_batches >= 5, "the rebuild ran in batches"
        generations = [g for g, _u, _m in seen]
        assert all(g in (frozenset({1}), frozenset({2})) for g in generations), (
            "a reader saw old and rebuilt rows mixed")
        assert all(m == old for _g, _u, m in seen), "a reader saw a partial model"
        flip = generations.index(frozenset({2}))
        assert set(generations[flip:]) == {frozenset({2})}, "the old model came back"
        assert sum(1 for g, underway, _m in seen[:flip] if underway) >= 3, (
            "no reader read while the shadow was being built")
        assert cp.read_model(store, counter) == old
        assert store.projections.hashes() == digests


def test_rebuild_under_appends_keeps_the_inline_model_current(
        backend: BackendUnderTest) -> None:
    """While a rebuild runs and others append, every read of the inline model is complete:
    it covers the head committed before the read and equals the fold of the log up to the
    last position it holds. Afterwards both models equal the log's fold."""
    projectors = cp.both()
    settings = Settings(projection_rebuild_batch_size=25, projection_batch_size=25)
    with backend.open_store(projectors=projectors, settings=settings) as store:
        for n in range(100):
            store.append(f"s-{n % 11}", events(1 + n % 4))
        store.projections.catch_up()
        observed: list[tuple[int, cp.Model]] = []  # (head before the read, model)
        stop = threading.Event()
        failures: list[BaseException] = []

        def appender() -> None:
            n = 0
            try:
                while not stop.is_set():
                    store.append(f"s-{n % 11}", [NewEvent(type="Late", data={"n": n})])
                    n += 1
                    time.sleep(0.002)
            except BaseException as exc:
                failures.append(exc)

        def reader() -> None:
            try:
                while not stop.is_set():
                    head = store.head_position()
                    observed.append((head, cp.read_model(store, projectors[0])))
                    time.sleep(0.001)
            except BaseException as exc:
                failures.append(exc)

        for p in projectors:
            p.delay_s = 0.03
        threads = [threading.Thread(target=appender), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        try:
            store.projections.rebuild()
        finally:
            stop.set()
            for t in threads:
                t.join()
            for p in projectors:
                p.delay_s = 0.0
        assert not failures, failures
        log = list(store.read_all())
        assert sum(e.type == "Late" for e in log) >= 3, "few appends during the rebuild"
        assert len(observed) >= 20
        _check_prefix_models(log, observed)
        assert_models_match_the_log(store, projectors)


def _check_prefix_models(log: list[RecordedEvent], observed: list[tuple[int, cp.Model]]
                         ) -> None:
    """Each observed model is the fold of the log up to its last position, which is at
    least the head committed before it was read."""
    positions = [e.position for e in log]
    folds: dict[int, cp.Model] = {}
    for head, model in observed:
        last = max((v[1] for v in model.values()), default=0)
        assert last >= head, f"the inline model stopped at {last} while the head was {head}"
        if last not in folds:
            folds[last] = cp.fold(log[:bisect.bisect_right(positions, last)])
        assert model == folds[last], f"the model read at position {last} is not the log's"
