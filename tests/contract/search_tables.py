"""The search index's tables as the contract tests write them (loaded as `contract_search`).

The search index projector creates its tables; the tests write chunk rows
with SQLAlchemy Core statements (compiled for each dialect) and tell the
backend's indexes about them through the ports, as the projector does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from questlog.projections.search_index import SearchIndex

from questlog import Store
from questlog.search.index import CHUNKS_TABLE, FTS_TABLE

__all__ = ["CHUNKS_TABLE", "FTS_TABLE", "chunk_rows", "delete_chunks", "open_search_store",
           "set_vectors", "write_chunks"]

chunks = sa.table(CHUNKS_TABLE, *(sa.column(c) for c in (
    "id", "type", "idx", "chunk_no", "pack", "name", "text", "text_hash", "embedding")))
INSERT = chunks.insert()
DELETE = chunks.delete().where(chunks.c.id == sa.bindparam("cid"))
SET_VECTOR = (chunks.update().where(chunks.c.id == sa.bindparam("cid"))
              .values(embedding=sa.bindparam("vec")))


def open_search_store(backend: Any) -> Store:
    """A store on the backend under test with the search index's tables created."""
    store: Store = backend.open_store(projectors=[SearchIndex()])
    store.projections.register()
    return store


def chunk_rows(ids: Sequence[int], types: Sequence[str], packs: Sequence[str],
               vectors: Sequence[bytes | None], names: Sequence[str] | None = None,
               texts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    return [{"id": cid, "type": types[i], "idx": f"e{cid}", "chunk_no": 0, "pack": packs[i],
             "name": names[i] if names else "", "text": texts[i] if texts else "",
             "text_hash": f"h{cid}", "embedding": vectors[i]}
            for i, cid in enumerate(ids)]


def write_chunks(session: Any, rows: list[dict[str, Any]]) -> None:
    session.executemany(INSERT, rows)


def delete_chunks(session: Any, ids: Sequence[int]) -> None:
    session.executemany(DELETE, [{"cid": i} for i in ids])


def set_vectors(session: Any, vectors: dict[int, bytes]) -> None:
    session.executemany(SET_VECTOR, [{"cid": i, "vec": v} for i, v in vectors.items()])
