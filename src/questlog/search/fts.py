"""Where the FTS5 query builder used to live: it is SQLite's, in `questlog.sqlite.fts_query`.

Kept as a re-export so existing imports (tests, scripts) keep working.
"""

from __future__ import annotations

from ..sqlite.fts_query import (
    MAX_TERMS,
    STOPWORDS,
    candidate_queries,
    plain_query,
    plain_terms,
    quote,
)

__all__ = ["MAX_TERMS", "STOPWORDS", "candidate_queries", "plain_query", "plain_terms", "quote"]
