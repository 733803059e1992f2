"""The keyword index on PostgreSQL: a generated `tsvector` column with a GIN index.

The keyword table (`search_fts`, declared by the search projector as an FTS5
virtual table on SQLite) is here a plain table of its declared columns (id, name,
text) plus `doc`, a STORED generated `tsvector` of the name (weight A) and the
text (weight B) under the `english` configuration, with a GIN index on it, and `ntok`,
its number of tokens
(`keyword_ddl`, appended to the table's DDL by `readmodels.create_statements`).
Being generated, `doc` is recomputed by every insert, a rebuild swap's copy included.

Ranking follows SQLite's FTS5 bm25 (`questlog.sqlite.keywords`) so both engines
order the same chunks alike: each term's weighted frequency in a chunk is
`ts_rank_cd` of that term alone (the sum of its occurrences' weights, the name's
`name_weight` times the text's), saturated and length-normalised as bm25 does
(k1 = 1.2, b = 0.75, length = the chunk's tokens, `ntok`), times the term's
bm25 idf over the whole table (FTS5's floor of 1e-6 for terms in half the chunks
or more). The terms are the user's words OR-ed (`plain_terms`, shared with SQLite);
text that visibly uses web-search syntax (quotes, `or`, a leading `-`) is first
offered as written to `websearch_to_tsquery`, which never raises a syntax error.
Every value — the text, each term, the weights — is a bound parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..storage.keywords import KeywordRow
from ..storage.session import Session
from ..storage.vectors import Filters
from .search_filters import conditions

CONFIG = "english"
K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6  # FTS5's idf for a term in half the rows or more
MAX_WORD = 200  # longer "words" are no words (tsvector drops lexemes over 2 KB anyway)
MAX_TERMS = 32
_SYNTAX = re.compile(r'"|\bOR\b|(^|\s)-\w')  # as SQLite: upper-case OR only
_WORD = re.compile(r"\w+", re.UNICODE)

# Stopwords as SQLite's keyword index drops them (PostgreSQL's `english` config drops
# its own list too; a word it drops just matches nothing).
from ..sqlite.fts_query import STOPWORDS  # noqa: E402  (a word list, no driver)


def keyword_ddl(table: str) -> list[str]:
    """What turns the declared keyword table into a keyword index (after CREATE TABLE)."""
    return [
        f'ALTER TABLE "{table}" ADD COLUMN doc tsvector GENERATED ALWAYS AS ('
        f"setweight(to_tsvector('{CONFIG}', name), 'A') || "
        f"setweight(to_tsvector('{CONFIG}', text), 'B')) STORED",
        # Tokens as FTS5 counts them (runs of letters and digits, stop words included):
        # bm25's document length.
        f'ALTER TABLE "{table}" ADD COLUMN ntok integer GENERATED ALWAYS AS (coalesce('
        "array_length(regexp_split_to_array(trim(regexp_replace(name || ' ' || text, "
        "'[^[:alnum:]]+', ' ', 'g')), ' '), 1), 0)) STORED",
        f'CREATE INDEX "{table}__doc" ON "{table}" USING gin (doc)',
    ]


def plain_terms(text: str) -> list[str]:
    """The words of `text` (lower-cased, deduplicated, stopwords out unless nothing else
    is left, at most MAX_TERMS, none longer than MAX_WORD)."""
    words = [w for w in _WORD.findall(text.lower()) if len(w) <= MAX_WORD]
    seen = dict.fromkeys(w for w in words if w not in STOPWORDS)
    if not seen:  # a question made only of stopwords still searches for them
        seen = dict.fromkeys(words)
    return list(seen)[:MAX_TERMS]


def _weights(name_weight: float) -> list[float]:
    """ts_rank_cd's {D, C, B, A} weights (each at most 1): text 1 : name `name_weight`."""
    scale = max(name_weight, 1.0)
    return [0.0, 0.0, 1.0 / scale, name_weight / scale]


def _ranked_sql(fts: str, chunks: str, extra: str) -> str:
    """bm25 over the rows matching any of the term queries (see the module docstring).
    Every CTE is MATERIALIZED: inlined, the planner counted a term's rows once per hit.
    Parameters: terms (text[]), weights (float4[]), scale, the filters', k."""
    return f"""
WITH terms AS MATERIALIZED (
    SELECT n, q FROM (
        SELECT n, websearch_to_tsquery('{CONFIG}', term) AS q
        FROM unnest(%s::text[]) WITH ORDINALITY AS u(term, n)) t
    WHERE numnode(q) > 0),
hits AS MATERIALIZED (
    -- `|| ''`: the tsvector itself, not a TOAST pointer read again for every term
    SELECT f.id, f.doc || ''::tsvector AS doc, f.ntok FROM {fts} f
    WHERE f.doc @@ (SELECT coalesce(string_agg(q::text, ' | ')::tsquery, ''::tsquery)
                    FROM terms)),
pairs AS MATERIALIZED (
    SELECT h.id, h.ntok, t.n, ts_rank_cd(%s::float4[], h.doc, t.q, 0) * %s AS f
    FROM hits h JOIN terms t ON h.doc @@ t.q),
total AS MATERIALIZED (
    SELECT count(*) AS n, greatest(avg(ntok), 1) AS avgdl FROM {fts}),
df AS MATERIALIZED (
    SELECT p.n, greatest(ln((total.n - count(*) + 0.5) / (count(*) + 0.5)), {IDF_FLOOR})
           AS idf
    FROM pairs p CROSS JOIN total GROUP BY p.n, total.n)
SELECT p.id, sum(df.idf * p.f * ({K1} + 1) /
                 (p.f + {K1} * (1 - {B} + {B} * p.ntok / total.avgdl))) AS score
FROM pairs p JOIN df ON df.n = p.n CROSS JOIN total JOIN {chunks} c ON c.id = p.id
WHERE TRUE{extra}
GROUP BY p.id ORDER BY score DESC, p.id LIMIT %s"""


def _written_sql(fts: str, chunks: str, extra: str) -> str:
    """The text as the user wrote it, in web-search syntax, ranked by ts_rank_cd.
    Parameters: text, weights (float4[]), k."""
    return f"""
WITH q AS (SELECT websearch_to_tsquery('{CONFIG}', %s) AS q)
SELECT f.id, ts_rank_cd(%s::float4[], f.doc, q.q, 0) AS score
FROM {fts} f JOIN {chunks} c ON c.id = f.id CROSS JOIN q
WHERE numnode(q.q) > 0 AND f.doc @@ q.q{extra}
ORDER BY score DESC, f.id LIMIT %s"""


class PostgresKeywordIndex:
    """`storage.keywords.KeywordIndex` on a tsvector column (tables by physical names)."""

    def __init__(self, fts_table: str, chunks_table: str) -> None:
        self.fts_table = fts_table
        self.chunks_table = chunks_table

    def upsert(self, session: Session, rows: Sequence[KeywordRow]) -> None:
        session.executemany(
            f"INSERT INTO {self.fts_table} (id, name, text) VALUES (%s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, text = excluded.text",
            [(r.id, _clean(r.name), _clean(r.text)) for r in rows])

    def delete(self, session: Session, ids: Sequence[int]) -> None:
        if ids:
            session.execute(f"DELETE FROM {self.fts_table} WHERE id = ANY(%s)", (list(ids),))

    def match(self, session: Session, text: str, k: int, filters: Filters,
              name_weight: float) -> list[tuple[int, float]]:
        conds, params = conditions("c", self.chunks_table, filters)
        extra = "".join(f" AND {c}" for c in conds)
        cleaned = _clean(text)
        weights = _weights(name_weight)
        if _SYNTAX.search(cleaned) and len(cleaned) <= 1000:
            rows = session.execute(_written_sql(self.fts_table, self.chunks_table, extra),
                                   [cleaned, weights, *params, k]).fetchall()
            if rows:
                return [(int(cid), float(s)) for cid, s in rows]
        terms = plain_terms(cleaned)
        if not terms:
            return []
        # ts_rank_cd scaled its weights into [0, 1]: scale back to name_weight : 1.
        scale = max(name_weight, 1.0)
        sql = _ranked_sql(self.fts_table, self.chunks_table, extra)
        rows = session.execute(sql, [terms, weights, scale, *params, k]).fetchall()
        return [(int(cid), float(s)) for cid, s in rows]


def _clean(text: str) -> str:
    """PostgreSQL text cannot hold NUL characters."""
    return text.replace("\x00", " ")
