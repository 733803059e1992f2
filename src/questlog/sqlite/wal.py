"""SQLite's WAL and Litestream: the executable, and `wal_autocheckpoint` off while it watches.

Who watches is decided by the flock markers of `questlog.checkpoint_guard`; this
module issues the pragma.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..checkpoint_guard import ABSENT_RECHECK_S, held_by_someone_else, replicate_lock_path
from .driver import DBAPIConnection


class CheckpointGuard:
    """Keeps each write connection's autocheckpoint in line with who owns checkpoints."""

    def __init__(self, db_path: Path, *, litestream_always: bool) -> None:
        self.db_path = db_path
        self.litestream_always = litestream_always
        # Asked before every write batch: the lock's path is made once, not per batch.
        self._replicate_lock = str(replicate_lock_path(db_path))
        self._absent_until = 0.0  # monotonic time until which "no lock" still holds
        self._default_pages: int | None = None
        self._applied: dict[int, int] = {}

    def checkpoints_allowed(self) -> bool:
        if self.litestream_always:
            return False
        asked = time.monotonic()
        if asked < self._absent_until:
            return True  # no lock a moment ago, and none can have Litestream running yet
        if held_by_someone_else(self._replicate_lock):
            return False
        self._absent_until = asked + ABSENT_RECHECK_S
        return True

    def apply(self, conn: DBAPIConnection) -> bool:
        """Set `conn`'s wal_autocheckpoint for the next write; returns whether it may
        checkpoint. Cheap when nothing changed (no pragma is issued)."""
        if self._default_pages is None:
            self._default_pages = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        allowed = self.checkpoints_allowed()
        pages = self._default_pages if allowed else 0
        if self._applied.get(id(conn)) != pages:
            conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
            self._applied[id(conn)] = pages
        return allowed


def litestream_binary() -> str | None:
    """The litestream executable: next to this interpreter (venv) first, then PATH."""
    candidate = Path(sys.executable).parent / "litestream"
    if candidate.exists():
        return str(candidate)
    import shutil  # here: shutil (with bz2, lzma) is no import for every store that opens

    return shutil.which("litestream")
