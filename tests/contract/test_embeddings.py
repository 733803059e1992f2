"""Embedding cache contract: round trip, per model, first vector kept."""

from __future__ import annotations

from typing import Any

import numpy as np
from contract_search import open_search_store  # type: ignore[import-not-found]

from questlog.search import indexes


def test_embedding_cache_round_trip(backend: Any) -> None:
    cache = indexes.embedding_cache()
    rng = np.random.default_rng(1)
    blobs = {f"h{i}": rng.standard_normal(8).astype(np.float32).tobytes() for i in range(1200)}
    with open_search_store(backend) as store:
        with store.read() as session:
            assert cache.lookup(session, "m1", blobs) == {}  # before the first store
        store.write(lambda s: cache.store(s, "m1", 8, list(blobs.items())))
        other = np.ones(8, dtype=np.float32).tobytes()
        # A key stored again keeps its first vector; another model is another key.
        store.write(lambda s: cache.store(s, "m1", 8, [("h0", other)]))
        store.write(lambda s: cache.store(s, "m2", 8, [("h0", other)]))
        with store.read() as session:
            assert cache.lookup(session, "m1", [*blobs, "absent"]) == blobs
            assert cache.lookup(session, "m2", ["h0", "h1"]) == {"h0": other}
            assert cache.lookup(session, "m3", ["h0"]) == {}
            assert cache.lookup(session, "m1", []) == {}
