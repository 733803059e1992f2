"""What the routers of one app know about the node they serve: its store, its role, its
replication side (a write node's Replicator, a read node's source: a Litestream
follower or a hot standby) and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..replication.read_source import ReadSource
    from ..replication.replicator import Replicator
    from ..store import Store
    from .health import WriteFaults

Role = Literal["write", "read"]


@dataclass(frozen=True, eq=False)
class Node:
    """One node. A read node serves its source (a follower's file, a hot standby) through
    `store`, opened read-only."""

    store: Store
    role: Role
    max_page_bytes: int
    replicator: Replicator | None = None
    read_node: ReadSource | None = None
    write_faults: WriteFaults | None = None

    @property
    def writable(self) -> bool:
        return self.role == "write"

    def position(self) -> int:
        """The highest position this node serves."""
        if self.read_node is not None:
            return self.read_node.position()
        return self.store.head_position()
