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

from ..content.columns import ENTITIES_TABLE, PACK_ENTRIES_TABLE
from ..db import DBAPIConnection
from ..events import RecordedEvent
from ..sqlite.schema import table_exists
from ..storage.keywords import KeywordRow
from ..storage.vectors import VectorRow
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

Key = tuple[str, str]


def chunk_id(type_name: str, index: str, chunk_no: int) -> int:
    digest = hashlib.sha256(f"{type_name}\x00{index}\x00{chunk_no}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # positive 63-bit rowid


@dataclass(frozen=True)
class IndexState:
    token: str
    model_id: str
    dim: int
    total: int


def read_state(conn: DBAPIConnection, state_table: str = STATE_TABLE) -> IndexState | None:
    """None when the index has never been written."""
    if not table_exists(conn, state_table):
        return None
    values = dict(conn.execute(f"SELECT key, value FROM {state_table}").fetchall())
    if "token" not in values:
        return None
    return IndexState(str(values["token"]), str(values.get("model_id", "")),
                      int(values.get("dim", 0)), int(values.get("total", 0)))


def _write_state(conn: DBAPIConnection, state_table: str, chunks_table: str, token: str,
                 model_id: str, dim: int) -> None:
    total = conn.execute(
        f"SELECT COUNT(*) FROM {chunks_table} WHERE embedding IS NOT NULL").fetchone()[0]
    conn.executemany(
        f"INSERT INTO {state_table} (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [("token", token), ("model_id", model_id), ("dim", str(dim)), ("total", str(total))])


# -- which keys an event batch touches ----------------------------------------------------

def affected_keys(conn: DBAPIConnection, events: Sequence[RecordedEvent],
                  chunks_table: str = CHUNKS_TABLE) -> set[Key]:
    keys: set[Key] = set()
    packs: set[str] = set()
    for event in events:
        data = event.data
        if event.type in ("ContentEntityUpserted", "ContentEntityRemoved"):
            keys.add((str(data["type"]), str(data["index"])))
        elif event.type in ("ContentPackRegistered", "ContentPackRemoved"):
            packs.add(str(data["pack"]))
    for pack in sorted(packs):
        # Keys the pack has now (priority changes), and keys indexed from it so far
        # (a removed pack's entries: the next pack's entry may now be effective).
        if table_exists(conn, PACK_ENTRIES_TABLE):
            keys.update((str(t), str(i)) for t, i in conn.execute(
                f"SELECT type, idx FROM {PACK_ENTRIES_TABLE} WHERE pack = ?", (pack,)))
        if table_exists(conn, chunks_table):
            keys.update((str(t), str(i)) for t, i in conn.execute(
                f"SELECT DISTINCT type, idx FROM {chunks_table} WHERE pack = ?", (pack,)))
    return keys


@dataclass(frozen=True)
class Effective:
    pack: str
    name: str
    chunks: list[Chunk]


def effective_chunks(conn: DBAPIConnection, keys: Iterable[Key]) -> dict[Key, Effective]:
    """The chunks of each key's current effective entry (keys with none are absent)."""
    out: dict[Key, Effective] = {}
    if not table_exists(conn, ENTITIES_TABLE):
        return out
    by_type: dict[str, list[str]] = {}
    for type_name, index in sorted(set(keys)):
        by_type.setdefault(type_name, []).append(index)
    for type_name, entry_indexes in by_type.items():
        for start in range(0, len(entry_indexes), 400):
            part = entry_indexes[start:start + 400]
            marks = ", ".join("?" * len(part))
            for idx, pack, data_json in conn.execute(
                    f"SELECT idx, pack, data FROM {ENTITIES_TABLE} WHERE type = ? "
                    f"AND idx IN ({marks})", (type_name, *part)):
                data: Mapping[str, Any] = json.loads(data_json)
                out[(type_name, str(idx))] = Effective(
                    str(pack), entry_name(type_name, data),
                    entry_chunks(type_name, str(idx), data))
    return out


def missing_texts(conn: DBAPIConnection, chunks_table: str = CHUNKS_TABLE) -> dict[str, str]:
    """Chunks written before their vector was available ({hash: text})."""
    if not table_exists(conn, chunks_table):
        return {}
    return {str(h): str(t) for h, t in conn.execute(
        f"SELECT text_hash, text FROM {chunks_table} WHERE embedding IS NULL")}


# -- applying -----------------------------------------------------------------------------

@dataclass
class Tables:
    chunks: str = CHUNKS_TABLE
    fts: str = FTS_TABLE
    state: str = STATE_TABLE


def apply_keys(conn: DBAPIConnection, tables: Tables, keys: set[Key], model_id: str, dim: int,
               prepared: Mapping[str, bytes], *, rebuilding: bool) -> None:
    """Make the chunks of `keys` match their effective entries (inside the writer's txn)."""
    # The vector index kept beside the chunks (vec0) follows them in this transaction,
    # except in a rebuild's shadow tables: it is refilled after the swap.
    mirror = None if rebuilding else indexes.maintained_index(conn, CHUNKS_TABLE)
    state = read_state(conn, tables.state)
    mirror_ok = mirror is not None and state is not None and mirror.in_sync(conn, state.token)
    keywords = indexes.keyword_index(tables.fts, tables.chunks)

    effective = effective_chunks(conn, keys)
    existing: dict[int, tuple[str, str]] = {}  # id -> (text_hash, pack) for rows with a vector
    stale_null: set[int] = set()
    for key in sorted(keys):
        for cid, text_hash, pack, emb_null in conn.execute(
                f"SELECT id, text_hash, pack, embedding IS NULL FROM {tables.chunks} "
                "WHERE type = ? AND idx = ?", key):
            if emb_null:
                stale_null.add(int(cid))
            existing[int(cid)] = (str(text_hash), str(pack))

    wanted: dict[int, tuple[Chunk, str, str]] = {}
    for eff in effective.values():
        for chunk in eff.chunks:
            wanted[chunk_id(chunk.type, chunk.index, chunk.chunk_no)] = (chunk, eff.pack, eff.name)
    # Chunks written earlier without a vector: fill them if the vector is there now.
    null_rows = {int(cid): str(h) for cid, h in conn.execute(
        f"SELECT id, text_hash FROM {tables.chunks} WHERE embedding IS NULL")}

    changed = {cid for cid, (chunk, pack, _) in wanted.items()
               if existing.get(cid) != (chunk.text_hash, pack) or cid in stale_null}
    removed = [cid for cid in existing if cid not in wanted]
    hashes = {wanted[c][0].text_hash for c in changed} | set(null_rows.values())
    blobs = dict(prepared)
    blobs.update(indexes.embedding_cache().lookup(conn, model_id,
                                                  (h for h in hashes if h not in blobs)))

    drop = sorted(set(removed) | changed)
    conn.executemany(f"DELETE FROM {tables.chunks} WHERE id = ?", [(c,) for c in drop])
    keywords.delete(conn, drop)
    rows = []
    fts_rows = []
    for cid in sorted(changed):
        chunk, pack, name = wanted[cid]
        rows.append((cid, chunk.type, chunk.index, chunk.chunk_no, pack, name, chunk.text,
                     chunk.text_hash, blobs.get(chunk.text_hash)))
        fts_rows.append(KeywordRow(cid, name, chunk.text))
    conn.executemany(
        f"INSERT INTO {tables.chunks} (id, type, idx, chunk_no, pack, name, text, text_hash, "
        "embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    keywords.upsert(conn, fts_rows)
    filled = [(blobs[h], cid) for cid, h in null_rows.items()
              if cid not in drop and h in blobs]
    conn.executemany(f"UPDATE {tables.chunks} SET embedding = ? WHERE id = ?", filled)

    token = uuid.uuid4().hex
    _write_state(conn, tables.state, tables.chunks, token, model_id, dim)
    if mirror is not None and mirror_ok:
        mirror.delete(conn, drop)
        new_ids = [cid for cid, *_ in rows if blobs.get(wanted[cid][0].text_hash) is not None]
        new_ids += [cid for _, cid in filled]
        if new_ids:
            fetch = conn.execute(
                f"SELECT id, type, pack, embedding FROM {tables.chunks} WHERE id IN "
                f"(SELECT value FROM json_each(?))", (json.dumps(new_ids),)).fetchall()
            mirror.upsert(conn, [VectorRow(int(i), str(t), str(p), bytes(b))
                                 for i, t, p, b in fetch])
        mirror.mark_synced(conn, token, dim)
    elif mirror is not None:
        mirror.resync(conn, token, dim)


def sync_mirror(conn: DBAPIConnection) -> bool:
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
