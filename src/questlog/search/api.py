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
constraints of the KNN query and of the keyword match (the backend's vector and
keyword indexes, `questlog.search.indexes`); `where` (content filter columns,
one type) becomes the content helper's parameterized filter. User text only
ever reaches the database as a bound parameter.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ..caching import SEARCH, PositionLRU
from ..errors import QuestlogError, SearchIndexNotBuilt, VectorSearchUnavailable
from ..observability.metrics import SEARCH_SECONDS
from ..observability.operation import Operation
from ..storage.search_chunks import ChunkInfo
from ..storage.session import Session
from ..storage.vectors import EntryFilter, Filters, Generation
from . import indexes
from .backend import BackendChoice, choose_backend
from .embedder import Embedder, default_embedder
from .fusion import TUNED as TUNED_FUSION
from .fusion import Fusion
from .fusion import words as fusion_words
from .index import CHUNKS_TABLE, FTS_TABLE, STATE_TABLE, IndexState, read_state, sync_mirror

if TYPE_CHECKING:
    from ..store import Store
    from .building import BuildProgress, BuildReport

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "vector", "keyword")
MAX_K = 1000
NAME_WEIGHT = 4.0  # bm25 weight of the name column against the chunk text

# Entity -> (rank among the signal's entities, best chunk id, that chunk's score).
EntityRanks = dict[tuple[str, str], tuple[int, int, float]]

_keyword_pool: ThreadPoolExecutor | None = None
_keyword_pool_lock = threading.Lock()


def _keyword_worker() -> ThreadPoolExecutor:
    """One process-wide pool for the keyword half of hybrid queries, sized as Python sizes
    its default pools, so concurrent searches (HTTP's thread pool) do not queue behind
    each other (idle threads cost nothing; a pool per store would need closing with it)."""
    global _keyword_pool
    with _keyword_pool_lock:
        if _keyword_pool is None:
            _keyword_pool = ThreadPoolExecutor(thread_name_prefix="questlog-keyword")
        return _keyword_pool


def fetch_depth(k: int) -> int:
    """Chunks fetched per signal for a top-k search: several chunks can share an entity."""
    return 3 * k + 10


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


def _where_key(where: Mapping[str, Any] | None) -> str | None:
    """`where` as a hashable cache key (its canonical JSON)."""
    if not where or not isinstance(where, Mapping):
        return None if not where else repr(where)
    return json.dumps(where, sort_keys=True, default=repr)


class SearchAPI:
    """Search over the content index of one store (callable: `store.search(text, ...)`)."""

    def __init__(self, store: Store, embedder: Embedder | None = None) -> None:
        self.store = store
        self._embedder = embedder
        self._numpy = indexes.exact_index(CHUNKS_TABLE)
        self._vec0 = indexes.approximate_index(CHUNKS_TABLE, tune_reads=not store.read_only)
        self._keywords = indexes.keyword_index(FTS_TABLE, CHUNKS_TABLE)
        self._chunks = indexes.search_chunks(CHUNKS_TABLE, STATE_TABLE)
        self._lock = threading.Lock()
        # Answers keyed by the content and search-index checkpoints, query embeddings by
        # the model (questlog.caching): a repeated query is never recomputed, never stale.
        self._results: PositionLRU[list[SearchHit]] = PositionLRU(
            store.settings.read_cache_entries)
        self._embeddings: PositionLRU[Any] = PositionLRU(store.settings.read_cache_entries)
        self._fusion: Fusion = TUNED_FUSION  # how hybrid ranks (see fusion.py)

    @property
    def fusion(self) -> Fusion:
        """How hybrid ranks (see fusion.py); setting it forgets the answers ranked before."""
        return self._fusion

    @fusion.setter
    def fusion(self, fusion: Fusion) -> None:
        self._fusion = fusion
        self._results.clear()

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
        return choose_backend(self.store.settings, self.store.backend.name)

    def build(self, progress: BuildProgress | None = None) -> BuildReport:
        """Embed what the index is missing in committed batches, then catch it up."""
        from .building import build_missing

        return build_missing(self.store, progress=progress, embedder=self._embedder)

    def state(self) -> IndexState | None:
        with self.store.read() as conn:
            return read_state(conn)

    def _require_state(self, conn: Session) -> IndexState:
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
        backend = self.store.backend
        # A read node whose file is unchanged knows the token without a connection.
        token = SEARCH.known_token(backend.token_memo)
        if token is None:
            with self.store.read() as conn:
                token = SEARCH.first_token(backend.read_positions, backend.token_memo, conn)
        key = (query, type_t, pack_t, _where_key(where), k, mode)
        cached = self._results.get(token, key)
        if cached is not None:  # the filters were valid at this very token
            return [hit.model_copy(deep=True) for hit in cached]
        self.store.content.check_filters(type_t or (), pack_t or ())
        filters = Filters(types=type_t, packs=pack_t, entries=self._entry_filter(type_t, where))
        fetch = fetch_depth(k)

        # The text is the user's: its length is logged, never the text.
        params = {"mode": mode, "k": k, "types": type_t, "packs": pack_t,
                  "where": bool(where), "text_chars": len(query)}
        with Operation("search", self.store.settings.slow_ms, params,
                       SEARCH_SECONDS.labels(mode)):
            with self.store.read() as conn:
                state = self._require_state(conn)
            keyword: list[tuple[int, float]] = []
            vector: list[tuple[int, float]] = []
            if mode == "hybrid":
                # The keyword match runs while the query is embedded: both wait outside the
                # GIL (the database, ONNX Runtime), so a hybrid query costs about the
                # longer of the two, not their sum (on PostgreSQL, ~10 ms of ranking).
                pending: Future[list[tuple[int, float]]] = _keyword_worker().submit(
                    contextvars.copy_context().run,  # its log lines keep the request's ids
                    self._keyword, query, filters, fetch)
                try:
                    vector = self._vector(query, filters, fetch, state)
                except BaseException:
                    wait([pending])   # no read left running after this call has ended
                    raise
                keyword = pending.result()
            elif mode == "keyword":
                keyword = self._keyword(query, filters, fetch)
            else:
                vector = self._vector(query, filters, fetch, state)
            hits = self._fuse(vector, keyword, k, mode, query)
        self._results.put(token, key, [hit.model_copy(deep=True) for hit in hits])
        return hits

    def _entry_filter(self, types: tuple[str, ...] | None,
                      where: Mapping[str, Any] | None) -> EntryFilter | None:
        if not where:
            return None
        if types is None or len(types) != 1:
            raise InvalidSearchQuery("`where` filters need exactly one content type "
                                     "(types=[...]) to know which columns apply")
        if not isinstance(where, Mapping):
            raise InvalidSearchQuery(f"`where` must be a mapping, got {type(where).__name__}")
        sub, params = self.store.content.filter_sql(types[0], where)
        return EntryFilter(types[0], sub, tuple(params))

    def _keyword(self, text: str, filters: Filters, n: int) -> list[tuple[int, float]]:
        with self.store.read() as session:
            return self._keywords.match(session, text, n, filters, NAME_WEIGHT)

    def _vector(self, text: str, filters: Filters, n: int,
                state: IndexState) -> list[tuple[int, float]]:
        embedder = self.embedder
        if state.model_id and embedder.model_id != state.model_id:
            raise VectorSearchUnavailable(
                f"the index was built with {state.model_id!r} but queries would be embedded "
                f"with {embedder.model_id!r}; rebuild the index (`questlog projections "
                "rebuild search_index`)")
        query = self._embeddings.get_or_compute(
            f"model:{embedder.model_id}", text, lambda: embedder.embed([text])[0])
        choice = self.backend()
        if choice.active in ("sqlite-vec", "pgvector"):
            with self.store.read() as session:
                if self._vec0.in_sync(session, state.token):
                    return self._vec0.search(session, query, n, filters,
                                             Generation(state.token, state.total))
            if not self.store.read_only:
                self.store.write(sync_mirror)
                with self.store.read() as session:
                    current = read_state(session) or state
                    if self._vec0.in_sync(session, current.token):
                        return self._vec0.search(session, query, n, filters,
                                                 Generation(current.token, current.total))
            if self.store.settings.vector_backend == "sqlite-vec":
                raise VectorSearchUnavailable(
                    f"the {choice.active} index is behind the chunks and cannot be brought "
                    "in line (a read-only store, or a server without pgvector)")
        with self.store.read() as session:
            return self._numpy.search(session, query, n, filters,
                                      Generation(state.token, state.total))

    def candidates(self, text: str, k: int = 5) -> tuple[EntityRanks, EntityRanks,
                                                         dict[tuple[str, str], str]]:
        """What a hybrid top-k search of `text` fuses: each signal's entity ranks, and names.

        The fusion tuner (benchmarks/search.py) ranks exactly these, so the
        constants it picks are tuned for what the product fuses.
        """
        query = _clean_text(text)
        with self.store.read() as conn:
            state = self._require_state(conn)
        fetch, filters = fetch_depth(k), Filters()
        vector = self._vector(query, filters, fetch, state)
        keyword = self._keyword(query, filters, fetch)
        meta = self._describe(vector, keyword)
        vec_e, kw_e = _per_entity(vector, meta), _per_entity(keyword, meta)
        names = {key: meta[v[1]][2] for key, v in (kw_e | vec_e).items()}
        return vec_e, kw_e, names

    def _describe(self, vector: list[tuple[int, float]],
                  keyword: list[tuple[int, float]]) -> dict[int, ChunkInfo]:
        ids = sorted({cid for cid, _ in vector} | {cid for cid, _ in keyword})
        if not ids:
            return {}
        with self.store.read() as session:
            return self._chunks.describe(session, ids)

    def _fuse(self, vector: list[tuple[int, float]], keyword: list[tuple[int, float]], k: int,
              mode: str, query: str) -> list[SearchHit]:
        meta = self._describe(vector, keyword)
        if not meta:
            return []
        vec_e = _per_entity(vector, meta)
        kw_e = _per_entity(keyword, meta)
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


def _per_entity(ranked: list[tuple[int, float]], meta: Mapping[int, ChunkInfo]) -> EntityRanks:
    """Each entity's rank in a chunk list (its best chunk represents it)."""
    out: EntityRanks = {}
    for cid, score in ranked:
        m = meta.get(cid)
        if m is None:
            continue
        key = (m[0], m[1])
        if key not in out:
            out[key] = (len(out) + 1, cid, score)
    return out
