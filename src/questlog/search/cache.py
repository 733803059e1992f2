"""The embedding cache: vectors by (model id, text hash), kept across rebuilds.

It is deliberately not a projector table: a rebuild drops and refills read
models, and the whole point of the cache is that a rebuild, a re-import or a
pack override that leaves a text unchanged never runs the model again (a
warm-cache rebuild does not even import torch). The table is created on first
use inside the writer's transaction (`CREATE TABLE IF NOT EXISTS`); its rows
are pure functions of their key, so keeping them forever is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from ..db import DBAPIConnection
from .embedder import Embedder

if TYPE_CHECKING:
    from ..store import Store

CACHE_TABLE = "embedding_cache"
_IN_CHUNK = 500

CREATE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {CACHE_TABLE} ("
    "model_id TEXT NOT NULL, text_hash TEXT NOT NULL, dim INTEGER NOT NULL, "
    "vector BLOB NOT NULL, PRIMARY KEY (model_id, text_hash)) WITHOUT ROWID"
)


def ensure_table(conn: DBAPIConnection) -> None:
    conn.execute(CREATE_SQL)


def cache_exists(conn: DBAPIConnection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (CACHE_TABLE,)).fetchone() is not None


def lookup(conn: DBAPIConnection, model_id: str, hashes: Iterable[str]) -> dict[str, bytes]:
    """Cached float32 blobs for the hashes that have one."""
    wanted = sorted(set(hashes))
    found: dict[str, bytes] = {}
    if not wanted or not cache_exists(conn):
        return found
    for start in range(0, len(wanted), _IN_CHUNK):
        part = wanted[start:start + _IN_CHUNK]
        marks = ", ".join("?" * len(part))
        for text_hash, blob in conn.execute(
                f"SELECT text_hash, vector FROM {CACHE_TABLE} WHERE model_id = ? "
                f"AND text_hash IN ({marks})", (model_id, *part)):
            found[str(text_hash)] = bytes(blob)
    return found


def store_vectors(conn: DBAPIConnection, model_id: str, dim: int,
                  rows: Sequence[tuple[str, bytes]]) -> None:
    ensure_table(conn)
    conn.executemany(
        f"INSERT OR IGNORE INTO {CACHE_TABLE} (model_id, text_hash, dim, vector) "
        "VALUES (?, ?, ?, ?)", [(model_id, h, dim, blob) for h, blob in rows])


def embed_missing(store: Store, embedder: Embedder, texts: dict[str, str],
                  batch: int = 256, *, persist: bool = True,
                  on_batch: Callable[[Sequence[str]], None] | None = None) -> dict[str, bytes]:
    """Vectors for every {hash: text}: cached ones read, missing ones computed and stored.

    Runs outside any transaction (reads are short; the model runs with no lock
    held; each computed batch is written through the writer queue), so it is
    what an async projector's `prepare` calls. The model is loaded only if
    something is missing. `persist=False` computes without caching (for callers
    already on the writer thread, which must not queue a write and wait for it).
    `on_batch(hashes)` runs after each computed batch is committed (progress).
    """
    with store.read() as conn:
        found = lookup(conn, embedder.model_id, texts)
    # Sorted by length so each batch pads little (what one big encode call does too).
    missing = sorted((h for h in texts if h not in found), key=lambda h: (len(texts[h]), h))
    model_id, dim = embedder.model_id, embedder.dim

    def save(rows: list[tuple[str, bytes]]) -> None:
        store.write(lambda conn: store_vectors(conn, model_id, dim, rows))

    for start in range(0, len(missing), batch):
        part = missing[start:start + batch]
        vectors = embedder.embed([texts[h] for h in part])
        rows = [(h, vectors[i].tobytes()) for i, h in enumerate(part)]
        if persist:
            save(rows)
        found.update(rows)
        if on_batch is not None:
            on_batch(part)
    return found
