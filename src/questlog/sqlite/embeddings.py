"""The embedding cache on SQLite: one `WITHOUT ROWID` table keyed by (model, text hash).

It is deliberately not a projector table: a rebuild drops and refills read
models, and the whole point of the cache is that a rebuild, a re-import or a
pack override that leaves a text unchanged never runs the model again. The
table is created on first store inside the writer's transaction
(`CREATE TABLE IF NOT EXISTS`); its rows are pure functions of their key, so
keeping them forever is safe and a second store of a key is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..storage.session import Session
from .schema import table_exists

CACHE_TABLE = "embedding_cache"
_IN_CHUNK = 500  # hashes per IN (...) list: well under SQLite's variable limit

CREATE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {CACHE_TABLE} ("
    "model_id TEXT NOT NULL, text_hash TEXT NOT NULL, dim INTEGER NOT NULL, "
    "vector BLOB NOT NULL, PRIMARY KEY (model_id, text_hash)) WITHOUT ROWID"
)
INSERT_SQL = (f"INSERT OR IGNORE INTO {CACHE_TABLE} (model_id, text_hash, dim, vector) "
              "VALUES (?, ?, ?, ?)")


class SQLiteEmbeddingCache:
    """`storage.embeddings.EmbeddingCache` on SQLite."""

    def lookup(self, session: Session, model_id: str,
               hashes: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(hashes))
        found: dict[str, bytes] = {}
        if not wanted or not table_exists(session, CACHE_TABLE):
            return found
        for start in range(0, len(wanted), _IN_CHUNK):
            part = wanted[start:start + _IN_CHUNK]
            marks = ", ".join("?" * len(part))
            for text_hash, blob in session.execute(
                    f"SELECT text_hash, vector FROM {CACHE_TABLE} WHERE model_id = ? "
                    f"AND text_hash IN ({marks})", (model_id, *part)):
                found[str(text_hash)] = bytes(blob)
        return found

    def store(self, session: Session, model_id: str, dim: int,
              rows: Sequence[tuple[str, bytes]]) -> None:
        session.execute(CREATE_SQL)
        session.executemany(INSERT_SQL, [(model_id, h, dim, blob) for h, blob in rows])
