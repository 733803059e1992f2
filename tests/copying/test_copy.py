"""`questlog copy`: the log moved verbatim, read models rebuilt, digests compared; refusals
(a non-empty target, a broken source chain, the same store twice) and resuming after an
interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from questlog import NewEvent, Store
from questlog.copying import CopyRefused, SourceChainBroken, copy_store
from questlog.projection.digest import projector_digest
from questlog.sqlite.driver import load_dbapi

from .conftest import GAME_LOG, questlog


def envelopes(location: str | Path) -> list[tuple[Any, ...]]:
    """Every event of a store as (position, id, stream, version, type, schema version,
    data, metadata, recorded_at, hash)."""
    with Store.open(location, read_only=True, create=False, projectors=[]) as store:
        return [(e.position, e.event_id, e.stream_id, e.stream_version, e.type,
                 e.schema_version, e.data, e.metadata, e.recorded_at, e.hash)
                for e in store.read_all()]


def digests_and_verify(location: str | Path) -> tuple[dict[str, str], bool]:
    with Store.open(location, read_only=True, create=False) as store:
        return store.projections.hashes(), store.verify().ok


def test_srd_and_a_game_session_go_there_and_back_with_identical_digests(
        srd_game_store: Path, other_backend: Any, tmp_path: Path) -> None:
    """SQLite -> each contract backend -> SQLite: every event equal, `verify` passing and
    the same digest for every read model on all three stores (on PostgreSQL when the
    contract suite has a server: then this is the issue's cross-engine proof)."""
    middle = other_backend.location
    back = tmp_path / "back.db"
    there = copy_store(srd_game_store, middle)
    again = copy_store(middle, back)
    for report in (there, again):
        assert report.ok and report.resumed_from == 0
        assert report.copied == report.head == len(envelopes(srd_game_store))
        assert all(d.compared for d in report.digests), [d.note for d in report.digests]

    source_events = envelopes(srd_game_store)
    assert envelopes(middle) == source_events
    assert envelopes(back) == source_events
    types = {e[4] for e in source_events}
    assert {"ContentEntityUpserted", "CampaignCreated", "DamageTaken"} <= types, types

    # The digests each store prints itself, not only what the report says.
    source, source_ok = digests_and_verify(srd_game_store)
    for location in (middle, back):
        digests, ok = digests_and_verify(location)
        assert ok
        assert digests == source
    assert {"content", "search_index", "game_party_sheet", "game_chat"} <= source.keys()
    # Equal digests mean something only if models are not empty: the SRD is in them.
    with Store.open(back, read_only=True) as store:
        assert store.content.get("spells", "fireball").name == "Fireball"
        assert store.game.party_sheet("brann").name


def test_every_read_model_but_search_goes_there_and_back_with_identical_digests(
        srd_game_store: Path, other_backend: Any, tmp_path: Path) -> None:
    """The same round trip with every projector except the search index (whose ports
    PostgreSQL lacks so far): content and game models are built on each backend, from
    Core statements compiled for it, to the very digests SQLite gives."""
    with Store.open(srd_game_store, read_only=True) as store:
        projectors = [p for p in store.projections.projectors if p.name != "search_index"]
    assert {"content", "game_party_sheet"} <= {p.name for p in projectors}
    middle, back = other_backend.location, tmp_path / "back.db"
    reports = [copy_store(srd_game_store, middle, projectors=projectors),
               copy_store(middle, back, projectors=projectors)]
    for report in reports:
        assert report.ok, (report.verify, [d.name for d in report.digests if not d.same])
        assert {d.name for d in report.digests} == {p.name for p in projectors}
        assert all(d.compared and d.same for d in report.digests)
    with Store.open(middle, read_only=True, projectors=projectors) as store:
        assert all(s["state"] == "live" for s in store.projections.status())
        with store.read() as session:
            content = next(p for p in projectors if p.name == "content")
            assert projector_digest(store.readmodels, session, content) == next(
                d.source for d in reports[0].digests if d.name == "content")


@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    """A store holding the recorded game session only (no content: nothing to embed)."""
    path = tmp_path / "small.db"
    from questlog.replay import replay_file

    with Store.open(path) as store:
        replay_file(store, GAME_LOG)
        store.projections.catch_up()
    return path


def test_cli_copies_prints_both_digests_and_answers_json(small_store: Path,
                                                         tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    text = questlog("copy", str(small_store), str(target), "--batch", "100")
    assert text.returncode == 0, text.stderr
    head = len(envelopes(small_store))
    assert f"copied {head} events (positions 1-{head})" in text.stdout
    source, _ = digests_and_verify(small_store)
    for name, digest in source.items():
        line = next(li for li in text.stdout.splitlines() if li.startswith(name + " "))
        assert line.split()[1:] == [digest, digest, "same"], line
    assert "all identical" in text.stdout

    again = questlog("copy", str(small_store), str(target), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["ok"], report["resumed_from"], report["copied"]) == (True, head, 0)
    assert report["verify"]["ok"] and report["verify"]["events"] == head
    assert {d["name"]: d["target"] for d in report["digests"]} == source


def test_a_target_holding_other_events_is_refused_and_untouched(small_store: Path,
                                                                tmp_path: Path) -> None:
    target = tmp_path / "busy.db"
    with Store.open(target, projectors=[]) as store:
        store.append("notes-1", [NewEvent(type="Noted", data={"text": "mine"})])
    before = envelopes(target)
    size = target.stat().st_size
    with pytest.raises(CopyRefused, match="TARGET is not empty"):
        copy_store(small_store, target)
    cli = questlog("copy", str(small_store), str(target))
    assert cli.returncode == 1
    assert cli.stderr.startswith("error: CopyRefused: TARGET is not empty")
    assert cli.stderr.count("\n") == 1 and "Traceback" not in cli.stderr
    assert envelopes(target) == before and target.stat().st_size == size
    with Store.open(target, read_only=True) as store, store.read() as session:
        assert store.checkpoints.read(session) == {}   # no projector was registered


def test_the_same_store_twice_and_an_unavailable_backend_are_refused(
        small_store: Path, tmp_path: Path) -> None:
    same = questlog("copy", str(small_store), f"sqlite:///{small_store}")
    assert same.returncode == 1 and "same store" in same.stderr, same.stderr
    target = tmp_path / "never.db"
    url = "postgresql://nobody@127.0.0.1:1/none"
    for args in ((str(small_store), url), (url, str(target))):
        # Without the PostgreSQL backend: BackendUnavailable; with it: no server there.
        cli = questlog("copy", *args)
        assert cli.returncode in (1, 2), cli.stderr
        errors = [line for line in cli.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "Traceback" not in cli.stderr, cli.stderr
    assert not target.exists()


def tamper(path: Path, position: int) -> None:
    """Change one stored event's data behind questlog's back (triggers dropped)."""
    conn = load_dbapi().connect(str(path), isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET data = ? WHERE position = ?",
                 ('{"text":"forged"}', position))
    conn.close()


def test_a_broken_source_chain_is_refused_at_its_first_bad_position(tmp_path: Path) -> None:
    source = tmp_path / "broken.db"
    with Store.open(source, projectors=[]) as store:
        for n in range(30):
            store.append(f"notes-{n % 3}", [NewEvent(type="Noted", data={"text": f"n{n}"})])
    tamper(source, 17)
    target = tmp_path / "target.db"
    with pytest.raises(SourceChainBroken) as caught:
        copy_store(source, target, batch=10, projectors=[])
    assert caught.value.position == 17
    # The batches before the broken one were committed: a valid prefix, nothing after it.
    copied = envelopes(target)
    assert [e[0] for e in copied] == list(range(1, 11))
    assert copied == envelopes(source)[:10]
    with Store.open(target, read_only=True, projectors=[]) as store:
        assert store.verify().ok

    cli = questlog("copy", str(source), str(tmp_path / "cli.db"), "--batch", "5")
    assert cli.returncode == 2, cli.stderr
    errors = [line for line in cli.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in cli.stderr   # the rest: a progress bar
    assert errors[0].startswith("error: SourceChainBroken: SOURCE fails verify at position 17")
    assert [e[0] for e in envelopes(tmp_path / "cli.db")] == list(range(1, 16))


class _CtrlC:
    """A progress callback that raises KeyboardInterrupt (Ctrl-C lands in the main
    thread as that exception) once `after` events of the log were handed over."""

    def __init__(self, after: int) -> None:
        self.after = after

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "log" and done >= self.after:
            raise KeyboardInterrupt


def test_an_interrupted_copy_leaves_a_prefix_that_the_same_copy_resumes(
        small_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "resumed.db"
    with pytest.raises(KeyboardInterrupt):
        copy_store(small_store, target, batch=50, progress=_CtrlC(after=120))
    source_events = envelopes(small_store)
    prefix = envelopes(target)
    # Every batch handed to the writer was committed (closing drains it), nothing else.
    assert 120 <= len(prefix) < len(source_events) and len(prefix) % 50 == 0
    assert prefix == source_events[:len(prefix)]
    with Store.open(target, read_only=True) as store, store.read() as session:
        assert store.verify().ok
        assert store.checkpoints.read(session) == {}   # read models not built yet

    report = copy_store(small_store, target, batch=50)
    assert report.resumed_from == len(prefix)
    assert report.copied == len(source_events) - len(prefix)
    assert report.ok and all(d.compared and d.same for d in report.digests)
    assert envelopes(target) == source_events
    assert digests_and_verify(target) == (digests_and_verify(small_store)[0], True)


def test_a_prefix_target_that_was_written_to_since_is_refused(small_store: Path,
                                                               tmp_path: Path) -> None:
    target = tmp_path / "diverged.db"
    with pytest.raises(KeyboardInterrupt):
        copy_store(small_store, target, batch=50, progress=_CtrlC(after=50))
    with Store.open(target, projectors=[]) as store:
        store.append("notes-1", [NewEvent(type="Noted", data={"text": "not from SOURCE"})])
    head = len(envelopes(target))
    with pytest.raises(CopyRefused, match=f"position {head} differs from SOURCE's"):
        copy_store(small_store, target)
    assert len(envelopes(target)) == head


def test_ctrl_c_on_the_command_line_says_what_is_kept_and_a_rerun_resumes(
        small_store: Path, tmp_path: Path) -> None:
    target = tmp_path / "sigint.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    child = subprocess.Popen([sys.executable, "-m", "questlog.cli", "copy", str(small_store),
                              str(target), "--batch", "3"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if target.exists() and _head(target) > 0:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=120)
    assert child.returncode == 5, err
    assert "Traceback" not in err
    kept = _head(target)
    assert f"interrupted: TARGET holds positions 1-{kept} of SOURCE's log" in err
    assert "Run the same command again to resume." in err
    assert envelopes(target) == envelopes(small_store)[:kept]

    rerun = questlog("copy", str(small_store), str(target), "--json")
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["ok"] and report["resumed_from"] == kept
    assert envelopes(target) == envelopes(small_store)


def _head(path: Path) -> int:
    try:
        with Store.open(path, read_only=True, create=False, projectors=[]) as store:
            return store.head_position()
    except Exception:  # not initialised yet
        return 0
