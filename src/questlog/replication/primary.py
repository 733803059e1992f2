"""The primary's head, as a read node learns it: the position and commit time of the
newest event the primary has (or, behind Litestream, has confirmed on its replica).

A replica's own data never says what it has not received yet, so a read node asks the
primary itself, through one of two doors:
- `HttpPrimary`: the write node's `GET /health` (`primary_position` — the position a
  Litestream replicator confirmed — else `position`; the commit time of that event);
- `StorePrimary`: the primary's database itself (a PostgreSQL URL), opened read-only:
  its head position and that event's `recorded_at`.
`primary_head_source` picks the door by the URL's scheme.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import QuestlogError, ReplicationError
from ..storage.select import parse_location, redacted

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store

HTTP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class PrimaryHead:
    """The primary's newest event as last read: position and recorded time (UTC text)."""

    position: int
    commit_time: str | None


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
    replicated_at = (body.get("replication") or {}).get("replicated_at")
    return PrimaryHead(position, replicated_at or body.get("commit_time"))


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
            position = self._store.head_position()
            commit_time = None
            for event in self._store.read_all(position, 1) if position > 0 else ():
                commit_time = event.recorded_at
            return PrimaryHead(position, commit_time)
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
