"""Fixtures of the search tests.

Two kinds of stores:

* small packs cut from the SRD, indexed with the deterministic HashingEmbedder
  (fast: filters, updates, overrides, hostile input);
* the whole SRD indexed with the real all-MiniLM-L6-v2, built ONCE per test
  session (`real_srd_db`) — a few minutes of CPU on 2 cores — and reused by
  the quality, agreement, warm-cache and CLI tests.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from questlog import Store
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.settings import Settings

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries.json"

SMALL_PACK = {
    "Spells": ["ray-of-frost", "fire-bolt", "fireball", "cone-of-cold", "ice-storm",
               "cure-wounds", "mass-cure-wounds", "magic-missile", "shield", "counterspell",
               "burning-hands", "lightning-bolt", "invisibility", "fly", "wish"],
    "Monsters": ["goblin", "troll", "vampire-spawn", "adult-red-dragon", "young-white-dragon",
                 "gelatinous-cube", "lich", "wolf"],
    "Conditions": ["grappled", "poisoned", "invisible", "frightened"],
    "Rule-Sections": ["cover", "resting"],
    "Magic-Items": ["flame-tongue", "bag-of-holding", "ring-of-invisibility"],
}


def settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


def write_pack(srd_dir: Path, target: Path, selection: dict[str, list[str]],
               edit: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None) -> Path:
    """A pack directory with the selected SRD entries (optionally edited)."""
    target.mkdir(parents=True, exist_ok=True)
    for file_type, indexes in selection.items():
        entries = json.loads((srd_dir / f"5e-SRD-{file_type}.json").read_text(encoding="utf-8"))
        chosen = [e for e in entries if e["index"] in indexes]
        assert len(chosen) == len(indexes), f"missing SRD entries in {file_type}"
        if edit is not None:
            chosen = [edit(file_type, e) for e in chosen]
        (target / f"5e-SRD-{file_type}.json").write_text(json.dumps(chosen), encoding="utf-8")
    return target


@pytest.fixture
def hashing() -> Iterator[HashingEmbedder]:
    """The deterministic embedder installed as the process default for one test."""
    embedder = HashingEmbedder(256)
    set_default_embedder(embedder)
    yield embedder
    set_default_embedder(None)


@pytest.fixture
def small_pack(srd_dir: Path, tmp_path: Path) -> Path:
    return write_pack(srd_dir, tmp_path / "small-pack", SMALL_PACK)


@pytest.fixture
def small_store(hashing: HashingEmbedder, small_pack: Path, tmp_path: Path) -> Iterator[Store]:
    """A store with the small pack imported and indexed (hashing embedder)."""
    store = Store.open(tmp_path / "small.db")
    store.content.import_pack(small_pack, pack="srd", priority=0)
    store.projections.catch_up(["search_index"])
    yield store
    store.close()


@pytest.fixture(scope="session")
def real_srd_db(srd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole SRD indexed with the real model (sqlite-vec mirror included), once."""
    set_default_embedder(None)
    path = tmp_path_factory.mktemp("real-srd") / "srd.db"
    store = Store.open(path)
    try:
        store.content.import_pack(srd_dir, pack="srd")
        store.projections.catch_up(["search_index"])
    finally:
        store.close()
    return path


@pytest.fixture
def real_store(real_srd_db: Path) -> Iterator[Store]:
    set_default_embedder(None)
    store = Store.open(real_srd_db)
    yield store
    store.close()


@pytest.fixture
def real_copy(real_srd_db: Path, tmp_path: Path) -> Path:
    """A private copy of the real SRD store (for tests that write to it)."""
    target = tmp_path / "srd-copy.db"
    shutil.copyfile(real_srd_db, target)
    wal = real_srd_db.with_name(real_srd_db.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))
    return target
