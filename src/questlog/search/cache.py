"""The embedding cache: vectors by (model id, text hash), kept across rebuilds.

It is deliberately not a projector table: a rebuild drops and refills read
models, and the whole point of the cache is that a rebuild, a re-import or a
pack override that leaves a text unchanged never runs the model again (a
warm-cache rebuild does not even import torch). Its rows are pure functions of
their key, so keeping them forever is safe. Where they are kept is the
backend's `EmbeddingCache` port (`questlog.storage.embeddings`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..observability.metrics import record_embedding_lookups
from .embedder import Embedder
from .indexes import embedding_cache

if TYPE_CHECKING:
    from ..projection.host import ProjectionHost
    from ..store import Store


def embed_missing(store: ProjectionHost, embedder: Embedder, texts: dict[str, str],
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
    cache = embedding_cache()
    with store.read() as session:
        found = cache.lookup(session, embedder.model_id, texts)
    # Sorted by length so each batch pads little (what one big encode call does too).
    missing = sorted((h for h in texts if h not in found), key=lambda h: (len(texts[h]), h))
    record_embedding_lookups(hits=len(found), misses=len(missing))
    model_id, dim = embedder.model_id, embedder.dim

    def save(rows: list[tuple[str, bytes]]) -> None:
        store.write(lambda session: cache.store(session, model_id, dim, rows))

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


def copy_vectors(source: Store, target: Store, batch: int = 1000) -> int:
    """Copy the vectors `source`'s cache holds for its search chunks' texts (for the
    embedder in use) into `target`'s cache (`questlog copy`): catching up the target's
    search index then embeds nothing the source had embedded. Returns how many."""
    import sqlalchemy as sa

    from ..storage.session import Session
    from .embedder import default_embedder
    from .index import CHUNKS_TABLE

    chunks = next((t for p in source.projections.projectors for t in p.tables
                   if t.name == CHUNKS_TABLE), None)
    if chunks is None:
        return 0
    cache = embedding_cache()
    embedder = default_embedder()  # its model id only: nothing loads
    with source.read() as session:
        if not source.readmodels.exists(session, chunks.name):
            return 0
        hashes = sorted({str(h) for (h,) in session.execute(
            sa.select(chunks.c.text_hash).distinct())})
    copied = 0
    for start in range(0, len(hashes), batch):
        with source.read() as session:
            found = cache.lookup(session, embedder.model_id, hashes[start:start + batch])
        rows = sorted(found.items())

        def keep(session: Session, rows: list[tuple[str, bytes]] = rows) -> None:
            cache.store(session, embedder.model_id, embedder.dim, rows)

        if rows:
            target.write(keep)
            copied += len(rows)
    return copied
