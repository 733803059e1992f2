"""`store.search`: semantic, keyword and hybrid search over the content index.

    hits = store.search("a cantrip that deals cold damage", types=["spells"], k=5)
    hits = store.search.search("undead that drain life", mode="vector", packs=["srd"])
    hits = store.search("fire", types=["spells"], where={"level": {"<=": 3}})

Hits are per entity (the best chunk of each entry represents it), ranked by:

* `vector`: cosine similarity of the query's embedding to the chunks';
* `keyword`: FTS5 bm25 over the same chunks (name weighted above the text);
* `hybrid` (default): weighted reciprocal rank fusion of both lists with
  per-type priors and a name-match bonus (`fusion.py`, tuned on half of the
  labelled queries), so an entity found by both signals ranks above one found by either.

Every filter is part of the query that ranks: content types and packs are
constraints of the KNN query (vec0 partition key / metadata column) and of the
FTS query; `where` (content filter columns, one type) becomes a parameterized
sub-select from the content helper. User text only ever reaches SQLite as a
bound parameter.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ..errors import QuestlogError, SearchIndexNotBuilt, VectorSearchUnavailable
from . import fts, vectors
from .backend import BackendChoice, choose_backend
from .embedder import Embedder, default_embedder
from .fusion import TUNED as TUNED_FUSION
from .fusion import Fusion
from .fusion import words as fusion_words
from .index import CHUNKS_TABLE, FTS_TABLE, IndexState, read_state, sync_mirror

if TYPE_CHECKING:
    from ..db import DBAPIConnection
    from ..store import Store
    from .building import BuildProgress, BuildReport

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "vector", "keyword")
MAX_K = 1000
NAME_WEIGHT = 4.0  # bm25 weight of the name column against the chunk text


def conn_errors(conn: DBAPIConnection) -> type[Exception]:
    """The driver's OperationalError (pysqlite3 or sqlite3, whichever the store uses)."""
    import importlib

    module = importlib.import_module(type(conn).__module__)
    error: type[Exception] = getattr(module, "OperationalError", Exception)
    return error


class InvalidSearchQuery(QuestlogError):
    """A search call with an unusable argument (empty text, bad k, unknown mode...)."""


class SearchHit(BaseModel):
    """One entity found by a search, represented by its best chunk."""

    type: str
    index: str
    name: str
    pack: str
    chunk_no: int
    text: str = Field(description="The text of the chunk that matched.")
    score: float = Field(description="RRF score (hybrid), cosine similarity (vector), "
                                     "or -bm25 (keyword); higher is better.")
    signals: list[str] = Field(description="Which signals found it: vector, keyword.")
    vector_rank: int | None = None
    keyword_rank: int | None = None
    vector_score: float | None = None
    keyword_score: float | None = None


def _as_tuple(value: str | Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in items):
        raise InvalidSearchQuery(f"{what} must be strings, got {items!r}")
    return tuple(dict.fromkeys(items)) or None


def _clean_text(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidSearchQuery(f"search text must be a string, got {type(text).__name__}")
    # Lone surrogates cannot be encoded for SQLite; NUL ends C strings in FTS5.
    cleaned = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")
    if not cleaned.strip():
        raise InvalidSearchQuery("search text is empty")
    return cleaned


class SearchAPI:
    """Search over the content index of one store (callable: `store.search(text, ...)`)."""

    def __init__(self, store: Store, embedder: Embedder | None = None) -> None:
        self.store = store
        self._embedder = embedder
        self._numpy = vectors.NumpyBackend()
        self._vec0 = vectors.Vec0Backend()
        self._lock = threading.Lock()
        self.fusion: Fusion = TUNED_FUSION  # how hybrid ranks (see fusion.py)

    @property
    def embedder(self) -> Embedder:
        return self._embedder or default_embedder()

    def __call__(self, text: str, types: str | Sequence[str] | None = None,
                 packs: str | Sequence[str] | None = None,
                 where: Mapping[str, Any] | None = None, k: int = 10,
                 mode: Mode = "hybrid") -> list[SearchHit]:
        return self.search(text, types=types, packs=packs, where=where, k=k, mode=mode)

    # -- status ----------------------------------------------------------------------------

    def backend(self) -> BackendChoice:
        """Which vector backend queries use now, and why."""
        return choose_backend(self.store.settings)

    def build(self, progress: BuildProgress | None = None) -> BuildReport:
        """Embed what the index is missing in committed batches, then catch it up."""
        from .building import build_missing

        return build_missing(self.store, progress=progress, embedder=self._embedder)

    def state(self) -> IndexState | None:
        with self.store.read() as conn:
            return read_state(conn)

    def _require_state(self, conn: DBAPIConnection) -> IndexState:
        state = read_state(conn)
        if state is None:
            raise SearchIndexNotBuilt(
                f"the search index of {self.store.path} has not been built yet: import content "
                "(`questlog content import`), then search with `questlog search` (it builds "
                "what is missing) or call `store.search.build()`")
        return state

    # -- searching -------------------------------------------------------------------------

    def search(self, text: str, types: str | Sequence[str] | None = None,
               packs: str | Sequence[str] | None = None,
               where: Mapping[str, Any] | None = None, k: int = 10,
               mode: Mode = "hybrid") -> list[SearchHit]:
        """Top-k entities for `text` (see the module docstring for the modes)."""
        query = _clean_text(text)
        if mode not in MODES:
            raise InvalidSearchQuery(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidSearchQuery(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        type_t = _as_tuple(types, "types")
        pack_t = _as_tuple(packs, "packs")
        filters = vectors.Filters(types=type_t, packs=pack_t,
                                  id_sql=self._where_sql(type_t, pack_t, where))
        fetch = 3 * k + 10  # chunks per signal: several chunks can belong to one entity

        with self.store.read() as conn:
            state = self._require_state(conn)
        keyword: list[tuple[int, float]] = []
        vector: list[tuple[int, float]] = []
        if mode in ("hybrid", "keyword"):
            keyword = self._keyword(query, filters, fetch)
        if mode in ("hybrid", "vector"):
            vector = self._vector(query, filters, fetch, state)
        return self._fuse(vector, keyword, k, mode, query)

    def _where_sql(self, types: tuple[str, ...] | None, packs: tuple[str, ...] | None,
                   where: Mapping[str, Any] | None) -> tuple[str, list[object]] | None:
        if not where:
            return None
        if types is None or len(types) != 1:
            raise InvalidSearchQuery("`where` filters need exactly one content type "
                                     "(types=[...]) to know which columns apply")
        if not isinstance(where, Mapping):
            raise InvalidSearchQuery(f"`where` must be a mapping, got {type(where).__name__}")
        sub, params = self.store.content.filter_sql(types[0], where)
        sql = f"SELECT id FROM {CHUNKS_TABLE} WHERE type = ? AND idx IN ({sub})"
        all_params: list[object] = [types[0], *params]
        if packs:
            sql += f" AND pack IN ({', '.join('?' * len(packs))})"
            all_params += list(packs)
        return sql, all_params

    def _keyword(self, text: str, filters: vectors.Filters, n: int) -> list[tuple[int, float]]:
        conds: list[str] = []
        params: list[object] = []
        if filters.id_sql is not None:
            conds.append(f"c.id IN ({filters.id_sql[0]})")
            params += filters.id_sql[1]
        else:
            if filters.types:
                conds.append(f"c.type IN ({', '.join('?' * len(filters.types))})")
                params += list(filters.types)
            if filters.packs:
                conds.append(f"c.pack IN ({', '.join('?' * len(filters.packs))})")
                params += list(filters.packs)
        extra = "".join(f" AND {c}" for c in conds)
        sql = (f"SELECT c.id, bm25({FTS_TABLE}, ?, 1.0) AS s FROM {FTS_TABLE} "
               f"JOIN {CHUNKS_TABLE} c ON c.id = {FTS_TABLE}.rowid "
               f"WHERE {FTS_TABLE} MATCH ?{extra} ORDER BY s, c.id LIMIT ?")
        candidates = fts.candidate_queries(text)
        rows: list[tuple[int, float]] = []
        with self.store.read() as conn:
            for i, candidate in enumerate(candidates):
                last = i == len(candidates) - 1
                try:
                    got = conn.execute(sql, [NAME_WEIGHT, candidate, *params, n]).fetchall()
                except conn_errors(conn) as exc:
                    # The SQL is fixed, so an error here is the user's FTS5 syntax
                    # (unterminated string, unknown column filter, ...): fall back to
                    # the plain-words form, which is always valid.
                    if last and fts.plain_query(text) == candidate:
                        raise VectorSearchUnavailable(f"keyword search failed: {exc}") from exc
                    continue  # no words at all (e.g. a lone quote): no keyword hits
                rows = [(int(cid), -float(s)) for cid, s in got]
                if rows or last:
                    break
        return rows

    def _vector(self, text: str, filters: vectors.Filters, n: int,
                state: IndexState) -> list[tuple[int, float]]:
        embedder = self.embedder
        if state.model_id and embedder.model_id != state.model_id:
            raise VectorSearchUnavailable(
                f"the index was built with {state.model_id!r} but queries would be embedded "
                f"with {embedder.model_id!r}; rebuild the index (`questlog projections "
                "rebuild search_index`)")
        query = embedder.embed([text])[0]
        choice = self.backend()
        if choice.active == "sqlite-vec":
            with self.store.read() as conn:
                in_sync = vectors.mirror_token(conn) == state.token
                if in_sync:
                    if not self.store.read_only:
                        vectors.tune_for_knn(conn)
                    return self._vec0.search(conn, query, n, filters, state.total)
            if not self.store.read_only:
                self.store.write(sync_mirror)
                with self.store.read() as conn:
                    current = read_state(conn) or state
                    if vectors.mirror_token(conn) == current.token:
                        return self._vec0.search(conn, query, n, filters, current.total)
            if self.store.settings.vector_backend == "sqlite-vec":
                raise VectorSearchUnavailable(
                    "the sqlite-vec index is behind the chunks and this store is read-only")
        with self.store.read() as conn:
            return self._numpy.search(conn, query, n, filters, state.token)

    def _fuse(self, vector: list[tuple[int, float]], keyword: list[tuple[int, float]], k: int,
              mode: str, query: str) -> list[SearchHit]:
        ids = sorted({cid for cid, _ in vector} | {cid for cid, _ in keyword})
        if not ids:
            return []
        meta: dict[int, tuple[str, str, str, str, int, str]] = {}
        with self.store.read() as conn:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                marks = ", ".join("?" * len(part))
                for row in conn.execute(
                        f"SELECT id, type, idx, name, pack, chunk_no, text FROM {CHUNKS_TABLE} "
                        f"WHERE id IN ({marks})", part):
                    meta[int(row[0])] = (str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                                         int(row[5]), str(row[6]))

        def per_entity(ranked: list[tuple[int, float]]) -> dict[tuple[str, str], tuple[int, int, float]]:
            out: dict[tuple[str, str], tuple[int, int, float]] = {}
            for cid, score in ranked:
                m = meta.get(cid)
                if m is None:
                    continue
                key = (m[0], m[1])
                if key not in out:
                    out[key] = (len(out) + 1, cid, score)
            return out

        vec_e = per_entity(vector)
        kw_e = per_entity(keyword)
        query_words = fusion_words(query)
        scored: list[tuple[float, tuple[str, str]]] = []
        for key in set(vec_e) | set(kw_e):
            if mode == "vector":
                score = vec_e[key][2]
            elif mode == "keyword":
                score = kw_e[key][2]
            else:
                v, kw = vec_e.get(key), kw_e.get(key)
                score = self.fusion.score(query_words, key[0], meta[(v or kw)[1]][2],  # type: ignore[index]
                                          v[0] if v else None, kw[0] if kw else None)
            scored.append((score, key))
        scored.sort(key=lambda item: (-item[0], item[1]))
        hits: list[SearchHit] = []
        for score, key in scored[:k]:
            v, kw = vec_e.get(key), kw_e.get(key)
            best = v if v is not None and (kw is None or v[0] <= kw[0]) else kw
            assert best is not None
            type_name, idx, name, pack, chunk_no, chunk_text = meta[best[1]]
            hits.append(SearchHit(
                type=type_name, index=idx, name=name, pack=pack, chunk_no=chunk_no,
                text=chunk_text, score=score,
                signals=[s for s, r in (("vector", v), ("keyword", kw)) if r is not None],
                vector_rank=v[0] if v else None, keyword_rank=kw[0] if kw else None,
                vector_score=v[2] if v else None,
                keyword_score=kw[2] if kw else None))
        return hits
