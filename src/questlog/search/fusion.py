"""How hybrid search ranks an entity: weighted reciprocal-rank fusion, name matches, type priors.

    score = prior(type) * (w_v / (k + vector_rank) + gate * w_k / (k + keyword_rank))
            + name_bonus  (when every word of the entity's name is in the query)

A signal that did not find the entity adds nothing. The keyword gate: keyword
ranks deeper than `keyword_depth` add nothing, and `gate` is `keyword_alone`
for an entity the vector signal did not find (1 when both found it). The constants below were
tuned (benchmarks/search.py --tune) on the tuning half of the labelled queries
(tests/search/queries.json, `evaluation.halves`) and checked on the held-back
half, which the tuning never sees; the figures are in the README.

Why each term: the vector signal is the better ranker on questions in plain
words, so it weighs more; keyword ranks still lift entries both signals find.
Some types hold prose about many things at once (a magic school's essay, a
class's level table, an equipment category's list), so they match many
questions loosely and crowd out the entry that answers; their prior is lower.
A query that names an entry ("speak with animals", "sneak attack") should
find it first. The gate keeps keyword noise from pushing the vector signal's
answer down: bm25's tail matches stray words of a question, and an entry only
the keyword signal found is less often the answer than one both found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_WORD = re.compile(r"[a-z0-9]+")
# Words that do not make a name match on their own ("the", "of" in "Ring of ...").
_STOP = frozenset({"a", "an", "and", "the", "of", "to", "in", "on", "for", "with", "or"})


def words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def name_matches(query_words: frozenset[str], name: str) -> bool:
    """Every content word of `name` is a word of the query."""
    wanted = words(name) - _STOP
    return bool(wanted) and wanted <= query_words


@dataclass(frozen=True)
class Fusion:
    rrf_k: float = 60.0
    vector_weight: float = 1.0
    keyword_weight: float = 1.0
    name_bonus: float = 0.0
    type_priors: Mapping[str, float] = field(default_factory=dict)
    keyword_depth: float = math.inf  # keyword ranks below this add nothing
    keyword_alone: float = 1.0  # the keyword term's factor when vector did not find it

    def score(self, query_words: frozenset[str], type_name: str, name: str,
              vector_rank: int | None, keyword_rank: int | None) -> float:
        fused = 0.0
        if vector_rank is not None:
            fused += self.vector_weight / (self.rrf_k + vector_rank)
        if keyword_rank is not None and keyword_rank <= self.keyword_depth:
            gate = 1.0 if vector_rank is not None else self.keyword_alone
            fused += gate * self.keyword_weight / (self.rrf_k + keyword_rank)
        fused *= self.type_priors.get(type_name, 1.0)
        if self.name_bonus and name_matches(query_words, name):
            fused += self.name_bonus
        return fused


# Plain RRF (what hybrid was before tuning): the baseline the tuning is compared with.
PLAIN_RRF = Fusion()

# Types whose entries survey a topic (a school of magic, a level table, a category
# list) rather than answer a question: their fused score is scaled by SURVEY_PRIOR.
SURVEY_TYPES = ("magic-schools", "levels", "equipment-categories", "proficiencies",
                "damage-types", "rules", "ability-scores", "alignments", "subclasses",
                "classes", "weapon-properties", "skills")

# The grid `benchmarks/search.py` searches, and its pick on the tuning half (the
# highest recall@5 + MRR averaged over each point's grid neighbours, so a lucky
# isolated point does not win), ranking exactly the candidates a k=5 search fuses
# (`SearchAPI.candidates`): re-run it after changing texts, chunking, model or depth.
GRID: dict[str, tuple[float, ...]] = {
    "vector_weight": (1.0, 1.5, 2.0, 3.0, 4.0),
    "keyword_weight": (0.5, 0.75, 1.0),
    "rrf_k": (5.0, 10.0, 20.0, 40.0, 60.0),
    "name_bonus": (0.0, 0.002, 0.005, 0.01, 0.03),
    "survey_prior": (1.0, 0.85, 0.7, 0.5),
    "keyword_alone": (1.0, 0.5, 0.0),
    "keyword_depth": (math.inf, 10.0, 5.0, 3.0),
}


def from_grid(vector_weight: float, keyword_weight: float, rrf_k: float, name_bonus: float,
              survey_prior: float, keyword_alone: float = 1.0,
              keyword_depth: float = math.inf) -> Fusion:
    return Fusion(rrf_k=rrf_k, vector_weight=vector_weight, keyword_weight=keyword_weight,
                  name_bonus=name_bonus,
                  type_priors=dict.fromkeys(SURVEY_TYPES, survey_prior),
                  keyword_depth=keyword_depth, keyword_alone=keyword_alone)


TUNED = from_grid(vector_weight=1.0, keyword_weight=0.75, rrf_k=5.0, name_bonus=0.03,
                  survey_prior=0.5, keyword_alone=0.5, keyword_depth=10.0)
