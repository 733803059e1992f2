"""The search index read model: chunks, their FTS5 index, their vectors, and its state.

The index projector (projections/search_index.py) is a thin shell over this
module. For every batch of content events it finds the affected (type, index)
keys, looks up the CURRENT effective entry of each in the content read model
(`content_entities`: one row per key, the winning pack's entry), and makes the
key's chunks match it: unchanged chunks stay, changed ones are replaced,
chunks of entries that are no longer effective anywhere disappear. Reading
the current effective entry (rather than the event's payload) is what makes
pack overrides and removals come out right, in any order of events.

Chunk ids are a hash of (type, index, chunk number), so incremental
application and a rebuild from the log produce identical rows.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ProjectorCannotRun, VectorSearchUnavailable
from ..events import RecordedEvent
from ..storage.keywords import KeywordRow
from ..storage.search_chunks import ChunkRow, Key
from ..storage.session import Session
from . import indexes
from .texts import Chunk, entry_chunks, entry_name

CHUNKS_TABLE = "search_chunks"
FTS_TABLE = "search_fts"
STATE_TABLE = "search_state"

CHUNKS_COLUMNS = (
    "id INTEGER PRIMARY KEY, type TEXT NOT NULL, idx TEXT NOT NULL, chunk_no INTEGER NOT NULL, "
    "pack TEXT NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL, "
    "embedding BLOB, UNIQUE (type, idx, chunk_no)"
)
CHUNKS_INDEXES: tuple[tuple[str, ...], ...] = (("type", "pack"), ("pack",))
FTS_SPEC = "fts5(name, text, tokenize = 'porter unicode61 remove_diacritics 2')"
STATE_COLUMNS = "key TEXT PRIMARY KEY, value TEXT NOT NULL"

EVENT_TYPES = frozenset({"ContentEntityUpserted", "ContentEntityRemoved",
                         "ContentPackRegistered", "ContentPackRemoved"})


def chunk_id(type_name: str, index: str, chunk_no: int) -> int:
    digest = hashlib.sha256(f"{type_name}\x00{index}\x00{chunk_no}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # positive 63-bit rowid


@dataclass(frozen=True)
class IndexState:
    token: str
    model_id: str
    dim: int
    total: int


def read_state(conn: Session, state_table: str = STATE_TABLE) -> IndexState | None:
    """None when the index has never been written."""
    values = indexes.search_chunks(CHUNKS_TABLE, state_table).state(conn)
    if values is None or "token" not in values:
        return None
    return IndexState(values["token"], values.get("model_id", ""),
                      int(values.get("dim", 0)), int(values.get("total", 0)))


# -- which keys an event batch touches ----------------------------------------------------

def affected_keys(conn: Session, events: Sequence[RecordedEvent],
                  chunks_table: str = CHUNKS_TABLE) -> set[Key]:
    keys: set[Key] = set()
    packs: set[str] = set()
    for event in events:
        data = event.data
        if event.type in ("ContentEntityUpserted", "ContentEntityRemoved"):
            keys.add((str(data["type"]), str(data["index"])))
        elif event.type in ("ContentPackRegistered", "ContentPackRemoved"):
            packs.add(str(data["pack"]))
    chunks = indexes.search_chunks(chunks_table, STATE_TABLE)
    for pack in sorted(packs):
        # Keys the pack has now (priority changes), and keys indexed from it so far
        # (a removed pack's entries: the next pack's entry may now be effective).
        keys.update(chunks.pack_keys(conn, pack))
    return keys


@dataclass(frozen=True)
class Effective:
    pack: str
    name: str
    chunks: list[Chunk]


def effective_chunks(conn: Session, keys: Iterable[Key]) -> dict[Key, Effective]:
    """The chunks of each key's current effective entry (keys with none are absent)."""
    out: dict[Key, Effective] = {}
    chunks = indexes.search_chunks(CHUNKS_TABLE, STATE_TABLE)
    by_type: dict[str, list[str]] = {}
    for type_name, index in sorted(set(keys)):
        by_type.setdefault(type_name, []).append(index)
    for type_name, entry_indexes in by_type.items():
        for idx, pack, data_json in chunks.entries(conn, type_name, entry_indexes):
            data: Mapping[str, Any] = json.loads(data_json)
            out[(type_name, idx)] = Effective(pack, entry_name(type_name, data),
                                              entry_chunks(type_name, idx, data))
    return out


def missing_texts(conn: Session, chunks_table: str = CHUNKS_TABLE) -> dict[str, str]:
    """Chunks written before their vector was available ({hash: text})."""
    return indexes.search_chunks(chunks_table, STATE_TABLE).missing_texts(conn)


# -- applying -----------------------------------------------------------------------------

def refuse_other_model(state: IndexState | None, model_id: str) -> None:
    """An index holds the vectors of one model: another one's must not join them.

    (fp32 and int8 vectors of the same network are not comparable enough to share a
    ranking.) A rebuild starts from empty tables, so it is never refused.
    """
    if state is not None and state.model_id and state.total and state.model_id != model_id:
        raise VectorSearchUnavailable(
            f"the search index holds vectors of {state.model_id!r} but this process embeds "
            f"with {model_id!r} (QUESTLOG_EMBEDDER / QUESTLOG_EMBEDDER_PRECISION); rebuild "
            "the index (`questlog projections rebuild search_index`) or use that model")


@dataclass
class Tables:
    chunks: str = CHUNKS_TABLE
    fts: str = FTS_TABLE
    state: str = STATE_TABLE


def apply_keys(conn: Session, tables: Tables, keys: set[Key], model_id: str, dim: int,
               prepared: Mapping[str, bytes], *, rebuilding: bool) -> None:
    """Make the chunks of `keys` match their effective entries (inside the writer's txn)."""
    chunks = indexes.search_chunks(tables.chunks, tables.state)
    keywords = indexes.keyword_index(tables.fts, tables.chunks)
    # The vector index kept beside the chunks (vec0) follows them in this transaction,
    # except in a rebuild's shadow tables: it is refilled after the swap.
    mirror = None if rebuilding else indexes.maintained_index(conn, CHUNKS_TABLE)
    state = read_state(conn, tables.state)
    try:
        refuse_other_model(state, model_id)
    except VectorSearchUnavailable as exc:  # the index waits: no event is at fault
        raise ProjectorCannotRun(str(exc), projector="search_index") from None
    mirror_ok = mirror is not None and state is not None and mirror.in_sync(conn, state.token)

    effective = effective_chunks(conn, keys)
    stored = chunks.stored(conn, sorted(keys))
    existing = {cid: (c.text_hash, c.pack) for cid, c in stored.items()}
    stale_null = {cid for cid, c in stored.items() if not c.has_vector}

    wanted: dict[int, tuple[Chunk, str, str]] = {}
    for eff in effective.values():
        for chunk in eff.chunks:
            wanted[chunk_id(chunk.type, chunk.index, chunk.chunk_no)] = (chunk, eff.pack, eff.name)
    # Chunks written earlier without a vector: fill them if the vector is there now.
    null_rows = chunks.unembedded(conn)

    changed = {cid for cid, (chunk, pack, _) in wanted.items()
               if existing.get(cid) != (chunk.text_hash, pack) or cid in stale_null}
    removed = [cid for cid in existing if cid not in wanted]
    hashes = {wanted[c][0].text_hash for c in changed} | set(null_rows.values())
    blobs = dict(prepared)
    blobs.update(indexes.embedding_cache().lookup(conn, model_id,
                                                  (h for h in hashes if h not in blobs)))

    drop = sorted(set(removed) | changed)
    rows: list[ChunkRow] = []
    keyword_rows: list[KeywordRow] = []
    for cid in sorted(changed):
        chunk, pack, name = wanted[cid]
        rows.append(ChunkRow(cid, chunk.type, chunk.index, chunk.chunk_no, pack, name,
                             chunk.text, chunk.text_hash, blobs.get(chunk.text_hash)))
        keyword_rows.append(KeywordRow(cid, name, chunk.text))
    filled = {cid: blobs[h] for cid, h in null_rows.items() if cid not in drop and h in blobs}
    chunks.replace(conn, drop, rows, filled)
    keywords.delete(conn, sorted(removed))  # changed chunks are replaced by the upsert
    keywords.upsert(conn, keyword_rows)

    token = uuid.uuid4().hex
    chunks.write_state(conn, {"token": token, "model_id": model_id, "dim": str(dim),
                              "total": str(chunks.vector_count(conn))})
    if mirror is not None and mirror_ok:
        with_vector = [r.id for r in rows if r.embedding is not None] + list(filled)
        keep = set(with_vector)
        mirror.delete(conn, [cid for cid in drop if cid not in keep])
        mirror.upsert(conn, chunks.vector_rows(conn, with_vector))
        mirror.mark_synced(conn, token, dim)
    elif mirror is not None:
        mirror.resync(conn, token, dim)


def sync_mirror(conn: Session) -> bool:
    """Bring the vector index kept beside the chunks in line with the live chunks
    (False: no such index on this connection, or no index state yet)."""
    mirror = indexes.maintained_index(conn, CHUNKS_TABLE)
    if mirror is None:
        return False
    state = read_state(conn)
    if state is None:
        return False
    if not mirror.in_sync(conn, state.token):
        mirror.resync(conn, state.token, state.dim)
    return True
