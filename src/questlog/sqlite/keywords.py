"""The keyword index on SQLite: an FTS5 table beside the chunks, ranked by bm25.

The FTS5 table (`search_fts`, a projector table) holds each chunk's name and
text under the chunk's id as rowid; filters are conditions on the chunks
table it is joined to. User text becomes FTS5 query strings in
`fts_query.candidate_queries` and reaches SQLite only as the bound `MATCH ?`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import VectorSearchUnavailable
from ..storage.keywords import KeywordRow
from ..storage.session import Session
from ..storage.vectors import Filters
from . import fts_query
from .search_filters import conditions

SQLITE_ERROR = 1  # the primary result code of an FTS5 query SQLite cannot parse


def _is_query_error(exc: Exception) -> bool:
    # An FTS5 syntax error is a plain SQLITE_ERROR; busy, I/O or corruption
    # faults carry their own codes and must not pass for "no keyword hits".
    code = getattr(exc, "sqlite_errorcode", None)
    return code is None or code & 0xFF == SQLITE_ERROR


class SQLiteKeywordIndex:
    """`storage.keywords.KeywordIndex` on FTS5 (tables by their physical names)."""

    def __init__(self, fts_table: str, chunks_table: str) -> None:
        self.fts_table = fts_table
        self.chunks_table = chunks_table

    def upsert(self, session: Session, rows: Sequence[KeywordRow]) -> None:
        # FTS5 has no upsert on rowid: delete first (a no-op for new ids).
        self.delete(session, [r.id for r in rows])
        session.executemany(f"INSERT INTO {self.fts_table} (rowid, name, text) VALUES (?, ?, ?)",
                            [(r.id, r.name, r.text) for r in rows])

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        session.executemany(f"DELETE FROM {self.fts_table} WHERE rowid = ?", [(i,) for i in ids])

    def match(self, session: Session, text: str, k: int, filters: Filters,
              name_weight: float) -> list[tuple[int, float]]:
        from .driver import load_dbapi

        conds, params = conditions("c", self.chunks_table, filters)
        extra = "".join(f" AND {c}" for c in conds)
        fts = self.fts_table
        sql = (f"SELECT c.id, bm25({fts}, ?, 1.0) AS s FROM {fts} "
               f"JOIN {self.chunks_table} c ON c.id = {fts}.rowid "
               f"WHERE {fts} MATCH ?{extra} ORDER BY s, c.id LIMIT ?")
        operational_error: type[Exception] = load_dbapi().OperationalError
        candidates = fts_query.candidate_queries(text)
        rows: list[tuple[int, float]] = []
        for i, candidate in enumerate(candidates):
            last = i == len(candidates) - 1
            try:
                got = session.execute(sql, [name_weight, candidate, *params, k]).fetchall()
            except operational_error as exc:
                if not _is_query_error(exc):
                    raise
                # The SQL is fixed, so an error here is the user's FTS5 syntax
                # (unterminated string, unknown column filter, ...): fall back to
                # the plain-words form, which is always valid.
                if last and fts_query.plain_query(text) == candidate:
                    raise VectorSearchUnavailable(f"keyword search failed: {exc}") from exc
                continue  # no words at all (e.g. a lone quote): no keyword hits
            rows = [(int(cid), -float(s)) for cid, s in got]
            if rows or last:
                break
        return rows
