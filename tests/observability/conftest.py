"""Fixtures of the observability tests: real stores with the deterministic embedder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from questlog import Store
from questlog.search.embedder import HashingEmbedder, set_default_embedder

# The helpers module sits next to this file; tests import it by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from obs_helpers import STARTER_PACK


@pytest.fixture
def hashing() -> Iterator[HashingEmbedder]:
    """The deterministic embedder (no model load) as the process default for one test."""
    embedder = HashingEmbedder(256)
    set_default_embedder(embedder)
    yield embedder
    set_default_embedder(None)


@pytest.fixture
def indexed_store(hashing: HashingEmbedder, tmp_path: Path) -> Iterator[Store]:
    """A store with the starter pack imported (the search index is not built yet)."""
    store = Store.open(tmp_path / "indexed.db")
    store.content.import_pack(STARTER_PACK, pack="starter", priority=0)
    yield store
    store.close()
