"""The writer's one-round-trip batch on PostgreSQL (`questlog_append_after`, migration
0003): taken when this process wrote last; written after another writer's events when
none of its streams moved; safe when they did — another writer between two batches, a
commit that lands while the statement waits for the log's lock, a statement on a
snapshot older than the head, a refusal judged on a stale memory of a stream, a
connection lost while the statement committed or before it. See the module docstring
of `questlog.postgres.transactions` for the argument these tests check."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from questlog import ANY, NO_STREAM, NewEvent, Store, schema
from questlog.errors import SchemaOutOfDate, WrongExpectedVersion
from questlog.planner import BatchState, make_call, plan_calls
from questlog.postgres.connections import Database
from questlog.postgres.log import INSERT_EVENTS_SQL, LOG, PostgresLog
from questlog.postgres.schema import LOG_LOCK_KEY
from questlog.settings import Settings
from questlog.storage.errors import IntegrityConflict, StorageBusy, StorageUnavailable
from questlog.writer import AppendRequest


def ev(**data: object) -> NewEvent:
    return NewEvent(type="Happened", data=dict(data))


@pytest.fixture
def two_stores(pg_url: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database: two writers on two connections, as two processes."""
    a = Store.open(pg_url, projectors=[])
    b = Store.open(pg_url, projectors=[])
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def streams_table(store: Store) -> dict[str, tuple[int, int]]:
    with store.read() as session:
        return {sid: (int(v), int(lp)) for sid, v, lp in session.execute(
            "SELECT stream_id, version, last_position FROM streams")}


def check_log(store: Store, total: int) -> None:
    events = list(store.read_all())
    assert [e.position for e in events] == list(range(1, total + 1))
    assert len({e.event_id for e in events}) == total
    report = store.verify()
    assert report.ok, report.problems


def test_a_writer_that_wrote_last_takes_one_round_trip_per_batch(pg_url: str) -> None:
    with Store.open(pg_url, projectors=[]) as store:
        store.append("s-1", [ev(n=0)])  # the first batch reads the log (a transaction)
        writer = store.writer
        before = writer.single_statement_batches
        for n in range(1, 6):
            store.append("s-1", [ev(n=n), ev(n=n)])
        assert writer.single_statement_batches == before + 5
        assert writer.single_statement_fallbacks == 0
        assert streams_table(store) == {"s-1": (11, 11)}
        check_log(store, 11)


def test_another_writer_between_batches_makes_the_statement_fall_back(
        two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    a.append("campaign-1", [ev(n=1)], expected_version=NO_STREAM)
    a.append("campaign-1", [ev(n=2)], expected_version=1)
    assert a.writer.single_statement_batches >= 1  # a's tip is warm
    b.append("campaign-1", [ev(n=3)], expected_version=2)
    b.append("other-1", [ev(n=4)])
    # a remembers head 2 and version 2: its statement must find the head moved.
    fallbacks = a.writer.single_statement_fallbacks
    result = a.append("campaign-1", [ev(n=5)], expected_version=3)
    assert a.writer.single_statement_fallbacks == fallbacks + 1
    assert result.positions == [5] and result.stream_version == 4
    b.append("other-1", [ev(n=6)])
    result = a.append("other-1", [ev(n=7)], expected_version=ANY)  # a's memory is stale
    assert result.positions == [7] and result.stream_version == 3
    assert [e.data["n"] for e in a.read_all()] == [1, 2, 3, 4, 5, 6, 7]
    assert streams_table(a) == {"campaign-1": (4, 5), "other-1": (3, 7)}
    check_log(a, 7)


@pytest.mark.parametrize("log_alone", [True, False], ids=["one-round-trip", "transaction"])
def test_a_refusal_is_judged_on_the_real_version_after_another_writer(
        pg_url: str, log_alone: bool) -> None:
    projectors = [] if log_alone else None  # None: the shipped set, inline ones included
    with Store.open(pg_url, projectors=projectors) as a, \
            Store.open(pg_url, projectors=projectors) as b:
        a.append("campaign-1", [ev(n=1)], expected_version=NO_STREAM)
        a.append("campaign-1", [ev(n=2)], expected_version=1)
        b.append("campaign-1", [ev(n=3)], expected_version=2)
        # a remembers version 2; the stream is at 3, so expecting 3 is right.
        assert a.append("campaign-1", [ev(n=4)], expected_version=3).stream_version == 4
        b.append("campaign-1", [ev(n=5)], expected_version=4)
        # Refused either way, but against the real version (5), not a's memory (4).
        with pytest.raises(WrongExpectedVersion) as err:
            a.append("campaign-1", [ev(n=6)], expected_version=4)
        assert err.value.actual == 5
        # A refusal that would be right on a's memory must not stand: b moved the stream.
        b.append("campaign-1", [ev(n=7)], expected_version=5)
        assert a.append("campaign-1", [ev(n=8)], expected_version=6).stream_version == 7
        assert [e.data["n"] for e in a.read_stream("campaign-1")] == [1, 2, 3, 4, 5, 7, 8]
        assert a.verify().ok


def test_writers_on_their_own_streams_write_after_each_other_in_one_round_trip(
        two_stores: tuple[Store, Store]) -> None:
    """Each writer's memory of the head is stale at every append (the other wrote last),
    but no stream of its batch moved: the statement writes the batch after the other's
    events, the server recomputing the chain from the real head (`verify` recomputes it
    in Python: the two encodings must agree, non-ASCII text included)."""
    a, b = two_stores
    a.append("a-1", [ev(n=0)])
    b.append("b-1", [ev(n=0)])
    rebases = a.writer.single_statement_rebases + b.writer.single_statement_rebases
    for n in range(1, 6):
        assert a.append("a-1", [ev(n=n, text="é 龍 🐉"), ev(n=n)]).stream_version == 2 * n + 1
        assert b.append("b-1", [ev(n=n, text="\u00fc\\\"")]).stream_version == n + 1
    assert a.writer.single_statement_rebases + b.writer.single_statement_rebases == (
        rebases + 10)
    assert a.writer.single_statement_fallbacks + b.writer.single_statement_fallbacks == 0
    assert streams_table(a) == {"a-1": (11, 16), "b-1": (6, 17)}
    check_log(a, 17)


def test_a_refusal_in_a_batch_written_after_another_writer_stands_only_if_its_stream_held(
        pg_url: str) -> None:
    """One batch of two calls (a refusal and an append) planned on a stale head: written
    in one round trip when the refused call's stream did not move, redone as a
    transaction, where the call is judged again, when it did."""
    settings = Settings(writer_batch_wait_ms=300)  # both calls in one batch
    with Store.open(pg_url, projectors=[], settings=settings) as a, \
            Store.open(pg_url, projectors=[]) as b:
        a.append("a-1", [ev(n=1)])
        a.append("a-1", [ev(n=2)])
        b.append("b-1", [ev(n=3)])

        def batch(expected: int) -> tuple[BaseException | None, Any]:
            refused = AppendRequest([make_call("a-1", [ev(n=9)], expected)])
            other = AppendRequest([make_call("c-1", [ev(n=4)], ANY)])
            a.writer.submit(refused)
            a.writer.submit(other)
            try:
                return None, refused.future.result()
            except WrongExpectedVersion as exc:
                return exc, other.future.result()
            finally:
                other.future.result()

        rebases, fallbacks = a.writer.single_statement_rebases, a.writer.single_statement_fallbacks
        error, other = batch(5)  # a-1 is at 2, and a remembers 2: refused
        assert isinstance(error, WrongExpectedVersion) and error.actual == 2
        assert other[0].positions == [4]  # after b's event at 3
        assert a.writer.single_statement_rebases == rebases + 1
        b.append("a-1", [ev(n=5)], expected_version=2)  # a-1 at 3; a remembers 2
        error, result = batch(3)  # right on the real version: must not be refused
        assert error is None and result[0].stream_version == 4
        assert a.writer.single_statement_fallbacks == fallbacks + 1
        check_log(a, 7)


@pytest.mark.parametrize("other_stream", ["t-1", "s-1"], ids=["another-stream", "same-stream"])
def test_a_commit_landing_while_the_statement_waits_for_the_lock_is_seen(
        pg_url: str, other_stream: str) -> None:
    """The statement's own snapshot predates the lock it waits for; the function reads
    the head again once the lock is granted, so another writer's commit meanwhile is
    seen: on another stream the batch is written after it (positions moved, the chain
    recomputed), on the batch's own stream nothing is written and the writer redoes the
    batch as a transaction after that commit."""
    with Store.open(pg_url, projectors=[]) as store:
        store.append("s-1", [ev(n=1)])
        store.append("s-1", [ev(n=2, text="é 龍 🐉")])  # the tip is warm: head 2
        with store.read() as session:
            head, head_hash = store.backend.log.head(session)
        # Another writer, by hand: holds the log's lock, writes position 3, commits later.
        other = psycopg.connect(store.backend.database.conninfo, autocommit=True)
        try:
            other.execute(f"BEGIN; SELECT pg_advisory_xact_lock({LOG_LOCK_KEY})")
            versions = {other_stream: 2 if other_stream == "s-1" else 0}
            plan = plan_calls([make_call(other_stream, [ev(n=3, text="ü")], ANY)],
                              BatchState(head, head_hash, versions, {}),
                              {}, "2026-12-01T00:00:00.000000Z")
            other.execute(INSERT_EVENTS_SQL, [list(c) for c in zip(*plan.rows, strict=True)])
            results: list[Any] = []
            appender = threading.Thread(
                target=lambda: results.append(store.append("s-1", [ev(n=4, text="ß ∑")])))
            fallbacks = store.writer.single_statement_fallbacks
            rebases = store.writer.single_statement_rebases
            appender.start()
            _wait_for_a_waiter_on_the_log_lock(other)
            other.execute("COMMIT")
            appender.join(timeout=30)
        finally:
            other.close()
        moved = other_stream == "s-1"
        assert results and results[0].positions == [4]
        assert results[0].stream_version == (4 if moved else 3)
        assert store.writer.single_statement_fallbacks == fallbacks + moved
        assert store.writer.single_statement_rebases == rebases + (not moved)
        assert [e.data["n"] for e in store.read_all()] == [1, 2, 3, 4]
        check_log(store, 4)


def test_a_statement_on_an_older_snapshot_is_stopped_by_the_primary_key(
        pg_url: str) -> None:
    """Run on a snapshot older than the head (REPEATABLE READ), the head check passes on
    what that snapshot saw; the planned first position is taken, so nothing is written."""
    with Store.open(pg_url, projectors=[]) as store:
        store.append("s-1", [ev(n=1)])
        with store.read() as session:
            head, head_hash = store.backend.log.head(session)
        stale = psycopg.connect(store.backend.database.conninfo, autocommit=True)
        try:
            stale.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            stale.execute("SELECT count(*) FROM events").fetchone()  # the snapshot: head 1
            store.append("s-1", [ev(n=2)])  # head 2, committed after that snapshot
            plan = plan_calls([make_call("t-1", [ev(n=3)], ANY)],
                              BatchState(head, head_hash, {"t-1": 0}, {}),
                              {}, "2026-12-01T00:00:00.000000Z", record=False)
            with pytest.raises((IntegrityConflict, StorageBusy)):
                LOG.insert_after(stale, plan.rows, (head, head_hash))
            stale.execute("ROLLBACK")
            # In READ COMMITTED (autocommit) the same call sees the head moved: None.
            assert LOG.insert_after(stale, plan.rows, (head, head_hash)) is None
        finally:
            stale.close()
        assert [e.data["n"] for e in store.read_all()] == [1, 2]
        check_log(store, 2)


def test_two_writers_interleaving_lose_nothing_and_double_nothing(
        two_stores: tuple[Store, Store]) -> None:
    """4 threads on each of two writers, random streams and sizes: each writer's memory
    goes stale again and again; every acknowledged event is stored once, in order."""
    stores = two_stores
    acknowledged: list[tuple[str, list[int], int, list[str]]] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work(store: Store, n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(40):
                stream = f"s-{rng.randrange(6)}"
                events = [NewEvent(type="Tick", data={"n": n, "i": i, "k": k})
                          for k in range(rng.randint(1, 3))]
                r = store.append(stream, events)
                with lock:
                    acknowledged.append((stream, r.positions, r.stream_version,
                                         [str(e.event_id) for e in events]))
        except BaseException as exc:  # reported below, not lost in a thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(stores[n % 2], n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    a, b = stores
    events = {e.position: e for e in a.read_all()}
    total = sum(len(p) for _s, p, _v, _i in acknowledged)
    assert sorted(p for _s, ps, _v, _i in acknowledged for p in ps) == list(range(1, total + 1))
    for stream, positions, version, ids in acknowledged:
        assert [(events[p].stream_id, events[p].event_id) for p in positions] == [
            (stream, i) for i in ids]
        assert events[positions[-1]].stream_version == version
    check_log(a, total)
    # The one round trip was tried (each writer's second batch tries it) and met the
    # other writer's appends: written after them, or redone as a transaction (after which
    # the writer backs off to transactions for a while, so how many of each varies).
    assert sum(w.single_statement_batches + w.single_statement_fallbacks
               for w in (a.writer, b.writer)) > 0
    assert sum(w.single_statement_fallbacks + w.single_statement_rebases
               for w in (a.writer, b.writer)) > 0


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "not-committed"])
def test_a_connection_lost_during_the_statement_is_redone_recognising_its_ids(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, committed: bool) -> None:
    """The statement's answer was lost, whether or not it committed: the writer redoes
    the batch as a transaction that treats its (generated) event ids as caller-chosen,
    so the caller is told where its events are, and nothing is written twice."""
    with Store.open(pg_url, projectors=[]) as store:
        store.append("s-1", [ev(n=1)])
        original = PostgresLog.insert_after

        def lost(self: PostgresLog, session: Any, rows: Any, head: tuple[int, str],
                 streams: Any = None) -> Any:
            monkeypatch.setattr(PostgresLog, "insert_after", original)
            if committed:
                assert original(self, session, rows, head, streams)
            raise StorageUnavailable("connection lost (simulated)")

        monkeypatch.setattr(PostgresLog, "insert_after", lost)
        fallbacks = store.writer.single_statement_fallbacks
        result = store.append("s-1", [ev(n=2), ev(n=2)])
        assert result.positions == [2, 3] and result.stream_version == 3
        assert store.writer.single_statement_fallbacks == fallbacks + 1
        assert store.append("s-1", [ev(n=3)]).positions == [4]
        assert [e.data["n"] for e in store.read_all()] == [1, 2, 2, 3]
        check_log(store, 4)


def test_a_writer_connection_the_server_ended_while_idle_is_replaced(pg_url: str) -> None:
    with Store.open(pg_url, projectors=[]) as store:
        store.append("s-1", [ev(n=1)])
        store.append("s-1", [ev(n=2)])  # the tip is warm: the next batch is one statement
        with admin_connection(pg_url) as conn:
            ended = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM "
                                 "pg_stat_activity WHERE application_name = "
                                 "'questlog-writer'").fetchone()
        assert ended == (1,)
        assert store.append("s-1", [ev(n=3)]).positions == [3]
        check_log(store, 3)


def admin_connection(url: str) -> psycopg.Connection[Any]:
    from questlog.postgres.connections import conninfo_of

    return psycopg.connect(conninfo_of(url), autocommit=True)


def test_migrate_gives_a_0002_store_the_one_round_trip(pg_url: str) -> None:
    from click.testing import CliRunner

    from questlog.cli import cli

    db = Database(pg_url, Settings())
    try:
        schema.upgrade(db, "0002")
    finally:
        db.dispose()
    with pytest.raises(SchemaOutOfDate, match="0002"):
        Store.open(pg_url, projectors=[], create=False)
    result = CliRunner().invoke(cli, ["--db", pg_url, "migrate"])
    assert result.exit_code == 0, result.output
    assert f"0002 -> {schema.HEAD_REVISION}" in result.output
    with Store.open(pg_url, projectors=[], create=False) as store:
        store.append("s-1", [ev(n=1)])
        before = store.writer.single_statement_batches
        store.append("s-1", [ev(n=2)])
        assert store.writer.single_statement_batches == before + 1
        check_log(store, 2)


def _wait_for_a_waiter_on_the_log_lock(conn: psycopg.Connection[Any]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                               "AND NOT granted").fetchone()
        if waiting and waiting[0]:
            return
        time.sleep(0.01)
    raise AssertionError("the writer never waited for the log's lock")
