"""The log's commit announcements on PostgreSQL: LISTEN on the channel the log's insert
trigger notifies (`schema.LOG_CHANNEL`, delivered when the inserting transaction
commits), as a `storage.signals.CommitSignal`.

One listening connection per store, on a thread of its own, started on first use.
When it breaks it is opened again after a pause; meanwhile waits run out their
timeouts (polling), and a reconnection counts as an announcement, since commits may
have gone unheard.
"""

from __future__ import annotations

import logging
import threading

from .connections import Database
from .driver import PGConnection
from .schema import LOG_CHANNEL

log = logging.getLogger("questlog.postgres")

_IDLE_S = 1.0        # how often the listening thread looks whether it should stop
_RECONNECT_S = 1.0   # pause before listening again after a failure


class CommitListener:
    """`storage.signals.CommitSignal` fed by LISTEN/NOTIFY."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._cond = threading.Condition()
        self._count = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="questlog-listen", daemon=True)
        self._thread.start()

    def seen(self) -> int:
        return self._count

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            if self._count == seen and not self._closed.is_set():
                self._cond.wait(timeout)
            return self._count

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _announce(self) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def _run(self) -> None:
        while not self._closed.is_set():
            conn: PGConnection | None = None
            try:
                conn = self._database.connect(application="questlog-listener")
                conn.execute(f"LISTEN {LOG_CHANNEL}")
                self._announce()  # (re)connected: commits may have gone unheard
                while not self._closed.is_set():
                    heard = False
                    for _ in conn.notifies(timeout=_IDLE_S, stop_after=1):
                        heard = True
                    if heard:
                        self._announce()
            except Exception:
                if self._closed.is_set():
                    return
                log.debug("listening for commits failed; polling until it works again",
                          exc_info=True)
                self._closed.wait(_RECONNECT_S)
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # already gone with the server
                        pass

    def close(self) -> None:
        self._closed.set()
        self.wake()
        self._thread.join(timeout=_IDLE_S * 5)
