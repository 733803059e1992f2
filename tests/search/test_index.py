"""The index projector and SearchAPI on small packs (deterministic hashing embedder)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from questlog import Store
from questlog.errors import ContentPackNotFound, SearchIndexNotBuilt, UnknownContentType
from questlog.search.api import InvalidSearchQuery
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.search.fusion import words as fusion_words
from questlog.sqlite import search_compat as vectors

from .conftest import SMALL_PACK, settings, write_pack


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(256)
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> Any:
        self.embedded.extend(texts)
        return super().embed(texts)


def keys(hits: Sequence[Any]) -> list[tuple[str, str]]:
    return [(h.type, h.index) for h in hits]


def test_query_before_the_index_is_built_says_so(hashing: HashingEmbedder, small_pack: Path,
                                                 tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.content.import_pack(small_pack, pack="srd")
        with pytest.raises(SearchIndexNotBuilt, match="has not been built yet"):
            store.search("fire")
        store.projections.catch_up(["search_index"])
        assert store.search("fire", k=3)


def test_hits_carry_entity_chunk_score_and_signals(small_store: Store) -> None:
    hits = small_store.search("ray of frost cold beam", k=5)
    top = hits[0]
    assert (top.type, top.index, top.name, top.pack) == ("spells", "ray-of-frost", "Ray of Frost",
                                                         "srd")
    assert top.signals == ["vector", "keyword"] and "frigid beam" in top.text
    # First in both lists, and the query names it ("Ray of Frost"): the fusion's score.
    assert top.vector_rank == 1 and top.keyword_rank == 1
    assert top.score == pytest.approx(small_store.search.fusion.score(
        fusion_words("ray of frost cold beam"), "spells", "Ray of Frost", 1, 1))
    assert top.score > (small_store.search.fusion.vector_weight
                        + small_store.search.fusion.keyword_weight) / (
        small_store.search.fusion.rrf_k + 1)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    kw = small_store.search.search("troll", mode="keyword", k=3)
    assert kw[0].index == "troll" and kw[0].signals == ["keyword"] and kw[0].vector_rank is None
    vec = small_store.search.search("troll", mode="vector", k=3)
    assert all(h.signals == ["vector"] and h.keyword_rank is None for h in vec)


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_filters_never_return_outside_them(small_store: Store, mode: str) -> None:
    for text in ("fire damage", "cold", "invisible creature", "dragon breath"):
        for types in (["spells"], ["monsters", "conditions"]):
            hits = small_store.search(text, types=types, k=20, mode=mode)  # type: ignore[arg-type]
            assert all(h.type in types for h in hits)
        hits = small_store.search(text, types=["spells"], where={"level": {"<=": 1}}, k=20,
                                  mode=mode)  # type: ignore[arg-type]
        levels = {h.index: small_store.content.get("spells", h.index).level for h in hits}
        assert all(level <= 1 for level in levels.values()), levels
        with pytest.raises(ContentPackNotFound):   # an unknown pack is an error, not "no hits"
            small_store.search(text, packs=["nope"], k=5, mode=mode)  # type: ignore[arg-type]
    assert "fire-bolt" in {h.index for h in small_store.search(
        "fire", types="spells", where={"level": 0}, k=5)}


def test_bad_arguments_are_clear_errors(small_store: Store) -> None:
    for call in (lambda: small_store.search(""), lambda: small_store.search("  \x00 "),
                 lambda: small_store.search("x", k=0), lambda: small_store.search("x", k=10_000),
                 lambda: small_store.search("x", mode="fuzzy"),  # type: ignore[arg-type]
                 lambda: small_store.search("x", where={"level": 1}),
                 lambda: small_store.search(3)):  # type: ignore[arg-type]
        with pytest.raises(InvalidSearchQuery):
            call()
    with pytest.raises(UnknownContentType):
        small_store.search("x", types=["spells"], where={"colour": "red"})


def test_upsert_and_removal_change_results(small_store: Store, srd_dir: Path,
                                           tmp_path: Path) -> None:
    assert small_store.search("xylophone", mode="keyword") == []

    def edit(file_type: str, entry: dict[str, Any]) -> dict[str, Any]:
        if entry["index"] == "goblin":
            entry = {**entry, "desc": "Goblins play the xylophone at night."}
        return entry

    selection = {t: [i for i in ids if i != "troll"] for t, ids in SMALL_PACK.items()}
    pack = write_pack(srd_dir, tmp_path / "v2", selection, edit)
    small_store.content.import_pack(pack, pack="srd")
    small_store.projections.catch_up(["search_index"])
    for mode in ("hybrid", "vector", "keyword"):
        hits = small_store.search("goblin xylophone", k=3, mode=mode)  # type: ignore[arg-type]
        assert ("monsters", "goblin") in keys(hits), mode
        if mode == "keyword":
            assert keys(small_store.search("xylophone", mode="keyword")) == [("monsters", "goblin")]
        assert "troll" not in {h.index for h in small_store.search("troll regenerates", k=30,
                                                                   mode=mode)}  # type: ignore[arg-type]
    with small_store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM search_chunks WHERE idx = 'troll'").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM search_vec WHERE rowid IN (SELECT id FROM "
                            "search_chunks)").fetchone()[0] == conn.execute(
            "SELECT COUNT(*) FROM search_vec").fetchone()[0]


def test_pack_override_and_its_removal(tmp_path: Path, srd_dir: Path, small_pack: Path) -> None:
    counting = CountingEmbedder()
    set_default_embedder(counting)
    try:
        with Store.open(tmp_path / "s.db") as store:
            store.content.import_pack(small_pack, pack="srd", priority=0)
            store.projections.catch_up(["search_index"])
            first_round = len(counting.embedded)
            assert first_round > 0

            def brew(file_type: str, entry: dict[str, Any]) -> dict[str, Any]:
                return {**entry, "desc": ["A fireball that explodes into glittering confetti."]}

            homebrew = write_pack(srd_dir, tmp_path / "hb", {"Spells": ["fireball"]}, brew)
            store.content.import_pack(homebrew, pack="homebrew", priority=10)
            store.projections.catch_up(["search_index"])
            hit = store.search("confetti", k=1)[0]
            assert (hit.index, hit.pack) == ("fireball", "homebrew")
            assert "confetti" in hit.text

            # Same text in a higher pack: the pack changes, nothing is embedded again.
            same = write_pack(srd_dir, tmp_path / "same", {"Spells": ["cone-of-cold"]})
            before = len(counting.embedded)
            store.content.import_pack(same, pack="same", priority=5)
            store.projections.catch_up(["search_index"])
            assert len(counting.embedded) == before
            cone = [h for h in store.search("cone of cold", types=["spells"], k=5)
                    if h.index == "cone-of-cold"]
            assert cone and cone[0].pack == "same"
            assert store.search("cone of cold", packs=["srd"], types=["spells"], k=20)
            assert "cone-of-cold" not in {h.index for h in store.search(
                "cone of cold", packs=["srd"], k=20)}

            store.content.remove_pack("homebrew")
            store.projections.catch_up(["search_index"])
            assert store.search("confetti", mode="keyword") == []
            back = [h for h in store.search("fireball", k=5) if h.index == "fireball"][0]
            assert back.pack == "srd" and "confetti" not in back.text
    finally:
        set_default_embedder(None)


def test_rebuild_matches_incremental_and_needs_no_embedding(tmp_path: Path,
                                                            small_pack: Path) -> None:
    counting = CountingEmbedder()
    set_default_embedder(counting)
    try:
        with Store.open(tmp_path / "s.db") as store:
            store.content.import_pack(small_pack, pack="srd")
            store.projections.catch_up(["search_index"])
            incremental = store.projections.hashes(["search_index"])
            results = [keys(store.search(q, k=5)) for q in ("fire", "undead", "cover")]
            counting.embedded.clear()
            store.projections.rebuild(["search_index"])
            assert [t for t in counting.embedded if not t.startswith(("fire", "undead", "cover"))
                    ] == []
            assert store.projections.hashes(["search_index"]) == incremental
            with store.read() as conn:
                state = conn.execute("SELECT value FROM search_state WHERE key = 'token'").fetchone()
                assert vectors.mirror_token(conn) == state[0]  # the mirror was re-synced
            assert [keys(store.search(q, k=5)) for q in ("fire", "undead", "cover")] == results
    finally:
        set_default_embedder(None)


def _scored(hits: list[Any]) -> list[Any]:
    # The hashing embedder gives many chunks exactly 0.0 (no shared word): such
    # exact ties at the cut-off may be filled differently; real embeddings do not tie.
    return [h for h in hits if h.vector_score and h.vector_score > 0.05]


def test_numpy_backend_gives_the_same_results(small_store: Store) -> None:
    path = small_store.path
    queries = ["fire damage", "cold", "invisible", "bag", "dragon", "rest"]
    expected = {q: small_store.search.search(q, mode="vector", k=8) for q in queries}
    assert small_store.search.backend().active == "sqlite-vec"
    with Store.open(path, settings=settings(vector_backend="numpy")) as other:
        assert other.search.backend().active == "numpy"
        for q in queries:
            got = _scored(other.search.search(q, mode="vector", k=8))
            assert len(got) >= 3 and got == _scored(expected[q])
            f = other.search.search(q, mode="vector", types=["spells"], k=4)
            assert _scored(f) == _scored(
                small_store.search.search(q, mode="vector", types=["spells"], k=4))


def test_chunks_written_without_sqlite_vec_are_mirrored_on_next_query(
        hashing: HashingEmbedder, small_pack: Path, tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path, settings=settings(vector_backend="numpy")) as store:
        store.content.import_pack(small_pack, pack="srd")
        store.projections.catch_up(["search_index"])
        expected = _scored(store.search.search("goblin", mode="vector", k=5))
    with Store.open(path) as store:
        with store.read() as conn:
            assert vectors.mirror_token(conn) is None
        assert _scored(store.search.search("goblin", mode="vector", k=5)) == expected
        assert expected
        with store.read() as conn:
            assert vectors.mirror_token(conn) is not None
            n = conn.execute("SELECT COUNT(*) FROM search_vec").fetchone()[0]
            assert n == conn.execute("SELECT COUNT(*) FROM search_chunks").fetchone()[0]


def test_generic_types_are_indexed(hashing: HashingEmbedder, tmp_path: Path) -> None:
    pack = tmp_path / "poisons"
    pack.mkdir()
    entries = [{"index": "wyvern-venom", "name": "Wyvern Venom", "url": "/api/poisons/wv",
                "desc": ["A thick paste milked from the stinger of a dead wyvern."]}]
    (pack / "5e-SRD-Poisons.json").write_text(json.dumps(entries), encoding="utf-8")
    with Store.open(tmp_path / "s.db") as store:
        store.content.import_pack(pack, pack="brew")
        store.projections.catch_up(["search_index"])
        hit = store.search("stinger paste", k=1)[0]
        assert (hit.type, hit.index, hit.name) == ("poisons", "wyvern-venom", "Wyvern Venom")
        assert (hit.vector_rank, hit.keyword_rank) == (1, 1)
        assert np.isclose(hit.score, store.search.fusion.score(
            fusion_words("stinger paste"), "poisons", "Wyvern Venom", 1, 1))


def test_pack_priority_change_switches_the_effective_entry(hashing: HashingEmbedder,
                                                           small_store: Store, srd_dir: Path,
                                                           tmp_path: Path) -> None:
    def brew(file_type: str, entry: dict[str, Any]) -> dict[str, Any]:
        return {**entry, "desc": ["Homebrew fireball made of marmalade."]}

    homebrew = write_pack(srd_dir, tmp_path / "hb", {"Spells": ["fireball"]}, brew)
    small_store.content.import_pack(homebrew, pack="homebrew", priority=10)
    small_store.projections.catch_up(["search_index"])
    hit = small_store.search("marmalade", mode="keyword", k=1)[0]
    assert (hit.index, hit.pack) == ("fireball", "homebrew")
    small_store.content.import_pack(homebrew, pack="homebrew", priority=-10)
    small_store.projections.catch_up(["search_index"])
    assert small_store.search("marmalade", mode="keyword") == []
    assert [h.pack for h in small_store.search("fireball", k=5) if h.index == "fireball"] == ["srd"]


def test_backend_choice_follows_the_setting() -> None:
    from questlog.search import backend_report, choose_backend

    assert choose_backend(settings(vector_backend="numpy")).active == "numpy"
    assert choose_backend(settings(vector_backend="auto")).active == "sqlite-vec"
    report = backend_report(settings(vector_backend="numpy"))
    assert report["active"] == "numpy" and "QUESTLOG_VECTOR_BACKEND" in report["reason"]
    assert report["sqlite_vec"]["loaded"] is True
