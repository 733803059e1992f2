"""The SQLite vector indexes under the names and call forms they had before the ports.

`Vec0Backend` / `NumpyBackend` and the mirror helpers (which tests of the
indexes call directly) take the raw connection and, last, the index generation's total
(vec0) or token (numpy) instead of a `Generation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..search.index import CHUNKS_TABLE
from ..storage.vectors import Filters, Generation
from .vectors import (
    BQ_OVERSAMPLE,
    BQ_TABLE,
    EXACT_SCAN_MAX,
    VEC_TABLE,
    SQLiteVec0Index,
    mirror_delete,
    mirror_insert,
    mirror_token,
    resync_mirror,
    tune_for_knn,
)
from .vectors_numpy import SQLiteNumpyIndex

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


__all__ = ["BQ_TABLE", "CHUNKS_TABLE", "VEC_TABLE", "NumpyBackend", "Vec0Backend",
           "mirror_delete", "mirror_insert", "mirror_token", "resync_mirror", "tune_for_knn"]


class Vec0Backend(SQLiteVec0Index):
    def __init__(self, chunks_table: str = CHUNKS_TABLE, *, exact_scan_max: int = EXACT_SCAN_MAX,
                 oversample: int = BQ_OVERSAMPLE) -> None:
        super().__init__(chunks_table, exact_scan_max=exact_scan_max, oversample=oversample)

    def search(self, session: Any, query: npt.NDArray[np.float32], k: int,  # type: ignore[override]
               filters: Filters, total: int) -> list[tuple[int, float]]:
        return super().search(session, query, k, filters, Generation("", total))


class NumpyBackend(SQLiteNumpyIndex):
    def __init__(self, chunks_table: str = CHUNKS_TABLE) -> None:
        super().__init__(chunks_table)

    def search(self, session: Any, query: npt.NDArray[np.float32], k: int,  # type: ignore[override]
               filters: Filters, token: str) -> list[tuple[int, float]]:
        return super().search(session, query, k, filters, Generation(token, 0))
