"""The two vector backends on clustered synthetic vectors: same ids, same order, filters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from questlog.search import index
from questlog.search.synthetic import Synthetic, clustered
from questlog.sqlite import search_compat as vectors
from questlog.sqlite.driver import load_dbapi

N = 6000  # above EXACT_SCAN_MAX, so unfiltered vec0 queries take the quantized path


@pytest.fixture(scope="module")
def data() -> Synthetic:
    return clustered(N, n_queries=40, seed=3)


@pytest.fixture(scope="module")
def conn(data: Synthetic) -> Iterator[Any]:
    import sqlite_vec

    c = load_dbapi().connect(":memory:", check_same_thread=False)
    c.isolation_level = None
    c.enable_load_extension(True)
    sqlite_vec.load(c)
    c.execute(f"CREATE TABLE {index.CHUNKS_TABLE} ({index.CHUNKS_COLUMNS})")
    c.execute("BEGIN")
    c.executemany(
        f"INSERT INTO {index.CHUNKS_TABLE} (id, type, idx, chunk_no, pack, name, text, "
        "text_hash, embedding) VALUES (?, ?, ?, 0, ?, '', '', '', ?)",
        [(i + 1, data.types[i], f"e{i}", data.packs[i], data.vectors[i].tobytes())
         for i in range(N)])
    vectors.resync_mirror(c, index.CHUNKS_TABLE, "t1", 384)
    c.execute("COMMIT")
    yield c
    c.close()


def exact(data: Synthetic, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[int]:
    ids = np.arange(1, N + 1)
    scores = data.vectors.astype(np.float64) @ q.astype(np.float64)
    if mask is not None:
        ids, scores = ids[mask], scores[mask]
    order = np.lexsort((ids, -scores))[:k]
    return [int(i) for i in ids[order]]


def test_filtered_queries_are_exact_and_identical(data: Synthetic, conn: Any) -> None:
    vec0, numpy_backend = vectors.Vec0Backend(), vectors.NumpyBackend()
    types = np.array(data.types)
    packs = np.array(data.packs)
    for i, q in enumerate(data.queries):
        type_name = f"type-{i % 25:02d}"
        f = vectors.Filters(types=(type_name,))
        a = vec0.search(conn, q, 10, f, N)
        b = numpy_backend.search(conn, q, 10, f, "t1")
        assert a == b
        assert [cid for cid, _ in a] == exact(data, q, 10, types == type_name)
        f2 = vectors.Filters(types=(type_name, "type-03"), packs=("homebrew",))
        a2 = vec0.search(conn, q, 10, f2, N)
        assert a2 == numpy_backend.search(conn, q, 10, f2, "t1")
        mask = np.isin(types, [type_name, "type-03"]) & (packs == "homebrew")
        assert [cid for cid, _ in a2] == exact(data, q, 10, mask)


def test_unfiltered_quantized_path_recall(data: Synthetic, conn: Any) -> None:
    vec0, numpy_backend = vectors.Vec0Backend(), vectors.NumpyBackend()
    recall = []
    for q in data.queries:
        a = [cid for cid, _ in vec0.search(conn, q, 10, vectors.Filters(), N)]
        b = [cid for cid, _ in numpy_backend.search(conn, q, 10, vectors.Filters(), "t1")]
        assert b == exact(data, q, 10)
        recall.append(len(set(a) & set(b)) / 10)
    assert float(np.mean(recall)) >= 0.95
    # Forced exact scan: identical to numpy, order included.
    exact_vec0 = vectors.Vec0Backend(exact_scan_max=N)
    for q in data.queries[:10]:
        assert exact_vec0.search(conn, q, 10, vectors.Filters(), N) == numpy_backend.search(
            conn, q, 10, vectors.Filters(), "t1")


def test_id_filter_scans_only_matching_chunks(data: Synthetic, conn: Any) -> None:
    vec0, numpy_backend = vectors.Vec0Backend(), vectors.NumpyBackend()
    id_sql = (f"SELECT id FROM {index.CHUNKS_TABLE} WHERE id % 7 = ? AND pack = ?", [3, "srd"])
    f = vectors.Filters(id_sql=id_sql)
    for q in data.queries[:10]:
        a = vec0.search(conn, q, 5, f, N)
        assert a == numpy_backend.search(conn, q, 5, f, "t1")
        ids = np.arange(1, N + 1)
        mask = (ids % 7 == 3) & (np.array(data.packs) == "srd")
        assert [cid for cid, _ in a] == exact(data, q, 5, mask)


def test_mirror_updates_replace_rows(data: Synthetic, conn: Any) -> None:
    """vec0 0.1.9 has no INSERT OR REPLACE: mirror_insert must delete first."""
    q = data.queries[0]
    f = vectors.Filters(types=("type-00",))
    vec0 = vectors.Vec0Backend()
    before = vec0.search(conn, q, 3, f, N)
    target = before[0][0]
    conn.execute("BEGIN")
    try:
        far = (-q).astype(np.float32)
        vectors.mirror_insert(conn, [(target, "type-00", "srd", far.tobytes())])
        vectors.mirror_insert(conn, [(target, "type-00", "srd", far.tobytes())])  # twice: no error
        got = vec0._knn(conn, vectors.VEC_TABLE, "?", q.tobytes(), 3, "type-00", None)
        assert target not in got
    finally:
        conn.execute("ROLLBACK")
    assert vec0.search(conn, q, 3, f, N) == before
