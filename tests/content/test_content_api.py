"""The repository API: lookups, filter forms, name search, references, generic entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from content_packtools import STARTER, spell, write_pack

from questlog import Store
from questlog.content.models_monsters import Monster
from questlog.content.models_spells import Spell
from questlog.content.query import InvalidContentFilter
from questlog.content.types import GenericEntry
from questlog.errors import ContentNotFound, ContentPackNotFound, UnknownContentType

SrdJson = dict[str, list[dict[str, Any]]]


def test_get_returns_typed_models(srd_store: Store) -> None:
    assert isinstance(srd_store.content.get("spells", "fireball"), Spell)
    assert isinstance(srd_store.content.get("monsters", "aboleth"), Monster)
    with pytest.raises(ContentNotFound, match="no-such-spell"):
        srd_store.content.get("spells", "no-such-spell")
    with pytest.raises(UnknownContentType, match="known: ability-scores, alignments"):
        srd_store.content.get("spellz", "fireball")


def test_resolve_returns_referenced_entities(srd_store: Store) -> None:
    fireball = srd_store.content.get("spells", "fireball", resolve=True)
    resolved = fireball.resolved
    assert resolved["/api/2014/magic-schools/evocation"].name == "Evocation"
    assert resolved["/api/2014/classes/wizard"].hit_die == 6
    assert resolved["/api/2014/damage-types/fire"].index == "fire"
    # nested urls (levels) and index-less monster spell references resolve too
    cleric = srd_store.content.get("subclasses", "life", resolve=True)
    assert "/api/2014/classes/cleric/levels/1" in cleric.resolved
    lich = srd_store.content.get("monsters", "lich", resolve=True)
    assert lich.resolved["/api/2014/spells/power-word-kill"].level == 9
    assert srd_store.content.get("spells", "fireball").resolved == {}


def test_where_forms(srd_store: Store, srd_json: SrdJson) -> None:
    c = srd_store.content
    spells = srd_json["spells"]
    assert c.count("spells", {"level": {"gte": 8}}) == sum(s["level"] >= 8 for s in spells)
    assert c.count("spells", {"level": {"ne": 0}}) == sum(s["level"] != 0 for s in spells)
    assert c.count("spells", {"level": [1, 2]}) == sum(s["level"] in (1, 2) for s in spells)
    assert c.count("spells", {"concentration": True}) == 126
    assert c.count("spells", {"classes": ["paladin", "ranger"]}) == sum(
        bool({"paladin", "ranger"} & {k["index"] for k in s["classes"]}) for s in spells)
    assert c.count("spells", {"classes": {"none": ["wizard"]}}) == 319 - 204
    assert c.count("spells", {"components": "M", "level": 0}) == sum(
        "M" in s["components"] and s["level"] == 0 for s in spells)
    assert c.count("spells", {"name": {"like": "%bolt%"}}) == sum(
        "bolt" in s["name"].lower() for s in spells)
    assert c.count("monsters", {"size": "gargantuan"}) == 15
    assert c.count("monsters", {"subtype": None}) == 334 - 76
    assert c.count("monsters", {"movement": "fly", "legendary": True}) == sum(
        "fly" in m["speed"] and bool(m.get("legendary_actions")) for m in srd_json["monsters"])
    assert c.count("equipment", {"cost_cp": {"between": [100, 1000]}}) == sum(
        100 <= e["cost"]["quantity"] * {"cp": 1, "sp": 10, "gp": 100}[e["cost"]["unit"]] <= 1000
        for e in srd_json["equipment"])
    assert c.count("features", {"class": "fighter", "level": {"<=": 3}}) == sum(
        f["class"]["index"] == "fighter" and f["level"] <= 3 for f in srd_json["features"])
    for bad in ({"level": "three"}, {"level": {"between": [1]}}, {"level": {"~": 1}},
                {"ritual": "yes"}):
        with pytest.raises(InvalidContentFilter):
            c.list("spells", bad)
    with pytest.raises(UnknownContentType, match="known: .*classes.*level"):
        c.list("spells", {"lvl": 3})


def test_order_limit_offset(srd_store: Store, srd_json: SrdJson) -> None:
    c = srd_store.content
    by_cr = sorted(srd_json["monsters"], key=lambda m: (-m["challenge_rating"], m["index"]))
    top = c.list("monsters", order_by="-challenge_rating", limit=5)
    assert [m.index for m in top] == [m["index"] for m in by_cr[:5]]
    page = c.list("monsters", order_by=["-challenge_rating"], limit=5, offset=5)
    assert [m.index for m in page] == [m["index"] for m in by_cr[5:10]]
    everything = sorted(s["index"] for s in srd_json["spells"])
    assert [s.index for s in c.list("spells", offset=300)] == everything[300:]
    with pytest.raises(UnknownContentType):
        c.list("spells", order_by="classes")


def test_find_by_name_tolerates_case_and_spacing(srd_store: Store) -> None:
    c = srd_store.content
    assert [(m.type, m.index) for m in c.find_by_name("Fire Ball")] == [("spells", "fireball")]
    assert [m.index for m in c.find_by_name("  MAGIC missile ")] == ["magic-missile"]
    assert [m.index for m in c.find_by_name("will o wisp")] == ["will-o-wisp"]
    potions = c.find_by_name("Potion of Healing", type="magic-items")
    assert [m.index for m in potions] == ["potion-of-healing", "potion-of-healing-common"]
    assert len(c.find_by_name("extra attack")) == 5
    assert {m.type for m in c.find_by_name("Acolyte")} == {"backgrounds", "monsters"}
    assert c.find_by_name("???") == []


def test_filter_sql_is_parameterized(srd_store: Store) -> None:
    where = {"level": 3, "classes": "wizard'; DROP TABLE content_spells; --"}
    sql, params = srd_store.content.filter_sql("spells", where)
    assert " ".join(sql.split()).startswith(
        "SELECT content_spells.idx FROM content_spells WHERE")
    assert "DROP" not in sql and where["classes"] in params
    with srd_store.read() as conn:
        assert conn.execute(sql, params).fetchall() == []
    sql, params = srd_store.content.filter_sql("spells", {"level": 3, "classes": "wizard"})
    with srd_store.read() as conn:
        assert len(conn.execute(sql, params).fetchall()) == 28
    columns = srd_store.content.filter_columns("monsters")
    assert columns["challenge_rating"] == "REAL" and columns["movement"] == "TEXT[]"
    with pytest.raises(UnknownContentType):
        srd_store.content.filter_columns("nope")


def test_check_reports_dangling_references(srd_store: Store, tmp_path: Path,
                                           content_store: Store) -> None:
    report = srd_store.content.check()
    assert report.ok and report.references > 8000 and report.dangling == {"srd": []}
    # the starter pack on its own points at SRD entries that are not loaded
    content_store.content.import_pack(STARTER)
    dangling = content_store.content.check().dangling["starter"]
    assert {d.url for d in dangling} >= {"/api/2014/classes/wizard",
                                         "/api/2014/damage-types/fire"}
    assert any(d.index == "ember-choir" and d.path == "school" for d in dangling)


def test_generic_and_other_edition_entries(tmp_path: Path, content_store: Store) -> None:
    root = write_pack(tmp_path / "e2024", {
        "5e-SRD-Spells.json": [
            spell("fireball", "Fireball", level=3),
            {"index": "shape-water", "name": "Shape Water", "description": "Water moves.",
             "level": 0, "school": {"index": "transmutation", "name": "Transmutation",
                                    "url": "/api/2024/magic-schools/transmutation"},
             "url": "/api/2024/spells/shape-water"},
        ],
        "5e-SRD-Species.json": [{"index": "elf", "name": "Elf", "description": "Pointy.",
                                 "url": "/api/2024/species/elf"}],
    })
    report = content_store.content.import_pack(root, pack="srd2024", edition="2024")
    assert report.added == 3 and len(report.warnings) == 1
    c = content_store.content
    assert isinstance(c.get("spells", "fireball"), Spell)
    water = c.get("spells", "shape-water")
    assert isinstance(water, GenericEntry) and water.prose == "Water moves."
    assert [s.index for s in c.list("spells", {"level": 0})] == ["shape-water"]
    elf = c.get("species", "elf")
    assert isinstance(elf, GenericEntry) and elf.data["description"] == "Pointy."
    assert "species" in c.types() and c.filter_columns("species") == {"name": "TEXT",
                                                                      "pack": "TEXT"}
    assert [e.index for e in c.list("species", {"name": "ELF"})] == ["elf"]
    assert c.count("species") == 1
    assert [m.type for m in c.find_by_name("elf")] == ["species"]
    sql, params = c.filter_sql("species", {"pack": "srd2024"})
    with content_store.read() as conn:
        assert [r[0] for r in conn.execute(sql, params)] == ["elf"]
    assert c.packs()[0].edition == "2024"


def test_empty_store_reads_and_missing_pack(content_store: Store, tmp_path: Path) -> None:
    c = content_store.content
    assert c.list("spells") == [] and c.count("monsters") == 0 and c.packs() == []
    assert c.find_by_name("fireball") == []
    with pytest.raises(ContentNotFound):
        c.get("spells", "fireball")
    with pytest.raises(ContentPackNotFound, match="loaded packs"):
        c.remove_pack("nope")
    with pytest.raises(ContentPackNotFound):
        c.import_pack(tmp_path / "does-not-exist", pack="x")


def test_packs_report(srd_store: Store) -> None:
    (pack,) = srd_store.content.packs()
    assert (pack.name, pack.entries, pack.effective, pack.edition) == ("srd", 2317, 2317, "2014")
    assert pack.last_import is not None and pack.last_import["added"] == 2317


def test_read_only_store_serves_content(srd_store: Store) -> None:
    with Store.open(srd_store.path, read_only=True) as ro:
        assert ro.content.get("spells", "fireball").level == 3
        assert ro.content.count("monsters", {"type": "dragon"}) == 43


def test_equal_priorities_break_ties_by_pack_name(tmp_path: Path, content_store: Store) -> None:
    for name in ("zeta", "alpha"):
        root = write_pack(tmp_path / name, {"spells.json": [spell("shared", f"From {name}")]},
                          manifest={"name": name, "priority": 1})
        content_store.content.import_pack(root)
    assert content_store.content.get("spells", "shared").name == "From alpha"
    content_store.content.remove_pack("alpha")
    assert content_store.content.get("spells", "shared").name == "From zeta"


def test_progress_is_reported(tmp_path: Path, content_store: Store) -> None:
    seen: list[tuple[str, int, int]] = []
    content_store.content.import_pack(STARTER, progress=lambda *a: seen.append(a))
    assert [s for s in seen if s[0] == "validate"][-1] == ("validate", 4, 4)
    assert seen[-1] == ("append", 1, 1)
