"""The vector index on pgvector: a `vector(384)` mirror of the chunks' vectors, HNSW.

Where the vectors live
----------------------
`search_chunks.embedding` (a projector table, float32 bytes) is the truth for
every vector, as on SQLite. `search_vec` mirrors it as pgvector `vector(dim)`
with the chunk's type and pack, an HNSW index (`vector_cosine_ops`) and a btree
on (type, pack); `search_vec_state` records which index generation (token) it
reflects. The search projector keeps it in the writer's transaction, and a
rebuild swap refills it (`resync`), exactly like the sqlite-vec mirror; it is not
a projector table because a store must work on a server without pgvector (the
numpy index then reads the chunks table).

Queries
-------
HNSW in pgvector 0.6 filters AFTER the graph walk (no iterative scans): with a
selective filter it returns fewer than k rows, or misses close ones. So:

* any filter (types, packs, an entry filter), and every query while the index
  holds at most `EXACT_SCAN_MAX` vectors (the SRD is ~3,100 chunks), is an exact
  scan: `ORDER BY (embedding <=> q) + 0` is not the indexed expression, so the
  planner cannot take the HNSW index and sorts the filtered rows by true distance
  (the type/pack btree finds them). Both engines then return the same chunks;
* only unfiltered queries over more vectors walk the graph, with
  `hnsw.ef_search` raised for the transaction (`SET LOCAL`) to `EF_SEARCH`.

Every query fetches `k + MARGIN` candidates and ends in
`questlog.search.vectors.rank` over the chunks' float32 vectors, so results equal
the other indexes' whenever the candidates do. Vectors travel in pgvector's binary
format (the `pgvector` package's psycopg adapters, on the cursor that writes them);
the query vector as pgvector text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from ..search.vectors import MARGIN, blobs_to_matrix, rank
from ..storage.session import Session
from ..storage.vectors import Filters, Generation, VectorRow
from .schema import table_exists
from .search_filters import conditions

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .session import PostgresSession

VEC_TABLE = "search_vec"
VEC_STATE_TABLE = "search_vec_state"
EXACT_SCAN_MAX = 5000
EF_SEARCH = 200       # candidates the graph walk keeps (pgvector's default is 40)
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_BUILD_MEMORY = "512MB"
_BATCH = 2000

LAYOUT = {
    "filtered": "pgvector exact scan of the filtered rows (type/pack btree)",
    "unfiltered": f"pgvector HNSW vector_cosine_ops m={HNSW_M} "
                  f"ef_construction={HNSW_EF_CONSTRUCTION}, ef_search={EF_SEARCH} "
                  f"(exact scan up to {EXACT_SCAN_MAX} vectors)",
}


def pgvector_available(session: Session) -> bool:
    """Whether pgvector is created in this database or the server can create it."""
    row = session.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') "
        "OR EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')").fetchone()
    return bool(row and row[0])


def _vector_literal(query: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(repr(float(x)) for x in query) + "]"


# -- the mirror ---------------------------------------------------------------------------

def create_mirror(session: Session, dim: int) -> None:
    session.execute("CREATE EXTENSION IF NOT EXISTS vector")
    session.execute(f"CREATE TABLE IF NOT EXISTS {VEC_TABLE} (id BIGINT PRIMARY KEY, "
                    f"type TEXT NOT NULL, pack TEXT NOT NULL, embedding vector({int(dim)}) "
                    "NOT NULL)")
    session.execute(f"CREATE TABLE IF NOT EXISTS {VEC_STATE_TABLE} "
                    "(id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, "
                    "dim INTEGER NOT NULL)")


def index_mirror(session: Session) -> None:
    """The mirror's indexes (after a resync's rows: one bulk HNSW build is several times
    faster than inserting into the graph row by row)."""
    # The graph of 100k 384-d vectors outgrows PostgreSQL's default 64 MB of build memory,
    # and pgvector then builds it far more slowly: raise it for this transaction only.
    session.execute("SELECT set_config('maintenance_work_mem', %s, true)",
                    (HNSW_BUILD_MEMORY,))
    session.execute(f"CREATE INDEX IF NOT EXISTS {VEC_TABLE}__hnsw ON {VEC_TABLE} USING hnsw "
                    f"(embedding vector_cosine_ops) WITH (m = {HNSW_M}, "
                    f"ef_construction = {HNSW_EF_CONSTRUCTION})")
    session.execute(f"CREATE INDEX IF NOT EXISTS {VEC_TABLE}__type_pack "
                    f"ON {VEC_TABLE} (type, pack)")
    session.execute(f"CREATE INDEX IF NOT EXISTS {VEC_TABLE}__pack ON {VEC_TABLE} (pack)")


def drop_mirror(session: Session) -> None:
    for name in (VEC_TABLE, VEC_STATE_TABLE):
        session.execute(f"DROP TABLE IF EXISTS {name}")


def mirror_token(session: Session) -> str | None:
    if not table_exists(session, VEC_STATE_TABLE):
        return None
    row = session.execute(f"SELECT token FROM {VEC_STATE_TABLE} WHERE id = 1").fetchone()
    return str(row[0]) if row else None


def set_mirror_token(session: Session, token: str, dim: int) -> None:
    session.execute(f"INSERT INTO {VEC_STATE_TABLE} (id, token, dim) VALUES (1, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET token = excluded.token, dim = excluded.dim",
                    (token, dim))


def mirror_upsert(session: Session, rows: Sequence[tuple[int, str, str, bytes]]) -> None:
    """(id, type, pack, float32 blob) rows, sent in pgvector's binary format."""
    if not rows:
        return
    import numpy as np
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo

    conn = cast("PostgresSession", session).connection
    info = TypeInfo.fetch(conn, "vector")
    with conn.cursor(binary=True) as cursor:
        register_vector_info(cursor, info)  # a cursor adapts too: only its statements
        cursor.executemany(
            f"INSERT INTO {VEC_TABLE} (id, type, pack, embedding) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET type = excluded.type, pack = excluded.pack, "
            "embedding = excluded.embedding",
            [(i, t, p, np.frombuffer(blob, dtype="<f4")) for i, t, p, blob in rows])


def mirror_delete(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(f"DELETE FROM {VEC_TABLE} WHERE id = ANY(%s)", (list(ids),))


def resync_mirror(session: Session, chunks_table: str, token: str, dim: int) -> int:
    """Rebuild the mirror from the chunks table (after a swap, or when it went stale)."""
    drop_mirror(session)
    create_mirror(session, dim)
    cursor: Any = session.execute(f"SELECT id, type, pack, embedding FROM {chunks_table} "
                                  "WHERE embedding IS NOT NULL ORDER BY id")
    rows = [(int(i), str(t), str(p), bytes(b)) for i, t, p, b in cursor.fetchall()]
    for start in range(0, len(rows), _BATCH):
        mirror_upsert(session, rows[start:start + _BATCH])
    index_mirror(session)
    set_mirror_token(session, token, dim)
    return len(rows)


# -- the index ----------------------------------------------------------------------------

class PgVectorIndex:
    """`storage.vectors.VectorIndex` on pgvector (see the module docstring)."""

    name = "pgvector"
    exact = False

    def __init__(self, chunks_table: str, *, exact_scan_max: int = EXACT_SCAN_MAX,
                 ef_search: int = EF_SEARCH) -> None:
        self.chunks_table = chunks_table
        self.exact_scan_max = exact_scan_max
        self.ef_search = ef_search

    # -- writes (the mirror follows the chunks in the writer's transaction) --

    def upsert(self, session: Session, rows: Sequence[VectorRow]) -> None:
        mirror_upsert(session, [(r.id, r.type, r.pack, r.vector) for r in rows])

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
        qtext = _vector_literal(query)
        fetch = k + MARGIN
        conds, params = conditions("v", self.chunks_table, filters)
        if conds or generation.total <= self.exact_scan_max:
            where = " WHERE " + " AND ".join(conds) if conds else ""
            # `+ 0`: not the indexed expression, so never the HNSW index (see above).
            sql = (f"SELECT v.id FROM {VEC_TABLE} v{where} "
                   "ORDER BY (v.embedding <=> %s::vector) + 0, v.id LIMIT %s")
            ids = [int(r[0]) for r in session.execute(sql, [*params, qtext, fetch])]
        else:
            session.execute("SELECT set_config('hnsw.ef_search', %s, true)",
                            (str(min(1000, max(self.ef_search, fetch))),))  # 1000: its maximum
            ids = [int(r[0]) for r in session.execute(
                f"SELECT id FROM {VEC_TABLE} ORDER BY embedding <=> %s::vector LIMIT %s",
                (qtext, fetch))]
        return self._rescore(session, ids, query, k)

    def _rescore(self, session: Session, ids: list[int], query: npt.NDArray[np.float32],
                 k: int) -> list[tuple[int, float]]:
        if not ids:
            return []
        got: list[int] = []
        blobs: list[bytes] = []
        for cid, blob in session.execute(
                f"SELECT id, embedding FROM {self.chunks_table} WHERE id = ANY(%s) "
                "AND embedding IS NOT NULL", (sorted(set(ids)),)):
            got.append(int(cid))
            blobs.append(bytes(blob))
        return rank(got, blobs_to_matrix(blobs, len(query)), query, k)
