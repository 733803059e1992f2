"""The numpy vector index: brute force over the chunks' vectors, read from SQLite.

It needs no extension: `search_chunks.embedding` (the projector table that is
the truth for every vector) is read into one matrix per index generation
(`Generation.token`), and queries are one matrix product, so it is exact. It
keeps nothing beside the chunks, so writes are no-ops and it is always in sync.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..search.vectors import MARGIN, blobs_to_matrix, rank
from ..storage.session import Session
from ..storage.vectors import Filters, Generation, VectorRow
from .search_filters import id_query

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class _Matrix:
    def __init__(self, ids: Any, types: Any, packs: Any, vectors: Any) -> None:
        self.ids = ids
        self.types = types
        self.packs = packs
        self.vectors = vectors
        self.by_id = {int(i): row for row, i in enumerate(ids)}


class SQLiteNumpyIndex:
    """`storage.vectors.VectorIndex`: exact KNN in numpy over the chunks table."""

    name = "numpy"
    exact = True
    # The engine's filter SQL (PostgreSQL's subclass swaps in its own dialect).
    id_query = staticmethod(id_query)

    def __init__(self, chunks_table: str) -> None:
        self.chunks_table = chunks_table
        self._lock = threading.Lock()
        self._token: str | None = None
        self._matrix: _Matrix | None = None

    def upsert(self, session: Session, rows: Sequence[VectorRow]) -> None:
        """Nothing to do: the vectors are read from the chunks table."""

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        """Nothing to do: the vectors are read from the chunks table."""

    def in_sync(self, session: Session, token: str) -> bool:
        return True

    def resync(self, session: Session, token: str, dim: int) -> int:
        count = session.execute(
            f"SELECT COUNT(*) FROM {self.chunks_table} WHERE embedding IS NOT NULL").fetchone()
        return int(count[0])

    def mark_synced(self, session: Session, token: str, dim: int) -> None:
        """Nothing to do: the matrix is keyed by the token of each query."""

    def load(self, session: Session, token: str, dim: int) -> _Matrix:
        import numpy as np

        with self._lock:
            if self._matrix is not None and self._token == token:
                return self._matrix
            rows = session.execute(f"SELECT id, type, pack, embedding FROM {self.chunks_table} "
                                   "WHERE embedding IS NOT NULL ORDER BY id").fetchall()
            matrix = _Matrix(
                np.array([r[0] for r in rows], dtype=np.int64),
                np.array([r[1] for r in rows], dtype=object),
                np.array([r[2] for r in rows], dtype=object),
                blobs_to_matrix([r[3] for r in rows], dim),
            )
            self._matrix, self._token = matrix, token
            return matrix

    def search(self, session: Session, query: npt.NDArray[np.float32], k: int,
               filters: Filters, generation: Generation) -> list[tuple[int, float]]:
        import numpy as np

        m = self.load(session, generation.token, len(query))
        ids_sql = self.id_query(self.chunks_table, filters)
        if ids_sql is not None:
            wanted = [m.by_id[int(r[0])] for r in session.execute(ids_sql[0], ids_sql[1])
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
        fetch = min(len(ids), k + MARGIN)
        top = (np.argpartition(-scores, fetch - 1)[:fetch] if fetch < len(ids)
               else np.arange(len(ids)))
        return rank([int(i) for i in ids[top]], sub[top], query, k)
