"""Which implementation of each search port a store uses (the one place they are built).

Search code gets its chunks, vector indexes, keyword index and embedding cache
from these functions only. Each returns an object that answers on any session
and hands every call to the implementation of the session's engine
(`Session.dialect`): SQLite (`questlog.sqlite`: FTS5, sqlite-vec, numpy) or
PostgreSQL (`questlog.postgres`: tsvector + GIN, pgvector, numpy), built on first
use, so one SearchAPI serves whichever backend its store is on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..storage.embeddings import EmbeddingCache
from ..storage.keywords import KeywordIndex, KeywordRow
from ..storage.search_chunks import ChunkInfo, ChunkRow, Key, SearchChunks, StoredChunk
from ..storage.session import Session
from ..storage.vectors import Filters, Generation, VectorIndex, VectorRow

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..sqlite.driver import VecStatus

P = TypeVar("P")


class _PerEngine(Generic[P]):
    """One implementation per engine, built on first use by its factory."""

    def __init__(self, factories: Mapping[str, Callable[[], P]]) -> None:
        self._factories = factories
        self._built: dict[str, P] = {}

    def of(self, session: Session) -> P:
        dialect = session.dialect
        impl = self._built.get(dialect)
        if impl is None:
            impl = self._built[dialect] = self._factories[dialect]()
        return impl


class _VectorIndex:
    """`VectorIndex` on any engine (`name` and `exact` are the SQLite one's; the
    PostgreSQL one is as exact)."""

    def __init__(self, name: str, exact: bool, impls: _PerEngine[VectorIndex]) -> None:
        self.name = name
        self.exact = exact
        self.impls = impls

    def upsert(self, session: Session, rows: Sequence[VectorRow]) -> None:
        self.impls.of(session).upsert(session, rows)

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        self.impls.of(session).delete(session, ids)

    def search(self, session: Session, query: npt.NDArray[np.float32], k: int,
               filters: Filters, generation: Generation) -> list[tuple[int, float]]:
        return self.impls.of(session).search(session, query, k, filters, generation)

    def in_sync(self, session: Session, token: str) -> bool:
        return self.impls.of(session).in_sync(session, token)

    def resync(self, session: Session, token: str, dim: int) -> int:
        return self.impls.of(session).resync(session, token, dim)

    def mark_synced(self, session: Session, token: str, dim: int) -> None:
        self.impls.of(session).mark_synced(session, token, dim)


class _KeywordIndex:
    def __init__(self, impls: _PerEngine[KeywordIndex]) -> None:
        self.impls = impls

    def upsert(self, session: Session, rows: Sequence[KeywordRow]) -> None:
        self.impls.of(session).upsert(session, rows)

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        self.impls.of(session).delete(session, ids)

    def match(self, session: Session, text: str, k: int, filters: Filters,
              name_weight: float) -> list[tuple[int, float]]:
        return self.impls.of(session).match(session, text, k, filters, name_weight)


class _EmbeddingCache:
    def __init__(self, impls: _PerEngine[EmbeddingCache]) -> None:
        self.impls = impls

    def lookup(self, session: Session, model_id: str,
               hashes: Iterable[str]) -> dict[str, bytes]:
        return self.impls.of(session).lookup(session, model_id, hashes)

    def store(self, session: Session, model_id: str, dim: int,
              rows: Sequence[tuple[str, bytes]]) -> None:
        self.impls.of(session).store(session, model_id, dim, rows)


class _SearchChunks:
    def __init__(self, impls: _PerEngine[SearchChunks]) -> None:
        self.impls = impls

    def state(self, session: Session) -> dict[str, str] | None:
        return self.impls.of(session).state(session)

    def write_state(self, session: Session, values: Mapping[str, str]) -> None:
        self.impls.of(session).write_state(session, values)

    def vector_count(self, session: Session) -> int:
        return self.impls.of(session).vector_count(session)

    def pack_keys(self, session: Session, pack: str) -> set[Key]:
        return self.impls.of(session).pack_keys(session, pack)

    def entries(self, session: Session, type_name: str,
                indexes: Sequence[str]) -> list[tuple[str, str, str]]:
        return self.impls.of(session).entries(session, type_name, indexes)

    def missing_texts(self, session: Session) -> dict[str, str]:
        return self.impls.of(session).missing_texts(session)

    def stored(self, session: Session, keys: Iterable[Key]) -> dict[int, StoredChunk]:
        return self.impls.of(session).stored(session, keys)

    def unembedded(self, session: Session) -> dict[int, str]:
        return self.impls.of(session).unembedded(session)

    def replace(self, session: Session, drop: Sequence[int], rows: Sequence[ChunkRow],
                vectors: Mapping[int, bytes]) -> None:
        self.impls.of(session).replace(session, drop, rows, vectors)

    def vector_rows(self, session: Session, ids: Sequence[int]) -> list[VectorRow]:
        return self.impls.of(session).vector_rows(session, ids)

    def describe(self, session: Session, ids: Sequence[int]) -> dict[int, ChunkInfo]:
        return self.impls.of(session).describe(session, ids)


# -- the builders -------------------------------------------------------------------------

def _sqlite_cache() -> EmbeddingCache:
    from ..sqlite.embeddings import SQLiteEmbeddingCache

    return SQLiteEmbeddingCache()


def _postgres_cache() -> EmbeddingCache:
    from ..postgres.embeddings import PostgresEmbeddingCache

    return PostgresEmbeddingCache()


@lru_cache(maxsize=1)
def embedding_cache() -> EmbeddingCache:
    return _EmbeddingCache(_PerEngine({"sqlite": _sqlite_cache, "postgresql": _postgres_cache}))


def search_chunks(chunks_table: str, state_table: str) -> SearchChunks:
    """The search index's chunks and state in these (live or rebuild shadow) tables."""
    return _chunks(chunks_table, state_table)


@lru_cache(maxsize=16)
def _chunks(chunks_table: str, state_table: str) -> SearchChunks:
    def sqlite() -> SearchChunks:
        from ..sqlite.search_chunks import SQLiteSearchChunks

        return SQLiteSearchChunks(chunks_table, state_table)

    def postgres() -> SearchChunks:
        from ..postgres.search_chunks import PostgresSearchChunks

        return PostgresSearchChunks(chunks_table, state_table)

    return _SearchChunks(_PerEngine({"sqlite": sqlite, "postgresql": postgres}))


def keyword_index(fts_table: str, chunks_table: str) -> KeywordIndex:
    """The keyword index over these (live or rebuild shadow) tables."""
    return _keywords(fts_table, chunks_table)


@lru_cache(maxsize=16)
def _keywords(fts_table: str, chunks_table: str) -> KeywordIndex:
    def sqlite() -> KeywordIndex:
        from ..sqlite.keywords import SQLiteKeywordIndex

        return SQLiteKeywordIndex(fts_table, chunks_table)

    def postgres() -> KeywordIndex:
        from ..postgres.keywords import PostgresKeywordIndex

        return PostgresKeywordIndex(fts_table, chunks_table)

    return _KeywordIndex(_PerEngine({"sqlite": sqlite, "postgresql": postgres}))


def approximate_index(chunks_table: str, *, tune_reads: bool = False) -> VectorIndex:
    """The accelerated index: sqlite-vec (for stores whose driver loads it) or pgvector."""
    def sqlite() -> VectorIndex:
        from ..sqlite.vectors import SQLiteVec0Index

        return SQLiteVec0Index(chunks_table, tune_reads=tune_reads)

    def postgres() -> VectorIndex:
        from ..postgres.vectors import PgVectorIndex

        return PgVectorIndex(chunks_table)

    return _VectorIndex("sqlite-vec", False,
                        _PerEngine({"sqlite": sqlite, "postgresql": postgres}))


def exact_index(chunks_table: str) -> VectorIndex:
    """The index that needs no extension (numpy brute force over the chunks)."""
    def sqlite() -> VectorIndex:
        from ..sqlite.vectors_numpy import SQLiteNumpyIndex

        return SQLiteNumpyIndex(chunks_table)

    def postgres() -> VectorIndex:
        from ..postgres.vectors_numpy import PostgresNumpyIndex

        return PostgresNumpyIndex(chunks_table)

    return _VectorIndex("numpy", True, _PerEngine({"sqlite": sqlite, "postgresql": postgres}))


def approximate_index_status() -> VecStatus:
    """Whether the accelerated index's extension (sqlite-vec) loads, and why not."""
    from ..sqlite.driver import vec_status

    return vec_status()


def approximate_index_layout() -> dict[str, Any]:
    """How the accelerated index lays out its vectors (what `questlog doctor` prints)."""
    from ..sqlite.vectors import LAYOUT

    return dict(LAYOUT)


def maintained_index(session: Session, chunks_table: str) -> VectorIndex | None:
    """The index the writer keeps beside the chunks on this session, if any: vec0 when
    sqlite-vec is loaded on it, pgvector when the server has it; the numpy index keeps
    nothing."""
    if session.dialect == "postgresql":
        from ..postgres.vectors import pgvector_available

        return _mirror(chunks_table) if pgvector_available(session) else None
    from ..sqlite.vectors import has_vec

    return _mirror(chunks_table) if has_vec(session) else None


@lru_cache(maxsize=8)
def _mirror(chunks_table: str) -> VectorIndex:
    return approximate_index(chunks_table)
