"""Anchors (issue 17 point 11): what a hash chain alone cannot see, signed checkpoints do.

Each attack is played as an attacker with write access to the store file would: drop
the append-only triggers with raw pysqlite3, delete or change rows, recompute the chain
with questlog's own hashing function, fix the `streams` table up. Plain `verify` then
passes (asserted: that is why anchors exist) and `verify --anchors` names the anchor the
log contradicts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from questlog import NewEvent, Store
from questlog.anchors import Anchor, AnchorKey, default_anchor_path
from questlog.errors import ConfigurationError
from questlog.events import event_digest
from questlog.settings import Settings
from questlog.sqlite.driver import load_dbapi

KEY = "test-anchor-key-0123456789abcdef"
QUESTLOG = [sys.executable, "-m", "questlog.cli"]


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"anchor_key": SecretStr(KEY), "anchor_every_events": 0,
                            "anchor_every_s": 0}
    return Settings(**{**base, **overrides})


def run(*args: str, db: Path, key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    if key is not None:
        env["QUESTLOG_ANCHOR_KEY"] = key
    return subprocess.run([*QUESTLOG, "--db", str(db), *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture
def anchored(tmp_path: Path) -> Path:
    """20 events over 3 streams, anchored at positions 10 and 20."""
    path = tmp_path / "a.db"
    store = Store.open(path, settings=settings(), projectors=[])
    for i in range(20):
        store.append(f"campaign-{i % 3}", [NewEvent(type="Said", data={"text": f"line {i}"})])
        if i + 1 in (10, 20):
            assert store.anchor().position == i + 1
    store.close()
    return path


def attacker(path: Path) -> Any:
    """A raw connection with the append-only triggers gone."""
    conn = load_dbapi().connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    return conn


def fix_streams(conn: Any) -> None:
    conn.execute("DELETE FROM streams")
    conn.execute("INSERT INTO streams (stream_id, category, version, last_position) "
                 "SELECT stream_id, category, max(stream_version), max(position) "
                 "FROM events GROUP BY stream_id")


def rehash_from(conn: Any, first: int) -> None:
    """Recompute every hash from position `first` on, as questlog itself computes them."""
    (prev,) = conn.execute("SELECT hash FROM events WHERE position = ?", (first - 1,)).fetchone()
    rows = conn.execute(
        "SELECT position, event_id, stream_id, stream_version, type, schema_version, data, "
        "metadata, recorded_at FROM events WHERE position >= ? ORDER BY position",
        (first,)).fetchall()
    for row in rows:
        prev = event_digest(prev, *row)
        conn.execute("UPDATE events SET hash = ? WHERE position = ?", (prev, row[0]))


def assert_plain_verify_passes(path: Path) -> None:
    plain = run("verify", db=path)
    assert plain.returncode == 0, plain.stderr  # the chain alone sees nothing


def test_intact_log_reaches_every_anchor(anchored: Path) -> None:
    ok = run("verify", "--anchors", db=anchored)
    assert ok.returncode == 0, ok.stderr
    assert "2 anchor(s) reached (last at position 20)" in ok.stdout
    report = json.loads(run("--json", "verify", "--anchors", db=anchored).stdout)
    assert report["ok"] is True and report["anchors"]["reached"] == 2


def test_tail_truncation_is_caught(anchored: Path) -> None:
    conn = attacker(anchored)
    conn.execute("DELETE FROM events WHERE position > 15")
    fix_streams(conn)
    conn.close()
    assert_plain_verify_passes(anchored)
    bad = run("verify", "--anchors", db=anchored)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "anchor on line 2 (position 20" in bad.stderr  # line 1 (position 10) still holds
    assert "the log ends at position 15" in bad.stderr
    report = json.loads(run("--json", "verify", "--anchors", db=anchored).stdout)
    assert report["ok"] is False
    assert report["anchors"]["first_fault"]["kind"] == "truncated"
    assert report["anchors"]["reached"] == 1


def test_recomputed_chain_is_caught(anchored: Path) -> None:
    conn = attacker(anchored)
    conn.execute("UPDATE events SET data = ? WHERE position = 5", ('{"text":"forged"}',))
    rehash_from(conn, 5)
    conn.close()
    assert_plain_verify_passes(anchored)
    bad = run("verify", "--anchors", db=anchored)
    assert bad.returncode == 2
    assert "anchor on line 1 (position 10" in bad.stderr
    assert "rewritten at or before position 10" in bad.stderr
    assert "(1 more anchor fault(s)" in bad.stderr  # position 20 is contradicted too


def test_forged_last_event_is_caught(anchored: Path) -> None:
    conn = attacker(anchored)
    conn.execute("UPDATE events SET data = ?, type = 'Whispered' WHERE position = 20",
                 ('{"text":"forged"}',))
    rehash_from(conn, 20)
    conn.close()
    assert_plain_verify_passes(anchored)
    bad = run("verify", "--anchors", db=anchored)
    assert bad.returncode == 2
    assert "anchor on line 2 (position 20" in bad.stderr and "rewritten" in bad.stderr


def test_a_re_forged_tail_of_other_events_is_caught(anchored: Path) -> None:
    conn = attacker(anchored)
    conn.execute("DELETE FROM events WHERE position > 18")
    fix_streams(conn)
    conn.close()
    store = Store.open(anchored, settings=settings(), projectors=[])
    store.append("campaign-9", [NewEvent(type="Said", data={"text": "a"}),
                                NewEvent(type="Said", data={"text": "b"})])
    store.close()
    assert_plain_verify_passes(anchored)
    bad = run("verify", "--anchors", db=anchored)
    assert bad.returncode == 2 and "position 20" in bad.stderr and "rewritten" in bad.stderr


def test_wrong_key_is_reported_as_such_not_as_tampering(anchored: Path) -> None:
    bad = run("verify", "--anchors", db=anchored, key="a-different-key-0123456789")
    assert bad.returncode == 2
    assert "signature invalid" in bad.stderr and "different key" in bad.stderr
    assert "rewritten" not in bad.stderr and "removed" not in bad.stderr
    report = json.loads(run("--json", "verify", "--anchors", db=anchored,
                            key="a-different-key-0123456789").stdout)
    kinds = {f["kind"] for f in report["anchors"]["faults"]}
    assert kinds == {"signature_invalid"}


def test_an_altered_anchor_record_is_a_signature_fault(anchored: Path) -> None:
    path = default_anchor_path(anchored)
    lines = path.read_text().splitlines()
    record = json.loads(lines[0])
    record["position"] = 3
    path.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    bad = run("verify", "--anchors", str(path), db=anchored)
    assert bad.returncode == 2
    assert "anchor on line 1" in bad.stderr and "record was altered" in bad.stderr


def test_no_key_and_missing_file_are_one_line_errors(anchored: Path, tmp_path: Path) -> None:
    no_key = run("verify", "--anchors", db=anchored, key=None)
    assert no_key.returncode == 1 and no_key.stderr.count("\n") == 1
    assert "QUESTLOG_ANCHOR_KEY is not set" in no_key.stderr
    short = run("anchor", db=anchored, key="short")
    assert short.returncode == 1 and "too short" in short.stderr
    missing = run("verify", "--anchors", str(tmp_path / "none.jsonl"), db=anchored)
    assert missing.returncode == 2 and "no anchor file at" in missing.stderr


def test_anchor_command_appends_a_signed_line(anchored: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "anchors.jsonl"
    target.parent.mkdir()
    out = run("--json", "anchor", "--path", str(target), db=anchored)
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert printed["position"] == 20 and printed["path"] == str(target)
    stored = Anchor.parse(target.read_text().strip())
    assert stored.signature_problem(AnchorKey(KEY)) is None
    assert run("verify", "--anchors", str(target), db=anchored).returncode == 0
    unwritable = run("anchor", "--path", str(tmp_path / "no-dir" / "a.jsonl"), db=anchored)
    assert unwritable.returncode == 1 and "cannot open the anchor file" in unwritable.stderr


def test_a_torn_line_is_skipped_and_the_next_anchor_starts_a_new_line(anchored: Path) -> None:
    path = default_anchor_path(anchored)
    with path.open("a") as f:
        f.write('{"anchored_at":"2026-')  # a crash in the middle of an append
    torn = run("verify", "--anchors", db=anchored)
    assert torn.returncode == 0, torn.stderr
    assert "skipped 1 line(s)" in torn.stderr
    store = Store.open(anchored, settings=settings(), projectors=[])
    store.anchor()
    store.close()
    after = run("--json", "verify", "--anchors", db=anchored)
    report = json.loads(after.stdout)["anchors"]
    assert report["ok"] and report["reached"] == 3 and report["skipped_lines"] == [3]


def test_writer_anchors_every_n_events_and_on_close(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    anchors = default_anchor_path(path)
    store = Store.open(path, settings=settings(anchor_every_events=5), projectors=[])
    for round_ in (1, 2):
        for i in range(5):
            store.append("campaign-1", [NewEvent(type="Said", data={"i": i})])
        _wait_for_anchors(anchors, round_)
        assert _positions(anchors) == [5, 10][:round_]
    store.append("campaign-1", [NewEvent(type="Said"), NewEvent(type="Said")])
    time.sleep(0.3)
    assert _positions(anchors) == [5, 10]  # 2 new events: not yet due
    store.close()
    assert _positions(anchors) == [5, 10, 12]  # close anchored the last commit
    again = Store.open(path, settings=settings(), projectors=[])
    report = again.verify_anchors()
    again.close()
    assert report.ok and report.reached == 3


@pytest.mark.parametrize("durability", ["FULL", "NORMAL"])
def test_anchors_under_concurrent_appends_name_committed_positions(
        tmp_path: Path, durability: str) -> None:
    path = tmp_path / "c.db"
    store = Store.open(path, projectors=[], settings=settings(
        durability=durability, anchor_every_events=7, anchor_every_s=0.05))

    def producer(n: int) -> None:
        for i in range(50):
            store.append(f"hero-{n}", [NewEvent(type="Moved", data={"i": i})])
            time.sleep(0.005)  # spread over ~0.3 s, so the anchorer runs during the appends

    workers = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    store.close()
    positions = _positions(default_anchor_path(path))
    assert len(positions) >= 2 and positions[-1] == 400
    again = Store.open(path, settings=settings(), projectors=[])
    report = again.verify_anchors()
    again.close()
    assert report.ok, [f.message for f in report.faults]
    assert report.reached == len(positions)


def test_writer_anchors_new_events_every_t_seconds(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = Store.open(path, settings=settings(anchor_every_s=0.2), projectors=[])
    store.append("campaign-1", [NewEvent(type="Said")])
    anchors = default_anchor_path(path)
    _wait_for_anchors(anchors, 1)
    assert _positions(anchors) == [1]
    time.sleep(0.5)  # nothing new: no new anchor
    assert _positions(anchors) == [1]
    store.close()
    assert _positions(anchors) == [1]


def test_no_key_means_no_anchoring(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    store = Store.open(path, settings=Settings(anchor_every_events=1), projectors=[])
    store.append("campaign-1", [NewEvent(type="Said")])
    store.close()
    assert not default_anchor_path(path).exists()


def test_an_unwritable_anchor_path_stops_the_writer_from_starting(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "u.db", projectors=[], settings=settings(
        anchor_every_events=1, anchor_path=tmp_path / "no-dir" / "a.jsonl"))
    with pytest.raises(ConfigurationError, match="cannot open the anchor file"):
        store.append("campaign-1", [NewEvent(type="Said")])
    store.close()


def _positions(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [Anchor.parse(line).position for line in path.read_text().splitlines() if line]


def _wait_for_anchors(path: Path, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(_positions(path)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
