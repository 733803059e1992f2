"""`questlog verify` and the CLI's error handling, run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from questlog import NewEvent, Store
from questlog.sqlite.driver import load_dbapi

QUESTLOG = [sys.executable, "-m", "questlog.cli"]


def run(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QUESTLOG, "--db", str(db), *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "v.db"
    store = Store.open(path, projectors=[])
    for i in range(20):
        store.append(f"campaign-{i % 3}", [NewEvent(type="Said", data={"text": f"line {i}"})])
    store.close()
    return path


def test_verify_passes_then_names_a_tampered_position(filled: Path) -> None:
    ok = run("verify", db=filled)
    assert ok.returncode == 0, ok.stderr
    assert "ok: 20 events" in ok.stdout
    conn = load_dbapi().connect(str(filled))
    conn.execute("DROP TRIGGER events_no_update")  # a tamperer would do the same
    conn.execute("UPDATE events SET data = replace(data, 'line 13', 'line 1E') WHERE position = 14")
    conn.commit()
    conn.close()
    bad = run("verify", db=filled)
    assert bad.returncode != 0
    assert "first bad position 14" in bad.stderr
    as_json = run("--json", "verify", db=filled)
    assert json.loads(as_json.stdout)["first_bad_position"] == 14


def test_verify_detects_a_missing_position(filled: Path) -> None:
    conn = load_dbapi().connect(str(filled))
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute("DELETE FROM events WHERE position = 7")
    conn.commit()
    conn.close()
    bad = run("verify", db=filled)
    assert bad.returncode != 0
    assert "first bad position 7" in bad.stderr


def test_cli_errors_are_one_line(filled: Path, tmp_path: Path) -> None:
    conflict = run("events", "append", "campaign-0", "Said", "--expected-version", "0",
                   db=filled)
    assert conflict.returncode != 0
    assert conflict.stderr.strip().count("\n") == 0
    assert "WrongExpectedVersion" in conflict.stderr and "Traceback" not in conflict.stderr
    bad_json = run("events", "append", "campaign-0", "Said", "--data", "{nope", db=filled)
    assert bad_json.returncode != 0 and "Traceback" not in bad_json.stderr
    missing = run("events", "read", "x-1", db=tmp_path / "absent.db")
    assert missing.returncode != 0 and "no store" in missing.stderr
    assert not (tmp_path / "absent.db").exists()


def test_append_read_export_replay_round_trip(filled: Path, tmp_path: Path) -> None:
    out = run("--json", "events", "append", "campaign-9", "Started", "--data", '{"a": 1}',
              "--expected-version", "no_stream", db=filled)
    assert json.loads(out.stdout) == {"positions": [21], "stream_version": 1}
    read = run("--json", "events", "read", "campaign-9", db=filled)
    assert json.loads(read.stdout)["data"] == {"a": 1}
    exported = run("events", "export", db=filled)
    lines = [json.loads(x) for x in exported.stdout.splitlines()]
    assert [x["position"] for x in lines] == list(range(1, 22))
    log = tmp_path / "log.jsonl"
    log.write_text(exported.stdout)
    copy = tmp_path / "copy.db"
    first = run("--json", "replay", str(log), db=copy)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["appended"] == 21 and report["skipped"] == 0
    second = run("--json", "replay", str(log), db=copy)
    again = json.loads(second.stdout)
    assert again["appended"] == 0 and again["skipped"] == 21
    assert again["digests"] == report["digests"]
    tail = run("events", "tail", "--from", "20", db=copy)
    assert len(tail.stdout.splitlines()) == 2
