"""Synthetic vectors shaped like sentence embeddings, for benchmarks and backend tests.

Uniform random unit vectors are the worst case for every index (all
neighbours nearly equidistant) and nothing like real embeddings. These are
clustered: cluster centres share a common direction (MiniLM embeddings of the
SRD have a mean vector of norm 0.39), points scatter around their centre, and
the content type is correlated with the cluster (spells lie near spells).
Measured on the real SRD chunks: nearest-neighbour cosine median 0.82, random
pair 0.15; these give about 0.70 and 0.13.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass
class Synthetic:
    vectors: npt.NDArray[np.float32]
    types: list[str]
    packs: list[str]
    queries: npt.NDArray[np.float32]


def clustered(n: int, *, dim: int = 384, n_types: int = 25, n_queries: int = 100,
              per_cluster: int = 20, seed: int = 0) -> Synthetic:
    import numpy as np

    rng = np.random.default_rng(seed)
    n_clusters = max(10, n // per_cluster)
    mean = rng.normal(size=dim)
    mean /= np.linalg.norm(mean)
    centres = rng.normal(size=(n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    centres += 0.5 * mean
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def sample(count: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        labels = rng.integers(0, n_clusters, size=count)
        x = centres[labels] + rng.normal(scale=0.035, size=(count, dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32), labels

    vectors, labels = sample(n)
    queries, _ = sample(n_queries)
    type_ids = (labels * 7 + rng.integers(0, 3, size=n)) % n_types
    types = [f"type-{t:02d}" for t in type_ids]
    packs = ["srd" if r < 0.8 else "homebrew" for r in rng.random(n)]
    return Synthetic(vectors, types, packs, queries)
