"""The search index's chunks and state on SQLite (`storage.search_chunks.SearchChunks`).

Tables by their physical names (live, or a rebuild's shadows); the content
tables by the names content declares (`questlog.content.columns`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from ..content.columns import ENTITIES_TABLE, PACK_ENTRIES_TABLE
from ..storage.search_chunks import ChunkInfo, ChunkRow, Key, StoredChunk
from ..storage.session import Session
from ..storage.vectors import VectorRow
from .schema import table_exists
from .search_filters import marks

_IN_CHUNK = 400  # values per IN (...) list: well under SQLite's variable limit


class SQLiteSearchChunks:
    def __init__(self, chunks_table: str, state_table: str) -> None:
        self.chunks_table = chunks_table
        self.state_table = state_table

    def state(self, session: Session) -> dict[str, str] | None:
        if not table_exists(session, self.state_table):
            return None
        return {str(k): str(v) for k, v in session.execute(
            f"SELECT key, value FROM {self.state_table}").fetchall()}

    def write_state(self, session: Session, values: Mapping[str, str]) -> None:
        session.executemany(
            f"INSERT INTO {self.state_table} (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", list(values.items()))

    def vector_count(self, session: Session) -> int:
        row = session.execute(
            f"SELECT COUNT(*) FROM {self.chunks_table} WHERE embedding IS NOT NULL").fetchone()
        return int(row[0])

    def pack_keys(self, session: Session, pack: str) -> set[Key]:
        keys: set[Key] = set()
        if table_exists(session, PACK_ENTRIES_TABLE):
            keys.update((str(t), str(i)) for t, i in session.execute(
                f"SELECT type, idx FROM {PACK_ENTRIES_TABLE} WHERE pack = ?", (pack,)))
        if table_exists(session, self.chunks_table):
            keys.update((str(t), str(i)) for t, i in session.execute(
                f"SELECT DISTINCT type, idx FROM {self.chunks_table} WHERE pack = ?", (pack,)))
        return keys

    def entries(self, session: Session, type_name: str,
                indexes: Sequence[str]) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        if not table_exists(session, ENTITIES_TABLE):
            return out
        for start in range(0, len(indexes), _IN_CHUNK):
            part = list(indexes[start:start + _IN_CHUNK])
            out.extend((str(idx), str(pack), str(data)) for idx, pack, data in session.execute(
                f"SELECT idx, pack, data FROM {ENTITIES_TABLE} WHERE type = ? "
                f"AND idx IN ({marks(len(part))})", (type_name, *part)))
        return out

    def missing_texts(self, session: Session) -> dict[str, str]:
        if not table_exists(session, self.chunks_table):
            return {}
        return {str(h): str(t) for h, t in session.execute(
            f"SELECT text_hash, text FROM {self.chunks_table} WHERE embedding IS NULL")}

    def stored(self, session: Session, keys: Iterable[Key]) -> dict[int, StoredChunk]:
        out: dict[int, StoredChunk] = {}
        for key in keys:
            for cid, text_hash, pack, emb_null in session.execute(
                    f"SELECT id, text_hash, pack, embedding IS NULL FROM {self.chunks_table} "
                    "WHERE type = ? AND idx = ?", key):
                out[int(cid)] = StoredChunk(str(text_hash), str(pack), not emb_null)
        return out

    def unembedded(self, session: Session) -> dict[int, str]:
        return {int(cid): str(h) for cid, h in session.execute(
            f"SELECT id, text_hash FROM {self.chunks_table} WHERE embedding IS NULL")}

    def replace(self, session: Session, drop: Sequence[int], rows: Sequence[ChunkRow],
                vectors: Mapping[int, bytes]) -> None:
        session.executemany(f"DELETE FROM {self.chunks_table} WHERE id = ?",
                            [(c,) for c in drop])
        session.executemany(
            f"INSERT INTO {self.chunks_table} (id, type, idx, chunk_no, pack, name, text, "
            "text_hash, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        session.executemany(f"UPDATE {self.chunks_table} SET embedding = ? WHERE id = ?",
                            [(blob, cid) for cid, blob in vectors.items()])

    def vector_rows(self, session: Session, ids: Sequence[int]) -> list[VectorRow]:
        if not ids:
            return []
        # One statement for any number of ids: the list travels as one JSON parameter.
        return [VectorRow(int(i), str(t), str(p), bytes(b)) for i, t, p, b in session.execute(
            f"SELECT id, type, pack, embedding FROM {self.chunks_table} WHERE id IN "
            "(SELECT value FROM json_each(?)) AND embedding IS NOT NULL",
            (json.dumps(list(ids)),)).fetchall()]

    def describe(self, session: Session, ids: Sequence[int]) -> dict[int, ChunkInfo]:
        out: dict[int, ChunkInfo] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            for row in session.execute(
                    f"SELECT id, type, idx, name, pack, chunk_no, text FROM {self.chunks_table} "
                    f"WHERE id IN ({marks(len(part))})", part):
                out[int(row[0])] = ChunkInfo(str(row[1]), str(row[2]), str(row[3]),
                                             str(row[4]), int(row[5]), str(row[6]))
        return out
