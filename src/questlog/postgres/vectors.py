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
  entry or id filter (whose size no count tells): `ORDER BY (embedding <#> q) + 0`, the
  negative inner product (`rank`'s own score; on questlog's normalised vectors it orders
  as the cosine does, at a third of its arithmetic), is no indexed expression, so the
  planner cannot take a vector index and sorts the filtered rows by true distance (the
  type/pack btree finds them, the rows of a type sharing pages: see `resync_mirror`).
  Both engines then return the same chunks;
* otherwise the graph walk, with `hnsw.ef_search` set for the transaction (`SET LOCAL`,
  in the query's own read transaction) to `EF_SEARCH`, raised for a filter to
  `OVERFETCH` times the rows the filter must leave (`k + MARGIN` / its share), at most
  pgvector's 1000. The walk's rows are filtered after it (a subquery the planner cannot
  flatten, so the walk is the index scan) and, when fewer than k survive (the rows the
  filter keeps lie away from this query), the exact scan answers instead: a filtered
  query returns k rows whenever k rows match.

Round trips
-----------
A selective query is mostly the server's scan and the waits around it. On 100k vectors the
exact scan of one type (~4,000 rows on ~800 heap pages: the rows of a type share pages,
1.6 kB a row, no TOAST) takes 3-4.5 ms in the server with its pages in shared buffers
and 5-11 ms when it must read them (a mirror larger than `shared_buffers`; track_io_timing
puts nearly all of the difference in the reads); every further round trip costs a
wake-up of the server's process, ms each on a loaded machine. So a type/pack filter's
counts and its exact scan are one statement (`selective_scan_sql`: the scan runs only
when the counts call for it), and every query returns its candidates' vectors with their
ids (from the mirror, whose float4 values are the chunks' float32 ones, sent in binary
both ways), so no second statement reads the chunks table to re-score them: one round
trip instead of three (measured in one process on the same mirror, interleaved: 6.5 ms
against 12.2 ms at load 3, 6.3 against 6.9 at load 2). No JIT (the exact scan of a type
costs ~7,000, far under `jit_above_cost`), no parallel workers (an index scan of one
type's rows), and its top-k sort stays in memory (a heap of k + MARGIN rows).

Every query fetches `k + MARGIN` candidates and ends in
`questlog.search.vectors.rank` over their float32 vectors, so results equal the other
indexes' whenever the candidates do. Vectors travel in pgvector's binary format (written
with the `pgvector` package's psycopg adapters, on the cursor that writes them; read as
raw bytes, `vectors_matrix`); the query vector as pgvector text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from ..search.vectors import MARGIN, rank
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
    # tolist(): Python floats at once (iterating makes a numpy scalar per value, ~4x slower);
    # each float32 widened exactly, so the server's float4 parse gives the same value back.
    return "[" + ",".join(map(repr, query.tolist())) + "]"


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


class Candidate(NamedTuple):
    """A row a query found: its chunk id and its vector in pgvector's binary format."""

    id: int
    vector: bytes


def vectors_matrix(candidates: Sequence[Candidate], dim: int) -> npt.NDArray[np.float32]:
    """The candidates' vectors as float32 rows. pgvector's binary format is an int16 dim,
    an unused int16, then `dim` big-endian float4: the 4-byte header is cut off as one
    column, the floats are the ones the chunks table holds (sent in binary, not rounded)."""
    import numpy as np

    if not candidates:
        return np.zeros((0, dim), dtype=np.float32)
    raw = np.frombuffer(b"".join(c.vector for c in candidates), dtype=">f4")
    return raw.reshape(len(candidates), dim + 1)[:, 1:].astype(np.float32)


def kept_vectors(session: Session, filters: Filters) -> tuple[int, int]:
    """(vectors a type/pack filter keeps, all vectors), from the mirror's counts."""
    sql, params = _counts_sql(filters)
    row = session.execute(f"SELECT kept, total FROM ({sql}) counts", params).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _counts_sql(filters: Filters) -> tuple[str, list[object]]:
    """`SELECT kept, total` from the mirror's counts for a type/pack filter."""
    # Types and packs only: no entry or id query, so no chunks table to name.
    conds, params = conditions("c", "", Filters(types=filters.types, packs=filters.packs))
    return (f"SELECT coalesce(sum(c.n) FILTER (WHERE {' AND '.join(conds)}), 0) AS kept, "
            f"coalesce(sum(c.n), 0) AS total FROM {VEC_COUNTS_TABLE} c"), params


def exact_sql(conds: Sequence[str], gate: str = "") -> str:
    """The exact scan: the filtered rows (alias `v`, the conditions' parameters first) by
    true distance, then the query vector and `fetch`. Ordered by the negative inner
    product, which is `rank`'s score (questlog's vectors are normalised, so it orders as
    the cosine does) at a third of the cosine's arithmetic; `+ 0` makes it no indexed
    expression, so the planner never takes a vector index and reads the filtered rows
    (through the type/pack btree). `gate`: one more condition on the outer row of a
    LATERAL join (the planner evaluates it once, before the scan)."""
    where = [*conds, gate] if gate else list(conds)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (f"SELECT v.id, v.embedding FROM {VEC_TABLE} v{clause} "
            "ORDER BY (v.embedding <#> %s::vector) + 0, v.id LIMIT %s")


def selective_scan_sql(filters: Filters, chunks_table: str) -> tuple[str, list[object]]:
    """One statement for a type/pack filter: the filter's counts, whether they call for the
    exact scan (`PgVectorIndex.plan_for`'s rule, its two limits the next parameters) and,
    only then, the exact scan's rows (then the query vector and `fetch`). When the
    counts call for the walk, the scan's node is never executed ("One-Time Filter")."""
    counts, count_params = _counts_sql(filters)
    conds, params = conditions("v", chunks_table, filters)
    scan = exact_sql(conds, gate="counts.exact")
    sql = (f"WITH counts AS MATERIALIZED (SELECT s.kept, s.total, "
           f"(s.kept <= %s OR s.kept < %s * s.total) AS exact FROM ({counts}) s) "
           f"SELECT counts.kept, counts.total, counts.exact, x.id, x.embedding "
           f"FROM counts LEFT JOIN LATERAL ({scan}) x ON true")
    return sql, [*count_params, *params]


def walk_sql(conds: Sequence[str]) -> str:
    """The filtered walk: the graph's `ef_search` nearest rows (parameters: the query
    vector, ef_search), then the conditions on alias `w` (theirs), then `fetch`. The inner
    LIMIT keeps the planner from flattening the subquery, so the walk is the index scan."""
    return (f"SELECT w.id, w.embedding FROM (SELECT v.id, v.type, v.pack, v.embedding, "
            f"v.embedding <=> %s::vector AS distance FROM {VEC_TABLE} v ORDER BY distance "
            f"LIMIT %s) w WHERE {' AND '.join(conds)} ORDER BY w.distance, w.id LIMIT %s")


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
        ef = 0  # the walk's ef_search, once it walked
        if filters.entries is not None or filters.id_sql is not None:
            found = self.exact_scan(session, qtext, fetch, filters)
        elif filters.types or filters.packs:
            # One round trip when the filter is selective (the common case: one type).
            kept, total, exact, found = self.scan_if_selective(session, qtext, fetch, filters)
            if not exact:
                ef = self.plan_for(kept, total, k).ef_search
                found = self.walk(session, qtext, fetch, ef, filters)
        else:
            ef = self.plan_for(generation.total, generation.total, k).ef_search
            found = (self.walk(session, qtext, fetch, ef, filters) if ef
                     else self.exact_scan(session, qtext, fetch, filters))
        if ef and len(found) < k:  # too few of the walk's rows survived the filter
            found = self.exact_scan(session, qtext, fetch, filters)
        return rank([c.id for c in found], vectors_matrix(found, len(query)), query, k)

    def plan(self, session: Session, filters: Filters, generation: Generation,
             k: int) -> QueryPlan:
        """How a query runs: the graph walk's `ef_search`, or 0 for an exact scan."""
        if filters.entries is not None or filters.id_sql is not None:
            return QueryPlan(0, None, generation.total)  # no count tells an entry filter's size
        if not (filters.types or filters.packs):
            return self.plan_for(generation.total, generation.total, k)
        kept, total = kept_vectors(session, filters)
        return self.plan_for(kept, total, k)

    def plan_for(self, kept: int, total: int, k: int) -> QueryPlan:
        """The plan for a filter keeping `kept` of `total` vectors (the exact scan's rule is
        also `selective_scan_sql`'s, with the same two limits)."""
        fetch = k + MARGIN
        if kept <= self.exact_scan_max or kept < WALK_MIN_SHARE * total:
            return QueryPlan(0, kept, total)
        ef = max(self.ef_search, fetch)
        if kept < total:  # the filter must leave `fetch` of the walk's rows, with room
            ef = max(ef, math.ceil(OVERFETCH * fetch * total / kept))
        return QueryPlan(min(ef, EF_SEARCH_MAX), kept, total)

    def scan_if_selective(self, session: Session, qtext: str, fetch: int, filters: Filters
                          ) -> tuple[int, int, bool, list[Candidate]]:
        """(kept, total, whether the counts call for the exact scan, its rows if so), in
        one statement (see `selective_scan_sql`)."""
        sql, params = selective_scan_sql(filters, self.chunks_table)
        rows = _binary(session, sql, [self.exact_scan_max, WALK_MIN_SHARE, *params,
                                      qtext, fetch])
        kept, total, exact = int(rows[0][0]), int(rows[0][1]), bool(rows[0][2])
        return kept, total, exact, [Candidate(int(r[3]), r[4]) for r in rows
                                    if r[3] is not None]

    def walk(self, session: Session, qtext: str, fetch: int, ef_search: int,
             filters: Filters) -> list[Candidate]:
        """The HNSW walk keeping `ef_search` rows, filtered after: up to `fetch` rows."""
        conds, params = conditions("w", self.chunks_table, filters)
        session.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
        if not conds:
            sql = (f"SELECT id, embedding FROM {VEC_TABLE} ORDER BY embedding <=> %s::vector "
                   "LIMIT %s")
            return [Candidate(int(i), v) for i, v in _binary(session, sql, [qtext, fetch])]
        rows = _binary(session, walk_sql(conds), [qtext, ef_search, *params, fetch])
        return [Candidate(int(i), v) for i, v in rows]

    def exact_scan(self, session: Session, qtext: str, fetch: int,
                   filters: Filters) -> list[Candidate]:
        """The `fetch` nearest rows among the filtered rows, by true distance."""
        conds, params = conditions("v", self.chunks_table, filters)
        rows = _binary(session, exact_sql(conds), [*params, qtext, fetch])
        return [Candidate(int(i), v) for i, v in rows]


def _binary(session: Session, sql: str, params: Sequence[object]) -> list[Any]:
    """The rows of a statement, results in binary: a vector arrives as pgvector's binary
    format (`vectors_matrix` reads it), with no text to print and parse."""
    conn = cast("PostgresSession", session).connection
    return list(conn.execute(sql, params, binary=True).fetchall())
