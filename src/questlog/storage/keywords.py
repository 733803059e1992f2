"""The keyword index port: ranked full-text match over the search chunks.

Each chunk is indexed as two fields, its entry's name and its text; a match
ranks by relevance with the name weighted above the text (`name_weight`) and
returns (chunk id, score), higher better. The query is the user's text as
typed: turning it into the engine's query language (quoting, operators,
fallbacks when the engine rejects it) is the implementation's job, so every
query text is accepted and every value reaches the engine as a bound
parameter. SQLite: FTS5 with bm25 (`questlog.sqlite.keywords`); PostgreSQL
(next): a `tsvector` column with a GIN index, `websearch_to_tsquery` and
`ts_rank`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from .session import Session
from .vectors import Filters


class KeywordRow(NamedTuple):
    id: int
    name: str
    text: str


class KeywordIndex(Protocol):
    def upsert(self, session: Session, rows: Sequence[KeywordRow]) -> None:
        """Index these chunks, replacing what was indexed under their ids."""
        ...

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        """Forget these chunk ids (unknown ids are ignored)."""
        ...

    def match(self, session: Session, text: str, k: int, filters: Filters,
              name_weight: float) -> list[tuple[int, float]]:
        """(chunk id, score) of the k best matches for the user's text, best first,
        ties by id; [] when the text holds nothing to match."""
        ...
