"""Replication: Litestream driven by subprocess, never re-implemented.

- `Replicator`: `litestream replicate` for one store, supervised, with
  `wait_replicated(position)` over the control socket;
- `Follower`: `litestream restore -f` for read nodes (restores afresh on every
  restart, detects stalls);
- `restore()`: latest / timestamp / txid, with an integrity check;
- `ReadNode`: a follower plus the read-only store and lag bookkeeping a read
  node serves from.

Nothing here imports FastAPI; the HTTP side lives in `questlog.http`.
"""

from __future__ import annotations

from .binary import find_binary, list_ltx, replica_txid
from .control import ControlClient, SyncResult
from .follower import Follower
from .options import LitestreamOptions, normalize_replica_url, render_config
from .readnode import ReadNode
from .replicator import ReplicationAck, ReplicationStatus, Replicator
from .restore import (
    RestoredStore,
    RestoreResult,
    format_timestamp,
    format_txid,
    integrity_check,
    restore,
    restore_store,
)

__all__ = [
    "ControlClient", "Follower", "LitestreamOptions", "ReadNode", "ReplicationAck",
    "ReplicationStatus",
    "Replicator", "RestoreResult", "SyncResult", "find_binary", "format_timestamp", "format_txid",
    "integrity_check", "list_ltx", "normalize_replica_url", "render_config", "replica_txid",
    "restore", "restore_store", "RestoredStore",
]
