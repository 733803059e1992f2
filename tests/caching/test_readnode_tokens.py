"""A read node's tokens known by stat (`questlog.sqlite.token_memo`): a cached answer is
served without a connection only while the file provably has not changed.

Real files throughout: a store written through a real `Store`, touched, rewritten in
place and replaced by a fresh copy. Timestamps a real file system cannot be made to
repeat (a change within one clock tick of a coarse file system) are simulated by a stat
that freezes them, beside the real one: that test also shows the freshness check can
fail (a settled, frozen signature does serve the old token), so its passing half means
something.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questlog import Store
from questlog.caching import CONTENT
from questlog.http import create_app
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.settings import Settings
from questlog.sqlite.token_memo import RACY_MARGIN_NS, FileTokenMemo, observe, settled

STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
SPELL = next(s for s in json.loads((STARTER / "spells.json").read_text())
             if s["index"] == "lantern-ward")
URL = "/v1/content/spells/lantern-ward"
SETTLE_S = RACY_MARGIN_NS / 1e9 * 2  # sleep this long for a state to be settled


def _write_pack(root: Path, version: int) -> Path:
    root.mkdir(exist_ok=True)
    (root / "spells.json").write_text(json.dumps([{**SPELL, "desc": [f"version {version}"]}]))
    return root


def _version_of(text: str) -> int:
    found = re.search(r"version (\d+)", text)
    assert found is not None, text
    return int(found.group(1))


def _write_version(path: Path, version: int) -> None:
    """Import `version` through a writable Store and close it: its WAL is checkpointed
    into the database file and removed, the state a read node's memo can vouch for."""
    with Store.open(path, settings=Settings(db=path)) as writer:
        writer.content.import_pack(_write_pack(path.parent / "pack", version), pack="tiny")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "node.db"
    _write_version(path, 1)
    assert not Path(f"{path}-wal").exists()
    return path


@pytest.fixture
def node(db: Path) -> Iterator[Store]:
    with Store.open(db, settings=Settings(db=db), read_only=True) as store:
        yield store


def _settled_read(store: Store) -> str:
    """Read the content token as a request would, until the memo can vouch for it."""
    memo = store.backend.token_memo
    assert memo is not None
    deadline = time.monotonic() + 5
    while (known := CONTENT.known_token(memo)) is None:
        assert time.monotonic() < deadline, "the memo never settled on an unchanged file"
        with store.read() as session:
            CONTENT.first_token(store.backend.read_positions, memo, session)
        time.sleep(SETTLE_S)
    return known


# -- the file's state ----------------------------------------------------------------------

def test_an_unchanged_file_keeps_its_signature_and_settles_after_the_margin(db: Path) -> None:
    st_ = os.stat(db)
    last_change = max(st_.st_ctime_ns, st_.st_mtime_ns)
    first, second = observe(str(db)), observe(str(db))
    assert first is not None and second is not None
    assert first.signature == second.signature
    assert not settled(st_, last_change + RACY_MARGIN_NS // 2)   # racy: same tick possible
    assert settled(st_, last_change + RACY_MARGIN_NS + 1)


def test_whole_second_timestamps_are_never_settled(db: Path) -> None:
    coarse = os.stat_result(tuple(os.stat(db)), {"st_mtime_ns": 5 * 10**9,
                                                  "st_ctime_ns": 5 * 10**9})
    assert not settled(coarse, 10**12)  # a file system too coarse for the margin


def test_touch_in_place_rewrite_and_fresh_copy_change_the_signature(db: Path,
                                                                    tmp_path: Path) -> None:
    def signature() -> tuple[int, ...]:
        state = observe(str(db))
        assert state is not None
        return state.signature

    before = signature()
    os.utime(db)  # touch
    touched = signature()
    assert touched != before

    # The same size, one byte changed, and the old mtime forced back: ctime shows it.
    st_ = os.stat(db)
    with open(db, "r+b") as f:              # no connection is open on it in this test
        f.seek(st_.st_size - 1)
        last = f.read(1)
        f.seek(st_.st_size - 1)
        f.write(bytes([last[0] ^ 1]))
    os.utime(db, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    rewritten = signature()
    assert rewritten[2:4] == touched[2:4]   # size and mtime as before...
    assert rewritten != touched             # ...and still seen (ctime)

    copy = tmp_path / "copy.db"
    shutil.copy2(db, copy)                  # a fresh copy with the same mtime
    os.replace(copy, db)
    assert signature()[1] != rewritten[1]   # another inode


def test_a_wal_with_frames_a_journal_or_a_missing_file_cannot_be_vouched_for(db: Path) -> None:
    with Store.open(db, settings=Settings(db=db)) as writer:
        writer.append("campaign-1", [{"type": "Noted", "data": {}}])
        assert os.stat(f"{db}-wal").st_size > 0
        assert observe(str(db)) is None    # a WAL writer's commit is in no timestamp
    assert observe(str(db)) is not None
    journal = Path(f"{db}-journal")
    journal.write_bytes(b"")
    assert observe(str(db)) is None        # a rollback writer mid-transaction
    journal.unlink()
    assert observe(str(db.with_name("absent.db"))) is None


# -- the memo on a read-only store ---------------------------------------------------------

def test_the_memo_answers_only_while_the_file_is_unchanged(db: Path, node: Store) -> None:
    memo = node.backend.token_memo
    assert isinstance(memo, FileTokenMemo)
    token = _settled_read(node)
    assert CONTENT.known_token(memo) == token

    _write_version(db, 2)                  # another process's import, checkpointed
    assert CONTENT.known_token(memo) is None
    assert node.content.get("spells", "lantern-ward").desc == ["version 2"]  # type: ignore[attr-defined]
    assert _settled_read(node) != token


def test_a_change_within_one_tick_is_never_served_stale(db: Path, node: Store) -> None:
    """A coarse file system: the change leaves size and timestamps as they were. The
    memo must not trust a state observed within the margin of its last change."""
    real = os.stat
    frozen: dict[str, os.stat_result] = {}

    def coarse_stat(path: str) -> os.stat_result:
        st_ = real(path)
        if path.endswith(".db") and path in frozen:
            first = frozen[path]
            return os.stat_result(tuple(first), {"st_mtime_ns": first.st_mtime_ns,
                                                 "st_ctime_ns": first.st_ctime_ns,
                                                 "st_atime_ns": first.st_atime_ns})
        return st_

    def run(observed_after_change_ns: int) -> tuple[str, str]:
        """(token the memo answers after a hidden change, the file's real token)."""
        path = str(db.resolve())
        frozen[path] = real(path)
        last_change = max(frozen[path].st_ctime_ns, frozen[path].st_mtime_ns)
        memo = FileTokenMemo(db, stat=coarse_stat,
                             clock=lambda: last_change + observed_after_change_ns)
        with node.read() as session:
            old = CONTENT.first_token(node.backend.read_positions, memo, session)
        _write_version(db, 2 + len(tokens))   # in place: same inode; size, times frozen
        with node.read() as session:
            real_token = CONTENT.token(node.backend.read_positions, session)
        assert real_token != old
        answered = CONTENT.known_token(memo)
        frozen.clear()
        return (answered or "read again"), real_token

    tokens: list[str] = []
    # Control: a state observed well after its last change is trusted, so a change the
    # stat cannot see would be served stale. Real file systems make it visible (ctime).
    answered, real_token = run(RACY_MARGIN_NS * 10)
    tokens.append(real_token)
    assert answered not in ("read again", real_token)
    # The racy case: observed within the margin of the last change, never trusted.
    answered, real_token = run(RACY_MARGIN_NS // 5)
    assert answered == "read again"


def test_caches_off_means_no_memo(db: Path) -> None:
    with Store.open(db, settings=Settings(db=db, read_cache_entries=0), read_only=True) as s:
        assert s.backend.token_memo is None
    with Store.open(db, settings=Settings(db=db)) as writable:
        assert writable.backend.token_memo is None  # pooled sessions: nothing to save


# -- a read node over HTTP -----------------------------------------------------------------

def test_a_read_node_serves_a_changed_entry_right_after_the_file_changes(
        db: Path, node: Store) -> None:
    memo = node.backend.token_memo
    assert isinstance(memo, FileTokenMemo)
    with TestClient(create_app(node, "read")) as client:
        first = client.get(URL)
        assert first.status_code == 200 and first.json()["desc"] == ["version 1"]
        etag = first.headers["etag"]
        _settled_read(node)
        hits = memo.known_hits
        again = client.get(URL)
        assert again.status_code == 200 and again.headers["etag"] == etag
        assert client.get(URL, headers={"If-None-Match": etag}).status_code == 304
        assert memo.known_hits >= hits + 2  # both answered without a connection

        # A writer on the same file, still open: its WAL holds the commit.
        with Store.open(db, settings=Settings(db=db)) as writer:
            writer.content.import_pack(_write_pack(db.parent / "pack", 2), pack="tiny")
            during = client.get(URL, headers={"If-None-Match": etag})
            assert during.status_code == 200 and during.json()["desc"] == ["version 2"]
            assert during.headers["etag"] != etag
            etag = during.headers["etag"]
        _settled_read(node)                # checkpointed, closed, settled: memo answers
        assert client.get(URL, headers={"If-None-Match": etag}).status_code == 304

        # Another change with the database file's mtime forced back to what it was.
        st_ = os.stat(db)
        _write_version(db, 3)
        os.utime(db, ns=(st_.st_atime_ns, st_.st_mtime_ns))
        time.sleep(SETTLE_S)               # past the margin: only the signature decides
        after = client.get(URL, headers={"If-None-Match": etag})
        assert after.status_code == 200 and after.json()["desc"] == ["version 3"]
        assert after.headers["etag"] != etag


# -- never stale under concurrent writes (Hypothesis) --------------------------------------

class _Gate:
    """Readers wait while a writer closes: SQLite removes the WAL on close only when no
    other connection is open, and only a file without WAL frames is one the memo may
    vouch for (with readers always connected, every answer would just be read)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closing = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._closing:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def closing(self) -> Iterator[None]:
        with self._cond:
            self._closing = True
            while self._active:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closing = False
                self._cond.notify_all()


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.sampled_from(["import", "append"]), min_size=1, max_size=4),
       readers=st.integers(min_value=1, max_value=3))
def test_a_read_node_never_answers_older_than_the_last_committed_write(
        writes: list[str], readers: int) -> None:
    """Another writer's commits (a writable Store opened, written and closed each time:
    while it is open its WAL holds them, after it closed the database file does) while
    readers of a read-only store look the same entry up and run the same keyword search:
    never older than what was committed before the read began, and the memo answers
    between writes."""
    set_default_embedder(HashingEmbedder(64))
    try:
        _race(writes, readers)
    finally:
        set_default_embedder(None)


def _race(writes: list[str], readers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.db"
        with Store.open(path, settings=Settings(db=path)) as first:
            first.content.import_pack(_write_pack(Path(tmp) / "pack", 0), pack="tiny")
            first.projections.catch_up(["search_index"])
        committed = [0]
        done = threading.Event()
        gate = _Gate()
        failures: list[str] = []
        with Store.open(path, settings=Settings(db=path), read_only=True) as node:

            def write() -> None:
                try:
                    version = 0
                    for op in writes:
                        writer = Store.open(path, settings=Settings(db=path))
                        try:
                            if op == "import":
                                version += 1
                                writer.content.import_pack(
                                    _write_pack(Path(tmp) / "pack", version), pack="tiny")
                                writer.projections.catch_up(["search_index"])
                                committed[0] = version
                            else:  # moves the content checkpoint, changes no entry
                                writer.append("campaign-1", [{"type": "Noted", "data": {}}])
                            time.sleep(SETTLE_S)  # readers read while the WAL holds it
                        finally:
                            with gate.closing():
                                writer.close()
                        time.sleep(SETTLE_S)  # the memo settles and answers in between
                finally:
                    done.set()

            def read() -> None:
                while True:
                    finished = done.is_set()
                    with gate.reading():
                        floor = committed[0]
                        entry = node.content.get("spells", "lantern-ward")
                        got = _version_of(entry.desc[0])  # type: ignore[attr-defined]
                        if got < floor:
                            failures.append(f"entry version {got} after {floor} was committed")
                        hits = node.search("version", types=["spells"], mode="keyword", k=1)
                        if not hits or _version_of(hits[0].text) < floor:
                            failures.append(f"search answered {hits!r} after {floor}")
                    if finished:
                        return

            threads = [threading.Thread(target=read) for _ in range(readers)]
            writer_thread = threading.Thread(target=write)
            for t in [*threads, writer_thread]:
                t.start()
            for t in [writer_thread, *threads]:
                t.join(timeout=120)
            assert not failures, failures
            memo = node.backend.token_memo
            assert memo is not None and memo.known_hits > 0  # the memo did answer
            final = node.content.get("spells", "lantern-ward")
            assert _version_of(final.desc[0]) == committed[0]  # type: ignore[attr-defined]
