"""Search benchmark: prints ONE JSON line, every figure beside a reference from the same run.

Figures (k=10 everywhere, 384-d):

* KNN latency p50/p99 at 10k and 100k clustered vectors (questlog.search.synthetic),
  unfiltered and filtered by content type (25 types), for the vec0 layout the
  product uses (Vec0Backend), the product's numpy fallback (NumpyBackend), and
  the reference: numpy brute force on the same in-memory matrix (`X @ q`, a
  boolean mask for the type filter). Also plain vec0 (float, no partition, type
  as metadata) to show what the layout buys, and recall@10 against exact.
* Hybrid query latency on the real SRD index, the query's embedding included
  (the reference: the same queries with the numpy backend).
* Embedding throughput over the whole SRD (chunks/s) of the index build's path
  against a plain `model.encode` loop over the same texts (batches of 64).
* Full SRD index build: cold (empty embedding cache) and warm (rebuild).

Usage: .venv/bin/python benchmarks/search.py [--sizes 10000,100000] [--queries 100]
       [--srd DIR] [--skip-srd]
Targets (issue 5): filtered ≤ 1.5x numpy; unfiltered ≤ 3x numpy with recall@10 ≥ 0.95;
throughput ≥ 0.9x plain loop; warm build ≤ 2 s; hybrid p50 ≤ 40 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from questlog.db import load_dbapi  # noqa: E402
from questlog.search import index, vectors  # noqa: E402
from questlog.search.synthetic import clustered  # noqa: E402

K = 10


def pct(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def timed(fn: Callable[[int], list[int]], n: int) -> tuple[dict[str, float], list[list[int]]]:
    fn(0)  # warm caches
    times, results = [], []
    for i in range(n):
        start = time.perf_counter()
        results.append(fn(i))
        times.append(time.perf_counter() - start)
    return pct(times), results


def recall(got: list[list[int]], exact: list[list[int]]) -> float:
    return round(float(np.mean([len(set(a) & set(b)) / K for a, b in zip(got, exact,
                                                                          strict=True)])), 4)


def knn_figures(n: int, n_queries: int) -> dict[str, Any]:
    import sqlite_vec

    data = clustered(n, n_queries=n_queries, seed=11)
    X, Q = data.vectors, data.queries
    types = np.array(data.types)
    type_names = sorted(set(data.types))
    ids = np.arange(1, n + 1)

    def np_ref(i: int, filtered: bool) -> list[int]:
        q = Q[i]
        if filtered:
            mask = types == type_names[i % len(type_names)]
            sub_ids, scores = ids[mask], X[mask] @ q
        else:
            sub_ids, scores = ids, X @ q
        top = np.argpartition(-scores, K)[:K]
        return [int(x) for x in sub_ids[top[np.argsort(-scores[top])]]]

    tmp = tempfile.mkdtemp(prefix="qlbench-")
    conn = load_dbapi().connect(os.path.join(tmp, "knn.db"), check_same_thread=False)
    conn.isolation_level = None
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.execute(f"CREATE TABLE {index.CHUNKS_TABLE} ({index.CHUNKS_COLUMNS})")
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO {index.CHUNKS_TABLE} (id, type, idx, chunk_no, pack, name, text, text_hash,"
        " embedding) VALUES (?, ?, ?, 0, ?, '', '', '', ?)",
        [(i + 1, data.types[i], f"e{i}", data.packs[i], X[i].tobytes()) for i in range(n)])
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    started = time.perf_counter()
    vectors.resync_mirror(conn, index.CHUNKS_TABLE, "bench", 384)
    conn.execute("COMMIT")
    build_s = time.perf_counter() - started
    conn.execute("CREATE VIRTUAL TABLE plain USING vec0(embedding float[384] "
                 "distance_metric=cosine, type text)")
    conn.execute("BEGIN")
    started = time.perf_counter()
    conn.executemany("INSERT INTO plain (rowid, embedding, type) VALUES (?, ?, ?)",
                     [(i + 1, X[i].tobytes(), data.types[i]) for i in range(n)])
    conn.execute("COMMIT")
    plain_build_s = time.perf_counter() - started

    vectors.tune_for_knn(conn)  # what SearchAPI does on a primary (memory-mapped reads)
    vec0 = vectors.Vec0Backend()
    numpy_backend = vectors.NumpyBackend()
    numpy_backend.load(conn, "bench", 384)

    def ours(backend: str, filtered: bool) -> Callable[[int], list[int]]:
        def run(i: int) -> list[int]:
            f = vectors.Filters(types=(type_names[i % len(type_names)],) if filtered else None)
            if backend == "vec0":
                hits = vec0.search(conn, Q[i], K, f, n)
            else:
                hits = numpy_backend.search(conn, Q[i], K, f, "bench")
            return [cid for cid, _ in hits]
        return run

    def plain(filtered: bool) -> Callable[[int], list[int]]:
        def run(i: int) -> list[int]:
            sql = "SELECT rowid FROM plain WHERE embedding MATCH ? AND k = ?"
            params: list[object] = [Q[i].tobytes(), K]
            if filtered:
                sql += " AND type = ?"
                params.append(type_names[i % len(type_names)])
            return [int(r[0]) for r in conn.execute(sql, params)]
        return run

    out: dict[str, Any] = {"vectors": n, "queries": n_queries,
                           "layout_build_s": round(build_s, 2),
                           "plain_vec0_build_s": round(plain_build_s, 2)}
    for filtered in (False, True):
        label = "filtered" if filtered else "unfiltered"
        ref_lat, exact = timed(lambda i, f=filtered: np_ref(i, f), n_queries)
        vec_lat, vec_res = timed(ours("vec0", filtered), n_queries)
        npb_lat, npb_res = timed(ours("numpy", filtered), n_queries)
        plain_q = max(10, n_queries // 4)
        plain_lat, plain_res = timed(plain(filtered), plain_q)
        out[label] = {
            "numpy_reference": ref_lat,
            "vec0_layout": {**vec_lat, "recall@10": recall(vec_res, exact),
                            "x_numpy_p50": round(vec_lat["p50_ms"] / ref_lat["p50_ms"], 2)},
            "numpy_backend": {**npb_lat, "recall@10": recall(npb_res, exact),
                              "x_numpy_p50": round(npb_lat["p50_ms"] / ref_lat["p50_ms"], 2)},
            "plain_vec0": {**plain_lat, "recall@10": recall(plain_res, exact[:plain_q]),
                           "x_numpy_p50": round(plain_lat["p50_ms"] / ref_lat["p50_ms"], 2)},
        }
    conn.close()
    return out


def srd_figures(srd: Path, n_queries_reps: int = 2) -> dict[str, Any]:
    from questlog import Store
    from questlog.search.embedder import SentenceTransformerEmbedder
    from questlog.search.evaluation import load_queries
    from questlog.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="qlbench-srd-"))
    store = Store.open(tmp / "srd.db")
    store.content.import_pack(srd, pack="srd")
    embedder = SentenceTransformerEmbedder()
    started = time.perf_counter()
    embedder.model()
    model_load_s = time.perf_counter() - started

    started = time.perf_counter()
    store.projections.catch_up(["search_index"])
    cold_s = time.perf_counter() - started
    with store.read() as conn:
        texts = [str(r[0]) for r in conn.execute(f"SELECT text FROM {index.CHUNKS_TABLE}")]
    started = time.perf_counter()
    store.projections.rebuild(["search_index"])
    warm_s = time.perf_counter() - started

    # Reference: a plain encode loop over the same texts, in the order they are stored.
    model = embedder.model()
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        model.encode(texts[start:start + 64], batch_size=64, normalize_embeddings=True,
                     show_progress_bar=False)
    plain_s = time.perf_counter() - started

    queries = [q.text for q in load_queries(REPO / "tests" / "search" / "queries.json")]

    def hybrid_latency(s: Store) -> dict[str, float]:
        s.search(queries[0])  # warm: numpy matrix, statement caches
        times = []
        for _ in range(n_queries_reps):
            for q in queries:
                started = time.perf_counter()
                s.search(q, k=K)
                times.append(time.perf_counter() - started)
        return pct(times)

    hybrid = hybrid_latency(store)
    embed_times = []
    for q in queries:
        started = time.perf_counter()
        embedder.embed([q])
        embed_times.append(time.perf_counter() - started)
    path = store.path
    store.close()
    with Store.open(path, settings=Settings(vector_backend="numpy")) as numpy_store:
        hybrid_numpy = hybrid_latency(numpy_store)
    return {
        "chunks": len(texts),
        "model_load_s": round(model_load_s, 2),
        "index_build_cold_s": round(cold_s, 2),
        "index_build_warm_s": round(warm_s, 3),
        "embedding_chunks_per_s": round(len(texts) / cold_s, 1),
        "plain_encode_loop_chunks_per_s": round(len(texts) / plain_s, 1),
        "throughput_x_plain": round(plain_s / cold_s, 3),
        "hybrid_query_sqlite_vec": hybrid,
        "hybrid_query_numpy_reference": hybrid_numpy,
        "query_embedding_only": pct(embed_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--srd", default=os.environ.get(
        "QUESTLOG_SRD_DIR", str(REPO.parent / "shared" / "data" / "5e-srd-2014")))
    parser.add_argument("--skip-srd", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {"benchmark": "search", "k": K, "dim": 384,
                              "layout": {"filtered": "vec0 float partition key=type chunk 256",
                                         "unfiltered": "vec0 bit[384] + 4x float re-score"}}
    for n in (int(s) for s in args.sizes.split(",") if s):
        result[f"knn_{n}"] = knn_figures(n, args.queries)
    if not args.skip_srd and Path(args.srd).is_dir():
        result["srd"] = srd_figures(Path(args.srd))
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
