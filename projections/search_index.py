"""The content search index: chunks, FTS5 keyword index and vectors of effective entries.

Async: embeddings are computed in `prepare`, outside any transaction (vectors
come from the embedding cache when the text was seen before, so a warm-cache
rebuild never loads the model), and `apply` writes the rows inside the
writer's transaction. The logic lives in questlog.search.index; this module
only wires it to the projection engine and imports nothing heavy.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from questlog.db import DBAPIConnection
from questlog.events import RecordedEvent
from questlog.projection.projector import ProjectionContext, Projector, Table
from questlog.search import index as search_index
from questlog.search.cache import embed_missing
from questlog.search.embedder import default_embedder

if TYPE_CHECKING:
    from questlog.store import Store


class SearchIndex(Projector):
    name = "search_index"
    version = 1
    mode = "async"
    categories = frozenset({"contentpack"})
    event_types = search_index.EVENT_TYPES
    tables = (
        Table(search_index.CHUNKS_TABLE, search_index.CHUNKS_COLUMNS,
              indexes=search_index.CHUNKS_INDEXES, digest_order="id",
              digest_exclude=("embedding",)),
        Table(search_index.FTS_TABLE, virtual=search_index.FTS_SPEC, digest=False),
        # Holds a fresh token per applied batch (it versions the vec0 mirror and the
        # numpy matrix), so it differs between a rebuild and incremental application.
        Table(search_index.STATE_TABLE, search_index.STATE_COLUMNS, digest=False),
    )

    def prepare(self, store: Store, events: Sequence[RecordedEvent]) -> Any:
        embedder = default_embedder()
        with store.read() as conn:
            keys = search_index.affected_keys(conn, events)
            effective = search_index.effective_chunks(conn, keys)
            texts = {c.text_hash: c.text for e in effective.values() for c in e.chunks}
            texts.update(search_index.missing_texts(conn))
        # The engine may call prepare on the writer thread itself (inside a rebuild's
        # swap); writing the cache from there would wait on ourselves.
        on_writer = threading.current_thread().name == "questlog-writer"
        return {"model_id": embedder.model_id, "dim": embedder.dim,
                "vectors": embed_missing(store, embedder, texts, persist=not on_writer)}

    def apply(self, ctx: ProjectionContext, events: Sequence[RecordedEvent]) -> None:
        prepared = ctx.prepared or {}
        embedder = default_embedder()
        model_id = str(prepared.get("model_id", embedder.model_id))
        dim = int(prepared.get("dim", embedder.dim))
        tables = search_index.Tables(
            chunks=ctx.table(search_index.CHUNKS_TABLE), fts=ctx.table(search_index.FTS_TABLE),
            state=ctx.table(search_index.STATE_TABLE))
        keys = search_index.affected_keys(ctx.conn, events, tables.chunks)
        search_index.apply_keys(ctx.conn, tables, keys, model_id, dim,
                                prepared.get("vectors", {}), rebuilding=ctx.rebuilding)

    def on_swap(self, conn: DBAPIConnection) -> None:
        # The vec0 mirror is not a projector table: refill it from the swapped-in chunks.
        search_index.sync_mirror(conn)
