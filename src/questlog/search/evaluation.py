"""Search quality figures: recall@k and MRR of a labelled query set, per mode.

A labelled query is {"q": text, "answers": [[type, index], ...]}; it is
answered at rank r when the r-th hit is any of its answers. Used by the
quality test (tests/search) and benchmarks/search.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Hit = tuple[str, str]  # (type, index)


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    answers: frozenset[Hit]


@dataclass
class Quality:
    mode: str
    k: int
    recall: float
    mrr: float
    misses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, f"recall@{self.k}": round(self.recall, 4),
                "mrr": round(self.mrr, 4), "misses": self.misses}


def load_queries(path: Path | str) -> list[LabelledQuery]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [LabelledQuery(q["q"], frozenset((str(t), str(i)) for t, i in q["answers"]))
            for q in data["queries"]]


def evaluate(queries: Sequence[LabelledQuery], search: Callable[[str], Sequence[Hit]],
             mode: str, k: int = 5) -> Quality:
    """recall@k (share of queries answered in the top k) and MRR (over the top k)."""
    found = 0
    reciprocal = 0.0
    misses: list[str] = []
    for query in queries:
        hits = list(search(query.text))[:k]
        rank = next((r for r, hit in enumerate(hits, 1) if hit in query.answers), None)
        if rank is None:
            misses.append(query.text)
        else:
            found += 1
            reciprocal += 1.0 / rank
    n = max(1, len(queries))
    return Quality(mode, k, found / n, reciprocal / n, misses)


def halves(queries: Sequence[LabelledQuery]) -> tuple[list[LabelledQuery], list[LabelledQuery]]:
    """(tuning half, held-back half): even and odd positions of the labelled set.

    Fusion is tuned on the first only; the second measures whether the tuning
    carries over to questions it never saw.
    """
    return list(queries[0::2]), list(queries[1::2])
