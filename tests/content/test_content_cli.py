"""`questlog content ...` through click's runner and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from content_packtools import REPO, STARTER, spell, write_pack

from questlog.cli import cli
from questlog.errors import QuestlogError

QUESTLOG = Path(sys.executable).parent / "questlog"


def run(db: Path, *args: str) -> tuple[int, str, str]:
    """Invoke the click app; a QuestlogError is rendered the way `run_cli` renders it."""
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    exc = result.exception
    if isinstance(exc, QuestlogError):
        return exc.exit_code, result.stdout, f"{result.stderr}error: {type(exc).__name__}: {exc}"
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return result.exit_code, result.stdout, result.stderr


def test_import_get_list_packs_check_remove(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    code, out, err = run(db, "content", "import", str(STARTER))
    assert code == 0, err
    assert "starter: imported: 17 added, 0 changed, 0 removed, 0 unchanged, 0 invalid" in out
    code, out, _ = run(db, "--json", "content", "import", str(STARTER))
    assert json.loads(out)["unchanged"] == 17 and json.loads(out)["events_appended"] == 0

    code, out, _ = run(db, "--json", "content", "get", "spells", "ember-choir")
    assert code == 0
    source = json.loads((STARTER / "spells.json").read_text("utf-8"))
    assert json.loads(out) == next(s for s in source if s["index"] == "ember-choir")

    code, out, _ = run(db, "content", "list", "spells", "--where", "level>=2",
                       "--where", "classes=wizard")
    assert out.splitlines()[:2] == ["ember-choir\tEmber Choir", "tidecall-bolt\tTidecall Bolt"]
    code, out, _ = run(db, "--json", "content", "list", "monsters", "--where",
                       "challenge_rating>=1", "--where", "challenge_rating<=5",
                       "--where", "type=undead")
    assert [m["index"] for m in json.loads(out)] == ["drowned-bellringer"]
    code, out, _ = run(db, "content", "list", "monsters", "--where", "size=Tiny,Large",
                       "--limit", "1")
    assert out.splitlines()[0] == "gallowmoss-shambler\tGallowmoss Shambler"
    code, out, _ = run(db, "--json", "content", "list", "magic-items", "--where",
                       "attunement=true", "--order-by", "-name")
    assert [i["index"] for i in json.loads(out)] == ["ring-of-still-water",
                                                     "lantern-of-the-sunken-choir"]

    code, out, _ = run(db, "--json", "content", "packs")
    assert [p["name"] for p in json.loads(out)] == ["starter"]
    code, out, _ = run(db, "--json", "content", "check")
    assert code == 1 and json.loads(out)["ok"] is False  # SRD targets are not loaded
    code, out, _ = run(db, "--json", "content", "find", "EMBER choir")
    assert json.loads(out) == [{"type": "spells", "index": "ember-choir",
                                "name": "Ember Choir", "pack": "starter"}]

    code, out, _ = run(db, "content", "remove-pack", "starter")
    assert code == 0 and "removed pack starter" in out
    code, _, err = run(db, "content", "get", "spells", "ember-choir")
    assert code == 1 and "ContentNotFound" in err


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    run(db, "content", "import", str(STARTER))
    code, _, err = run(db, "content", "list", "spellz")
    assert code == 1 and "UnknownContentType" in err and "known: ability-scores" in err
    code, _, err = run(db, "content", "list", "spells", "--where", "colour=red")
    assert code == 1 and "unknown filter field 'colour'" in err
    code, _, err = run(db, "content", "list", "spells", "--where", "level>=high")
    assert code == 2 and "level takes a number" in err
    code, _, err = run(db, "content", "remove-pack", "ghost")
    assert code == 1 and "ContentPackNotFound" in err


def test_broken_pack_lists_every_problem(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    root = write_pack(tmp_path / "bad", {
        "spells.json": [spell("a", "A", level="x"), spell("a", "A"), {"name": "no index"}],
        "monsters.json": "{oops",
    }, manifest={"name": "bad"})
    code, out, err = run(db, "content", "import", str(root))
    assert code == 1
    assert "spells.json [a] level:" in err and "spells.json [a] index: duplicate" in err
    assert "spells.json [#2] index: missing index" in err
    assert "monsters.json [-] -: malformed JSON" in err
    assert "ContentValidationError" in err and "nothing was imported" in err
    code, out, err = run(db, "--json", "content", "import", str(root))
    problems = json.loads(out)["problems"]
    assert code == 1 and {(p["file"], p["entry"]) for p in problems} == {
        ("monsters.json", "-"), ("spells.json", "a"), ("spells.json", "#2")}
    assert {"index", "desc", "level"} <= {p["field"] for p in problems}
    code, out, err = run(db, "--json", "content", "import", str(root), "--skip-invalid",
                         "--dry-run")
    report = json.loads(out)
    assert code == 0 and report["dry_run"] and report["added"] == 0 and report["invalid"] == 2
    code, out, _ = run(db, "content", "import", str(root), "--pack", "Bad Name")
    assert code == 1


def test_real_process(tmp_path: Path) -> None:
    db = tmp_path / "proc.db"
    env = {**os.environ, "QUESTLOG_DB": str(db)}
    env.pop("CI", None)
    done = subprocess.run([str(QUESTLOG), "content", "import", str(STARTER),
                           "--priority", "3"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "17 added" in done.stdout
    done = subprocess.run([str(QUESTLOG), "--json", "content", "get", "monsters",
                           "drowned-bellringer", "--resolve"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["entity"]["challenge_rating"] == 3
    assert body["resolved"] == {}  # the SRD conditions it references are not loaded
    done = subprocess.run([str(QUESTLOG), "content", "get", "spells", "fireball"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_import_without_pack_or_manifest_name_takes_the_directory_name(tmp_path: Path) -> None:
    db = tmp_path / "named.db"
    pack = write_pack(tmp_path / "homebrew-2026", {"5e-SRD-Spells.json": [spell("glimmer", "Glimmer")]})
    code, out, err = run(db, "content", "import", str(pack))
    assert code == 0, err
    assert out.startswith("homebrew-2026: imported: 1 added")
    code, out, _ = run(db, "--json", "content", "packs")
    assert [p["name"] for p in json.loads(out)] == ["homebrew-2026"]
    # A directory name that is no pack name says so and imports nothing.
    odd = write_pack(tmp_path / "My Pack", {"5e-SRD-Spells.json": [spell("other", "Other")]})
    code, _, err = run(db, "content", "import", str(odd))
    assert code == 1
    assert "the directory's name 'My Pack' is not a pack name" in err
    assert "--pack NAME" in err
    code, out, _ = run(db, "--json", "content", "packs")
    assert [p["name"] for p in json.loads(out)] == ["homebrew-2026"]
    code, out, err = run(db, "content", "import", str(odd), "--pack", "my-pack")
    assert code == 0, err
