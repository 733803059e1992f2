"""`game tracker --watch` and `projections status --watch`: real processes, short runs.

Each watch runs as a `questlog` subprocess over a real store; the test appends while it
watches, then ends it with SIGINT (Ctrl-C), which must exit 0 without a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from questlog import Store
from questlog.cli.watch import CLEAR_HOME
from questlog.settings import Settings

QUESTLOG = str(Path(sys.executable).parent / "questlog")
SETUP: list[dict[str, Any]] = [
    {"kind": "create_campaign", "campaign_id": "c1", "name": "Watch", "starting_location": "Town"},
    {"kind": "create_character", "campaign_id": "c1", "character_id": "aria", "name": "Aria",
     "max_hp": 12},
    {"kind": "start_encounter", "encounter_id": "e1", "campaign_id": "c1", "combatants": [
        {"combatant_id": "aria", "kind": "pc", "character_id": "aria", "name": "Aria"},
        {"combatant_id": "gob1", "kind": "monster", "name": "Goblin", "hp": 7, "max_hp": 7}]},
]
HIT = [{"kind": "deal_damage", "target": {"encounter_id": "e1", "combatant_id": "gob1"},
        "amount": 4}]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "watch.db"
    with Store.open(path, settings=Settings(db=path)) as store:
        store.game.apply(SETUP)
    return path


def _default_sigint() -> None:
    # A child of a shell without job control inherits SIGINT ignored; Ctrl-C is the point.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def watching(db: Path, args: list[str], stdout: int | IO[bytes],
             stderr: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    proc = subprocess.Popen([QUESTLOG, "--db", str(db), *args], stdout=stdout, stderr=stderr,
                            stdin=subprocess.DEVNULL, env=env, preexec_fn=_default_sigint)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def wait_for(read: Callable[[], str], ok: Callable[[str], bool], what: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = read()
        if ok(text):
            return text
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; output so far:\n{read()[-2000:]}")


def interrupt(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(15)


def test_tracker_watch_without_a_tty_prints_frames_and_follows_appends(
        db: Path, tmp_path: Path) -> None:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as o, err.open("wb") as e, watching(
            db, ["game", "tracker", "e1", "--watch", "--interval", "0.2"], o, e) as proc:
        wait_for(out.read_text, lambda t: t.count("HP 7/7") >= 2, "two frames")
        with Store.open(db, settings=Settings(db=db)) as store:
            store.game.apply(HIT)
        text = wait_for(out.read_text, lambda t: "HP 3/7" in t, "the frame after the hit")
        assert interrupt(proc) == 0
    assert CLEAR_HOME not in text  # no terminal: frames one after another
    frames = text.strip().split("\n\n")
    assert len(frames) >= 3
    assert all(f.startswith("encounter e1 (active) round 0") for f in frames), frames
    assert err.read_text() == ""


def test_projections_watch_redraws_in_place_on_a_terminal(db: Path, tmp_path: Path) -> None:
    master, slave = pty.openpty()
    err = tmp_path / "err.txt"
    seen = bytearray()

    def read() -> str:
        with contextlib.suppress(BlockingIOError, OSError):
            seen.extend(os.read(master, 65536))
        return seen.decode("utf-8", "replace")

    os.set_blocking(master, False)
    try:
        with err.open("wb") as e, watching(
                db, ["projections", "status", "--watch", "--interval", "0.2"], slave, e) as proc:
            os.close(slave)
            wait_for(read, lambda t: t.count(CLEAR_HOME) >= 2 and
                     t.rsplit(CLEAR_HOME, 1)[1].count("game_party_sheet") == 1, "two redraws")
            assert interrupt(proc) == 0
    finally:
        os.close(master)
    last = read().rsplit(CLEAR_HOME, 1)[1]
    assert "every 0.2s: questlog projections status" in last
    assert "game_encounter_tracker" in last
    assert "Traceback" not in err.read_text() and err.read_text() == ""


def test_json_watch_prints_one_json_line_a_frame(db: Path, tmp_path: Path) -> None:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as o, err.open("wb") as e, watching(
            db, ["projections", "status", "--json", "--watch", "--interval", "0.1"],
            o, e) as proc:
        wait_for(out.read_text, lambda t: t.count("\n") >= 6, "three frames")
        assert interrupt(proc) == 0
    lines = [line for line in out.read_text().splitlines() if line]
    assert len(lines) >= 3
    for line in lines:
        names = {row["name"] for row in json.loads(line)}
        assert "game_party_sheet" in names


def test_a_bad_interval_is_a_usage_error(db: Path) -> None:
    done = subprocess.run([QUESTLOG, "--db", str(db), "game", "tracker", "e1", "--watch",
                           "--interval", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--interval" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unknown_encounter_fails_before_the_screen_is_cleared(db: Path) -> None:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    try:
        done = subprocess.run([QUESTLOG, "--db", str(db), "game", "tracker", "nosuch",
                               "--watch", "--interval", "0.2"], stdout=slave,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                              text=True, timeout=60)
        os.set_blocking(master, False)
        with contextlib.suppress(BlockingIOError, OSError):
            shown = os.read(master, 65536).decode("utf-8", "replace")
            assert CLEAR_HOME not in shown
    finally:
        os.close(slave)
        os.close(master)
    assert done.returncode == 1
    assert "nosuch" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
