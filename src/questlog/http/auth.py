"""Who may do what on a node: the read and write dependencies of every route.

Writes need the bearer token QUESTLOG_API_TOKEN and are refused with 403 on a read
node, whatever the token; reads need QUESTLOG_READ_TOKEN when the server sets one
(the write token reads too). A read also waits, bounded, for `?min_position=N`, and
is answered 503 while a read node restores its replica.
"""

# No `from __future__ import annotations`: FastAPI reads the Annotated[...] parameters of
# these dependencies at route definition time.

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .. import errors
from .node import Role
from .problems import RETRY_AFTER_S, HTTPProblem
from .security import token_matches

if TYPE_CHECKING:
    from ..replication.read_source import ReadSource

MIN_POSITION_FIRST_WAIT_S = 0.01
MIN_POSITION_LONGEST_WAIT_S = 0.1

BEARER = HTTPBearer(auto_error=False, description="QUESTLOG_API_TOKEN for writes; "
                    "QUESTLOG_READ_TOKEN for reads when the server sets one.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


def _presented(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials else None


@dataclass(frozen=True, kw_only=True, eq=False)  # hashed by identity (dependency cache)
class Access:
    """The access rules of one node. The dependencies are `async def`: FastAPI runs sync
    dependencies in its thread pool, one hop per dependency per request (measured: 783 ->
    1041 appends/s when removed)."""

    role: Role
    api_token: str | None
    read_token: str | None
    allow_unauthenticated_writes: bool
    position: Callable[[], int]  # the highest position the node serves
    read_node: "ReadSource | None"
    min_position_timeout_s: float

    # -- reads ------------------------------------------------------------------------------

    def may_read(self, presented: str | None) -> bool:
        # The write token also reads: a writer may always read back what it wrote.
        return self.read_token is None or token_matches(presented, self.read_token) or (
            self.api_token is not None and token_matches(presented, self.api_token))

    async def require_read_token(self, credentials: Credentials) -> None:
        """Dependency: the read token, when the server sets one (no readiness, no wait)."""
        if not self.may_read(_presented(credentials)):
            raise HTTPProblem(401, "unauthorized", "missing or wrong bearer token for reads",
                              headers={"WWW-Authenticate": "Bearer"})

    async def require_read(
        self,
        credentials: Credentials,
        min_position: Annotated[int | None, Query(
            ge=0, le=2**62,
            description="Wait (bounded) until this node has applied this position.")] = None,
    ) -> None:
        """Dependency of every read route: token, a ready replica, `min_position`."""
        await self.require_read_token(credentials)
        if min_position is not None:
            # The client asked to wait: a replica being restored is one more thing to wait
            # for, within the same bound.
            await self._wait_for_position(min_position)
        elif not self._ready():
            raise self._not_ready()

    async def admits_at_once(self, request: Request) -> bool:
        """Whether `require_read` lets `request` through without waiting: the same bearer
        token and readiness checks, for a request that asks no `min_position` (a request
        answered before routing, http.kept_answers: when this says no, the route's own
        dependency answers 401 or 503)."""
        return self.may_read(_presented(await BEARER(request))) and self._ready()

    def _ready(self) -> bool:
        return self.read_node is None or self.read_node.ready

    @staticmethod
    def _not_ready() -> HTTPProblem:
        return HTTPProblem(503, "replica_not_ready",
                           "this read node is restoring its replica; retry shortly",
                           headers={"Retry-After": str(RETRY_AFTER_S)})

    async def _wait_for_position(self, target: int) -> None:
        # Each look costs a read (on a standby: a pool checkout and a round trip), so the
        # wait between looks grows from 10 ms to 100 ms: a fresh write shows up fast, a
        # long wait does not hammer the database.
        deadline = time.monotonic() + self.min_position_timeout_s
        delay = MIN_POSITION_FIRST_WAIT_S
        while True:
            ready = self._ready()
            have = await run_in_threadpool(self.position) if ready else -1  # reads block
            if have >= target:
                return
            if time.monotonic() >= deadline:
                if not ready:
                    raise self._not_ready()
                raise HTTPProblem(
                    503, "min_position_not_reached",
                    f"this node is at position {have}, below min_position {target}, after "
                    f"waiting {self.min_position_timeout_s:.1f} s",
                    headers={"Retry-After": str(RETRY_AFTER_S)})
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, MIN_POSITION_LONGEST_WAIT_S)

    # -- writes -----------------------------------------------------------------------------

    def check_write(self, presented: str | None) -> None:
        """Refuse a write: 403 on a read node, 401 without the write token."""
        if self.role == "read":
            raise errors.ReadOnlyReplica(
                "this node serves a read-only replica; send writes to the write node")
        if self.api_token is None:
            if self.allow_unauthenticated_writes:
                return
            raise HTTPProblem(401, "unauthorized",
                              "writes are disabled: the server has no QUESTLOG_API_TOKEN set",
                              headers={"WWW-Authenticate": "Bearer"})
        if not token_matches(presented, self.api_token):
            raise HTTPProblem(401, "unauthorized", "missing or wrong bearer token for writes",
                              headers={"WWW-Authenticate": "Bearer"})

    async def require_write(self, credentials: Credentials) -> None:
        """Dependency of every write route."""
        self.check_write(_presented(credentials))
