"""FTS5 query strings built from user text without ever failing (SQLite keyword index).

The query string always reaches SQLite as a bound parameter (`MATCH ?`), so
user text can never become SQL. FTS5 has its own query language, though, and
most user text is not valid in it (`what's a "bonus action`, `AND`, `-`, `:`,
NUL bytes...). Two forms are tried:

1. When the text visibly uses FTS5 syntax (double quotes, `*`, `^`, `NEAR`,
   upper-case `AND`/`OR`/`NOT`, parentheses), it is offered as written — a
   user who writes `"magic missile" OR fireball` gets exactly that.
2. Otherwise, or when SQLite rejects the first form, the text is split into
   words and every word is quoted as an FTS5 string (`"word"`, inner quotes
   doubled) and OR-ed, so bm25 ranks entries by how many of the rarer words
   they contain — what a natural-language question needs.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_SYNTAX = re.compile(r'["*^()]|\bNEAR\b|\bAND\b|\bOR\b|\bNOT\b')
MAX_TERMS = 32

# Very common words add nothing to a keyword match except cost.
STOPWORDS = frozenset("""
a an and are as at be but by can do does for from has have how i if in into is it its
me my of on or that the their them there these they this to was what when where which
who why will with you your yours we our us any some than then so such about
""".split())


def plain_terms(text: str) -> list[str]:
    """The words of `text` (lower-cased, deduplicated, stopwords out, at most MAX_TERMS)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or word in seen:
            continue
        seen[word] = None
        if len(seen) >= MAX_TERMS:
            break
    if not seen:  # a question made only of stopwords still searches for them
        for word in _WORD.findall(text.lower())[:MAX_TERMS]:
            seen.setdefault(word, None)
    return list(seen)


def quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def plain_query(text: str) -> str | None:
    """OR of quoted words, or None when the text has no word at all."""
    terms = plain_terms(text)
    return " OR ".join(quote(t) for t in terms) if terms else None


def candidate_queries(text: str) -> list[str]:
    """FTS5 query strings to try in order (the first that SQLite accepts is used)."""
    cleaned = text.replace("\x00", " ")
    out: list[str] = []
    if _SYNTAX.search(cleaned) and len(cleaned) <= 1000:
        out.append(cleaned)
    plain = plain_query(cleaned)
    if plain is not None:
        out.append(plain)
    return out
