"""Audit replay of the recorded session log: digests checked in, replay twice = no change,
and the generator reproduces the log byte for byte."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

from questlog import Store
from questlog.replay import replay_file

from .conftest import FIXTURES

LOG = FIXTURES / "game_session.jsonl"
DIGESTS = FIXTURES / "game_session.digests.json"
REPO = FIXTURES.parent.parent


def game_digests(store: Store) -> dict[str, str]:
    return {k: v for k, v in store.projections.hashes().items() if k.startswith("game_")}


def test_recorded_log_covers_a_whole_session() -> None:
    events = [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines()]
    types = {e["type"] for e in events}
    assert len(events) >= 400
    for needed in ("CampaignCreated", "SessionStarted", "SessionEnded", "EncounterStarted",
                   "EncounterEnded", "TurnAdvanced", "DamageTaken", "HealingReceived",
                   "ConditionApplied", "DeathSaveRecorded", "ItemAdded", "CurrencyChanged",
                   "QuestAdded", "QuestUpdated", "RestTaken", "LevelGained",
                   "MessageSuperseded"):
        assert needed in types, needed
    assert sum(e["type"] == "PartyMemberJoined" for e in events) == 4
    assert sum(e["type"] == "SessionStarted" for e in events) == 2
    rests = {e["data"]["rest_type"] for e in events if e["type"] == "RestTaken"}
    assert rests == {"short", "long"}
    ended = [e for e in events if e["type"] == "EncounterEnded"]
    assert len(ended) == 3 and all(e["data"]["rounds"] >= 3 for e in ended)


def test_replay_reaches_the_checked_in_digests_and_twice_changes_nothing(
        tmp_path: Path) -> None:
    expected = json.loads(DIGESTS.read_text())
    assert len(expected) == 8
    store = Store.open(tmp_path / "replay.db")
    try:
        first = replay_file(store, LOG)
        assert first.skipped == 0 and first.appended == len(LOG.read_text().splitlines())
        assert game_digests(store) == expected
        head = store.head_position()
        second = replay_file(store, LOG)
        assert (second.appended, second.skipped) == (0, first.appended)
        assert store.head_position() == head and game_digests(store) == expected
        # Rebuilding every game read model from the log gives the same rows.
        store.projections.rebuild([n for n in expected])
        assert game_digests(store) == expected
        # The read models agree with the folds.
        for character in ("brann", "ilsa", "tomas", "wren"):
            sheet = store.game.party_sheet(character)
            state = store.game.state("character", character)
            assert (sheet.current_hp, sheet.level, sheet.xp, sheet.gold) == (
                state.current_hp, state.level, state.xp, state.purse.gp)
        assert store.game.state("character", "ilsa").level == 2
        assert [d.request_id for d in store.game.pending_dice("greyhollow")] == ["req-final"]
    finally:
        store.close()


def test_questlog_replay_cli_checks_the_digests(tmp_path: Path) -> None:
    # A real subprocess of the installed console script, twice into one store.
    cmd = [str(REPO / ".venv/bin/questlog"), "--db", str(tmp_path / "cli.db"), "--json",
           "replay", str(LOG), "--expect", str(DIGESTS)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["appended"] == 0


def test_generator_reproduces_the_log(srd_dir: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("game_session_gen",
                                                  FIXTURES / "game_session_gen.py")
    assert spec is not None and spec.loader is not None
    gen: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    store = Store.open(tmp_path / "play.db")
    try:
        store.content.import_pack(srd_dir, pack="srd")
        gen.play(store)
        gen.export(store, tmp_path / "log.jsonl")
        # The store where the commands ran has the same read models as the replay.
        assert gen.game_digests(store) == json.loads(DIGESTS.read_text())
    finally:
        store.close()
    assert (tmp_path / "log.jsonl").read_bytes() == LOG.read_bytes()
