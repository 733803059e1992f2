"""The SQLite driver: which DB-API module, whether its SQLite is safe, sqlite-vec.

pysqlite3 ships a current SQLite that can load extensions; SQLite 3.7.0-3.51.2
has the WAL-reset race that corrupts a database when another process
(Litestream) checkpoints while this one writes (fixed in 3.51.3, backported to
3.50.7 and 3.44.6).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

DBAPIConnection = Any  # pysqlite3 / sqlite3 connection objects carry no type stubs


def _parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def sqlite_version_is_safe(version: str) -> bool:
    """False for SQLite releases with the WAL-reset race (3.7.0 to 3.51.2, minus backports)."""
    v = _parse_version(version)
    if v >= (3, 51, 3):
        return True
    if (3, 50, 7) <= v < (3, 51, 0):
        return True
    if (3, 44, 6) <= v < (3, 45, 0):
        return True
    return v < (3, 7, 0)


def load_dbapi() -> ModuleType:
    """pysqlite3 when installed (it ships a current SQLite), else stdlib sqlite3."""
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError:  # pragma: no cover - pysqlite3 is a hard dependency
        return importlib.import_module("sqlite3")


@dataclass
class VecStatus:
    loaded: bool
    version: str | None = None
    reason: str | None = None


_vec_lock = threading.Lock()
_vec_status: VecStatus | None = None


def sqlite_vec_path() -> str | None:
    """Path of the sqlite-vec loadable extension, found without importing the package
    (its __init__ imports numpy, which would cost every cold command ~100 ms)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or spec.origin is None:
        return None
    return os.path.join(os.path.dirname(spec.origin), "vec0")


def load_sqlite_vec(dbapi_conn: DBAPIConnection) -> VecStatus:
    """Load sqlite-vec into one connection; any failure means: fall back to numpy."""
    path = sqlite_vec_path()
    if path is None:
        return VecStatus(False, reason="sqlite-vec package not installed")
    if not hasattr(dbapi_conn, "enable_load_extension"):
        return VecStatus(False, reason="this SQLite driver cannot load extensions")
    try:
        dbapi_conn.enable_load_extension(True)
        try:
            dbapi_conn.load_extension(path)
        finally:
            dbapi_conn.enable_load_extension(False)
        row = dbapi_conn.execute("select vec_version()").fetchone()
        return VecStatus(True, version=str(row[0]))
    except Exception as exc:  # any failure means: fall back to numpy
        return VecStatus(False, reason=f"sqlite-vec failed to load: {exc}")


def remember_vec_status(status: VecStatus) -> None:
    """Record the first connection's outcome as this process's answer."""
    global _vec_status
    with _vec_lock:
        if _vec_status is None:
            _vec_status = status


def vec_status() -> VecStatus:
    """Whether sqlite-vec loaded in this process (probing once on a memory database)."""
    global _vec_status
    with _vec_lock:
        if _vec_status is None:
            mod = load_dbapi()
            conn = mod.connect(":memory:")
            try:
                _vec_status = load_sqlite_vec(conn)
            finally:
                conn.close()
        return _vec_status
