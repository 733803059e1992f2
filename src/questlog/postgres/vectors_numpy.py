"""The numpy vector index on PostgreSQL: brute force over `search_chunks.embedding`.

For a server without pgvector. The SQLite numpy index's statements are plain
SQL both engines read; only its filter subqueries are in the engine's dialect.
"""

from __future__ import annotations

from ..sqlite.vectors_numpy import SQLiteNumpyIndex
from .search_filters import id_query


class PostgresNumpyIndex(SQLiteNumpyIndex):
    """`storage.vectors.VectorIndex`: exact KNN in numpy over the chunks table."""

    id_query = staticmethod(id_query)
