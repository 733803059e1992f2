"""What every vector index shares: the final exact re-scoring, so all agree.

The vector index port is `questlog.storage.vectors.VectorIndex`; its SQLite
implementations are `questlog.sqlite.vectors` (sqlite-vec `vec0`, with the
layout and its measurements) and `questlog.sqlite.vectors_numpy` (brute force).
Each returns candidate chunk ids and ends in `rank()`: a float64 dot product of
the stored float32 vectors, ties broken by chunk id, so the same query gives
the same ids in the same order, scores included, whichever index answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..storage.vectors import Filters, Generation

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MARGIN", "Filters", "Generation", "blobs_to_matrix", "rank"]

# Extra candidates fetched beyond what is asked, so a float near-tie at the
# cut-off cannot make two indexes disagree after the common re-score.
MARGIN = 8


def rank(ids: Sequence[int], vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32],
         n: int) -> list[tuple[int, float]]:
    """(id, cosine similarity) of the best n, exact float64, ties by id: every index ends here."""
    import numpy as np

    if len(ids) == 0:
        return []
    # Row-wise products summed per row (not a BLAS matrix product, whose summation
    # order depends on the matrix shape) and rounded: identical for every index.
    scores = np.round((vectors.astype(np.float64) * query.astype(np.float64)).sum(axis=1), 12)
    id_arr = np.asarray(ids, dtype=np.int64)
    order = np.lexsort((id_arr, -scores))[:n]
    return [(int(id_arr[i]), float(scores[i])) for i in order]


def blobs_to_matrix(blobs: Sequence[bytes], dim: int) -> npt.NDArray[np.float32]:
    import numpy as np

    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)

