"""The embedding cache port: vectors by (model id, text hash), kept across rebuilds.

Rows are pure functions of their key, so a store keeps them forever and a
second store of the same text is a no-op (never an error). Vectors are
float32 blobs of `dim` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from .session import Session


class EmbeddingCache(Protocol):
    def lookup(self, session: Session, model_id: str,
               hashes: Iterable[str]) -> dict[str, bytes]:
        """The cached vectors of the hashes that have one ({} before the first store)."""
        ...

    def store(self, session: Session, model_id: str, dim: int,
              rows: Sequence[tuple[str, bytes]]) -> None:
        """Keep (text hash, vector) rows; keys already cached keep their vector."""
        ...
