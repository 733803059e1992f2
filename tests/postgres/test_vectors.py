"""pgvector's filtered HNSW problem, and why `PgVectorIndex` never walks the graph with a
filter: pgvector 0.6 filters the `ef_search` rows its walk found, so a selective filter
returns fewer than k rows (or misses near ones). The index answers every filtered query
by an exact scan, and walks the graph only unfiltered, above `exact_scan_max` vectors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from questlog import Store
from questlog.postgres.vectors import VEC_TABLE, PgVectorIndex
from questlog.search.synthetic import clustered
from questlog.storage.vectors import Filters, Generation


def _contract_search() -> Any:
    """tests/contract/search_tables.py (how the contract suite writes chunk rows)."""
    if "contract_search" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "contract" / "search_tables.py"
        spec = importlib.util.spec_from_file_location("contract_search", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["contract_search"] = module
        spec.loader.exec_module(module)
    return sys.modules["contract_search"]


N = 3000
K = 10


class _Backend:
    def __init__(self, url: str) -> None:
        self.url = url

    def open_store(self, **kw: Any) -> Store:
        return Store.open(self.url, **kw)


def _brute(vectors: np.ndarray, ids: list[int], q: np.ndarray, k: int) -> list[int]:
    scores = vectors.astype(np.float64) @ q.astype(np.float64)
    order = np.lexsort((np.asarray(ids), -scores))[:k]
    return [ids[i] for i in order]


def test_filtered_queries_are_exact_where_hnsw_would_return_fewer(pg_url: str) -> None:
    data = clustered(N, n_queries=20, seed=4)
    ids = list(range(1, N + 1))
    # A selective filter: one type of 25 (~4 % of the rows).
    rare = "type-03"
    tables = _contract_search()
    index = PgVectorIndex(tables.CHUNKS_TABLE, exact_scan_max=100, ef_search=10)
    with tables.open_search_store(_Backend(pg_url)) as store:
        def load(session: Any) -> int:
            tables.write_chunks(session, tables.chunk_rows(
                ids, data.types, data.packs, [v.tobytes() for v in data.vectors]))
            return index.resync(session, "g", 384)

        assert store.write(load) == N
        generation = Generation("g", N)
        mask = np.array([t == rare for t in data.types])
        rare_ids = [i for i, m in zip(ids, mask, strict=True) if m]
        short = 0
        with store.read() as session:
            for q in data.queries:
                # What a plain filtered HNSW query returns (the graph walk keeps 10 rows,
                # then the filter drops most of them).
                # (the planner is steered onto the graph: no sequential scan, no btree.)
                session.execute("SELECT set_config('hnsw.ef_search', '10', true), "
                                "set_config('enable_seqscan', 'off', true)")
                walk = (f"SELECT id FROM {VEC_TABLE} WHERE type || '' = %s "
                        "ORDER BY embedding <=> %s::vector LIMIT %s")
                params = (rare, "[" + ",".join(map(str, q.tolist())) + "]", K)
                plan = " ".join(r[0] for r in session.execute("EXPLAIN " + walk, params))
                assert f"{VEC_TABLE}__hnsw" in plan
                walked = session.execute(walk, params).fetchall()
                session.execute("SELECT set_config('enable_seqscan', 'on', true)")
                short += len(walked) < K
                got = index.search(session, q, K, Filters(types=(rare,)), generation)
                assert [c for c, _ in got] == _brute(data.vectors[mask], rare_ids, q, K)
                # Unfiltered, above exact_scan_max: the graph walk, still near-exact here.
                unfiltered = index.search(session, q, K, Filters(), generation)
                assert len(unfiltered) == K
        # The failure the exact scan avoids is real on this server.
        assert short > 0
