"""Old import path of the SQLite connection helpers, now in `questlog.sqlite`.

Kept while modules of other areas (projections, search, content, game) and
tests still import from here; it holds no SQL and imports no driver itself.
New code imports from `questlog.sqlite.*` (engine code) or `questlog.storage.*`.
"""

from __future__ import annotations

from .sqlite.connections import Database
from .sqlite.driver import (
    DBAPIConnection,
    VecStatus,
    load_dbapi,
    sqlite_vec_path,
    sqlite_version_is_safe,
    vec_status,
)
from .sqlite.errors import is_corruption, open_failure, storage_error
from .sqlite.wal import litestream_binary

__all__ = [
    "DBAPIConnection",
    "Database",
    "VecStatus",
    "is_corruption",
    "litestream_binary",
    "load_dbapi",
    "open_failure",
    "sqlite_vec_path",
    "sqlite_version_is_safe",
    "storage_error",
    "vec_status",
]
