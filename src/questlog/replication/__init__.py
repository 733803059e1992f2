"""Replication: Litestream driven by subprocess, never re-implemented.

- `Replicator`: `litestream replicate` for one store, supervised, with
  `wait_replicated(position)` over the control socket;
- `Follower`: `litestream restore -f` for read nodes (restores afresh on every
  restart, detects stalls);
- `restore()`: latest / timestamp / txid, with an integrity check;
- `ReadNode`: a follower plus the read-only store and lag bookkeeping a read
  node serves from;
- `StandbyReadNode`: the same for a PostgreSQL hot standby, which the server keeps
  in step by itself; `ReadSource` is what both give the HTTP app, and
  `read_source()` picks one from `read-node`'s options.

Nothing here imports FastAPI; the HTTP side lives in `questlog.http`.
"""

from __future__ import annotations

from .binary import find_binary, list_ltx, replica_txid
from .control import ControlClient, SyncResult
from .follower import Follower
from .options import LitestreamOptions, normalize_replica_url, render_config
from .read_source import ReadSource, read_source
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
from .standby import StandbyReadNode

__all__ = [
    "ControlClient", "Follower", "LitestreamOptions", "ReadNode", "ReadSource", "ReplicationAck",
    "ReplicationStatus",
    "Replicator", "RestoreResult", "SyncResult", "find_binary", "format_timestamp", "format_txid",
    "integrity_check", "list_ltx", "normalize_replica_url", "render_config", "replica_txid",
    "read_source", "restore", "restore_store", "RestoredStore", "StandbyReadNode",
]
