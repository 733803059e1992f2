"""The embedding cache on PostgreSQL: the `embedding_cache` table of the store's schema
(`schema.py`), keyed by (model, text hash); a second store of a key is ignored
(`ON CONFLICT DO NOTHING`), since its rows are pure functions of their key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..storage.session import Session

CACHE_TABLE = "embedding_cache"


class PostgresEmbeddingCache:
    """`storage.embeddings.EmbeddingCache` on PostgreSQL."""

    def lookup(self, session: Session, model_id: str,
               hashes: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(hashes))
        if not wanted:
            return {}
        # One statement for any number of hashes: the list is one array parameter.
        return {str(h): bytes(blob) for h, blob in session.execute(
            f"SELECT text_hash, vector FROM {CACHE_TABLE} WHERE model_id = %s "
            "AND text_hash = ANY(%s)", (model_id, wanted))}

    def store(self, session: Session, model_id: str, dim: int,
              rows: Sequence[tuple[str, bytes]]) -> None:
        session.executemany(
            f"INSERT INTO {CACHE_TABLE} (model_id, text_hash, dim, vector) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (model_id, text_hash) DO NOTHING",
            [(model_id, h, dim, blob) for h, blob in rows])
