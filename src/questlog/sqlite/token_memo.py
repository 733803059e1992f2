"""Caching tokens of a read-only store file, known without a connection when the file
provably has not changed since they were read (`storage.read_positions.TokenMemo`).

Why: a read node opens a fresh read-only connection per read (a Litestream `restore -f`
follower rewrites the file in place, so a kept connection would serve stale pages), and
that connection (pragmas, sqlite-vec) costs 1-3 ms — more than a cached answer. Asking
the file system whether the file changed costs a few microseconds.

The rule (exactness is the contract: a token served from here is the token a connection
opened now would read):

1. Before a token is read from the file (before the session's first statement: SQLite
   takes its read snapshot there), the database file is stat'ed and the wall clock read:
   `FileState` = (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) and the time.
2. The token is remembered with that state. A later lookup stats the file again and
   answers the remembered token only if the signature is identical and the remembered
   state was *settled*: its ctime and mtime lie more than `RACY_MARGIN_NS` before the
   moment it was observed.
3. Anything else reads the token from the file as before: a stat that fails (the
   follower restoring afresh, a missing file), a WAL holding frames (`-wal` larger than
   0 bytes: a WAL writer's commit becomes visible through the `-shm` index after its
   frames' last write, possibly after an fsync, and nothing a stat sees marks that
   moment), a `-journal` (a rollback writer mid-transaction, or a hot journal),
   timestamps without a sub-second part (a file system too coarse for the margin).

Why this is exact. Every content change of the file goes through `write`/`truncate`,
which set mtime and ctime to the kernel's clock; ctime cannot be set back by anyone
(`utime` sets it to now, so a forged mtime is still seen). A change made after the
observation at time t0 therefore gets a ctime of at least t0 minus one clock tick (the
kernel stamps files with a coarse clock, at most 10 ms behind at HZ=100). A settled state
has ctime < t0 - margin, with margin > one tick, so any later change gives a different
ctime and the signature no longer matches. An unsettled ("racy", as in git's racy index)
state could have been written again within the same tick without any visible change, so
it is never trusted; the next read after the margin passes records a settled one. The
changes made before t0 are all visible to the read that follows the stat: the
follower (`litestream:replica.go applyLTXFile`) and every rollback-journal writer write
pages under SQLite's EXCLUSIVE lock, which the read's SHARED lock waits for; a WAL
writer's commits are covered by rule 3 (its WAL is empty only when everything is in
the database file, and a checkpoint that empties it writes that file).

`RACY_MARGIN_NS` is 50 ms: five ticks of the coarsest Linux clock (HZ=100), so a state
is trusted from 50 ms after its last change. Assumed: a local file system, whose
timestamps come from this machine's clock (on a network file system the server's clock
stamps them); a wall clock stepped backwards by more than the margin between a read and
a change could in principle repeat a ctime to the nanosecond (with the same size, mtime,
inode), which is not a practical concern.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import NamedTuple

from ..storage.session import Session

RACY_MARGIN_NS = 50_000_000
MAX_KEYS = 4096  # distinct tokens remembered (streams' versions are one key each)
_SECOND_NS = 1_000_000_000

Signature = tuple[int, int, int, int, int]  # dev, ino, size, mtime_ns, ctime_ns
Stat = Callable[[str], os.stat_result]


class FileState(NamedTuple):
    """What a stat said about the database file, and whether it may be trusted."""

    signature: Signature
    observed_ns: int
    settled: bool  # its last change is more than RACY_MARGIN_NS before `observed_ns`


def settled(st: os.stat_result, observed_ns: int) -> bool:
    """Whether a change after `observed_ns` must show in these timestamps (module doc)."""
    changed = max(st.st_ctime_ns, st.st_mtime_ns)
    if st.st_ctime_ns % _SECOND_NS == 0 and st.st_mtime_ns % _SECOND_NS == 0:
        return False  # whole seconds: a file system too coarse for the margin
    return changed < observed_ns - RACY_MARGIN_NS


def observe(path: str, *, stat: Stat = os.stat,
            clock: Callable[[], int] = time.time_ns) -> FileState | None:
    """The database file's state now, or None when a stat cannot vouch for it (module
    doc, rule 3). The clock is read before the stat."""
    now = clock()
    try:
        st = stat(path)
        try:
            if stat(f"{path}-wal").st_size > 0:
                return None  # a WAL writer's frames: visibility is not in any timestamp
        except FileNotFoundError:
            pass
        try:
            stat(f"{path}-journal")
            return None      # a rollback writer is mid-transaction (or left a hot journal)
        except FileNotFoundError:
            pass
    except OSError:
        return None          # missing (a follower restoring afresh), unreadable: read it
    signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return FileState(signature, now, settled(st, now))


class FileTokenMemo:
    """Tokens of one read-only store file, each remembered with the file's state observed
    just before it was read (`storage.read_positions.TokenMemo`)."""

    def __init__(self, path: Path, *, stat: Stat = os.stat,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.path = str(path.resolve())
        self._stat = stat
        self._clock = clock
        self._entries: dict[Hashable, tuple[FileState, str]] = {}
        self._lock = threading.Lock()
        self.known_hits = 0  # tokens answered without a connection (tests, benchmarks)

    def observe(self) -> FileState | None:
        return observe(self.path, stat=self._stat, clock=self._clock)

    def known(self, key: Hashable) -> str | None:
        entry = self._entries.get(key)
        if entry is None or not entry[0].settled:
            return None
        now = self.observe()
        if now is None or now.signature != entry[0].signature:
            return None
        self.known_hits += 1
        return entry[1]

    def read(self, key: Hashable, session: Session, read: Callable[[Session], str]) -> str:
        before = self.observe()  # before the session's first statement: its snapshot
        token = read(session)
        if before is not None:
            with self._lock:
                if len(self._entries) >= MAX_KEYS:
                    self._entries.clear()
                self._entries[key] = (before, token)
        return token
