"""`store.search` on PostgreSQL answers as on SQLite: the real SRD, the real model.

The SRD is imported into a SQLite store and into a PostgreSQL store, each builds
its search index (chunks, keyword index, vector index: sqlite-vec / pgvector), and
labelled questions (tests/search/queries.json) must give the same top-5 entries
on both, in every mode and with filters. The reference is the SQLite run of the
same test, never recorded results.

The model runs once: the PostgreSQL store's embedding cache is filled with the
vectors the SQLite build computed (through the embedding cache port), so its
build embeds nothing — what is under test is PostgreSQL serving the same index,
not the model's determinism. Marked `slow` (a few minutes of CPU for the SQLite
build); it runs everywhere a server and ../shared are, CI included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from questlog import Store
from questlog.search import indexes
from questlog.search.embedder import default_embedder, set_default_embedder
from questlog.search.index import CHUNKS_TABLE, STATE_TABLE

QUERIES = Path(__file__).resolve().parents[1] / "search" / "queries.json"
N_QUERIES = 12
CHUNKS = sa.table(CHUNKS_TABLE, sa.column("text_hash"), sa.column("embedding"))


def _top5(store: Store, text: str, **kw: Any) -> list[tuple[str, str]]:
    return [(h.type, h.index) for h in store.search(text, k=5, **kw)]


def _cached_vectors(store: Store) -> list[tuple[str, bytes]]:
    with store.read() as session:
        rows = session.execute(sa.select(CHUNKS.c.text_hash, CHUNKS.c.embedding)
                               .where(CHUNKS.c.embedding.is_not(None))).fetchall()
    return sorted({(str(h), bytes(v)) for h, v in rows})


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_postgres_search_answers_as_sqlite_on_the_srd(srd_dir: Path, pg_url: str,
                                                      tmp_path: Path) -> None:
    set_default_embedder(None)  # the real all-MiniLM-L6-v2
    embedder = default_embedder()
    queries = [q["q"] for q in json.loads(QUERIES.read_text(encoding="utf-8"))["queries"]]
    queries = queries[:N_QUERIES]

    with Store.open(tmp_path / "srd.db") as lite:
        lite.content.import_pack(srd_dir, pack="srd")
        lite.projections.catch_up(["search_index"])
        vectors = _cached_vectors(lite)
        want = {q: {mode: _top5(lite, q, mode=mode) for mode in ("hybrid", "vector", "keyword")}
                for q in queries}
        filtered = {q: _top5(lite, q, types=["spells", "monsters"]) for q in queries}
        lite_state = lite.search.state()

    with Store.open(pg_url) as pg:
        assert pg.backend.name == "postgresql"
        cache = indexes.embedding_cache()
        pg.write(lambda s: cache.store(s, embedder.model_id, embedder.dim, vectors))
        pg.content.import_pack(srd_dir, pack="srd")
        pg.projections.catch_up(["search_index"])
        state = pg.search.state()
        assert state is not None and lite_state is not None
        assert (state.total, state.model_id, state.dim) == (
            lite_state.total, lite_state.model_id, lite_state.dim)
        with pg.read() as session:
            # The pgvector mirror was kept by the projector, not rebuilt on first query.
            assert indexes.approximate_index(CHUNKS_TABLE).in_sync(session, state.token)
            assert indexes.search_chunks(CHUNKS_TABLE, STATE_TABLE).vector_count(session) \
                == state.total
        diffs = []
        for q in queries:
            got = {mode: _top5(pg, q, mode=mode) for mode in ("hybrid", "vector", "keyword")}
            got_filtered = _top5(pg, q, types=["spells", "monsters"])
            for what, a, b in (("vector", got["vector"], want[q]["vector"]),
                               ("hybrid", got["hybrid"], want[q]["hybrid"]),
                               ("keyword", got["keyword"], want[q]["keyword"]),
                               ("filtered", got_filtered, filtered[q])):
                if a != b:
                    diffs.append((what, q, b, a))
        print("\n".join(map(str, diffs)))
        assert not diffs
