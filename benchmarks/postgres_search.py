"""Vector search on PostgreSQL (pgvector), against numpy brute force in the same process.

Prints one JSON line. On `--n` (100k) random normalised 384-d vectors (uniform on the
sphere: the hardest case for a graph index; `--clustered` takes
questlog.search.synthetic's embedding-shaped vectors instead) with 25 content types and
two packs, stored through the search index's tables and told to `PgVectorIndex` as the
search projector does (`resync`: rows, then one bulk HNSW build), k = 10:

* unfiltered KNN: recall@10 against exact and latency p50/p99 of the index
  (the HNSW graph walk, `hnsw.ef_search` = each value of `--ef`), beside the reference:
  numpy brute force (`X @ q`, argpartition) on the same matrix in this process;
* filtered KNN (one content type, ~4 % of the rows; one pack, ~80 %): the index's exact
  scan of the filtered rows, against numpy on the masked matrix.
Reference and index queries are interleaved, query by query. Build time is reported.
The server is $QUESTLOG_BENCH_POSTGRES_URL, else a throwaway pgserver (PostgreSQL 16.2,
pgvector 0.6.2). Targets (issue 12): recall@10 >= 0.95 within 3x of numpy, filtered
and unfiltered.

Usage: python benchmarks/postgres_search.py [--n 100000] [--queries 100]
       [--ef 40,100,200,400] [--clustered]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from _common import emit, summary_ms
from _postgres import Databases, server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "projections"))

from search_index import SearchIndex

from questlog import Store
from questlog.postgres.vectors import PgVectorIndex
from questlog.search.index import CHUNKS_TABLE
from questlog.search.synthetic import clustered
from questlog.storage.vectors import Filters, Generation

K = 10
DIM = 384
CHUNKS = sa.table(CHUNKS_TABLE, *(sa.column(c) for c in (
    "id", "type", "idx", "chunk_no", "pack", "name", "text", "text_hash", "embedding")))


def data(n: int, queries: int, is_clustered: bool) -> tuple[Any, list[str], list[str], Any]:
    if is_clustered:
        d = clustered(n, n_queries=queries, seed=3)
        return d.vectors, d.types, d.packs, d.queries
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n + queries, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    types = [f"type-{t:02d}" for t in rng.integers(0, 25, size=n)]
    packs = ["srd" if r < 0.8 else "homebrew" for r in rng.random(n)]
    return x[:n], types, packs, x[n:]


def numpy_knn(matrix: Any, ids: Any, q: Any) -> list[int]:
    scores = matrix @ q
    top = np.argpartition(-scores, K - 1)[:K]
    return [int(ids[i]) for i in top[np.argsort(-scores[top])]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ef", default="40,100,200,400")
    parser.add_argument("--clustered", action="store_true")
    args = parser.parse_args()

    vectors, types, packs, queries = data(args.n, args.queries, args.clustered)
    ids = np.arange(1, args.n + 1, dtype=np.int64)
    with server() as base:
        dbs = Databases(base)
        try:
            measure(dbs.fresh(schema=False), args, vectors, types, packs, queries, ids)
        finally:
            dbs.drop_all()


def measure(url: str, args: argparse.Namespace, vectors: Any, types: list[str],
            packs: list[str], queries: Any, ids: Any) -> None:
    """Store the vectors on the database at `url`, build the mirror, time the queries."""
    store = Store.open(url, projectors=[SearchIndex()])
    store.projections.register()
    index = PgVectorIndex(CHUNKS_TABLE)
    for start in range(0, args.n, 5000):
        rows = [{"id": int(ids[i]), "type": types[i], "idx": f"e{i}", "chunk_no": 0,
                 "pack": packs[i], "name": "", "text": "", "text_hash": f"h{i}",
                 "embedding": vectors[i].tobytes()}
                for i in range(start, min(args.n, start + 5000))]
        store.write(lambda s, rows=rows: s.executemany(CHUNKS.insert(), rows))
    began = time.perf_counter()
    store.write(lambda s: index.resync(s, "bench", DIM))
    build_s = time.perf_counter() - began
    generation = Generation("bench", args.n)

    result: dict[str, Any] = {"benchmark": "postgres_search", "n": args.n, "dim": DIM,
                              "k": K, "queries": args.queries,
                              "vectors": "clustered" if args.clustered else "uniform",
                              "mirror_build_s": round(build_s, 1)}
    type_mask = np.array([t == "type-07" for t in types])
    pack_mask = np.array([p == "srd" for p in packs])
    cases: dict[str, tuple[Filters, Any]] = {
        "unfiltered": (Filters(), None),
        "type_filter": (Filters(types=("type-07",)), type_mask),
        "pack_filter": (Filters(packs=("srd",)), pack_mask)}
    efs = [int(e) for e in args.ef.split(",")]
    for name, (filters, mask) in cases.items():
        settings = efs if mask is None else [0]
        for ef in settings:
            if ef:
                index.ef_search = ef
            sub = vectors if mask is None else vectors[mask]
            sub_ids = ids if mask is None else ids[mask]
            ref_t: list[float] = []
            idx_t: list[float] = []
            recalls: list[float] = []
            with store.read() as session:
                for q in queries:
                    t0 = time.perf_counter()
                    want = numpy_knn(sub, sub_ids, q)
                    t1 = time.perf_counter()
                    got = index.search(session, q, K, filters, generation)
                    t2 = time.perf_counter()
                    ref_t.append(t1 - t0)
                    idx_t.append(t2 - t1)
                    recalls.append(len(set(want) & {c for c, _ in got}) / K)
            ratio = summary_ms(idx_t)["p50_ms"] / max(summary_ms(ref_t)["p50_ms"], 1e-9)
            key = name if not ef else f"{name}_ef{ef}"
            result[key] = {"recall@10": round(float(np.mean(recalls)), 4),
                           "pgvector": summary_ms(idx_t), "numpy": summary_ms(ref_t),
                           "x_numpy_p50": round(ratio, 2)}
    store.close()
    emit(result)


if __name__ == "__main__":
    main()
