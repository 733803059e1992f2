"""The primary's head, as a read node learns it: the position and commit time of the
newest event the primary has (or, behind Litestream, has confirmed on its replica).

A replica's own data never says what it has not received yet, so a read node asks the
primary itself, through one of two doors:
- `HttpPrimary`: the write node's `GET /health` (`primary_position` — the position a
  Litestream replicator confirmed — else `position`; the commit time of that event);
- `StorePrimary`: the primary's database itself (a PostgreSQL URL), opened read-only:
  its head position and that event's `recorded_at`.
`primary_head_source` picks the door by the URL's scheme.

Both read nodes poll their door through one `PrimaryMonitor` (on a `Ticker` thread) and
report their lag with `PrimaryMonitor.lag`; `read_head` is the one reader of a store's
head and its commit time (the primary's, a standby's, a follower's, a write node's).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import QuestlogError, ReplicationError
from ..storage.select import parse_location, redacted

if TYPE_CHECKING:
    from ..settings import Settings
    from ..storage.session import Session
    from ..store import Store

log = logging.getLogger("questlog.replication")

HTTP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class PrimaryHead:
    """A store's newest event: position and recorded time (UTC text); (0, None) when the
    log is empty. The primary's as last read, or a node's own (`read_head`)."""

    position: int
    commit_time: str | None


def read_head(store: Store, session: Session | None = None) -> PrimaryHead:
    """The store's head and its commit time: one read of the newest event, no payload
    (in `session` when given, else in a read transaction of its own)."""
    if session is None:
        with store.read() as own:
            return read_head(store, own)
    for event in store.log.read_all(session, backwards=True, limit=1, payload=False):
        return PrimaryHead(event.position, event.recorded_at)
    return PrimaryHead(0, None)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def seconds_behind(primary_time: str | None, own_time: str | None) -> float | None:
    """The commit-time gap between the primary's head and this node's (None: unknown)."""
    theirs, ours = parse_time(primary_time), parse_time(own_time)
    if theirs is None or ours is None:
        return None
    return max(0.0, (theirs - ours).total_seconds())


@dataclass(frozen=True)
class Lag:
    """How far a node is behind its primary's head (every field None when unknown)."""

    primary_position: int | None = None
    lag_positions: int | None = None
    lag_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"primary_position": self.primary_position, "lag_positions": self.lag_positions,
                "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3)}


def lag_behind(primary: PrimaryHead, own: PrimaryHead) -> Lag:
    """The lag of a node at `own` behind `primary`: missing positions, and the commit-time
    gap (0 when no position is missing; None when a time is unknown)."""
    missing = max(0, primary.position - own.position)
    return Lag(primary.position, missing,
               0.0 if missing == 0 else seconds_behind(primary.commit_time, own.commit_time))


class PrimaryHeadSource(Protocol):
    url: str  # as shown in /health (no password)

    def head(self) -> PrimaryHead:
        """The primary's head now; ReplicationError (one line) when it cannot be read."""
        ...

    def close(self) -> None: ...


class HttpPrimary:
    """The write node's /health, with the read token when the node has one."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.url = base_url.rstrip("/")
        self.token = token

    def body(self) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.url}/health")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # it answered: say what, not "unreachable"
            if exc.code in (401, 403):
                raise ReplicationError(
                    f"primary {self.url} refused /health with {exc.code}: the read node's "
                    "QUESTLOG_READ_TOKEN is missing or not the primary's") from exc
            raise ReplicationError(f"primary {self.url} answered /health with HTTP "
                                   f"{exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ReplicationError(f"primary {self.url} unreachable: {exc}") from exc
        if not isinstance(body, dict):
            raise ReplicationError(f"primary {self.url} answered /health with no object")
        return body

    def head(self) -> PrimaryHead:
        return head_of_health(self.body())

    def close(self) -> None:
        pass


def head_of_health(body: dict[str, Any]) -> PrimaryHead:
    """A write node's /health read as its head: behind Litestream, the position confirmed
    on the replica (what a follower can have), else the node's own head."""
    position = body.get("primary_position")
    if not isinstance(position, int):
        position = body.get("position")
    if not isinstance(position, int):
        raise ReplicationError("the primary's /health names no position")
    replication = body.get("replication")
    if replication is not None and not isinstance(replication, dict):
        raise ReplicationError("the primary's /health has a replication field that is no "
                               "object")
    replicated_at = (replication or {}).get("replicated_at")
    commit_time = replicated_at or body.get("commit_time")
    if commit_time is not None and not isinstance(commit_time, str):
        raise ReplicationError("the primary's /health has a commit time that is no text")
    return PrimaryHead(position, commit_time)


class StorePrimary:
    """The primary's database, opened read-only on first use (never written)."""

    def __init__(self, location: str, settings: Settings | None = None) -> None:
        self.location = location
        self.url = redacted(location)
        self.settings = settings
        self._store: Store | None = None

    def head(self) -> PrimaryHead:
        from ..store import Store

        try:
            if self._store is None:
                self._store = Store.open(self.location, settings=self.settings,
                                         read_only=True, create=False)
            return read_head(self._store)
        except QuestlogError as exc:
            raise ReplicationError(f"primary {self.url} unreadable: {exc}") from exc
        except Exception as exc:  # a driver error the storage layer did not translate
            from ..storage.errors import storage_error

            fault = storage_error(exc)
            if fault is None:
                raise
            raise ReplicationError(f"primary {self.url} unreadable: {fault}") from exc

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()


def primary_head_source(url: str, *, token: str | None = None,
                        settings: Settings | None = None) -> PrimaryHeadSource:
    """`--primary URL`: a write node's http(s) URL, or a store location (the primary's
    database, e.g. postgresql://…)."""
    if url.lower().startswith(("http://", "https://")):
        return HttpPrimary(url, token)
    parse_location(url)  # one line for an unknown scheme
    return StorePrimary(url, settings)


@dataclass(frozen=True)
class PrimaryView:
    """What a monitor knows of the primary: its head as last read (None when the last
    poll failed or none succeeded yet), the last poll's error, and when a poll last
    succeeded (UTC text)."""

    head: PrimaryHead | None
    error: str | None
    last_polled_at: str | None

    def lag(self, own: PrimaryHead) -> Lag:
        """The lag of a node at `own`: unknown (all None) without a current head."""
        return Lag() if self.head is None else lag_behind(self.head, own)


class PrimaryMonitor:
    """A read node's view of its primary, refreshed by `poll` (thread-safe).

    A failed poll forgets the head it had: a lag computed from a head that can no longer
    be checked would look current while the primary is unreachable."""

    def __init__(self, source: PrimaryHeadSource) -> None:
        self.source = source
        self.url = source.url
        self._lock = threading.Lock()
        self._view = PrimaryView(None, None, None)

    def poll(self) -> None:
        try:
            head = self.source.head()
        except ReplicationError as exc:
            with self._lock:
                self._view = PrimaryView(None, str(exc), self._view.last_polled_at)
            return
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        with self._lock:
            self._view = PrimaryView(head, None, now)

    def view(self) -> PrimaryView:
        with self._lock:
            return self._view

    def close(self) -> None:
        self.source.close()


class Ticker:
    """A daemon thread calling `tick` every `interval_s` until stopped; a failing tick is
    logged, never fatal (monitoring must not take a node down)."""

    def __init__(self, name: str, interval_s: float, tick: Callable[[], None]) -> None:
        self.name = name
        self.interval_s = interval_s
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception as exc:
                log.warning("%s: %s", self.name, exc)
