"""Which implementation of each search port a store uses (the one place they are built).

Until the backend exposes its search ports (`SQLiteBackend.vectors`, ...),
the SQLite implementations are built here; search code gets its chunks,
vector indexes, keyword index and embedding cache from these functions only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..storage.embeddings import EmbeddingCache
from ..storage.keywords import KeywordIndex
from ..storage.search_chunks import SearchChunks
from ..storage.session import Session
from ..storage.vectors import VectorIndex

if TYPE_CHECKING:
    from ..sqlite.driver import VecStatus


def embedding_cache() -> EmbeddingCache:
    from ..sqlite.embeddings import SQLiteEmbeddingCache

    return SQLiteEmbeddingCache()


def search_chunks(chunks_table: str, state_table: str) -> SearchChunks:
    """The search index's chunks and state in these (live or rebuild shadow) tables."""
    from ..sqlite.search_chunks import SQLiteSearchChunks

    return SQLiteSearchChunks(chunks_table, state_table)


def keyword_index(fts_table: str, chunks_table: str) -> KeywordIndex:
    """The keyword index over these (live or rebuild shadow) tables."""
    from ..sqlite.keywords import SQLiteKeywordIndex

    return SQLiteKeywordIndex(fts_table, chunks_table)


def approximate_index(chunks_table: str, *, tune_reads: bool = False) -> VectorIndex:
    """The accelerated index (sqlite-vec), for stores whose driver loads it."""
    from ..sqlite.vectors import SQLiteVec0Index

    return SQLiteVec0Index(chunks_table, tune_reads=tune_reads)


def exact_index(chunks_table: str) -> VectorIndex:
    """The index that needs no extension (numpy brute force)."""
    from ..sqlite.vectors_numpy import SQLiteNumpyIndex

    return SQLiteNumpyIndex(chunks_table)


def approximate_index_status() -> VecStatus:
    """Whether the accelerated index's extension (sqlite-vec) loads, and why not."""
    from ..sqlite.driver import vec_status

    return vec_status()


def approximate_index_layout() -> dict[str, Any]:
    """How the accelerated index lays out its vectors (what `questlog doctor` prints)."""
    from ..sqlite.vectors import LAYOUT

    return dict(LAYOUT)


def maintained_index(session: Session, chunks_table: str) -> VectorIndex | None:
    """The index the writer keeps beside the chunks on this session, if any (vec0 when
    sqlite-vec is loaded on it; the numpy index keeps nothing)."""
    from ..sqlite.vectors import has_vec

    return _vec0(chunks_table) if has_vec(session) else None


@lru_cache(maxsize=8)
def _vec0(chunks_table: str) -> VectorIndex:
    return approximate_index(chunks_table)
