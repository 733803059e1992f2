"""`questlog content ...` through click's runner and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from content_packtools import REPO, STARTER, open_store, spell, write_pack

from questlog import Store
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


# `content get` prints the entry's model as the library returns it — field order of the
# model, floats as floats (a challenge rating stored as 10 prints 10.0), a GenericEntry's
# own shape — not the stored JSON. The cold start work (issue 13) must never change a byte
# of it: each sampled entry is printed by the command, plain and --json, and compared
# with the model's dump printed as the command has always printed it.

def _printed(entity: Any, json_mode: bool) -> str:
    dump = entity.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return json.dumps(dump, indent=None if json_mode else 2, ensure_ascii=False,
                      default=str) + "\n"


def _entries(store: Store) -> list[tuple[str, str]]:
    """(type, index) of: every starter entry, and the first two of each SRD type present,
    plus a monster whose integer challenge rating prints as a float."""
    sample: list[tuple[str, str]] = []
    for type_name in store.content.types():
        for entity in store.content.list(type_name, limit=2):
            sample.append((type_name, entity.index))  # type: ignore[attr-defined]
    return sample


def _srd_with_starter_and_generic(tmp_path: Path, srd_dir: Path) -> Store:
    store = open_store(tmp_path / "printed.db")
    store.content.import_pack(srd_dir, pack="srd")
    store.content.import_pack(STARTER, priority=1)
    other = write_pack(tmp_path / "e2024", {"5e-SRD-Species.json": [
        {"url": "/api/2024/species/elf", "name": "Elf", "index": "elf",
         "description": "Pointy.", "speed": 30}]})
    store.content.import_pack(other, pack="srd2024", edition="2024")
    return store


def test_get_prints_the_models_dump_byte_for_byte(tmp_path: Path, srd_dir: Path) -> None:
    store = _srd_with_starter_and_generic(tmp_path, srd_dir)
    try:
        db = Path(store.location)
        starter = [(t, e["index"]) for t in ("spells", "monsters", "equipment", "magic-items")
                   for e in json.loads((STARTER / f"{t}.json").read_text("utf-8"))]
        sample = sorted(set(_entries(store) + starter + [("monsters", "aboleth")]))
        assert len(sample) > 60 and ("species", "elf") in sample
        differs = 0
        for type_name, index in sample:
            entity = store.content.get(type_name, index)
            for json_mode in (False, True):
                args = ["--json"] if json_mode else []
                code, out, err = run(db, *args, "content", "get", type_name, index)
                assert code == 0, err
                assert out == _printed(entity, json_mode), (type_name, index, json_mode)
            with store.read() as conn:
                from questlog.content import tables

                stored = tables.entry_data(conn, type_name, index)
            differs += out != json.dumps(json.loads(stored), ensure_ascii=False) + "\n"
        # The sample holds entries whose stored JSON would print otherwise.
        assert differs > 0
        assert '"challenge_rating": 10.0' in run(db, "content", "get", "monsters", "aboleth")[1]
        # --resolve prints the entity and every referenced entry the same way.
        code, out, _ = run(db, "--json", "content", "get", "spells", "fireball", "--resolve")
        fireball = store.content.get("spells", "fireball", resolve=True)
        assert code == 0 and json.loads(out) == {
            "entity": json.loads(_printed(fireball, True)),
            "resolved": {url: json.loads(_printed(m, True))
                         for url, m in fireball.resolved.items()}}  # type: ignore[attr-defined]
        assert len(json.loads(out)["resolved"]) >= 3

        # The same bytes from a fresh process (the command's cold path).
        env = {**os.environ, "QUESTLOG_DB": str(db)}
        for type_name, index in [("spells", "ember-choir"), ("monsters", "aboleth"),
                                 ("species", "elf"), ("equipment", "club")]:
            entity = store.content.get(type_name, index)
            for json_mode in (False, True):
                args = ["--json"] if json_mode else []
                done = subprocess.run([str(QUESTLOG), *args, "content", "get", type_name, index],
                                      env=env, capture_output=True, text=True, timeout=60)
                assert done.returncode == 0, done.stderr
                assert done.stdout == _printed(entity, json_mode), (type_name, index)
    finally:
        store.close()
