"""The search index's read model port: its chunks, its state, the entries it indexes.

The index projector (`questlog.search.index`) decides which chunks each
content entry has; this port is where it reads and writes them. Chunk ids are
stable hashes of (type, index, chunk number); each chunk carries its float32
vector once one is known (None before). The state is a small key/value map
(`token`, `model_id`, `dim`, `total`) that versions the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol

from .session import Session
from .vectors import VectorRow

Key = tuple[str, str]  # (content type, entry index)


class ChunkRow(NamedTuple):
    id: int
    type: str
    idx: str
    chunk_no: int
    pack: str
    name: str
    text: str
    text_hash: str
    embedding: bytes | None


class StoredChunk(NamedTuple):
    text_hash: str
    pack: str
    has_vector: bool


class ChunkInfo(NamedTuple):
    """What a search hit shows of its chunk."""

    type: str
    idx: str
    name: str
    pack: str
    chunk_no: int
    text: str


class SearchChunks(Protocol):
    def state(self, session: Session) -> dict[str, str] | None:
        """The index state (None before the index was first written)."""
        ...

    def write_state(self, session: Session, values: Mapping[str, str]) -> None: ...

    def vector_count(self, session: Session) -> int:
        """How many chunks have a vector."""
        ...

    def pack_keys(self, session: Session, pack: str) -> set[Key]:
        """Keys the pack has in the content model now, and keys indexed from it so far."""
        ...

    def entries(self, session: Session, type_name: str,
                indexes: Sequence[str]) -> list[tuple[str, str, str]]:
        """(index, pack, data JSON) of the effective content entries of these keys."""
        ...

    def missing_texts(self, session: Session) -> dict[str, str]:
        """{text hash: text} of chunks written before their vector was known."""
        ...

    def stored(self, session: Session, keys: Iterable[Key]) -> dict[int, StoredChunk]:
        """The chunks indexed now for these keys, by id."""
        ...

    def unembedded(self, session: Session) -> dict[int, str]:
        """{chunk id: text hash} of every chunk without a vector."""
        ...

    def replace(self, session: Session, drop: Sequence[int], rows: Sequence[ChunkRow],
                vectors: Mapping[int, bytes]) -> None:
        """Delete `drop`, insert `rows`, then set the vectors of other chunks."""
        ...

    def vector_rows(self, session: Session, ids: Sequence[int]) -> list[VectorRow]:
        """The vectors of these chunks (those that have one), for a vector index."""
        ...

    def describe(self, session: Session, ids: Sequence[int]) -> dict[int, ChunkInfo]: ...
