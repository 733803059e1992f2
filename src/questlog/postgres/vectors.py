"""The vector index on pgvector: a `vector(384)` mirror of the chunks' vectors, HNSW.

Where the vectors live
----------------------
`search_chunks.embedding` (a projector table, float32 bytes) is the truth for
every vector, as on SQLite. `search_vec` mirrors it as pgvector `vector(dim)`
with the chunk's type and pack, an HNSW index (`vector_cosine_ops`) and a btree
on (type, pack); `search_vec_counts` holds its rows per (type, pack) and
`search_vec_state` which index generation (token) it reflects. The search projector
keeps it in the writer's transaction, and a rebuild swap refills it (`resync`), exactly
like the sqlite-vec mirror; it is not a projector table because a store must work on a
server without pgvector (the numpy index then reads the chunks table).

Queries
-------
HNSW in pgvector 0.6 filters AFTER the graph walk (no iterative scans): the walk keeps
`hnsw.ef_search` rows and the filter then drops those it rejects, so a selective filter
returns fewer than k rows, or misses close ones. Each query's plan (`plan`) therefore
follows from how many vectors its filter keeps, looked up in `search_vec_counts` (rows
per (type, pack), filled after a resync's rows and kept by a trigger on the mirror in the
writer's transaction, so the lookup is exact and reads a few dozen rows):

* an exact scan when the query covers at most `EXACT_SCAN_MAX` vectors (the whole SRD is
  ~3,100 chunks), when its filter keeps less than `WALK_MIN_SHARE` of them (a walk would
  need an `ef_search` beyond what is cheaper than scanning those rows), or when it is an
  entry or id filter (whose size no count tells): `ORDER BY (embedding <=> q) + 0` is
  not the indexed expression, so the planner cannot take the HNSW index and sorts the
  filtered rows by true distance (the type/pack btree finds them). Both engines then
  return the same chunks;
* otherwise the graph walk, with `hnsw.ef_search` set for the transaction (`SET LOCAL`,
  in the query's own read transaction) to `EF_SEARCH`, raised for a filter to
  `OVERFETCH` times the rows the filter must leave (`k + MARGIN` / its share), at most
  pgvector's 1000. The walk's rows are filtered after it (a subquery the planner cannot
  flatten, so the walk is the index scan) and, when fewer than k survive (the rows the
  filter keeps lie away from this query), the exact scan answers instead: a filtered
  query returns k rows whenever k rows match.

Every query fetches `k + MARGIN` candidates and ends in
`questlog.search.vectors.rank` over the chunks' float32 vectors, so results equal
the other indexes' whenever the candidates do. Vectors travel in pgvector's binary
format (the `pgvector` package's psycopg adapters, on the cursor that writes them);
the query vector as pgvector text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

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
VEC_COUNTS_TABLE = "search_vec_counts"
EXACT_SCAN_MAX = 5000
EF_SEARCH = 200       # candidates the graph walk keeps (pgvector's default is 40)
EF_SEARCH_MAX = 1000  # pgvector's limit for hnsw.ef_search
WALK_MIN_SHARE = 0.25  # a filter keeping less of the vectors: exact scan
OVERFETCH = 2.0       # a filtered walk keeps this many times the rows the filter must leave
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_BUILD_MEMORY = "512MB"
_BATCH = 2000

LAYOUT = {
    "filtered": f"pgvector: exact scan of the filtered rows (type/pack btree) when they are "
                f"at most {EXACT_SCAN_MAX} or under {WALK_MIN_SHARE:.0%} of the vectors, else "
                f"the HNSW walk with ef_search raised {OVERFETCH:g}x for the filter's share, "
                "filtered after, exact scan when fewer than k survive",
    "unfiltered": f"pgvector HNSW vector_cosine_ops m={HNSW_M} "
                  f"ef_construction={HNSW_EF_CONSTRUCTION}, ef_search={EF_SEARCH} "
                  f"(exact scan up to {EXACT_SCAN_MAX} vectors)",
}

# Keeps `search_vec_counts` in step with the mirror's rows, in the writing transaction.
_COUNT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {VEC_COUNTS_TABLE}_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.type = NEW.type AND OLD.pack = NEW.pack THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE {VEC_COUNTS_TABLE} SET n = n - 1 WHERE type = OLD.type AND pack = OLD.pack;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {VEC_COUNTS_TABLE} (type, pack, n) VALUES (NEW.type, NEW.pack, 1)
        ON CONFLICT (type, pack) DO UPDATE SET n = {VEC_COUNTS_TABLE}.n + 1;
    END IF;
    RETURN NULL;
END
$$"""


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
    session.execute(f"CREATE TABLE IF NOT EXISTS {VEC_COUNTS_TABLE} (type TEXT NOT NULL, "
                    "pack TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (type, pack))")


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
    # The counts too: one GROUP BY over the rows, then a trigger keeps them row by row.
    session.execute(f"DELETE FROM {VEC_COUNTS_TABLE}")
    session.execute(f"INSERT INTO {VEC_COUNTS_TABLE} (type, pack, n) "
                    f"SELECT type, pack, count(*) FROM {VEC_TABLE} GROUP BY type, pack")
    session.execute(_COUNT_FUNCTION)
    session.execute(f"CREATE OR REPLACE TRIGGER {VEC_COUNTS_TABLE}__follow "
                    f"AFTER INSERT OR DELETE OR UPDATE OF type, pack ON {VEC_TABLE} "
                    f"FOR EACH ROW EXECUTE FUNCTION {VEC_COUNTS_TABLE}_follow()")


def drop_mirror(session: Session) -> None:
    for name in (VEC_TABLE, VEC_STATE_TABLE, VEC_COUNTS_TABLE):
        session.execute(f"DROP TABLE IF EXISTS {name}")  # the trigger goes with search_vec
    session.execute(f"DROP FUNCTION IF EXISTS {VEC_COUNTS_TABLE}_follow()")


def mirror_token(session: Session) -> str | None:
    # A mirror without its counts (made by an older questlog) is stale: a resync adds them.
    if not (table_exists(session, VEC_STATE_TABLE) and table_exists(session, VEC_COUNTS_TABLE)):
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
    # Rows in (type, pack) order: a type's rows then share heap pages, and an exact scan
    # of one type (~4 % of 100k vectors) reads ~900 pages instead of ~3,650 (one per row,
    # at 1.6 kB a vector), measured 1.2 ms against 10-20 ms.
    cursor: Any = session.execute(f"SELECT id, type, pack, embedding FROM {chunks_table} "
                                  "WHERE embedding IS NOT NULL ORDER BY type, pack, id")
    rows = [(int(i), str(t), str(p), bytes(b)) for i, t, p, b in cursor.fetchall()]
    for start in range(0, len(rows), _BATCH):
        mirror_upsert(session, rows[start:start + _BATCH])
    index_mirror(session)
    set_mirror_token(session, token, dim)
    return len(rows)


# -- the index ----------------------------------------------------------------------------

class QueryPlan(NamedTuple):
    """`PgVectorIndex.plan`: the walk's `ef_search` (0: exact scan), how many vectors the
    filter keeps (None: not known) of how many."""

    ef_search: int
    kept: int | None
    total: int


def kept_vectors(session: Session, filters: Filters) -> tuple[int, int]:
    """(vectors a type/pack filter keeps, all vectors), from the mirror's counts."""
    # Types and packs only: no entry or id query, so no chunks table to name.
    conds, params = conditions("c", "", Filters(types=filters.types, packs=filters.packs))
    row = session.execute(f"SELECT coalesce(sum(c.n) FILTER (WHERE {' AND '.join(conds)}), 0), "
                          f"coalesce(sum(c.n), 0) FROM {VEC_COUNTS_TABLE} c", params).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def walk_sql(conds: Sequence[str]) -> str:
    """The filtered walk: the graph's `ef_search` nearest rows (parameters: the query
    vector, ef_search), then the conditions on alias `w` (theirs), then `fetch`. The inner
    LIMIT keeps the planner from flattening the subquery, so the walk is the index scan."""
    return (f"SELECT w.id FROM (SELECT v.id, v.type, v.pack, v.embedding <=> %s::vector "
            f"AS distance FROM {VEC_TABLE} v ORDER BY distance LIMIT %s) w "
            f"WHERE {' AND '.join(conds)} ORDER BY w.distance, w.id LIMIT %s")


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
        ef = self.plan(session, filters, generation, k).ef_search
        ids = self.walk(session, qtext, fetch, ef, filters) if ef else []
        if len(ids) < k:  # an exact scan by plan, or too few of the walk's rows survived
            ids = self.exact_scan(session, qtext, fetch, filters)
        return self._rescore(session, ids, query, k)

    def plan(self, session: Session, filters: Filters, generation: Generation,
             k: int) -> QueryPlan:
        """How a query runs: the graph walk's `ef_search`, or 0 for an exact scan."""
        fetch = k + MARGIN
        if filters.entries is not None or filters.id_sql is not None:
            return QueryPlan(0, None, generation.total)  # no count tells an entry filter's size
        if not (filters.types or filters.packs):
            kept = total = generation.total
        else:
            kept, total = kept_vectors(session, filters)
        if kept <= self.exact_scan_max or kept < WALK_MIN_SHARE * total:
            return QueryPlan(0, kept, total)
        ef = max(self.ef_search, fetch)
        if kept < total:  # the filter must leave `fetch` of the walk's rows, with room
            ef = max(ef, math.ceil(OVERFETCH * fetch * total / kept))
        return QueryPlan(min(ef, EF_SEARCH_MAX), kept, total)

    def walk(self, session: Session, qtext: str, fetch: int, ef_search: int,
             filters: Filters) -> list[int]:
        """The HNSW walk keeping `ef_search` rows, filtered after: up to `fetch` ids."""
        conds, params = conditions("w", self.chunks_table, filters)
        session.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
        if not conds:
            sql = f"SELECT id FROM {VEC_TABLE} ORDER BY embedding <=> %s::vector LIMIT %s"
            return [int(r[0]) for r in session.execute(sql, (qtext, fetch))]
        sql = walk_sql(conds)
        return [int(r[0]) for r in session.execute(sql, [qtext, ef_search, *params, fetch])]

    def exact_scan(self, session: Session, qtext: str, fetch: int,
                   filters: Filters) -> list[int]:
        """The `fetch` nearest ids among the filtered rows, by true distance."""
        conds, params = conditions("v", self.chunks_table, filters)
        where = " WHERE " + " AND ".join(conds) if conds else ""
        # `+ 0`: not the indexed expression, so never the HNSW index (see above).
        sql = (f"SELECT v.id FROM {VEC_TABLE} v{where} "
               "ORDER BY (v.embedding <=> %s::vector) + 0, v.id LIMIT %s")
        return [int(r[0]) for r in session.execute(sql, [*params, qtext, fetch])]

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
