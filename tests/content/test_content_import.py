"""Importing the real SRD as events: counts, fields, idempotency, diffs, priorities, refusal."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from content_packtools import edit_json, open_store, spell, write_pack

from questlog import Store
from questlog.content import importer
from questlog.errors import ContentValidationError, WrongExpectedVersion

SrdJson = dict[str, list[dict[str, Any]]]


def events_of(store: Store, pack: str) -> list[str]:
    return [e.type for e in store.read_stream(f"contentpack-{pack}")]


def test_every_file_imports_with_its_count(srd_store: Store, srd_json: SrdJson) -> None:
    counts = srd_store.content.type_counts()
    assert counts == {t: len(entries) for t, entries in srd_json.items()}
    for type_name, entries in srd_json.items():
        assert srd_store.content.count(type_name) == len(entries), type_name
    with srd_store.read() as conn:
        for type_name, entries in srd_json.items():
            table = "content_" + type_name.replace("-", "_")
            (n,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            assert n == len(entries), table
    stream = srd_store.read_stream("contentpack-srd")
    assert [e.type for e in stream[:1] + stream[-1:]] == [
        "ContentPackRegistered", "ContentPackImported"]
    assert sum(e.type == "ContentEntityUpserted" for e in stream) == 2317
    assert stream[-1].data == {"pack": "srd", "added": 2317, "changed": 0, "removed": 0,
                               "unchanged": 0, "invalid": 0}


def test_fields_match_the_source_json(srd_store: Store, srd_json: SrdJson) -> None:
    spells = {s["index"]: s for s in srd_json["spells"]}
    for index in ("fireball", "wish", "cure-wounds", "mage-hand"):
        got = srd_store.content.get("spells", index)
        assert got.level == spells[index]["level"]
        assert got.school.index == spells[index]["school"]["index"]
        assert got.model_dump(by_alias=True, exclude_unset=True) == spells[index]
    monsters = {m["index"]: m for m in srd_json["monsters"]}
    for index in ("adult-red-dragon", "goblin", "kobold", "lich"):
        got = srd_store.content.get("monsters", index)
        assert got.challenge_rating == monsters[index]["challenge_rating"]
        assert [a.name for a in got.actions] == [a["name"] for a in monsters[index]["actions"]]
        assert got.model_dump(by_alias=True, exclude_unset=True) == monsters[index]
    with srd_store.read() as conn:
        row = conn.execute("SELECT level, school, ritual, concentration FROM content_spells "
                           "WHERE idx = 'fireball'").fetchone()
        assert tuple(row) == (3, "evocation", 0, 0)
        row = conn.execute("SELECT type, size, challenge_rating, alignment FROM content_monsters "
                           "WHERE idx = 'kobold'").fetchone()
        assert tuple(row) == ("humanoid", "Small", 0.125, "lawful evil")
        row = conn.execute("SELECT equipment_category, weapon_category, cost_cp FROM "
                           "content_equipment WHERE idx = 'longsword'").fetchone()
        assert tuple(row) == ("weapon", "Martial", 1500)
        row = conn.execute("SELECT rarity, attunement FROM content_magic_items "
                           "WHERE idx = 'cloak-of-displacement'").fetchone()
        assert tuple(row) == ("Rare", 1)


def test_filters_equal_a_plain_python_filter(srd_store: Store, srd_json: SrdJson) -> None:
    expected = sorted(s["index"] for s in srd_json["spells"] if s["level"] == 3
                      and "wizard" in {c["index"] for c in s["classes"]})
    got = srd_store.content.list("spells", where={"level": 3, "classes": "wizard"})
    assert [s.index for s in got] == expected and expected
    assert srd_store.content.count("spells", {"level": 3, "classes": "wizard"}) == len(expected)

    expected = sorted(m["index"] for m in srd_json["monsters"]
                      if 1 <= m["challenge_rating"] <= 5 and m["type"] == "undead")
    got = srd_store.content.list(
        "monsters", where={"challenge_rating": {"between": [1, 5]}, "type": "undead"})
    assert [m.index for m in got] == expected and expected
    got = srd_store.content.list(
        "monsters", where={"challenge_rating": {">=": 1, "<=": 5}, "type": "UNDEAD"})
    assert [m.index for m in got] == expected

    expected = sorted(e["index"] for e in srd_json["equipment"]
                      if e.get("armor_category") == "Medium")
    assert [e.index for e in srd_store.content.list(
        "equipment", where={"armor_category": "medium"})] == expected
    expected = sorted(i["index"] for i in srd_json["magic-items"]
                      if i["rarity"]["name"] in ("Legendary", "Artifact"))
    assert [i.index for i in srd_store.content.list(
        "magic-items", where={"rarity": ["Legendary", "Artifact"]})] == expected
    expected = sorted(s["index"] for s in srd_json["spells"] if s["ritual"]
                      and {"cleric", "wizard"} <= {c["index"] for c in s["classes"]})
    assert [s.index for s in srd_store.content.list(
        "spells", where={"ritual": True, "classes": {"all": ["cleric", "wizard"]}})] == expected


def test_reimport_appends_nothing(srd_store: Store, srd_dir: Path) -> None:
    head = srd_store.head_position()
    report = srd_store.content.import_pack(srd_dir, pack="srd")
    assert (report.added, report.changed, report.removed, report.unchanged) == (0, 0, 0, 2317)
    assert report.events_appended == 0 and not report.registered
    assert srd_store.head_position() == head


def test_one_change_and_one_deletion_append_one_event_each(srd_copy: Path,
                                                           tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        store.content.import_pack(srd_copy, pack="srd")
        edit_json(srd_copy / "5e-SRD-Spells.json",
                  lambda spells: spells[0]["desc"].append("An extra line."))
        before = store.head_position()
        report = store.content.import_pack(srd_copy, pack="srd")
        new = [e for e in store.read_all(before + 1)]
        assert [e.type for e in new] == ["ContentEntityUpserted", "ContentPackImported"]
        assert new[0].data["index"] == "acid-arrow" and report.changed == 1
        assert store.content.get("spells", "acid-arrow").desc[-1] == "An extra line."

        edit_json(srd_copy / "5e-SRD-Monsters.json",
                  lambda monsters: monsters.pop(next(
                      n for n, m in enumerate(monsters) if m["index"] == "goblin")))
        before = store.head_position()
        report = store.content.import_pack(srd_copy, pack="srd")
        new = [e for e in store.read_all(before + 1)]
        assert [e.type for e in new] == ["ContentEntityRemoved", "ContentPackImported"]
        assert new[0].data == {"pack": "srd", "type": "monsters", "index": "goblin"}
        assert report.removed == 1 and store.content.count("monsters") == 333
        assert not store.content.find_by_name("goblin", type="monsters")


def test_higher_priority_pack_overrides_and_removal_restores(srd_dir: Path,
                                                             tmp_path: Path) -> None:
    override = spell("fireball", "Fireball", level=4, desc=["A bigger boom."])
    root = write_pack(tmp_path / "hb", {"spells.json": [override]},
                      manifest={"name": "homebrew", "priority": 50, "version": "2"})
    with open_store(tmp_path / "s.db") as store:
        store.content.import_pack(srd_dir, pack="srd")
        assert store.content.get("spells", "fireball").level == 3
        store.content.import_pack(root)
        fireball = store.content.get("spells", "fireball")
        assert fireball.level == 4 and fireball.desc == ["A bigger boom."]
        assert [s.index for s in store.content.list("spells", {"level": 3, "name": "fireball"})] \
            == []
        assert {p.name: p.effective for p in store.content.packs()} == {"homebrew": 1,
                                                                       "srd": 2316}
        # a lower priority pack does not override
        low = write_pack(tmp_path / "low", {"spells.json": [spell("fireball", "Fizzle")]},
                         manifest={"name": "low", "priority": -5})
        store.content.import_pack(low)
        assert store.content.get("spells", "fireball").level == 4

        store.content.remove_pack("homebrew")
        fireball = store.content.get("spells", "fireball")
        assert fireball.level == 3 and fireball.name == "Fireball"
        with store.read() as conn:
            assert conn.execute("SELECT pack, level FROM content_spells WHERE idx = 'fireball'"
                                ).fetchone() == ("srd", 3)
        assert events_of(store, "homebrew")[-1] == "ContentPackRemoved"
        assert "homebrew" not in {p.name for p in store.content.packs()}


def test_removing_the_overriding_entry_restores_the_lower_one(srd_dir: Path,
                                                              tmp_path: Path) -> None:
    root = write_pack(tmp_path / "hb", {"spells.json": [spell("fireball", "Fireball", level=4),
                                                        spell("new-one", "New One")]},
                      manifest={"name": "homebrew", "priority": 50})
    with open_store(tmp_path / "s.db") as store:
        store.content.import_pack(srd_dir, pack="srd")
        store.content.import_pack(root)
        assert store.content.get("spells", "fireball").level == 4
        write_pack(root, {"spells.json": [spell("new-one", "New One")]})
        report = store.content.import_pack(root)
        assert report.removed == 1
        assert store.content.get("spells", "fireball").level == 3
        # lowering the pack's priority re-ranks without new entry events
        write_pack(root, {"spells.json": [spell("new-one", "New One"),
                                          spell("fireball", "Fireball", level=4)]})
        store.content.import_pack(root, priority=-1)
        assert store.content.get("spells", "fireball").level == 3


def test_broken_copy_is_refused_with_every_problem(srd_copy: Path, tmp_path: Path) -> None:
    (srd_copy / "5e-SRD-Feats.json").write_text('[{"index": "grappler", ', "utf-8")
    edit_json(srd_copy / "5e-SRD-Spells.json", lambda s: s.append(dict(s[0])))  # duplicate
    edit_json(srd_copy / "5e-SRD-Monsters.json",
              lambda m: m[1].update(hit_points="lots"))                          # wrong type
    edit_json(srd_copy / "5e-SRD-Conditions.json", lambda c: c[2].pop("index"))  # no index
    (srd_copy / "stray.csv").write_text("a,b", "utf-8")                          # unknown file
    with open_store(tmp_path / "s.db") as store:
        store.content.import_pack(STARTER_DIR)
        head = store.head_position()
        with pytest.raises(ContentValidationError) as info:
            store.content.import_pack(srd_copy, pack="srd")
        problems = {(p.file, p.field) for p in info.value.problems}
        assert ("5e-SRD-Feats.json", "-") in problems
        assert ("5e-SRD-Spells.json", "index") in problems
        assert ("5e-SRD-Monsters.json", "hit_points") in problems
        assert ("5e-SRD-Conditions.json", "index") in problems
        assert ("stray.csv", "-") in problems
        assert len(info.value.problems) == 5
        assert store.head_position() == head
        assert store.content.count("spells") == 5  # only the starter pack

        # --skip-invalid imports the rest and reports what it skipped
        report = store.content.import_pack(srd_copy, pack="srd", skip_invalid=True)
        assert report.invalid == 3 and len(report.problems) == 5
        assert store.content.count("monsters") == 333 + 4
        assert store.content.count("feats") == 0  # unreadable file: nothing of it imported
        # re-importing the same broken copy with --skip-invalid removes nothing
        again = store.content.import_pack(srd_copy, pack="srd", skip_invalid=True)
        assert again.events_appended == 0


STARTER_DIR = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"


def test_dry_run_appends_nothing(srd_dir: Path, content_store: Store) -> None:
    report = content_store.content.import_pack(srd_dir, pack="srd", dry_run=True)
    assert report.dry_run and report.added == 2317 and report.events_appended == 2319
    assert content_store.head_position() == 0
    assert content_store.content.count("spells") == 0


def test_concurrent_import_conflicts(tmp_path: Path, content_store: Store,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_pack(tmp_path / "p", {"spells.json": [spell("one", "One")]},
                      manifest={"name": "race"})
    content_store.content.import_pack(root)
    real = importer._pack_hashes
    calls: list[int] = []

    def interleaved(conn: Any, pack: str) -> dict[tuple[str, str], str]:
        stale = real(conn, pack)
        if not calls:
            calls.append(1)
            # another importer lands between our diff and our append
            other = threading.Thread(target=lambda: content_store.content.import_pack(
                write_pack(tmp_path / "q", {"spells.json": [spell("two", "Two")]},
                           manifest={"name": "race"})))
            other.start()
            other.join()
        return stale

    monkeypatch.setattr(importer, "_pack_hashes", interleaved)
    write_pack(root, {"spells.json": [spell("one", "One"), spell("three", "Three")]})
    head = content_store.head_position()
    with pytest.raises(WrongExpectedVersion):
        content_store.content.import_pack(root)
    assert content_store.head_position() == head + 3  # only the other import's events
    assert [s.index for s in content_store.content.list("spells")] == ["two"]


def test_rebuild_yields_the_same_read_models(srd_dir: Path, tmp_path: Path) -> None:
    override = write_pack(tmp_path / "hb", {"spells.json": [spell("fireball", "Fireball",
                                                                  level=9)]},
                          manifest={"name": "hb", "priority": 3})
    with open_store(tmp_path / "s.db") as store:
        store.content.import_pack(srd_dir, pack="srd")
        store.content.import_pack(override)
        store.content.remove_pack("hb")
        store.content.import_pack(override)
        before = store.projections.hashes(["content"])
        with store.read() as conn:
            rows_before = conn.execute("SELECT * FROM content_entities ORDER BY type, idx"
                                       ).fetchall()
        store.projections.rebuild(["content"])
        assert store.projections.hashes(["content"]) == before
        with store.read() as conn:
            rows_after = conn.execute("SELECT * FROM content_entities ORDER BY type, idx"
                                      ).fetchall()
        assert rows_after == rows_before
        assert store.content.get("spells", "fireball").level == 9


def test_json_payloads_of_events(tmp_path: Path, content_store: Store) -> None:
    root = write_pack(tmp_path / "p", {"spells.json": [spell("one", "One")]},
                      manifest={"name": "tiny", "version": "3", "license": "CC0",
                                "source": "here", "priority": 2})
    content_store.content.import_pack(root)
    stream = content_store.read_stream("contentpack-tiny")
    assert stream[0].data == {"pack": "tiny", "version": "3", "priority": 2, "edition": "2014",
                              "license": "CC0", "source": "here"}
    upsert = stream[1].data
    assert set(upsert) == {"pack", "type", "index", "content_hash", "data"}
    assert upsert["data"] == json.loads(json.dumps(spell("one", "One")))
