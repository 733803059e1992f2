"""Vector index contract: KNN equals numpy brute force, filtered or not, after writes.

Every vector index a backend offers is checked (SQLite: the sqlite-vec `vec0`
index and the numpy one), through the port only: chunk rows are written with
Core statements as the search projector writes them, the index is told about
them (resync, upsert, delete, mark_synced), and each answer is compared with
brute force over the vectors the test wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from contract_search import (  # type: ignore[import-not-found]
    CHUNKS_TABLE,
    chunk_rows,
    delete_chunks,
    open_search_store,
    set_vectors,
    write_chunks,
)

from questlog.search import indexes
from questlog.search.synthetic import clustered
from questlog.storage.vectors import Filters, Generation, VectorIndex, VectorRow

N = 1500
DIM = 384
K = 10


def make_index(kind: str) -> VectorIndex:
    if kind == "approximate":
        return indexes.approximate_index(CHUNKS_TABLE)
    return indexes.exact_index(CHUNKS_TABLE)


def brute_force(vectors: dict[int, np.ndarray], meta: dict[int, tuple[str, str]],
                q: np.ndarray, k: int, types: Sequence[str] | None = None,
                packs: Sequence[str] | None = None) -> list[tuple[int, float]]:
    ids = [i for i in sorted(vectors) if (types is None or meta[i][0] in types)
           and (packs is None or meta[i][1] in packs)]
    if not ids:
        return []
    matrix = np.stack([vectors[i] for i in ids]).astype(np.float64)
    scores = matrix @ q.astype(np.float64)
    order = np.lexsort((np.asarray(ids), -scores))[:k]
    return [(ids[j], float(scores[j])) for j in order]


def check(index: VectorIndex, session: Any, generation: Generation,
          vectors: dict[int, np.ndarray], meta: dict[int, tuple[str, str]],
          queries: np.ndarray) -> float:
    """Filtered answers equal brute force (ids, order, scores); unfiltered too for an exact
    index. Returns the unfiltered recall@K (1.0 for an exact index)."""
    recalls = []
    for i, q in enumerate(queries):
        type_name = f"type-{i % 25:02d}"
        for types, packs in (((type_name,), None), ((type_name, "type-03"), ("homebrew",)),
                             (None, ("homebrew",))):
            got = index.search(session, q, K, Filters(types=types, packs=packs), generation)
            want = brute_force(vectors, meta, q, K, types, packs)
            assert [c for c, _ in got] == [c for c, _ in want], (types, packs)
            assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-9)
        got = index.search(session, q, K, Filters(), generation)
        want = brute_force(vectors, meta, q, K)
        if index.exact:
            assert got == [(c, pytest.approx(s, abs=1e-9)) for c, s in want]
        recalls.append(len({c for c, _ in got} & {c for c, _ in want}) / K)
    return float(np.mean(recalls))


@pytest.mark.parametrize("kind", ["approximate", "exact"])
def test_knn_equals_brute_force_before_and_after_writes(backend: Any, kind: str) -> None:
    data = clustered(N + 100, n_queries=12, seed=11)
    ids = list(range(1, N + 1))
    vectors = {cid: data.vectors[cid - 1] for cid in ids}
    meta = {cid: (data.types[cid - 1], data.packs[cid - 1]) for cid in ids}
    index = make_index(kind)
    with open_search_store(backend) as store:
        def first(session: Any) -> int:
            write_chunks(session, chunk_rows(ids, [meta[c][0] for c in ids],
                                             [meta[c][1] for c in ids],
                                             [vectors[c].tobytes() for c in ids]))
            return index.resync(session, "g1", DIM)

        assert store.write(first) == N
        with store.read() as session:
            assert index.in_sync(session, "g1")
            assert check(index, session, Generation("g1", N), vectors, meta,
                         data.queries) >= 0.95

        # Deletes, replaced vectors and new chunks, told to the index in the same
        # transaction as the rows.
        rng = np.random.default_rng(5)
        gone = sorted(int(c) for c in rng.choice(ids, 300, replace=False))
        kept = [c for c in ids if c not in set(gone)]
        moved = sorted(int(c) for c in rng.choice(kept, 200, replace=False))
        added = list(range(N + 1, N + 101))
        for j, cid in enumerate(moved):  # each moved vector takes another's place
            vectors[cid] = data.vectors[(cid + 37 * (j + 1)) % N]
        for cid in gone:
            del vectors[cid]
        for cid in added:
            vectors[cid] = data.vectors[cid - 1]
            meta[cid] = (data.types[cid - 1], data.packs[cid - 1])

        def second(session: Any) -> None:
            delete_chunks(session, gone)
            index.delete(session, gone)
            set_vectors(session, {c: vectors[c].tobytes() for c in moved})
            write_chunks(session, chunk_rows(added, [meta[c][0] for c in added],
                                             [meta[c][1] for c in added],
                                             [vectors[c].tobytes() for c in added]))
            index.upsert(session, [VectorRow(c, meta[c][0], meta[c][1], vectors[c].tobytes())
                                   for c in moved + added])
            index.mark_synced(session, "g2", DIM)

        store.write(second)
        with store.read() as session:
            assert index.in_sync(session, "g2")
            total = len(vectors)
            assert check(index, session, Generation("g2", total), vectors, meta,
                         data.queries) >= 0.95
            # Nothing deleted comes back, whatever the filter.
            for q in data.queries[:3]:
                found = {c for c, _ in index.search(session, q, 200, Filters(),
                                                    Generation("g2", total))}
                assert not found & set(gone)


def test_empty_index_and_unmatched_filters_give_nothing(backend: Any) -> None:
    data = clustered(50, n_queries=2, seed=2)
    with open_search_store(backend) as store:
        for kind in ("approximate", "exact"):
            index = make_index(kind)
            assert store.write(lambda s, index=index: index.resync(s, "g0", DIM)) == 0
            with store.read() as session:
                assert index.in_sync(session, "g0")
                for filters in (Filters(), Filters(types=("none",)), Filters(packs=("none",))):
                    assert index.search(session, data.queries[0], K, filters,
                                        Generation("g0", 0)) == []
