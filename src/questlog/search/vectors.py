"""Vector backends behind one interface: sqlite-vec `vec0` and numpy.

Where the vectors live
----------------------
`search_chunks.embedding` (a projector table) holds every chunk's float32
vector; it is the truth, and the numpy backend reads it into one matrix per
index generation. The vec0 tables are an *accelerator mirror* of it, kept by
the index projector in the same transaction as the chunks whenever sqlite-vec
is loaded on the writer (and re-synced after a rebuild swap, or on the first
query after chunks were written without sqlite-vec). They are not projector
tables because a store must keep working when sqlite-vec cannot load: the
projector's schema cannot depend on an extension.

Layout (measured with benchmarks/search.py on clustered 384-d vectors, 25
content types, k=10, 2 shared cores; reference = numpy brute force on the same
matrix in the same run; memory-mapped reads, see `tune_for_knn`):

* `search_vec`: `float[384]` cosine, **partition key = content type**, pack as a
  metadata column, `chunk_size=256`. A type filter prunes the scan to one
  partition and stays exact: 1.9 ms at 100k vectors vs 2.3 ms numpy (0.84x),
  0.32 vs 0.23 ms at 10k (1.4x); plain vec0 with the type as a metadata column
  took 12 ms (5.3x). chunk_size 256 instead of the default 1024 cut the 100k
  build from 18.9 s to 3.8 s (every partition pre-allocates a chunk) and made
  small partitions cheaper to scan.
* `search_vec_bq`: `bit[384]` (sign-quantized, 32x smaller), pack metadata, no
  partition. Unfiltered queries scan it for `4·k` candidates and re-score them
  with the float vectors: 5.1 ms at 100k vs 7.2 ms numpy (0.7x), 0.66 vs
  0.27 ms at 10k (2.4x), recall@10 = 1.0 against exact on clustered data;
  plain float vec0 took 40 ms (5.5x). The bit scan with a type filter fails
  (recall 0.35: inside one type, Hamming order is too coarse), hence the float
  partitions for filtered queries. A partitioned bit table answered unfiltered
  queries 5x slower than the unpartitioned one, hence two tables.
* Small scopes (at most `EXACT_SCAN_MAX` vectors; the whole SRD is 3,087 chunks)
  are scanned exactly in float, across the partitions: 5 ms on the SRD against
  1 ms for the bit scan, but exact, so both backends return identical results
  (the bit scan's recall@10 on real SRD embeddings with 40 candidates is 0.93,
  too low to promise that), and 5 ms is small next to the 12 ms query embedding.

Both backends return candidate chunk ids; `rank()` re-scores candidates the
same way for both (float64 dot product of the stored float32 vectors, ties
broken by chunk id), so the same query gives the same ids in the same order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..db import DBAPIConnection

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

CHUNKS_TABLE = "search_chunks"
VEC_TABLE = "search_vec"
BQ_TABLE = "search_vec_bq"
VEC_STATE_TABLE = "search_vec_state"

VEC_CHUNK_SIZE = 256
BQ_OVERSAMPLE = 4
EXACT_SCAN_MAX = 5000
# Extra candidates fetched beyond what is asked, so a float near-tie at the
# cut-off cannot make the two backends disagree after the common re-score.
MARGIN = 8


@dataclass(frozen=True)
class Filters:
    """What a KNN query is restricted to: content types, packs, and/or explicit chunk ids.

    `id_sql` is a parameterized `SELECT id FROM search_chunks ...` (from `where`).
    """

    types: tuple[str, ...] | None = None
    packs: tuple[str, ...] | None = None
    id_sql: tuple[str, list[object]] | None = None


# Memory-mapped reads of the vec0 chunk blobs: measured at 10k vectors, a type-filtered
# KNN went from 0.47 to 0.32 ms and an unfiltered one from 0.77 to 0.64 ms. Only on a
# primary: a Litestream follower truncates the file under its readers, and a truncated
# mapping is a SIGBUS.
MMAP_BYTES = 1 << 30


def tune_for_knn(conn: DBAPIConnection) -> None:
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")


def has_vec(conn: DBAPIConnection) -> bool:
    """Whether sqlite-vec is loaded on this connection."""
    try:
        conn.execute("SELECT vec_version()").fetchone()
        return True
    except Exception:
        return False


def table_exists(conn: DBAPIConnection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


# -- the vec0 mirror ----------------------------------------------------------------------

def create_mirror(conn: DBAPIConnection, dim: int) -> None:
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {VEC_TABLE} USING vec0("
        f"embedding float[{dim}] distance_metric=cosine, type text partition key, pack text, "
        f"chunk_size={VEC_CHUNK_SIZE})")
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {BQ_TABLE} USING vec0("
        f"embedding bit[{dim}], pack text)")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {VEC_STATE_TABLE} "
                 "(id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, dim INTEGER NOT NULL)")


def drop_mirror(conn: DBAPIConnection) -> None:
    for name in (VEC_TABLE, BQ_TABLE, VEC_STATE_TABLE):
        conn.execute(f"DROP TABLE IF EXISTS {name}")


def mirror_token(conn: DBAPIConnection) -> str | None:
    if not table_exists(conn, VEC_STATE_TABLE):
        return None
    row = conn.execute(f"SELECT token FROM {VEC_STATE_TABLE} WHERE id = 1").fetchone()
    return str(row[0]) if row else None


def set_mirror_token(conn: DBAPIConnection, token: str, dim: int) -> None:
    conn.execute(f"INSERT INTO {VEC_STATE_TABLE} (id, token, dim) VALUES (1, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET token = excluded.token, dim = excluded.dim",
                 (token, dim))


def mirror_delete(conn: DBAPIConnection, ids: Sequence[int]) -> None:
    rows = [(i,) for i in ids]
    conn.executemany(f"DELETE FROM {VEC_TABLE} WHERE rowid = ?", rows)
    conn.executemany(f"DELETE FROM {BQ_TABLE} WHERE rowid = ?", rows)


def mirror_insert(conn: DBAPIConnection, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
    """(id, type, pack, float32 blob) rows; vec0 0.1.9 has no upsert: delete first."""
    mirror_delete(conn, [r[0] for r in rows])
    conn.executemany(
        f"INSERT INTO {VEC_TABLE} (rowid, embedding, type, pack) VALUES (?, ?, ?, ?)",
        [(i, blob, t, p) for i, t, p, blob in rows])
    conn.executemany(
        f"INSERT INTO {BQ_TABLE} (rowid, embedding, pack) "
        "VALUES (?, vec_quantize_binary(vec_f32(?)), ?)",
        [(i, blob, p) for i, _t, p, blob in rows])


def resync_mirror(conn: DBAPIConnection, chunks_table: str, token: str, dim: int) -> int:
    """Rebuild the mirror from the chunks table (after a swap, or when it went stale)."""
    drop_mirror(conn)
    create_mirror(conn, dim)
    cursor = conn.execute(f"SELECT id, type, pack, embedding FROM {chunks_table} "
                          "WHERE embedding IS NOT NULL ORDER BY id")
    total = 0
    while True:
        batch = cursor.fetchmany(2000)
        if not batch:
            break
        conn.executemany(
            f"INSERT INTO {VEC_TABLE} (rowid, embedding, type, pack) VALUES (?, ?, ?, ?)",
            [(i, blob, t, p) for i, t, p, blob in batch])
        conn.executemany(
            f"INSERT INTO {BQ_TABLE} (rowid, embedding, pack) "
            "VALUES (?, vec_quantize_binary(vec_f32(?)), ?)",
            [(i, blob, p) for i, _t, p, blob in batch])
        total += len(batch)
    set_mirror_token(conn, token, dim)
    return total


# -- common ranking ---------------------------------------------------------------------

def rank(ids: Sequence[int], vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32],
         n: int) -> list[tuple[int, float]]:
    """(id, cosine similarity) of the best n, exact float64, ties by id: both backends end here."""
    import numpy as np

    if len(ids) == 0:
        return []
    # Row-wise products summed per row (not a BLAS matrix product, whose summation
    # order depends on the matrix shape) and rounded: identical for both backends.
    scores = np.round((vectors.astype(np.float64) * query.astype(np.float64)).sum(axis=1), 12)
    id_arr = np.asarray(ids, dtype=np.int64)
    order = np.lexsort((id_arr, -scores))[:n]
    return [(int(id_arr[i]), float(scores[i])) for i in order]


def _blobs_to_matrix(blobs: Sequence[bytes], dim: int) -> npt.NDArray[np.float32]:
    import numpy as np

    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


class Vec0Backend:
    """KNN inside SQLite with sqlite-vec; filters are constraints of the KNN query itself."""

    name = "sqlite-vec"

    def __init__(self, chunks_table: str = CHUNKS_TABLE, *, exact_scan_max: int = EXACT_SCAN_MAX,
                 oversample: int = BQ_OVERSAMPLE) -> None:
        self.chunks_table = chunks_table
        self.exact_scan_max = exact_scan_max
        self.oversample = oversample

    def search(self, conn: DBAPIConnection, query: npt.NDArray[np.float32], n: int,
               filters: Filters, total: int) -> list[tuple[int, float]]:
        qblob = query.astype("float32").tobytes()
        fetch = n + MARGIN
        if filters.id_sql is not None:
            return self._rescore(conn, self._scan_ids(conn, qblob, fetch, filters), query, n)
        if filters.types or filters.packs or total <= self.exact_scan_max:
            # Exact float KNN. (Selecting the stored vectors in the same KNN query
            # was measured 1 ms slower at 100k than fetching them by rowid after.)
            ids: list[int] = []
            for type_name in filters.types or (None,):
                for pack in filters.packs or (None,):
                    ids += self._knn(conn, VEC_TABLE, "?", qblob, fetch, type_name, pack)
            return self._rescore(conn, ids, query, n)
        candidates = min(4096, max(fetch, self.oversample * n))
        ids = self._knn(conn, BQ_TABLE, "vec_quantize_binary(vec_f32(?))", qblob,
                        candidates, None, None)
        return self._rescore(conn, ids, query, n)

    def _knn(self, conn: DBAPIConnection, table: str, match: str, qblob: bytes, k: int,
             type_name: str | None, pack: str | None) -> list[int]:
        sql = f"SELECT rowid FROM {table} WHERE embedding MATCH {match} AND k = ?"
        params: list[object] = [qblob, min(k, 4096)]
        if type_name is not None:
            sql += " AND type = ?"
            params.append(type_name)
        if pack is not None:
            sql += " AND pack = ?"
            params.append(pack)
        return [int(r[0]) for r in conn.execute(sql, params)]

    def _scan_ids(self, conn: DBAPIConnection, qblob: bytes, k: int, filters: Filters) -> list[int]:
        """Arbitrary filters (content columns): one exact scan over the matching chunks."""
        assert filters.id_sql is not None
        id_sql, id_params = filters.id_sql
        sql = (f"SELECT id FROM {self.chunks_table} WHERE embedding IS NOT NULL "
               f"AND id IN ({id_sql}) ORDER BY vec_distance_cosine(embedding, ?), id LIMIT ?")
        return [int(r[0]) for r in conn.execute(sql, [*id_params, qblob, k])]

    def _rescore(self, conn: DBAPIConnection, ids: list[int], query: npt.NDArray[np.float32],
                 n: int) -> list[tuple[int, float]]:
        if not ids:
            return []
        unique = sorted(set(ids))
        got: list[int] = []
        blobs: list[bytes] = []
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            marks = ", ".join("?" * len(part))
            for cid, blob in conn.execute(
                    f"SELECT id, embedding FROM {self.chunks_table} WHERE id IN ({marks})", part):
                got.append(int(cid))
                blobs.append(blob)
        return rank(got, _blobs_to_matrix(blobs, len(query)), query, n)


class _Matrix:
    def __init__(self, ids: Any, types: Any, packs: Any, vectors: Any) -> None:
        self.ids = ids
        self.types = types
        self.packs = packs
        self.vectors = vectors
        self.by_id = {int(i): row for row, i in enumerate(ids)}


class NumpyBackend:
    """Brute force over an in-memory matrix loaded from the chunks table (per index token)."""

    name = "numpy"

    def __init__(self, chunks_table: str = CHUNKS_TABLE) -> None:
        self.chunks_table = chunks_table
        self._lock = threading.Lock()
        self._token: str | None = None
        self._matrix: _Matrix | None = None

    def load(self, conn: DBAPIConnection, token: str, dim: int) -> _Matrix:
        import numpy as np

        with self._lock:
            if self._matrix is not None and self._token == token:
                return self._matrix
            rows = conn.execute(f"SELECT id, type, pack, embedding FROM {self.chunks_table} "
                                "WHERE embedding IS NOT NULL ORDER BY id").fetchall()
            matrix = _Matrix(
                np.array([r[0] for r in rows], dtype=np.int64),
                np.array([r[1] for r in rows], dtype=object),
                np.array([r[2] for r in rows], dtype=object),
                _blobs_to_matrix([r[3] for r in rows], dim),
            )
            self._matrix, self._token = matrix, token
            return matrix

    def search(self, conn: DBAPIConnection, query: npt.NDArray[np.float32], n: int,
               filters: Filters, token: str) -> list[tuple[int, float]]:
        import numpy as np

        m = self.load(conn, token, len(query))
        if filters.id_sql is not None:
            id_sql, id_params = filters.id_sql
            wanted = [m.by_id[int(r[0])] for r in conn.execute(id_sql, id_params)
                      if int(r[0]) in m.by_id]
            rows = np.asarray(sorted(wanted), dtype=np.int64)
        elif filters.types or filters.packs:
            mask = np.ones(len(m.ids), dtype=bool)
            if filters.types:
                mask &= np.isin(m.types, list(filters.types))
            if filters.packs:
                mask &= np.isin(m.packs, list(filters.packs))
            rows = np.flatnonzero(mask)
        else:
            rows = None  # unfiltered: no gather, the matrix as it is
        if rows is not None and len(rows) == 0:
            return []
        sub = m.vectors if rows is None else m.vectors[rows]
        ids = m.ids if rows is None else m.ids[rows]
        scores = sub @ query
        fetch = min(len(ids), n + MARGIN)
        top = (np.argpartition(-scores, fetch - 1)[:fetch] if fetch < len(ids)
               else np.arange(len(ids)))
        return rank([int(i) for i in ids[top]], sub[top], query, n)
