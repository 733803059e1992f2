"""The vector index on sqlite-vec: `vec0` tables mirroring the chunks' vectors.

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

Both SQLite indexes (this one and `vectors_numpy`) return candidate chunk ids;
`questlog.search.vectors.rank` re-scores candidates the same way for both
(float64 dot product of the stored float32 vectors, ties broken by chunk id),
so the same query gives the same ids in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..search.vectors import MARGIN, blobs_to_matrix, rank
from ..storage.session import Session
from ..storage.vectors import Filters, Generation, VectorRow
from .schema import table_exists
from .search_filters import id_query, marks

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

VEC_TABLE = "search_vec"
BQ_TABLE = "search_vec_bq"
VEC_STATE_TABLE = "search_vec_state"

VEC_CHUNK_SIZE = 256
BQ_OVERSAMPLE = 4
EXACT_SCAN_MAX = 5000
KNN_MAX = 4096  # vec0's limit on k

LAYOUT = {
    "filtered": f"vec0 float[384] partitioned by content type, chunk_size={VEC_CHUNK_SIZE}",
    "unfiltered": f"vec0 bit[384] with {BQ_OVERSAMPLE}x float re-scoring "
                  f"(exact float scan up to {EXACT_SCAN_MAX} vectors)",
}

# Memory-mapped reads of the vec0 chunk blobs: measured at 10k vectors, a type-filtered
# KNN went from 0.47 to 0.32 ms and an unfiltered one from 0.77 to 0.64 ms. Only on a
# primary: a Litestream follower truncates the file under its readers, and a truncated
# mapping is a SIGBUS.
MMAP_BYTES = 1 << 30

_INSERT_FLOAT = f"INSERT INTO {VEC_TABLE} (rowid, embedding, type, pack) VALUES (?, ?, ?, ?)"
_INSERT_BITS = (f"INSERT INTO {BQ_TABLE} (rowid, embedding, pack) "
                "VALUES (?, vec_quantize_binary(vec_f32(?)), ?)")


def tune_for_knn(session: Session) -> None:
    session.execute(f"PRAGMA mmap_size={MMAP_BYTES}")


def has_vec(session: Session) -> bool:
    """Whether sqlite-vec is loaded on this connection."""
    from .driver import load_dbapi

    try:
        session.execute("SELECT vec_version()").fetchone()
        return True
    except load_dbapi().OperationalError:  # "no such function": not loaded here
        return False


# -- the vec0 mirror ----------------------------------------------------------------------

def create_mirror(session: Session, dim: int) -> None:
    session.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {VEC_TABLE} USING vec0("
        f"embedding float[{dim}] distance_metric=cosine, type text partition key, pack text, "
        f"chunk_size={VEC_CHUNK_SIZE})")
    session.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {BQ_TABLE} USING vec0("
        f"embedding bit[{dim}], pack text)")
    session.execute(f"CREATE TABLE IF NOT EXISTS {VEC_STATE_TABLE} "
                    "(id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, "
                    "dim INTEGER NOT NULL)")


def drop_mirror(session: Session) -> None:
    for name in (VEC_TABLE, BQ_TABLE, VEC_STATE_TABLE):
        session.execute(f"DROP TABLE IF EXISTS {name}")


def mirror_token(session: Session) -> str | None:
    if not table_exists(session, VEC_STATE_TABLE):
        return None
    row = session.execute(f"SELECT token FROM {VEC_STATE_TABLE} WHERE id = 1").fetchone()
    return str(row[0]) if row else None


def set_mirror_token(session: Session, token: str, dim: int) -> None:
    session.execute(f"INSERT INTO {VEC_STATE_TABLE} (id, token, dim) VALUES (1, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET token = excluded.token, dim = excluded.dim",
                    (token, dim))


def mirror_delete(session: Session, ids: Sequence[int]) -> None:
    rows = [(i,) for i in ids]
    session.executemany(f"DELETE FROM {VEC_TABLE} WHERE rowid = ?", rows)
    session.executemany(f"DELETE FROM {BQ_TABLE} WHERE rowid = ?", rows)


def _insert(session: Session, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
    """The one insert path of both vec0 tables: (id, type, pack, float32 blob) rows."""
    session.executemany(_INSERT_FLOAT, [(i, blob, t, p) for i, t, p, blob in rows])
    session.executemany(_INSERT_BITS, [(i, blob, p) for i, _t, p, blob in rows])


def mirror_insert(session: Session, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
    """(id, type, pack, float32 blob) rows; vec0 0.1.9 has no upsert: delete first."""
    mirror_delete(session, [r[0] for r in rows])
    _insert(session, rows)


def resync_mirror(session: Session, chunks_table: str, token: str, dim: int) -> int:
    """Rebuild the mirror from the chunks table (after a swap, or when it went stale)."""
    drop_mirror(session)
    create_mirror(session, dim)
    cursor: Any = session.execute(f"SELECT id, type, pack, embedding FROM {chunks_table} "
                                  "WHERE embedding IS NOT NULL ORDER BY id")
    total = 0
    while True:
        batch = cursor.fetchmany(2000)
        if not batch:
            break
        _insert(session, batch)
        total += len(batch)
    set_mirror_token(session, token, dim)
    return total


# -- the index ----------------------------------------------------------------------------

class SQLiteVec0Index:
    """`storage.vectors.VectorIndex` on vec0: filters are constraints of the KNN query itself.

    Exact with a type or pack filter, with an entry filter, and up to
    `exact_scan_max` vectors; above that, unfiltered queries take the quantized
    scan (recall@10 >= 0.95 on clustered data, measured in benchmarks/search.py).
    """

    name = "sqlite-vec"
    exact = False

    def __init__(self, chunks_table: str, *, exact_scan_max: int = EXACT_SCAN_MAX,
                 oversample: int = BQ_OVERSAMPLE, tune_reads: bool = False) -> None:
        self.chunks_table = chunks_table
        self.exact_scan_max = exact_scan_max
        self.oversample = oversample
        self.tune_reads = tune_reads  # memory-mapped reads: primaries only (see MMAP_BYTES)

    # -- writes (the mirror follows the chunks in the writer's transaction) --

    def upsert(self, session: Session, rows: Sequence[VectorRow]) -> None:
        mirror_insert(session, [(r.id, r.type, r.pack, r.vector) for r in rows])

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        mirror_delete(session, ids)

    def in_sync(self, session: Session, token: str) -> bool:
        return mirror_token(session) == token

    def resync(self, session: Session, token: str, dim: int) -> int:
        return resync_mirror(session, self.chunks_table, token, dim)

    def mark_synced(self, session: Session, token: str, dim: int) -> None:
        set_mirror_token(session, token, dim)

    # -- queries --

    def search(self, session: Session, query: npt.NDArray[np.float32], k: int,
               filters: Filters, generation: Generation) -> list[tuple[int, float]]:
        if self.tune_reads:
            tune_for_knn(session)
        qblob = query.astype("float32").tobytes()
        fetch = k + MARGIN
        ids_sql = id_query(self.chunks_table, filters)
        if ids_sql is not None:
            return self._rescore(session, self._scan_ids(session, qblob, fetch, ids_sql),
                                 query, k)
        if filters.types or filters.packs or generation.total <= self.exact_scan_max:
            # Exact float KNN. (Selecting the stored vectors in the same KNN query
            # was measured 1 ms slower at 100k than fetching them by rowid after.)
            ids: list[int] = []
            for type_name in filters.types or (None,):
                for pack in filters.packs or (None,):
                    ids += self._knn(session, VEC_TABLE, "?", qblob, fetch, type_name, pack)
            return self._rescore(session, ids, query, k)
        candidates = min(KNN_MAX, max(fetch, self.oversample * k))
        ids = self._knn(session, BQ_TABLE, "vec_quantize_binary(vec_f32(?))", qblob,
                        candidates, None, None)
        return self._rescore(session, ids, query, k)

    def _knn(self, session: Session, table: str, match: str, qblob: bytes, k: int,
             type_name: str | None, pack: str | None) -> list[int]:
        sql = f"SELECT rowid FROM {table} WHERE embedding MATCH {match} AND k = ?"
        params: list[object] = [qblob, min(k, KNN_MAX)]
        if type_name is not None:
            sql += " AND type = ?"
            params.append(type_name)
        if pack is not None:
            sql += " AND pack = ?"
            params.append(pack)
        return [int(r[0]) for r in session.execute(sql, params)]

    def _scan_ids(self, session: Session, qblob: bytes, k: int,
                  ids_sql: tuple[str, list[object]]) -> list[int]:
        """Arbitrary filters (content columns): one exact scan over the matching chunks."""
        sql = (f"SELECT id FROM {self.chunks_table} WHERE embedding IS NOT NULL "
               f"AND id IN ({ids_sql[0]}) ORDER BY vec_distance_cosine(embedding, ?), id LIMIT ?")
        return [int(r[0]) for r in session.execute(sql, [*ids_sql[1], qblob, k])]

    def _rescore(self, session: Session, ids: list[int], query: npt.NDArray[np.float32],
                 k: int) -> list[tuple[int, float]]:
        if not ids:
            return []
        unique = sorted(set(ids))
        got: list[int] = []
        blobs: list[bytes] = []
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            for cid, blob in session.execute(
                    f"SELECT id, embedding FROM {self.chunks_table} "
                    f"WHERE id IN ({marks(len(part))})", part):
                got.append(int(cid))
                blobs.append(blob)
        return rank(got, blobs_to_matrix(blobs, len(query)), query, k)
