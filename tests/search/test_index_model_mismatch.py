"""A search index built with one embedding model, run by a process that embeds with
another (QUESTLOG_EMBEDDER / QUESTLOG_EMBEDDER_PRECISION changed): the search projector
waits with the reason in `projections status` and is never parked, since no event is at
fault (a `projections skip` would drop a valid event for good). Once the process runs the
index's model again, the projector goes on by itself. Real store files; two hashing
embedders of different widths stand in for two models (their model ids differ)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from questlog import Store
from questlog.errors import ProjectorCannotRun
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.settings import Settings

STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
SPELL = next(s for s in json.loads((STARTER / "spells.json").read_text())
             if s["index"] == "lantern-ward")


def _import(path: Path, pack: Path, text: str) -> None:
    (pack / "spells.json").write_text(json.dumps([{**SPELL, "desc": [text]}]))
    with Store.open(path, settings=Settings(db=path)) as store:
        store.content.import_pack(pack, pack="tiny")


def _search_status(store: Store) -> dict[str, object]:
    return next(r for r in store.projections.status() if r["name"] == "search_index")


def test_another_model_makes_the_search_index_wait_never_park(tmp_path: Path) -> None:
    path, pack = tmp_path / "s.db", tmp_path / "pack"
    pack.mkdir()
    index_model, other_model = HashingEmbedder(64), HashingEmbedder(32)
    assert index_model.model_id != other_model.model_id
    try:
        set_default_embedder(index_model)
        _import(path, pack, "A lantern of warding light.")
        with Store.open(path, settings=Settings(db=path)) as store:
            store.projections.catch_up(["search_index"])

        set_default_embedder(other_model)
        _import(path, pack, "A lantern of gloaming amber.")
        settings = Settings(db=path, projection_max_failures=2)
        with Store.open(path, settings=settings) as store:
            for _ in range(settings.projection_max_failures + 1):
                with pytest.raises(ProjectorCannotRun, match="rebuild the index"):
                    store.projections.catch_up(["search_index"])
            status = _search_status(store)
            assert status["state"] != "parked", status
            assert "holds vectors of" in str(status["last_error"])
            assert status["error_position"] is None

        set_default_embedder(index_model)  # the index's model again: it goes on by itself
        with Store.open(path, settings=Settings(db=path)) as store:
            store.projections.catch_up(["search_index"])
            assert _search_status(store)["lag"] == 0
            hits = store.search("gloaming amber", k=1, mode="keyword")
            assert [(h.type, h.index) for h in hits] == [("spells", "lantern-ward")]
    finally:
        set_default_embedder(None)
