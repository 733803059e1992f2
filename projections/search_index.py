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

import sqlalchemy as sa

from questlog.events import RecordedEvent
from questlog.projection.projector import ProjectionContext, Projector
from questlog.search import index as search_index
from questlog.search.cache import embed_missing
from questlog.search.embedder import default_embedder
from questlog.storage.readmodels import declare, integer, text
from questlog.storage.session import Session

if TYPE_CHECKING:
    from questlog.projection.host import ProjectionHost

CHUNKS = declare(
    search_index.CHUNKS_TABLE,
    integer("id", primary_key=True), text("type"), text("idx"), integer("chunk_no"),
    text("pack"), text("name"), text("text"), text("text_hash"),
    sa.Column("embedding", sa.LargeBinary), sa.UniqueConstraint("type", "idx", "chunk_no"),
    indexes=search_index.CHUNKS_INDEXES, digest_order=("id",), digest_exclude=("embedding",))
# The keyword index is engine-specific (SQLite: an FTS5 table keyed by rowid, which
# ignores these columns; PostgreSQL: this table plus a tsvector, keyed by `id`).
FTS = declare(search_index.FTS_TABLE, integer("id", primary_key=True), text("name"), text("text"),
              virtual=search_index.FTS_SPEC, digest=False)
# Holds a fresh token per applied batch (it versions the vec0 mirror and the numpy
# matrix), so it differs between a rebuild and incremental application.
STATE = declare(search_index.STATE_TABLE, text("key", primary_key=True), text("value"),
                digest=False)


class SearchIndex(Projector):
    name = "search_index"
    version = 1
    mode = "async"
    categories = frozenset({"contentpack"})
    event_types = search_index.EVENT_TYPES
    tables = (CHUNKS, FTS, STATE)

    def prepare(self, store: ProjectionHost, events: Sequence[RecordedEvent]) -> Any:
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
            chunks=ctx.table(CHUNKS.name).name, fts=ctx.table(FTS.name).name,
            state=ctx.table(STATE.name).name)
        keys = search_index.affected_keys(ctx.conn, events, tables.chunks)
        search_index.apply_keys(ctx.conn, tables, keys, model_id, dim,
                                prepared.get("vectors", {}), rebuilding=ctx.rebuilding)

    def on_swap(self, conn: Session) -> None:
        # The vec0 mirror is not a projector table: refill it from the swapped-in chunks.
        search_index.sync_mirror(conn)
