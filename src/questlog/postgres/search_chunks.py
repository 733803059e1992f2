"""The search index's chunks and state on PostgreSQL (`storage.search_chunks.SearchChunks`).

Tables by their physical names (live, or a rebuild's shadows); the content
tables by the names content declares (`questlog.content.columns`). Lists of ids
or indexes travel as one array parameter (`= ANY(%s)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..content.columns import ENTITIES_TABLE, PACK_ENTRIES_TABLE
from ..storage.search_chunks import ChunkInfo, ChunkRow, Key, StoredChunk
from ..storage.session import Session
from ..storage.vectors import VectorRow
from .schema import table_exists


class PostgresSearchChunks:
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
            f"INSERT INTO {self.state_table} (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", list(values.items()))

    def vector_count(self, session: Session) -> int:
        row = session.execute(
            f"SELECT COUNT(*) FROM {self.chunks_table} WHERE embedding IS NOT NULL").fetchone()
        return int(row[0])

    def pack_keys(self, session: Session, pack: str) -> set[Key]:
        keys: set[Key] = set()
        if table_exists(session, PACK_ENTRIES_TABLE):
            keys.update((str(t), str(i)) for t, i in session.execute(
                f"SELECT type, idx FROM {PACK_ENTRIES_TABLE} WHERE pack = %s", (pack,)))
        if table_exists(session, self.chunks_table):
            keys.update((str(t), str(i)) for t, i in session.execute(
                f"SELECT DISTINCT type, idx FROM {self.chunks_table} WHERE pack = %s", (pack,)))
        return keys

    def entries(self, session: Session, type_name: str,
                indexes: Sequence[str]) -> list[tuple[str, str, str]]:
        if not indexes or not table_exists(session, ENTITIES_TABLE):
            return []
        return [(str(idx), str(pack), str(data)) for idx, pack, data in session.execute(
            f"SELECT idx, pack, data FROM {ENTITIES_TABLE} WHERE type = %s "
            "AND idx = ANY(%s)", (type_name, list(indexes)))]

    def missing_texts(self, session: Session) -> dict[str, str]:
        if not table_exists(session, self.chunks_table):
            return {}
        return {str(h): str(t) for h, t in session.execute(
            f"SELECT text_hash, text FROM {self.chunks_table} WHERE embedding IS NULL")}

    def stored(self, session: Session, keys: Iterable[Key]) -> dict[int, StoredChunk]:
        wanted = list(keys)
        if not wanted:
            return {}
        return {int(cid): StoredChunk(str(text_hash), str(pack), not emb_null)
                for cid, text_hash, pack, emb_null in session.execute(
                    f"SELECT c.id, c.text_hash, c.pack, c.embedding IS NULL "
                    f"FROM {self.chunks_table} c JOIN unnest(%s::text[], %s::text[]) "
                    "AS k(type, idx) ON c.type = k.type AND c.idx = k.idx",
                    ([t for t, _ in wanted], [i for _, i in wanted]))}

    def unembedded(self, session: Session) -> dict[int, str]:
        return {int(cid): str(h) for cid, h in session.execute(
            f"SELECT id, text_hash FROM {self.chunks_table} WHERE embedding IS NULL")}

    def replace(self, session: Session, drop: Sequence[int], rows: Sequence[ChunkRow],
                vectors: Mapping[int, bytes]) -> None:
        if drop:
            session.execute(f"DELETE FROM {self.chunks_table} WHERE id = ANY(%s)", (list(drop),))
        session.executemany(
            f"INSERT INTO {self.chunks_table} (id, type, idx, chunk_no, pack, name, text, "
            "text_hash, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [tuple(r) for r in rows])
        session.executemany(f"UPDATE {self.chunks_table} SET embedding = %s WHERE id = %s",
                            [(blob, cid) for cid, blob in vectors.items()])

    def vector_rows(self, session: Session, ids: Sequence[int]) -> list[VectorRow]:
        if not ids:
            return []
        return [VectorRow(int(i), str(t), str(p), bytes(b)) for i, t, p, b in session.execute(
            f"SELECT id, type, pack, embedding FROM {self.chunks_table} WHERE id = ANY(%s) "
            "AND embedding IS NOT NULL", (list(ids),)).fetchall()]

    def describe(self, session: Session, ids: Sequence[int]) -> dict[int, ChunkInfo]:
        if not ids:
            return {}
        return {int(row[0]): ChunkInfo(str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                                       int(row[5]), str(row[6]))
                for row in session.execute(
                    f"SELECT id, type, idx, name, pack, chunk_no, text FROM {self.chunks_table} "
                    "WHERE id = ANY(%s)", (list(ids),))}
