"""What gets embedded: per-type texts, chunking, determinism (pure, no store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from questlog.search.texts import (
    CHUNK_WORDS,
    SINGLE_CHUNK_WORDS,
    chunks_for,
    entry_chunks,
    entry_name,
    entry_texts,
)
from questlog.sqlite.fts_query import candidate_queries, plain_query, quote


def _load(srd_dir: Path, file_type: str) -> dict[str, dict[str, Any]]:
    entries = json.loads((srd_dir / f"5e-SRD-{file_type}.json").read_text(encoding="utf-8"))
    return {e["index"]: e for e in entries}


@pytest.fixture(scope="module")
def all_entries(srd_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in sorted(srd_dir.glob("5e-SRD-*.json")):
        type_name = path.stem[len("5e-SRD-"):].lower()
        out += [(type_name, e["index"], e) for e in json.loads(path.read_text(encoding="utf-8"))]
    return out


def test_spell_text_carries_level_school_and_damage(srd_dir: Path) -> None:
    spell = _load(srd_dir, "Spells")["ray-of-frost"]
    (text,) = entry_texts("spells", spell)
    assert text.startswith("Ray of Frost (evocation cantrip)")
    assert "Damage type: cold." in text and "frigid beam" in text


def test_monster_text_carries_type_cr_and_actions(srd_dir: Path) -> None:
    goblin = _load(srd_dir, "Monsters")["goblin"]
    text = entry_texts("monsters", goblin)[0]
    assert "Small humanoid (goblinoid) monster, challenge 1/4" in text
    assert "Actions: Scimitar, Shortbow." in text and "Nimble Escape" in text


def test_every_srd_entry_gives_nonempty_chunks_within_model_input(all_entries: list[
        tuple[str, str, dict[str, Any]]]) -> None:
    chunks = chunks_for(all_entries)
    assert {(c.type, c.index) for c in chunks} == {(t, i) for t, i, _ in all_entries}
    for chunk in chunks:
        words = len(chunk.text.split())
        assert 0 < words <= max(SINGLE_CHUNK_WORDS, CHUNK_WORDS + 20), (chunk.type, chunk.index)
    # long entries were split, short ones were not
    by_key: dict[tuple[str, str], int] = {}
    for chunk in chunks:
        by_key[(chunk.type, chunk.index)] = by_key.get((chunk.type, chunk.index), 0) + 1
    assert by_key[("rule-sections", "the-environment")] > 3
    assert by_key[("conditions", "grappled")] == 1


def test_rule_chunks_follow_markdown_headings(srd_dir: Path) -> None:
    combat = _load(srd_dir, "Rule-Sections")["the-order-of-combat"]
    heads = [t.split("\n", 1)[0] for t in entry_texts("rule-sections", combat)]
    assert heads[0] == "The Order of Combat (rules)"
    assert "The Order of Combat > Surprise (rules)" in heads
    assert "The Order of Combat > Your Turn > Bonus Actions (rules)" in heads


def test_long_prose_chunks_overlap() -> None:
    words = [f"w{i}" for i in range(600)]
    entry = {"index": "long", "name": "Long Thing", "desc": [" ".join(words)]}
    texts = entry_texts("conditions", entry)
    assert len(texts) >= 3
    bodies = [t.split("\n", 1)[1].split() for t in texts]
    for first, second in zip(bodies, bodies[1:], strict=False):
        assert set(first[-20:]) <= set(second), "consecutive chunks must overlap"
    assert {w for b in bodies for w in b} == set(words), "no word may be lost"


def test_generic_type_uses_name_and_prose() -> None:
    entry = {"index": "wyvern-venom", "name": "Wyvern Venom", "url": "/x",
             "desc": ["A thick paste milked from a dead wyvern."],
             "notes": "Sold only in the black markets of the southern ports.", "price": "1200"}
    (text,) = entry_texts("poisons", entry)
    assert text.startswith("Wyvern Venom (poisons)")
    assert "thick paste" in text and "black markets" in text and "1200" not in text


def test_texts_are_deterministic_and_chunks_point_at_their_entry(srd_dir: Path) -> None:
    env = _load(srd_dir, "Rule-Sections")["the-environment"]
    first = entry_chunks("rule-sections", "the-environment", env)
    again = entry_chunks("rule-sections", "the-environment", json.loads(json.dumps(env)))
    assert first == again
    assert [c.chunk_no for c in first] == list(range(len(first)))
    assert all((c.type, c.index) == ("rule-sections", "the-environment") for c in first)
    assert len({c.text_hash for c in first}) == len(first)


def test_levels_get_a_display_name(srd_dir: Path) -> None:
    level = json.loads((srd_dir / "5e-SRD-Levels.json").read_text(encoding="utf-8"))[0]
    assert entry_name("levels", level) == "Barbarian level 1"


def test_fts_queries_quote_every_word() -> None:
    assert quote('say "hi"') == '"say ""hi"""'
    assert plain_query("'; DROP TABLE events; --") == '"drop" OR "table" OR "events"'
    assert plain_query("?!* ^") is None
    assert candidate_queries('"magic missile" OR fireball')[0] == '"magic missile" OR fireball'
    assert candidate_queries("a cantrip that deals cold damage") == [
        '"cantrip" OR "deals" OR "cold" OR "damage"']
    assert candidate_queries("the") == ['"the"']
