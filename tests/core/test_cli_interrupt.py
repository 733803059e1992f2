"""Issue 17 point 9c: Ctrl-C tells the truth.

A real `questlog` subprocess gets SIGINT at several moments; whatever it then says
about what was committed must match what the store holds, and its exit code must
say which case it was (130: nothing; 5: something, named; 0: it had finished).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from questlog import Store

QUESTLOG = [sys.executable, "-m", "questlog.cli"]
COMMITTED = re.compile(r"interrupted, but (\d+) event\(s\) had been committed to .* "
                       r"\(positions (\d+)-(\d+);")


def head(db: Path) -> int:
    with Store.open(db, read_only=True) as store:
        return store.head_position()


def interrupt(args: list[str], *, after_s: float | None = None,
              when_stderr_shows: str | None = None,
              until: Callable[[], bool] | None = None) -> tuple[int, str, str]:
    """Run questlog, send SIGINT once stderr shows a text (and `until()` holds), after a
    delay; wait for it.

    (A SIGINT while Python itself is still importing is Python's to report.)"""
    proc = subprocess.Popen([*QUESTLOG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = threading.Event()
    err_parts: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, ""):
            err_parts.append(line)
            if when_stderr_shows and when_stderr_shows in line:
                seen.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    if when_stderr_shows is not None:
        assert seen.wait(timeout=120), "".join(err_parts)
    deadline = time.monotonic() + 120
    while until is not None and not until():
        assert proc.poll() is None and time.monotonic() < deadline, "".join(err_parts)
        time.sleep(0.02)
    time.sleep(after_s or 0)
    proc.send_signal(signal.SIGINT)
    assert proc.stdout is not None
    out = proc.stdout.read()  # small: the command prints a summary at most
    proc.wait(timeout=300)
    reader.join(timeout=10)
    return proc.returncode, out, "".join(err_parts)


def check_truth(code: int, err: str, db: Path, before: int) -> str:
    """The exit code and the message agree with the store; returns which case it was."""
    assert "Traceback" not in err, err
    gained = head(db) - before if db.exists() else 0
    if code == 130:
        assert "interrupted: nothing was committed" in err, err
        assert gained == 0
        return "nothing"
    if code == 5:
        match = COMMITTED.search(err)
        assert match is not None, err
        count, first, last = (int(g) for g in match.groups())
        assert count == gained and first == before + 1 and last == before + gained, err
        return "some"
    assert code == 0, (code, err)
    return "finished"


def test_content_import_interrupted_at_several_moments(srd_dir: Path, tmp_path: Path) -> None:
    seen: dict[str, int] = {}
    moments: list[dict[str, object]] = [
        {"when_stderr_shows": "validating"},
        {"when_stderr_shows": "validating", "after_s": 0.3},
        {"when_stderr_shows": "appending"}, {"when_stderr_shows": "appending"},
        {"when_stderr_shows": "appending", "after_s": 0.2},
        {"when_stderr_shows": "validating", "after_s": 30.0}]
    for i, moment in enumerate(moments):
        db = tmp_path / f"srd-{i}.db"
        subprocess.run([*QUESTLOG, "--db", str(db), "init"], check=True, capture_output=True)
        code, _, err = interrupt(["--db", str(db), "content", "import", str(srd_dir),
                                  "--pack", "srd"], **moment)  # type: ignore[arg-type]
        case = check_truth(code, err, db, 0)
        seen[case] = seen.get(case, 0) + 1
        if case == "some":  # one atomic append: all of the pack or none of it
            with Store.open(db, read_only=True) as store:
                assert [p.name for p in store.content.packs()] == ["srd"]
        if case == "nothing":
            with Store.open(db, read_only=True) as store:
                assert store.content.packs() == []
    assert seen.get("nothing") and (seen.get("some") or seen.get("finished")), seen


def test_replay_interrupted_midway_names_what_was_committed(tmp_path: Path) -> None:
    EVENTS = 100_000  # a few seconds of replay: the signal lands midway
    log = tmp_path / "big.jsonl"
    with log.open("w") as fh:
        for i in range(EVENTS):
            fh.write(json.dumps({"event_id": str(uuid.uuid4()), "stream_id": f"s-{i % 50}",
                                 "type": "Said", "data": {"i": i}}) + "\n")
    db = tmp_path / "replay.db"
    subprocess.run([*QUESTLOG, "--db", str(db), "init"], check=True, capture_output=True)
    # Midway: once a first batch is committed, however loaded the machine is.
    code, _, err = interrupt(["--db", str(db), "replay", str(log)],
                             when_stderr_shows="replaying", until=lambda: head(db) > 0,
                             after_s=0.1)
    case = check_truth(code, err, db, 0)
    assert case == "some", (case, err)  # stopped midway, and said where
    stored = head(db)
    rerun = subprocess.run([*QUESTLOG, "--db", str(db), "--json", "replay", str(log)],
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode in (0, 3), rerun.stderr  # 3: parked projectors (another branch)
    report = json.loads(rerun.stdout)
    assert report["skipped"] == stored and report["appended"] == EVENTS - stored
    assert head(db) == EVENTS


def test_rebuild_interrupted_says_which_models_were_swapped_in(tmp_path: Path) -> None:
    db = tmp_path / "rebuild.db"
    with Store.open(db) as store:
        for i in range(100):
            store.append_many([(f"campaign-{i}-{j}", [{"type": "Said", "data": {"n": j}}] * 10,
                                "any") for j in range(10)])
        store.projections.catch_up(["stream_catalog", "event_counts"])
    code, _, err = interrupt(["--db", str(db), "projections", "rebuild", "event_counts",
                              "stream_catalog"], when_stderr_shows="rebuilding stream_catalog")
    assert "Traceback" not in err, err
    with Store.open(db, read_only=True) as store, store.read() as conn:
        checkpoints = store.checkpoints.read(conn)
    if code == 0:
        return  # it had finished before the signal landed
    assert code == 5, err  # event_counts had been swapped in
    assert "interrupted: rebuilt event_counts" in err and "0 new event(s)" in err, err
    assert checkpoints["event_counts"].rebuild_position is None
    stopped = re.search(r"stopped stream_catalog at position (\d+)", err)
    if stopped:
        assert checkpoints["stream_catalog"].rebuild_position == int(stopped.group(1))
    else:
        assert ("rebuilt event_counts, stream_catalog" in err
                or "not started: stream_catalog" in err), err
        assert checkpoints["stream_catalog"].rebuild_position is None
