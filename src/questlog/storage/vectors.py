"""The vector index port: KNN over the search chunks' embeddings, with filters.

A vector index answers "the k chunks nearest to this query vector", restricted
by content type, pack and/or an entry filter, and is told about every chunk
whose vector is written or removed. Vectors are float32, normalized, compared
by cosine similarity; ids are the chunk ids of the search index.

Implementations say how exact they are (`exact`): an exact index returns the
same ids in the same order as numpy brute force (ties by id); an approximate
one (a quantized scan, an HNSW graph) promises a recall instead. Every
implementation ends in the same re-scoring of its candidates
(`questlog.search.vectors.rank`), so results that contain the same candidates
are identical, scores included. SQLite: `questlog.sqlite.vectors` (vec0) and
`questlog.sqlite.vectors_numpy`; PostgreSQL (next): pgvector HNSW on the chunks
table, exact where the filter is selective.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from .session import Session

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class EntryFilter:
    """Entries of one content type chosen by a content filter (`where`).

    `query` and `params` select the matching entry indexes (`idx`) in the
    engine's own dialect: they come from the content helper's filter
    (`ContentAPI.filter_sql`), never from user text.
    """

    type: str
    query: str
    params: tuple[object, ...]


@dataclass(frozen=True)
class Filters:
    """What a KNN or keyword query is restricted to (None: no restriction).

    `id_sql` restricts to the chunk ids a query in the engine's dialect
    selects; indexes build it from `entries` (`chunk_id_query`), and tests may
    give one directly.
    """

    types: tuple[str, ...] | None = None
    packs: tuple[str, ...] | None = None
    id_sql: tuple[str, list[object]] | None = None
    entries: EntryFilter | None = None


class VectorRow(NamedTuple):
    """One chunk's vector as the index stores it."""

    id: int
    type: str
    pack: str
    vector: bytes  # float32, little-endian, `dim` values


@dataclass(frozen=True)
class Generation:
    """Which state of the chunks a query runs against.

    `token` changes with every write to the chunks (an in-memory copy keyed by
    it is current while it matches); `total` is how many chunks have a vector
    (an index may scan small sets exactly).
    """

    token: str
    total: int


class VectorIndex(Protocol):
    name: str      # what `questlog doctor` shows: "sqlite-vec", "numpy", "pgvector"
    exact: bool    # True: unfiltered KNN equals brute force; False: a recall target

    def upsert(self, session: Session, rows: Sequence[VectorRow]) -> None:
        """Insert or replace the vectors of these chunk ids."""
        ...

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        """Forget these chunk ids (unknown ids are ignored)."""
        ...

    def search(self, session: Session, query: npt.NDArray[np.float32], k: int,
               filters: Filters, generation: Generation) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the k best, best first, ties by id."""
        ...

    def in_sync(self, session: Session, token: str) -> bool:
        """Whether the index reflects the chunks of generation `token` (an index kept
        beside the chunks can fall behind them; one on the chunks table never does)."""
        ...

    def resync(self, session: Session, token: str, dim: int) -> int:
        """Refill the index from the chunks (in a write session); the number of vectors."""
        ...

    def mark_synced(self, session: Session, token: str, dim: int) -> None:
        """Record that the index reflects generation `token` (after upserts and deletes
        that followed the chunks' changes in the same transaction)."""
        ...
