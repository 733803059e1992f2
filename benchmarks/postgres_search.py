"""Vector search on PostgreSQL (pgvector), against numpy brute force in the same process.

Prints one JSON line. On `--n` (100k) normalised 384-d vectors with 25 content types
and two packs, k = 10, for each data set of `--vectors`:

* `clustered` (the default): questlog.search.synthetic's embedding-shaped vectors, the
  generator and seed benchmarks/search.py measures sqlite-vec on;
* `uniform`: uniform on the sphere, every neighbour nearly equidistant, the known worst
  case for a graph index (a secondary figure: its 100k build takes minutes).

The vectors are stored through the search index's tables and told to `PgVectorIndex` as
the search projector does (`resync`: rows, then one bulk HNSW build and the per
(type, pack) counts). For each query, `PgVectorIndex.search` (its own plan) against the
reference, numpy brute force (`X @ q`, argpartition) on the same matrix in this process,
interleaved query by query; recall@10 against the reference's ids:

* unfiltered: the HNSW walk at `hnsw.ef_search` = each value of `--ef`;
* pack filter (one pack, ~80 % of the rows): the walk with ef_search raised for the
  filter's share, filtered after (exact scan when fewer than k survive), at each `--ef`;
* type filter (one of 25 types, ~4 %, a different type each query as in
  benchmarks/search.py): the exact scan of the filtered rows.
A filtered query's reference is benchmarks/search.py's (`x_numpy_p50`): the filter's
mask and `X[mask] @ q` in the timed call; `x_numpy_premasked_p50` is against the
stricter one, the filter's rows cut into their own matrix before timing. numpy runs on
one BLAS thread (see below). Each case also reports the index's plan
(`PgVectorIndex.plan` for its first query). Build time is reported. The server is
$QUESTLOG_BENCH_POSTGRES_URL, else a throwaway pgserver (PostgreSQL 16.2, pgvector
0.6.2). Targets (issue 12): recall@10 >= 0.95 within 3x of numpy, filtered and
unfiltered.

Usage: python benchmarks/postgres_search.py [--n 100000] [--queries 100]
       [--ef 40,100,200] [--vectors clustered,uniform]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

# One BLAS thread for the reference: on 2 cores shared with other work, OpenBLAS's
# threads wait for each other, and numpy's product over a type's 4k rows took 20 ms
# instead of 0.14 ms: a reference that slow would flatter the index.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import sqlalchemy as sa
from _common import emit, summary_ms
from _postgres import Databases, server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "projections"))

from search_index import SearchIndex

from questlog import Store
from questlog.postgres.vectors import EF_SEARCH, LAYOUT, PgVectorIndex
from questlog.search.index import CHUNKS_TABLE
from questlog.search.synthetic import clustered
from questlog.storage.vectors import Filters, Generation

K = 10
DIM = 384
CHUNKS = sa.table(CHUNKS_TABLE, *(sa.column(c) for c in (
    "id", "type", "idx", "chunk_no", "pack", "name", "text", "text_hash", "embedding")))


def data(n: int, queries: int, kind: str) -> tuple[Any, list[str], list[str], Any]:
    if kind == "clustered":
        d = clustered(n, n_queries=queries, seed=11)  # benchmarks/search.py's seed
        return d.vectors, d.types, d.packs, d.queries
    if kind != "uniform":
        sys.exit(f"unknown vectors {kind!r} (clustered or uniform)")
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


def load(store: Store, index: PgVectorIndex, vectors: Any, types: list[str],
         packs: list[str]) -> float:
    """The chunk rows, then the mirror as a rebuild makes it; its build time in seconds."""
    n = len(vectors)
    for start in range(0, n, 5000):
        rows = [{"id": i + 1, "type": types[i], "idx": f"e{i}", "chunk_no": 0,
                 "pack": packs[i], "name": "", "text": "", "text_hash": f"h{i}",
                 "embedding": vectors[i].tobytes()} for i in range(start, min(n, start + 5000))]
        store.write(lambda s, rows=rows: s.executemany(CHUNKS.insert(), rows))
    began = time.perf_counter()
    store.write(lambda s: index.resync(s, "bench", DIM))
    return time.perf_counter() - began


def measure(url: str, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Store the vectors on the database at `url`, build the mirror, time the queries."""
    vectors, types, packs, queries = data(args.n, args.queries, kind)
    ids = np.arange(1, args.n + 1, dtype=np.int64)
    store = Store.open(url, projectors=[SearchIndex()])
    store.projections.register()
    index = PgVectorIndex(CHUNKS_TABLE)
    result: dict[str, Any] = {"mirror_build_s": round(load(store, index, vectors, types, packs),
                                                      1)}
    generation = Generation("bench", args.n)
    type_names = sorted(set(types))
    type_arr, pack_arr = np.array(types), np.array(packs)
    by_type = {t: (vectors[type_arr == t], ids[type_arr == t]) for t in type_names}
    srd = (vectors[pack_arr == "srd"], ids[pack_arr == "srd"])
    # A case: the query's filters, its (labels, value) mask for the reference, the
    # pre-masked (matrix, ids).
    Case = tuple[Filters, tuple[Any, str] | None, tuple[Any, Any]]

    def unfiltered(_: int) -> Case:
        return Filters(), None, (vectors, ids)

    def pack_filter(_: int) -> Case:
        return Filters(packs=("srd",)), (pack_arr, "srd"), srd

    def type_filter(i: int) -> Case:
        name = type_names[i % len(type_names)]
        return Filters(types=(name,)), (type_arr, name), by_type[name]

    def reference(mask: tuple[Any, str] | None, q: Any) -> list[int]:
        if mask is None:
            return numpy_knn(vectors, ids, q)
        keep = mask[0] == mask[1]  # as benchmarks/search.py: the mask in the timed call
        return numpy_knn(vectors[keep], ids[keep], q)

    efs = [int(e) for e in args.ef.split(",")]
    runs = [(f"unfiltered_ef{ef}", unfiltered, ef) for ef in efs]
    runs += [(f"pack_filter_ef{ef}", pack_filter, ef) for ef in efs]
    runs.append(("type_filter", type_filter, EF_SEARCH))
    for key, case, ef in runs:
        index.ef_search = ef
        times: dict[str, list[float]] = {"ref": [], "premasked": [], "index": []}
        recalls: list[float] = []
        with store.read() as session:
            plan = index.plan(session, case(0)[0], generation, K)
            for i, q in enumerate(queries):
                filters, mask, (matrix, sub_ids) = case(i)
                t0 = time.perf_counter()
                want = reference(mask, q)
                t1 = time.perf_counter()
                numpy_knn(matrix, sub_ids, q)
                t2 = time.perf_counter()
                got = index.search(session, q, K, filters, generation)
                t3 = time.perf_counter()
                times["ref"].append(t1 - t0)
                times["premasked"].append(t2 - t1)
                times["index"].append(t3 - t2)
                recalls.append(len(set(want) & {c for c, _ in got}) / K)
        p50 = {name: summary_ms(t)["p50_ms"] for name, t in times.items()}
        result[key] = {"recall@10": round(float(np.mean(recalls)), 4),
                       "plan": {"ef_search": plan.ef_search, "kept": plan.kept},
                       "pgvector": summary_ms(times["index"]),
                       "numpy": summary_ms(times["ref"]),
                       "x_numpy_p50": round(p50["index"] / max(p50["ref"], 1e-9), 2)}
        if case(0)[1] is not None:
            result[key]["numpy_premasked"] = summary_ms(times["premasked"])
            result[key]["x_numpy_premasked_p50"] = round(
                p50["index"] / max(p50["premasked"], 1e-9), 2)
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ef", default="40,100,200")
    parser.add_argument("--vectors", default="clustered",
                        help="clustered, uniform or both (comma-separated)")
    args = parser.parse_args()

    result: dict[str, Any] = {"benchmark": "postgres_search", "n": args.n, "dim": DIM,
                              "k": K, "queries": args.queries, "layout": LAYOUT,
                              "default_ef_search": EF_SEARCH,
                              "numpy_blas_threads": os.environ["OPENBLAS_NUM_THREADS"]}
    with server() as base:
        dbs = Databases(base)
        try:
            for kind in args.vectors.split(","):
                result[kind] = measure(dbs.fresh(schema=False), kind, args)
        finally:
            dbs.drop_all()
    emit(result)


if __name__ == "__main__":
    main()
