"""`questlog game ...`: CliRunner against questlog.cli.cli, and once as a real subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from questlog.cli import cli

from .conftest import campaign_setup, open_game_store

REPO = Path(__file__).resolve().parent.parent.parent


def seeded(tmp_path: Path, mini_pack: Path) -> tuple[Path, int]:
    db = tmp_path / "cli.db"
    store = open_game_store(db, mini_pack)
    store.game.apply(campaign_setup(), correlation_id="setup")
    result = store.game.apply([{"kind": "deal_damage", "target": {"character_id": "aria"},
                                "amount": 5}], correlation_id="hit")
    store.close()
    return db, result.streams[0].positions[-1]


def test_game_show_now_and_in_the_past(tmp_path: Path, mini_pack: Path) -> None:
    db, hit_position = seeded(tmp_path, mini_pack)
    runner = CliRunner()
    now = runner.invoke(cli, ["--db", str(db), "game", "show", "character", "aria", "--json"])
    assert now.exit_code == 0, now.output
    assert json.loads(now.output)["current_hp"] == 7
    past = runner.invoke(cli, ["--db", str(db), "game", "show", "character", "aria", "--json",
                               "--at", str(hit_position - 1)])
    assert json.loads(past.output)["current_hp"] == 12
    by_version = runner.invoke(cli, ["--db", str(db), "game", "show", "character", "aria",
                                     "--at-version", "1"])
    assert by_version.exit_code == 0 and "HP 12/12" in by_version.output
    encounter = runner.invoke(cli, ["--db", str(db), "game", "show", "encounter", "e1"])
    assert "Goblin 1" in encounter.output and "status: active" in encounter.output
    missing = runner.invoke(cli, ["--db", str(db), "game", "show", "campaign", "nope"])
    assert missing.exit_code != 0 and "unknown campaign 'nope'" in str(missing.exception)
    before = runner.invoke(cli, ["--db", str(db), "game", "show", "campaign", "c1", "--at", "1"])
    assert before.exit_code == 0 and "does not exist at that point" in before.output
    later = runner.invoke(cli, ["--db", str(db), "game", "show", "campaign", "c1",
                                "--at-time", "2999-01-01T00:00:00Z", "--json"])
    assert json.loads(later.output)["party"]["aria"]["name"] == "Aria"


def test_game_apply_and_read_models(tmp_path: Path, mini_pack: Path) -> None:
    db, _ = seeded(tmp_path, mini_pack)
    commands = tmp_path / "turn.json"
    commands.write_text(json.dumps([
        {"kind": "append_message", "campaign_id": "c1", "message_id": "m1",
         "role": "assistant", "content": "The goblin snarls."},
        {"kind": "apply_condition", "target": {"character_id": "bram"}, "condition": "prone"}]))
    runner = CliRunner()
    args = ["--db", str(db), "game", "apply", str(commands), "--correlation-id", "t1"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0 and "applied 2 event(s)" in first.output
    again = runner.invoke(cli, args)
    assert "already applied" in again.output
    chat = runner.invoke(cli, ["--db", str(db), "--json", "game", "chat", "c1"])
    assert json.loads(chat.output)["messages"][0]["content"] == "The goblin snarls."
    party = runner.invoke(cli, ["--db", str(db), "game", "party", "c1"])
    assert "Bram" in party.output and "prone" in party.output
    tracker = runner.invoke(cli, ["--db", str(db), "--json", "game", "tracker", "e1"])
    assert {c["combatant_id"] for c in json.loads(tracker.output)["combatants"]} == {
        "aria", "bram", "gob1", "gob2"}


def test_rejected_command_is_one_clear_line_as_a_subprocess(tmp_path: Path,
                                                          mini_pack: Path) -> None:
    db, _ = seeded(tmp_path, mini_pack)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"kind": "deal_damage", "target": {"character_id": "ghost"},
                                "amount": 2}]))
    exe = str(REPO / ".venv/bin/questlog")
    run = subprocess.run([exe, "--db", str(db), "game", "apply", str(bad)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "error: UnknownEntity: command 0 (deal_damage): unknown character 'ghost'"]
    show = subprocess.run([exe, "--db", str(db), "--json", "game", "show", "character",
                           "aria"], capture_output=True, text=True, timeout=120, check=False)
    assert show.returncode == 0 and json.loads(show.stdout)["current_hp"] == 7
