"""Cutting a text into pieces the embedding model reads whole.

all-MiniLM-L6-v2 reads at most 256 word pieces (about 180-200 English words) and
silently drops the rest, so a longer text is cut into windows of about
`CHUNK_WORDS` words that overlap by `OVERLAP_WORDS`, each led by a context line.
Markdown is split at its headings first.

Chunk size, measured on the labelled query set (tests/search/queries.json, 50
questions, whole SRD, real model; recall@5 / MRR):

    words/overlap  chunks  vector       keyword      hybrid
    120/30         3834    0.96/0.839   0.86/0.741   0.94/0.865
    180/40         3087    0.96/0.827   0.86/0.734   0.96/0.826
    240/50         2804    0.96/0.835   0.86/0.743   0.96/0.839

Differences between 180 and 240 are one query's rank; 120 loses a hybrid hit
and embeds 24% more chunks. 180 is kept because it is the largest size the
model reads whole (256 word pieces): at 240 the tail of every chunk is
silently truncated and only the overlap of the next chunk covers it.
"""

from __future__ import annotations

import re

CHUNK_WORDS = 180
OVERLAP_WORDS = 40
# A whole entry up to this many words stays one chunk (the context line included).
SINGLE_CHUNK_WORDS = 200


def window(words: list[str], size: int, overlap: int) -> list[list[str]]:
    if len(words) <= size:
        return [words]
    step = max(1, size - overlap)
    out: list[list[str]] = []
    start = 0
    while start < len(words):
        out.append(words[start:start + size])
        if start + size >= len(words):
            break
        start += step
    return out


def chunks_of(head: str, paras: list[str], *, size: int, overlap: int) -> list[str]:
    """Context line + body; one text when short, else overlapping word windows."""
    body = "\n".join(p for p in paras if p)
    whole = f"{head}\n{body}".strip()
    if len(whole.split()) <= SINGLE_CHUNK_WORDS:
        return [whole]
    budget = max(40, size - len(head.split()))
    return [f"{head}\n{' '.join(w)}" for w in window(body.split(), budget, overlap)]


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_sections(name: str, text: str) -> list[tuple[str, str]]:
    """(heading path, body) per Markdown section; the title heading equal to the name drops."""
    path: list[tuple[int, str]] = []
    sections: list[tuple[str, list[str]]] = []
    current: list[str] = []

    def flush() -> None:
        if any(line.strip() for line in current):
            titles = [t for _, t in path if t.lower() != name.lower()]
            sections.append((" > ".join([name, *titles]), list(current)))
        current.clear()

    for line in text.splitlines():
        m = HEADING.match(line.strip())
        if m:
            flush()
            depth = len(m.group(1))
            path[:] = [p for p in path if p[0] < depth]
            path.append((depth, m.group(2).strip()))
        else:
            current.append(line)
    flush()
    return [(head, "\n".join(body).strip()) for head, body in sections]
