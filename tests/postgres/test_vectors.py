"""pgvector's filtered HNSW problem, and how `PgVectorIndex` plans around it: pgvector 0.6
filters the `ef_search` rows its walk found, so a selective filter returns fewer than k
rows (or misses near ones). The index answers a selective filter by an exact scan, walks
the graph unfiltered above `exact_scan_max` vectors, and walks it for a filter that keeps
most rows (ef_search raised, filtered after), falling back to the exact scan when fewer
than k of the walk's rows survive. A selective filter is one statement: its counts and,
only when they call for it, the exact scan through the type/pack btree."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np

from questlog import Store
from questlog.postgres.session import PostgresSession
from questlog.postgres.vectors import (
    EF_SEARCH_MAX,
    VEC_COUNTS_TABLE,
    VEC_TABLE,
    WALK_MIN_SHARE,
    PgVectorIndex,
    selective_scan_sql,
    walk_sql,
)
from questlog.search.synthetic import clustered
from questlog.search.vectors import rank
from questlog.storage.vectors import Filters, Generation, VectorRow


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


def _literal(q: np.ndarray) -> str:
    return "[" + ",".join(map(str, q.tolist())) + "]"


@contextmanager
def _loaded(pg_url: str, seed: int) -> Iterator[tuple[Any, list[int], PgVectorIndex, Store]]:
    """N clustered vectors stored as chunks and mirrored (the graph walk above 100 vectors,
    ef_search 10): (data, ids, index, store)."""
    data = clustered(N, n_queries=20, seed=seed)
    ids = list(range(1, N + 1))
    tables = _contract_search()
    index = PgVectorIndex(tables.CHUNKS_TABLE, exact_scan_max=100, ef_search=10)
    with tables.open_search_store(_Backend(pg_url)) as store:
        def load(session: Any) -> int:
            tables.write_chunks(session, tables.chunk_rows(
                ids, data.types, data.packs, [v.tobytes() for v in data.vectors]))
            return index.resync(session, "g", 384)

        assert store.write(load) == N
        yield data, ids, index, store


def test_filtered_queries_are_exact_where_hnsw_would_return_fewer(pg_url: str) -> None:
    # A selective filter: one type of 25 (~4 % of the rows).
    rare = "type-03"
    with _loaded(pg_url, seed=4) as (data, ids, index, store):
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
                params = (rare, _literal(q), K)
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


def test_unselective_filters_walk_the_graph_and_fall_back_when_too_few_survive(
        pg_url: str) -> None:
    with _loaded(pg_url, seed=5) as (data, ids, index, store):
        generation = Generation("g", N)
        srd = np.array([p == "srd" for p in data.packs])  # ~80 % of the rows
        srd_ids = [i for i, m in zip(ids, srd, strict=True) if m]
        recalls: list[float] = []
        with store.read() as session:
            # The plan comes from the mirror's counts: exact figures, not estimates.
            plan = index.plan(session, Filters(packs=("srd",)), generation, K)
            assert (plan.kept, plan.total) == (int(srd.sum()), N)
            assert K + 8 < plan.ef_search <= EF_SEARCH_MAX  # raised for the filter's share
            rare = index.plan(session, Filters(types=("type-03",)), generation, K)
            assert rare.ef_search == 0 and rare.kept == data.types.count("type-03")
            plan_sql = walk_sql(["w.pack = ANY(%s)"])
            shown = " ".join(r[0] for r in session.execute(
                "EXPLAIN " + plan_sql, (_literal(data.queries[0]), plan.ef_search, ["srd"], K)))
            assert f"{VEC_TABLE}__hnsw" in shown  # the walk is the index scan
            for q in data.queries:
                got = [c for c, _ in index.search(session, q, K, Filters(packs=("srd",)),
                                                  generation)]
                assert len(got) == K and set(got) <= set(srd_ids)
                recalls.append(len(set(got) & set(_brute(data.vectors[srd], srd_ids, q, K)))
                               / K)

        # Near-exact on these embedding-shaped vectors (the walk is approximate).
        assert float(np.mean(recalls)) >= 0.9

        # A filter keeping most rows but none near the query: the 200 chunks nearest to it
        # move to pack "near" (the mirror's counts follow the upsert), and a filter on the
        # two other packs keeps 93 % of the rows. The walk finds the query's neighbourhood,
        # the filter drops all of it, and the exact scan answers.
        q = data.queries[0]
        near = _brute(data.vectors, ids, q, 200)
        store.write(lambda s: index.upsert(s, [
            VectorRow(i, data.types[i - 1], "near", data.vectors[i - 1].tobytes())
            for i in near]))
        gone = next(i for i in ids if i not in near)
        store.write(lambda s: index.delete(s, [gone]))
        others = Filters(packs=("srd", "homebrew"))
        with store.read() as session:
            counts = sorted(session.execute(f"SELECT type, pack, n FROM {VEC_COUNTS_TABLE} "
                                            "WHERE n > 0"))
            actual = sorted(session.execute(f"SELECT type, pack, count(*) FROM {VEC_TABLE} "
                                            "GROUP BY type, pack"))
            assert counts == actual
            far_plan = index.plan(session, others, generation, K)
            assert far_plan.kept == N - 201 and far_plan.ef_search > 0
            walked = index.walk(session, _literal(q), K + 8, far_plan.ef_search, others)
            assert len(walked) < K  # what the walk alone returns
            got = index.search(session, q, K, others, generation)
            far = np.array([i not in near and i != gone for i in ids])
            far_ids = [i for i, m in zip(ids, far, strict=True) if m]
            assert [c for c, _ in got] == _brute(data.vectors[far], far_ids, q, K)


class _Counting:
    """A psycopg connection that counts the statements sent through it."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.statements: list[str] = []

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        self.statements.append(sql)
        return self.connection.execute(sql, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)


def _explain(session: Any, sql: str, params: list[Any]) -> str:
    rows = session.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
    return "\n".join(r[0] for r in rows)


def test_a_selective_filter_is_one_exact_statement_equal_to_numpy(pg_url: str) -> None:
    # exact_scan_max below every type's rows: the share rule alone makes the plan.
    with _loaded(pg_url, seed=6) as (data, ids, index, store):
        generation = Generation("g", N)
        types = np.array(data.types)
        id_arr = np.asarray(ids)
        with store.read() as session:
            counted = _Counting(cast(PostgresSession, session).connection)
            via = PostgresSession(counted)
            for name in sorted(set(data.types)):
                mask = types == name
                assert index.exact_scan_max < mask.sum() < WALK_MIN_SHARE * N
                assert index.plan(session, Filters(types=(name,)), generation, K).ef_search == 0
                for q in data.queries[:3]:
                    counted.statements.clear()
                    got = index.search(via, q, K, Filters(types=(name,)), generation)
                    assert len(counted.statements) == 1  # counts and scan in one round trip
                    # numpy's exact answer on the type's rows, ids, order and scores.
                    assert [c for c, _ in got] == _brute(data.vectors[mask], list(id_arr[mask]),
                                                         q, K)
                    assert got == rank(list(id_arr[mask]), data.vectors[mask], q, K)
            # An unselective filter (a pack, ~80 %): the same statement tells the walk, and
            # then the HNSW walk runs (set_config, the walk).
            counted.statements.clear()
            got = index.search(via, data.queries[0], K, Filters(packs=("srd",)), generation)
            assert len(got) == K and len(counted.statements) == 3
            assert f"{VEC_TABLE} v ORDER BY distance" in counted.statements[2]


def test_the_selective_statement_scans_the_btree_only_when_the_counts_call_for_it(
        pg_url: str) -> None:
    with _loaded(pg_url, seed=7) as (data, _ids, index, store):
        q = _literal(data.queries[0])
        with store.read() as session:
            for filters, exact in ((Filters(types=("type-05",)), True),
                                   (Filters(packs=("srd",)), False),
                                   (Filters(types=("type-05",), packs=("srd",)), True)):
                sql, params = selective_scan_sql(filters, index.chunks_table)
                values = [index.exact_scan_max, WALK_MIN_SHARE, *params, q, K + 8]
                flag = session.execute(sql, values).fetchone()[2]
                # The statement's rule is `plan`'s.
                plan = index.plan(session, filters, Generation("g", N), K)
                assert flag is exact and (plan.ef_search == 0) is exact
                shown = _explain(session, sql, values)
                assert "One-Time Filter: counts.exact" in shown
                assert f"{VEC_TABLE}__hnsw" not in shown  # never the graph
                scan = next(line for line in shown.splitlines() if f"on {VEC_TABLE} v" in line)
                if exact:  # the filter's rows through the (type, pack) btree, not all rows
                    assert "(never executed)" not in scan
                    assert f"Seq Scan on {VEC_TABLE} v" not in shown
                    assert f"{VEC_TABLE}__type_pack" in shown
                else:
                    assert "(never executed)" in scan
