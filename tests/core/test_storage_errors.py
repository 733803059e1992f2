"""Driver errors become the neutral storage errors by SQLite's result code (issue 11).

Real SQLite files, real faults: a held write lock (busy), a page limit (full), a
file that is not a database (corrupt), a taken position (integrity).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from questlog import NewEvent, Store
from questlog.errors import NotAStore, StorageCorrupt, StorageError, StorageFull, StoreUnavailable
from questlog.settings import Settings
from questlog.sqlite.connections import Database
from questlog.sqlite.driver import load_dbapi
from questlog.sqlite.errors import (
    is_busy,
    is_corruption,
    open_failure,
    result_code,
    storage_error,
    translate,
)
from questlog.sqlite.log import LOG
from questlog.sqlite.transactions import SQLiteWriteTransactions
from questlog.storage.errors import IntegrityConflict, StorageBusy
from questlog.storage.select import BackendUnavailable, open_backend, parse_location


def _raised(fn: object) -> BaseException:
    try:
        fn()  # type: ignore[operator]
    except Exception as exc:
        return exc
    raise AssertionError("no error raised")


def test_busy_is_told_by_code(tmp_path: Path) -> None:
    dbapi = load_dbapi()
    path = tmp_path / "busy.db"
    holder = dbapi.connect(str(path), isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = dbapi.connect(str(path), isolation_level=None, timeout=0)
    try:
        exc = _raised(lambda: other.execute("BEGIN IMMEDIATE"))
        assert result_code(exc) == 5 and is_busy(exc) and not is_corruption(exc)
        error = translate(exc)
        assert isinstance(error, StorageBusy) and error.retryable
        assert error.__cause__ is exc
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        other.close()


def test_disk_full_is_told_by_code(tmp_path: Path) -> None:
    conn = load_dbapi().connect(str(tmp_path / "full.db"), isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 3")
    exc = _raised(lambda: conn.execute("INSERT INTO t VALUES (?)", ("x" * 100_000,)))
    conn.close()
    error = storage_error(exc)
    assert isinstance(error, StorageFull) and error.retryable
    # Found through a wrapping error too (a projector's failure, say).
    wrapper = RuntimeError("projector failed")
    wrapper.__cause__ = exc
    assert isinstance(storage_error(wrapper), StorageFull)


def test_not_a_database_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a SQLite file at all, " * 200)
    conn = load_dbapi().connect(str(path))
    exc = _raised(lambda: conn.execute("SELECT name FROM sqlite_master").fetchall())
    conn.close()
    assert is_corruption(exc)
    assert isinstance(storage_error(exc), StorageCorrupt)
    assert not storage_error(exc).retryable  # type: ignore[union-attr]
    failure = open_failure(exc, path, read_only=True)
    assert isinstance(failure, NotAStore) and str(path) in str(failure)
    with pytest.raises(NotAStore):
        Store.open(path, projectors=[])


def test_a_taken_position_is_an_integrity_conflict(store_path: Path) -> None:
    store = Store.open(store_path, projectors=[])
    try:
        store.append("s-1", [NewEvent(type="A")])
        with store.read() as session:
            (row,) = LOG.read_all_rows(session)
        exc = _raised(lambda: store.write(lambda session: LOG.insert(session, [row])))
        assert isinstance(exc, IntegrityConflict)
        assert not isinstance(exc, StorageError)  # the statement's fault, not the server's
        assert storage_error(exc) is None and translate(exc) is exc
        assert store.head_position() == 1 and store.verify().ok  # nothing was written
    finally:
        store.close()


def test_a_plain_sql_error_is_none_of_them(tmp_path: Path) -> None:
    conn = load_dbapi().connect(":memory:")
    exc = _raised(lambda: conn.execute("SELECT * FROM no_such_table"))
    conn.close()
    assert result_code(exc) == 1 and translate(exc) is None and storage_error(exc) is None


def test_the_writer_begin_says_busy_and_the_writer_waits_it_out(store_path: Path) -> None:
    store = Store.open(store_path, projectors=[], settings=Settings(lock_retry_s=10))
    store.append("s-1", [NewEvent(type="A")])
    database: Database = store.backend.database  # type: ignore[attr-defined]
    tx = SQLiteWriteTransactions(database)
    tx.connection.execute("PRAGMA busy_timeout=0")  # fail at once instead of after 5 s
    holder = load_dbapi().connect(str(store_path), isolation_level=None,
                                  check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageBusy):
            tx.begin()
        assert not tx.connection.in_transaction
        release = threading.Timer(0.3, lambda: holder.execute("ROLLBACK"))
        release.start()
        started = time.monotonic()
        store.writer._begin(tx)  # retries on StorageBusy until the lock is free
        assert tx.connection.in_transaction and time.monotonic() - started >= 0.2
        tx.rollback()
        release.join()
    finally:
        holder.close()
        store.close()


def test_locations_pick_the_backend(tmp_path: Path) -> None:
    assert parse_location(tmp_path / "a.db").path == tmp_path / "a.db"
    assert parse_location(f"sqlite:///{tmp_path}/a.db").path == tmp_path / "a.db"
    assert parse_location("sqlite:///rel.db").path == Path("rel.db")
    assert parse_location("postgresql+psycopg://u:secret@h/db").backend == "postgresql"
    # Nothing listens on port 1: one clear error naming the server, without the password.
    with pytest.raises(StoreUnavailable, match="cannot connect to postgresql://u:\\*\\*\\*@") as err:
        open_backend("postgresql://u:secret@localhost:1/questlog", Settings())
    assert "secret" not in str(err.value)
    store = Store.open(f"sqlite:///{tmp_path}/url.db", projectors=[])
    try:
        store.append("s-1", [NewEvent(type="A")])
        assert store.path == tmp_path / "url.db" and store.backend.name == "sqlite"
        assert store.backend.capabilities()["driver"] == "pysqlite3"
    finally:
        store.close()
    assert (tmp_path / "url.db").exists()


QUESTLOG = [sys.executable, "-m", "questlog.cli"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    return subprocess.run([*QUESTLOG, *args], capture_output=True, text=True, timeout=120,
                          env={**base, **(env or {})})


def test_doctor_names_the_backend_and_its_capabilities(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/doc.db"
    assert _cli("--db", url, "init").returncode == 0
    done = _cli("--db", url, "--json", "doctor")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["backend"] == "sqlite" and report["db"] == str(tmp_path / "doc.db")
    assert report["capabilities"]["driver"] == "pysqlite3"
    assert report["capabilities"]["single_statement_batches"] is True
    human = _cli("--db", url, "doctor")
    assert "backend: sqlite" in human.stdout and "capabilities:" in human.stdout


def test_a_postgresql_url_without_its_driver_is_one_clear_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from questlog.postgres import driver

    monkeypatch.setattr(driver, "installed", lambda: False)
    with pytest.raises(BackendUnavailable, match=r"pip install 'questlog\[postgres\]'") as err:
        open_backend("postgresql://u:secret@localhost/questlog", Settings())
    assert "secret" not in str(err.value)


def test_an_unreachable_postgresql_server_is_one_clear_error(tmp_path: Path) -> None:
    done = _cli("events", "read", "s-1",
                env={"QUESTLOG_DB": "postgresql://me:hunter2@localhost:1/questlog"})
    assert done.returncode == 1
    assert "cannot connect to postgresql://me:***@localhost:1/questlog" in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
