"""The PostgreSQL backend's own behaviour: broken connections, SQLSTATEs, the schema,
foreign databases, `doctor` (the contract suite covers what every backend shares)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import psycopg
import pytest

from questlog import NewEvent, Store
from questlog.errors import NotAStore, StoreNotInitialized
from questlog.postgres.errors import translate
from questlog.postgres.schema import LOG_LOCK_KEY
from questlog.storage import errors as neutral
from questlog.storage.errors import IntegrityConflict, StorageBusy, StorageUnavailable


def terminate(url: str, application: str) -> int:
    """End every connection of `application` to the store's database (as a server restart
    or a network cut would); returns how many."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            (application,)).fetchall()
    return len(rows)


def test_the_writer_and_readers_reconnect_after_their_connections_are_cut(pg_url: str) -> None:
    with Store.open(pg_url, projectors=[]) as store:
        first = store.append("camp-1", [NewEvent(type="A")])
        assert store.read_stream("camp-1")[0].position == first.positions[0]
        assert terminate(pg_url, "questlog-writer") == 1
        assert terminate(pg_url, "questlog-reader") >= 1
        # The next batch finds the writer's connection gone and opens another; the pool
        # checks a connection before lending it and replaces a dead one.
        again = store.append("camp-1", [NewEvent(type="B")], expected_version=1)
        assert again.positions == [first.positions[0] + 1]
        assert [e.type for e in store.read_stream("camp-1")] == ["A", "B"]
        report = store.verify()
        assert report.ok and report.events == 2, report.problems


def test_errors_are_told_apart_by_sqlstate(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (k int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.Error) as unique:
            conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.Error) as locked:
            conn.execute("SET lock_timeout = 1")
            conn.execute("BEGIN")
            with psycopg.connect(pg_url, autocommit=True) as holder:
                holder.execute("BEGIN")
                holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
                conn.execute("SELECT * FROM t")
        conn.execute("ROLLBACK")
    assert isinstance(translate(unique.value), IntegrityConflict)
    assert isinstance(translate(locked.value), StorageBusy)
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("postgresql://nobody@localhost:1/none", connect_timeout=2)
    assert isinstance(translate(refused.value), StorageUnavailable)
    assert translate(ValueError("unique violation")) is None  # never by message text
    # The same answers reach code outside the engine package through storage.errors, which
    # asks the PostgresDriverErrors the package registered when it was imported.
    assert isinstance(neutral.translate(unique.value), IntegrityConflict)
    assert isinstance(neutral.storage_error(locked.value), StorageBusy)
    assert neutral.code_name(unique.value) == "SQLSTATE 23505"
    assert psycopg.Error in neutral.driver_error_classes()
    assert psycopg.DatabaseError in neutral.driver_error_classes(database_only=True)


def test_a_writer_waits_for_the_log_lock_another_process_holds(pg_url: str) -> None:
    with Store.open(pg_url, projectors=[]) as store:
        store.append("camp-1", [NewEvent(type="A")])
        holder = psycopg.connect(pg_url, autocommit=True)
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (LOG_LOCK_KEY,))
        release = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
        release.start()
        started = time.monotonic()
        # The writer's BEGIN waits on the advisory lock (past lock_timeout it would get
        # StorageBusy, 55P03, and retry for lock_retry_s) until the other writer commits.
        assert store.append("camp-1", [NewEvent(type="B")]).positions == [2]
        assert time.monotonic() - started >= 0.35
        release.join()
        holder.close()


def test_a_database_with_other_tables_is_refused_and_an_empty_one_needs_init(
        pg_url: str) -> None:
    with pytest.raises(StoreNotInitialized, match="no questlog schema"):
        Store.open(pg_url, create=False)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(NotAStore, match="other tables"):
        Store.open(pg_url)
    with Store.open(pg_url, projectors=[], adopt=True) as store:
        assert store.append("camp-1", [NewEvent(type="A")]).positions == [1]


def test_processes_opening_a_new_store_together_create_its_schema_once(pg_url: str) -> None:
    script = ("import sys; from questlog import Store, NewEvent\n"
              "with Store.open(sys.argv[1], projectors=[]) as s:\n"
              "    s.append('camp-' + sys.argv[2], [NewEvent(type='A')])\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, pg_url, str(n)],
                              stderr=subprocess.PIPE, text=True) for n in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    with Store.open(pg_url, projectors=[]) as store:
        assert sorted(e.position for e in store.read_all()) == [1, 2, 3]
        assert store.verify().ok


def _doctor(url: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    done = subprocess.run([sys.executable, "-m", "questlog.cli", "--json", "--db", url,
                           "doctor"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_doctor_names_the_server_and_pgvector(pg_url: str) -> None:
    Store.open(pg_url, projectors=[]).close()
    report = _doctor(pg_url)
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        available = conn.execute("SELECT default_version FROM pg_available_extensions "
                                 "WHERE name = 'vector'").fetchone()
    assert report["backend"] == "postgresql"
    assert report["postgresql"] == version
    assert report["capabilities"]["server_version"] == version
    if available is not None:
        assert report["capabilities"]["pgvector_available"] == available[0]
        assert available[0] in report["pgvector"]
    password = psycopg.conninfo.conninfo_to_dict(pg_url).get("password")
    assert not password or password not in json.dumps(report)


def test_a_subscriber_wakes_on_another_process_commit_before_its_poll_interval(
        pg_url: str) -> None:
    """LISTEN/NOTIFY: the subscriber polls every 30 s, yet sees each event another
    writer (another store object: its own connections, as another process) appends
    within a second or two."""
    with Store.open(pg_url, projectors=[]) as reader, \
            Store.open(pg_url, projectors=[]) as writer:
        writer.append("camp-1", [NewEvent(type="A")])
        got: list[tuple[int, float]] = []
        stop = threading.Event()

        def follow() -> None:
            for event in reader.subscribe(1, poll_interval=30, stop=stop):
                got.append((event.position, time.monotonic()))
                if event.position == 3:
                    return

        follower = threading.Thread(target=follow)
        follower.start()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the follower is waiting now
        for n in (2, 3):
            sent = time.monotonic()
            writer.append("camp-1", [NewEvent(type="A")])
            while len(got) < n and time.monotonic() < sent + 10:
                time.sleep(0.01)
            assert len(got) == n, f"event {n} not seen within 10 s"
            assert got[-1][1] - sent < 2.0, "woken by the poll interval, not the commit"
            time.sleep(0.3)
        stop.set()
        follower.join(timeout=35)
        assert [p for p, _t in got] == [1, 2, 3]


def test_anchors_need_an_anchor_file_named_and_then_verify(pg_url: str, tmp_path: Any) -> None:
    from questlog.errors import ConfigurationError
    from questlog.settings import Settings

    key = "k" * 32
    with Store.open(pg_url, projectors=[],
                    settings=Settings(anchor_key=key, anchor_every_events=0,  # type: ignore[arg-type]
                                      anchor_every_s=0)) as store:
        store.append("camp-1", [NewEvent(type="A")])
        with pytest.raises(ConfigurationError, match="QUESTLOG_ANCHOR_PATH"):
            store.anchor()
        anchor = store.anchor(tmp_path / "anchors.jsonl")
        assert anchor.position == 1
        store.append("camp-1", [NewEvent(type="B")])
        assert store.verify_anchors(tmp_path / "anchors.jsonl").ok
