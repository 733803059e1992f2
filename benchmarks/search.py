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
* Cold SRD index build (`store.search.build()`, what the first `questlog search`
  runs: ONNX Runtime, length-sorted batches committed to the embedding cache),
  with the fp32 model and with the int8 variant (QUESTLOG_EMBEDDER_PRECISION),
  in chunks/s against the plain fp32 sentence-transformers `model.encode` loop
  (batches of 64, unsorted, warmed up first, on a random sample of chunks, beside the ONNX
  embedder on the same sample): `--build-repeats` rounds of a cold build on a
  fresh store then the loop, the ratio per round and its median. Warm rebuild.
* One-off `questlog search` process wall time (median of interleaved repeats),
  ONNX fp32 and int8 against the sentence-transformers embedder.
* recall@5, MRR and recall@10, per model variant, of vector, keyword, tuned hybrid and plain-RRF hybrid on the
  tuning half and the held-back half of tests/search/queries.json, and the
  fusion grid search on the tuning half (its pick must be what fusion.py ships).

Usage: .venv/bin/python benchmarks/search.py [--sizes 10000,100000] [--queries 100]
       [--srd DIR] [--skip-srd] [--build-repeats 3] [--precisions fp32,int8]
Targets: filtered ≤ 1.5x numpy; unfiltered ≤ 3x numpy with recall@10 ≥ 0.95;
cold build ≥ 4x the plain loop; one-off search ≤ 3 s; warm build ≤ 2 s;
hybrid p50 ≤ 40 ms; hybrid recall@5 ≥ vector and keyword on both halves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from questlog.search import index  # noqa: E402
from questlog.search.synthetic import clustered  # noqa: E402
from questlog.sqlite import search_compat as vectors  # noqa: E402
from questlog.sqlite.driver import load_dbapi  # noqa: E402

K = 10
PRECISIONS: list[Any] = ["fp32", "int8"]  # the ONNX model variants (QUESTLOG_EMBEDDER_PRECISION)


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


def _plain_loop_s(model: Any, texts: list[str]) -> float:
    """The reference: a plain fp32 sentence-transformers `model.encode` loop, batches of 64."""
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        model.encode(texts[start:start + 64], batch_size=64, normalize_embeddings=True,
                     show_progress_bar=False)
    return time.perf_counter() - started


def _one_off_search_s(db: Path, embedder: str, precision: str = "fp32") -> float:
    """Wall time of one `questlog search` process on a built index (fresh interpreter)."""
    exe = Path(sys.executable).with_name("questlog")
    env = {**os.environ, "QUESTLOG_EMBEDDER": embedder, "QUESTLOG_EMBEDDER_PRECISION": precision,
           "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run([str(exe), "--db", str(db), "search", "undead that drains life",
                           "-k", "5", "--json"], capture_output=True, text=True, env=env,
                          check=False, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"questlog search failed: {done.stderr.strip()}")
    return seconds


def quality_table(store: Any) -> dict[str, Any]:
    """recall@5 / MRR (top 5) / recall@10 of vector, keyword, tuned hybrid and plain-RRF
    hybrid on both halves."""
    from questlog.search.evaluation import evaluate, halves, load_queries
    from questlog.search.fusion import PLAIN_RRF, TUNED

    queries = load_queries(REPO / "tests" / "search" / "queries.json")
    table: dict[str, Any] = {}
    for half, part in zip(("tuning_half", "held_back_half"), halves(queries), strict=True):
        row: dict[str, Any] = {"queries": len(part)}
        for label, mode, fusion in (("vector", "vector", TUNED), ("keyword", "keyword", TUNED),
                                    ("hybrid", "hybrid", TUNED),
                                    ("hybrid_plain_rrf", "hybrid", PLAIN_RRF)):
            store.search.fusion = fusion
            at = {k: evaluate(part, lambda t, m=mode, k=k: [
                (h.type, h.index) for h in store.search(t, k=k, mode=m)], mode, k=k)
                  for k in (5, 10)}
            row[label] = {"recall@5": round(at[5].recall, 3), "mrr": round(at[5].mrr, 3),
                          "recall@10": round(at[10].recall, 3)}
        table[half] = row
    store.search.fusion = TUNED
    return table


def tune_fusion(store: Any) -> dict[str, Any]:
    """Grid search of the fusion on the tuning half only (see search/fusion.py).

    Each point ranks the candidates a k=5 hybrid search fuses (`candidates`), so
    its figures are what `quality_table` measures for that point.
    """
    import itertools

    from questlog.search.evaluation import halves, load_queries
    from questlog.search.fusion import GRID, TUNED, from_grid, words

    tuning, _ = halves(load_queries(REPO / "tests" / "search" / "queries.json"))
    lists = []
    for q in tuning:  # entity ranks of each signal: exactly what a k=5 search fuses
        vec_e, kw_e, names = store.search.candidates(q.text, k=5)
        ranks = {"vector": {key: r[0] for key, r in vec_e.items()},
                 "keyword": {key: r[0] for key, r in kw_e.items()}}
        lists.append((q, words(q.text), ranks, names))

    def score(point: tuple[float, ...]) -> float:
        fusion = from_grid(*point)
        total = 0.0
        for q, qw, ranks, names in lists:
            ranked = sorted(names, key=lambda key: (-fusion.score(
                qw, key[0], names[key], ranks["vector"].get(key), ranks["keyword"].get(key)),
                key))[:5]
            rank = next((r for r, key in enumerate(ranked, 1) if key in q.answers), None)
            total += (1.0 + 1.0 / rank) if rank else 0.0
        return total / len(lists)

    axes = list(GRID.values())
    points = list(itertools.product(*axes))
    raw = {p: score(p) for p in points}

    def neighbours(p: tuple[float, ...]) -> list[tuple[float, ...]]:
        out = [p]
        for a, values in enumerate(axes):
            i = values.index(p[a])
            for j in (i - 1, i + 1):
                if 0 <= j < len(values):
                    out.append(p[:a] + (values[j],) + p[a + 1:])
        return out

    smooth = {p: sum(raw[q] for q in neighbours(p)) / len(neighbours(p)) for p in points}
    pick = max(points, key=lambda p: (round(smooth[p], 9), raw[p]))
    picked = {k: (v if v != float("inf") else "inf") for k, v in zip(GRID, pick, strict=True)}
    return {"grid_points": len(points), "pick": picked,
            "pick_recall_plus_mrr": round(raw[pick], 3),
            "shipped_is_pick": from_grid(*pick) == TUNED}


def srd_figures(srd: Path, n_queries_reps: int = 2, repeats: int = 3,
                sample: int = 384, build_repeats: int = 3) -> dict[str, Any]:
    import random

    from questlog import Store
    from questlog.search.embedder import SentenceTransformerEmbedder, set_default_embedder
    from questlog.search.evaluation import load_queries
    from questlog.search.model_cache import cached_model, ensure_model
    from questlog.search.onnx_embedder import OnnxEmbedder
    from questlog.settings import Settings

    prepared: dict[str, Any] = {}
    for precision in PRECISIONS:
        started = time.perf_counter()
        made = not cached_model(precision=precision).complete()
        ensure_model(precision=precision)
        prepared[precision] = {"seconds": round(time.perf_counter() - started, 2),
                               "made_in_this_run": made}
    onnx = {p: OnnxEmbedder(precision=p) for p in PRECISIONS}

    # Cold builds (a fresh store each: nothing in its embedding cache), fp32 then int8,
    # each round followed by the plain fp32 loop and both ONNX embedders on one random
    # sample of the chunks (the loop in stored order, as a naive caller would):
    # interleaved, so the load other processes put on the machine weighs on both sides
    # of every ratio alike.
    st_model = SentenceTransformerEmbedder().model()
    tmp = Path(tempfile.mkdtemp(prefix="qlbench-srd-"))
    cold_rates: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    onnx_rates: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    embedded: dict[str, list[int]] = {p: [] for p in PRECISIONS}
    plain_rates: list[float] = []
    stores: dict[str, Any] = {}
    texts: list[str] = []
    chosen: list[str] = []
    for repeat in range(build_repeats):
        for precision in PRECISIONS:
            if precision in stores:
                stores[precision].close()
            set_default_embedder(onnx[precision])
            store = stores[precision] = Store.open(tmp / f"srd-{precision}-{repeat}.db")
            store.content.import_pack(srd, pack="srd")
            started = time.perf_counter()
            build = store.search.build()  # what the first `questlog search` runs
            cold_s = time.perf_counter() - started
            embedded[precision].append(build.embedded)
            if not texts:
                with store.read() as conn:
                    texts = [str(r[0]) for r in conn.execute(
                        f"SELECT text FROM {index.CHUNKS_TABLE}")]
                chosen = random.Random(7).sample(texts, min(sample, len(texts)))
            cold_rates[precision].append(len(texts) / cold_s)
        if repeat == 0:
            _plain_loop_s(st_model, chosen[:64])  # warm: torch's first batches run slower
        plain_rates.append(len(chosen) / _plain_loop_s(st_model, chosen))
        for precision in PRECISIONS:
            t0 = time.perf_counter()
            onnx[precision].embed(chosen)
            onnx_rates[precision].append(len(chosen) / (time.perf_counter() - t0))
    set_default_embedder(onnx["fp32"])
    store = stores["fp32"]
    started = time.perf_counter()
    store.projections.rebuild(["search_index"])
    warm_s = time.perf_counter() - started
    plain_rate = statistics.median(plain_rates)

    queries = [q.text for q in load_queries(REPO / "tests" / "search" / "queries.json")]

    def hybrid_latency(s: Store) -> dict[str, float]:
        s.search(queries[0])  # warm: numpy matrix, statement caches
        times = []
        for _ in range(n_queries_reps):
            for q in queries:
                t0 = time.perf_counter()
                s.search(q, k=K)
                times.append(time.perf_counter() - t0)
        return pct(times)

    hybrid = hybrid_latency(store)
    quality = {}
    for precision in PRECISIONS:
        set_default_embedder(onnx[precision])
        quality[precision] = quality_table(stores[precision])
    set_default_embedder(onnx["fp32"])
    tuning = tune_fusion(store)
    embed_times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for q in queries:
        for precision in PRECISIONS:
            t0 = time.perf_counter()
            onnx[precision].embed([q])
            embed_times[precision].append(time.perf_counter() - t0)
    paths = {p: stores[p].path for p in PRECISIONS}
    for s in stores.values():
        s.close()
    with Store.open(paths["fp32"], settings=Settings(vector_backend="numpy")) as numpy_store:
        hybrid_numpy = hybrid_latency(numpy_store)

    # One-off search processes, interleaved: ONNX fp32 (the default), ONNX int8 on the
    # int8 index, and sentence-transformers on the fp32 index.
    runs = {"onnx_fp32": ("onnx", "fp32"), "onnx_int8": ("onnx", "int8"),
            "sentence-transformers": ("sentence-transformers", "fp32")}
    one_off: dict[str, list[float]] = {name: [] for name in runs if runs[name][1] in PRECISIONS}
    for _ in range(repeats):
        for name in one_off:
            embedder, precision = runs[name]
            one_off[name].append(_one_off_search_s(paths[precision], embedder, precision))
    per_precision = {}
    for precision in PRECISIONS:
        ratios = [c / p for c, p in zip(cold_rates[precision], plain_rates, strict=True)]
        per_precision[precision] = {
            "index_build_cold_s": round(len(texts) / statistics.median(cold_rates[precision]), 2),
            "index_build_cold_chunks_per_s": round(statistics.median(cold_rates[precision]), 1),
            "index_build_cold_chunks_per_s_per_repeat": [round(r, 1)
                                                         for r in cold_rates[precision]],
            "index_build_embedded": embedded[precision],
            "cold_build_x_plain_loop": round(statistics.median(ratios), 2),
            "cold_build_x_plain_loop_per_repeat": [round(r, 2) for r in ratios],
            "onnx_embed_chunks_per_s": round(statistics.median(onnx_rates[precision]), 1),
            "onnx_embed_x_plain_loop_per_repeat": [
                round(o / p, 2) for o, p in zip(onnx_rates[precision], plain_rates, strict=True)],
            "query_embedding_only": pct(embed_times[precision]),
            "quality": quality[precision],
        }
    return {
        "chunks": len(texts),
        "model_prepared": prepared,
        "build_repeats": build_repeats,
        "plain_fp32_encode_loop_chunks_per_s": round(plain_rate, 1),
        "plain_fp32_encode_loop_chunks_per_s_per_repeat": [round(r, 1) for r in plain_rates],
        "target_cold_build_x_plain_loop": 4.0,
        "embedding_sample": len(chosen),
        **{f"onnx_{p}": per_precision[p] for p in PRECISIONS},
        "index_build_warm_s": round(warm_s, 3),
        "one_off_search_process_s": {k: round(statistics.median(v), 2)
                                     for k, v in one_off.items()},
        "target_one_off_search_s": 3.0,
        "hybrid_query_sqlite_vec": hybrid,
        "hybrid_query_numpy_reference": hybrid_numpy,
        "fusion_tuning": tuning,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--srd", default=os.environ.get(
        "QUESTLOG_SRD_DIR", str(REPO.parent / "shared" / "data" / "5e-srd-2014")))
    parser.add_argument("--skip-srd", action="store_true")
    parser.add_argument("--build-repeats", type=int, default=3,
                        help="cold SRD builds, each followed by the plain loop (interleaved)")
    parser.add_argument("--precisions", default="fp32,int8",
                        help="ONNX model variants to build and query with (fp32 first)")
    args = parser.parse_args()
    PRECISIONS[:] = [p for p in args.precisions.split(",") if p]
    if not PRECISIONS or PRECISIONS[0] != "fp32" or not set(PRECISIONS) <= {"fp32", "int8"}:
        parser.error("--precisions must start with fp32 (then optionally int8)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {"benchmark": "search", "k": K, "dim": 384,
                              "layout": {"filtered": "vec0 float partition key=type chunk 256",
                                         "unfiltered": "vec0 bit[384] + 4x float re-score"}}
    for n in (int(s) for s in args.sizes.split(",") if s):
        result[f"knn_{n}"] = knn_figures(n, args.queries)
    if not args.skip_srd and Path(args.srd).is_dir():
        result["srd"] = srd_figures(Path(args.srd), build_repeats=args.build_repeats)
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
