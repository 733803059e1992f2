"""`questlog search` through click's CliRunner (hashing embedder, small pack)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from questlog import Store
from questlog.cli import cli


def test_search_json_and_text(small_store: Store) -> None:
    db = str(small_store.path)
    small_store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "search", "troll regenerates", "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits[0]["index"] == "troll" and len(hits) <= 3
    result = runner.invoke(cli, ["search", "--db", db, "fire", "--type", "spells",
                                 "--where", "level<=1", "--mode", "keyword"])
    assert result.exit_code == 0, result.output
    assert "fire-bolt" in result.output and "fireball" not in result.output.split("[spells/")[0]
    assert " 1. " in result.output and "via keyword" in result.output
    result = runner.invoke(cli, ["search", "--db", db, "zzzzqqq", "--mode", "keyword"])
    assert result.exit_code == 0 and "no hits" in result.output


def test_search_errors_are_one_line(small_pack: Path, tmp_path: Path, hashing: object) -> None:
    db = tmp_path / "s.db"
    with Store.open(db) as store:
        store.content.import_pack(small_pack, pack="srd")
    runner = CliRunner()
    # --no-build searches what is indexed now: nothing yet, so one clear error.
    result = runner.invoke(cli, ["search", "--db", str(db), "fire", "--no-build"])
    assert result.exit_code != 0
    assert "has not been built yet" in str(result.exception) or "built" in result.output
    result = runner.invoke(cli, ["search", "--db", str(db), "fire", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout if hasattr(result, "stdout") else result.output)
    result = runner.invoke(cli, ["search", "--db", str(db), "fire", "--where", "level=1"])
    assert result.exit_code == 2 and "--where" in result.output
