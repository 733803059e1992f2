"""Leases on PostgreSQL: session-level advisory locks on a connection of their own
(`storage.leases.Leases`).

`pg_try_advisory_lock` gives a key to one session at a time and the server releases
it when that session ends, however it ends (a SIGKILLed process's connection closes;
a machine that vanished is dropped after the server's TCP keepalive gives up), so
another node's next try takes it. Keys are (LEASE_CLASS, a 32-bit digest of the name).

The connection is checked every CHECK_S seconds: one that died (a server restart)
held nothing any more, so the leases are forgotten and tried again on a new one.
"""

from __future__ import annotations

import threading
import time
import zlib

from .connections import Database
from .driver import PGConnection

LEASE_CLASS = 0x716C  # "ql": the first key of every questlog lease
CHECK_S = 5.0    # how often a connection holding leases is checked to be alive
RETRY_S = 1.0    # how often a lease another node holds is tried again


def lease_key(name: str) -> int:
    """The second key of a lease: a signed 32-bit digest of its name."""
    digest = zlib.crc32(name.encode("utf-8"))
    return digest - (1 << 32) if digest >= 1 << 31 else digest


class AdvisoryLeases:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._conn: PGConnection | None = None
        self._held: set[str] = set()
        self._tried: dict[str, float] = {}   # lease -> when it was last found taken
        self._checked = 0.0
        self._lock = threading.Lock()

    def _connection(self) -> PGConnection:
        conn = self._conn
        now = time.monotonic()
        if conn is not None and not conn.broken and not conn.closed:
            if now - self._checked < CHECK_S:
                return conn
            try:
                conn.execute("SELECT 1")
                self._checked = now
                return conn
            except Exception:
                pass
        self._forget()
        self._conn = self._database.connect(application="questlog-leases")
        self._checked = now
        return self._conn

    def _forget(self) -> None:
        self._held.clear()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already gone with the server
                pass
            self._conn = None

    def hold(self, name: str) -> bool:
        with self._lock:
            if (name not in self._held
                    and time.monotonic() - self._tried.get(name, -RETRY_S) < RETRY_S):
                return False  # another node held it a moment ago
            try:
                conn = self._connection()
                if name in self._held:
                    return True
                (taken,) = conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                        (LEASE_CLASS, lease_key(name))).fetchone()
            except Exception:
                self._forget()  # no server: hold nothing, try again next time
                return False
            if taken:
                self._held.add(name)
            else:
                self._tried[name] = time.monotonic()
            return bool(taken)

    def close(self) -> None:
        with self._lock:
            self._forget()  # closing the session gives back every lease it held
