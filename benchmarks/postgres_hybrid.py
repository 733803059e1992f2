"""Hybrid search latency on the SRD on PostgreSQL, against the same queries on SQLite.

Prints one JSON line. The SRD (`--srd`, else $QUESTLOG_SRD_DIR or
../shared/data/5e-srd-2014) is imported into a SQLite store, which builds its search
index (`store.search.build()`: the real model, 3,087 chunks, minutes here), and into a
PostgreSQL store opened as users open one (`Store.open(url)`, the shipped projectors),
whose embedding cache is first given the SQLite store's vectors (`copy_vectors`, what
`questlog copy` does), so its build embeds nothing. Then the labelled questions of
tests/search/queries.json run as `store.search(q, k=10)` (hybrid: keyword index, query
embedding, vector index, fusion) on both stores, `--repeats` rounds, the engines
interleaved round by round (alternating which goes first), after one warm-up round.
Both stores have their read caches off (`read_cache_entries=0`), so every query embeds
its text and asks both indexes: nothing is answered from memory. The query embedding
alone is timed in the same rounds, as a third series.

Figures: p50/p99 over all timed queries per engine, each round's p50 and their median
(the figure to quote); the PostgreSQL p50 over SQLite's; how many questions got the
same top 5 entries on both. Target (issue 12): hybrid query p50 <= 40 ms on the SRD.
The server is $QUESTLOG_BENCH_POSTGRES_URL, else a throwaway pgserver.

Usage: python benchmarks/postgres_hybrid.py [--repeats 5] [--srd DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import REPO, emit, srd_dir, summary_ms
from _postgres import Databases, server, server_version

from questlog import Store
from questlog.search.cache import copy_vectors
from questlog.search.embedder import default_embedder
from questlog.search.evaluation import load_queries
from questlog.settings import Settings

K = 10
QUERIES = REPO / "tests" / "search" / "queries.json"


def built(store: Store, srd: Path) -> dict[str, Any]:
    """Import the SRD into `store` and build its search index; what the build did."""
    store.content.import_pack(srd, pack="srd")
    began = time.perf_counter()
    report = store.search.build()
    return {"build_s": round(time.perf_counter() - began, 1), "embedded": report.embedded,
            "cached": report.cached, "vector_backend": store.search.backend().active}


def timed(run: Callable[[str], object], queries: list[str]) -> list[float]:
    out = []
    for q in queries:
        began = time.perf_counter()
        run(q)
        out.append(time.perf_counter() - began)
    return out


def top5(store: Store, q: str) -> list[tuple[str, str]]:
    return [(h.type, h.index) for h in store.search(q, k=5)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--srd", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    srd = args.srd or srd_dir()
    queries = [q.text for q in load_queries(QUERIES)]
    settings = Settings(read_cache_entries=0)
    embedder = default_embedder()
    with tempfile.TemporaryDirectory(prefix="questlog-bench-hybrid-") as tmp, \
            server() as url:
        dbs = Databases(url)
        try:
            lite = Store.open(Path(tmp) / "srd.db", settings=settings)
            pg = Store.open(dbs.fresh(schema=False), settings=settings)
            sqlite_build = built(lite, srd)
            copied = copy_vectors(lite, pg)
            pg_build = built(pg, srd)
            if pg_build["embedded"]:
                raise SystemExit(f"the PostgreSQL build embedded {pg_build['embedded']} "
                                 "chunks: the copied cache did not cover them")
            state = pg.search.state()
            engines: dict[str, Callable[[str], object]] = {
                "postgresql": lambda q: pg.search(q, k=K),
                "sqlite": lambda q: lite.search(q, k=K),
                "embedding_only": lambda q: embedder.embed([q]),
            }
            for run in engines.values():  # warm-up: model, statements, connections
                timed(run, queries)
            samples: dict[str, list[float]] = {name: [] for name in engines}
            round_p50: dict[str, list[float]] = {name: [] for name in engines}
            for r in range(args.repeats):
                order = list(engines) if r % 2 == 0 else list(reversed(engines))
                for name in order:
                    times = timed(engines[name], queries)
                    samples[name].extend(times)
                    round_p50[name].append(summary_ms(times)["p50_ms"])
            same = sum(top5(pg, q) == top5(lite, q) for q in queries)
            median = {name: round(statistics.median(v), 2) for name, v in round_p50.items()}
            result = {
                "benchmark": "postgres_hybrid", "server_version": server_version(url),
                "chunks": state.total if state else None, "queries": len(queries),
                "k": K, "repeats": args.repeats, "read_cache_entries": 0,
                "sqlite": sqlite_build, "postgresql": {**pg_build, "vectors_copied": copied},
                "hybrid_p50_ms_median_of_rounds": median,
                "hybrid_p50_ms_per_round": round_p50,
                "hybrid_all_queries": {name: summary_ms(v) for name, v in samples.items()},
                "postgresql_x_sqlite_p50": round(median["postgresql"] / median["sqlite"], 2),
                "same_top5_questions": same,
                "target_p50_ms": 40,
            }
            pg.close()
            lite.close()
        finally:
            dbs.drop_all()
    emit(result)


if __name__ == "__main__":
    main()
