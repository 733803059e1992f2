"""Conditional reads: an `ETag` from the log positions an answer reflects, and 304s.

Every read route depends on `conditional(...)` with the positions its answer is built
from (`questlog.caching.tokens`: the content checkpoint for content, content and
search index for search, the game read models' checkpoints for game routes, a
stream's version for `/streams/{id}`, the head for `/events`). The dependency reads
that token — one cheap statement, no read-model table — before the route reads
anything; an `If-None-Match` naming the current ETag is answered 304 there. Otherwise
the answer carries the ETag and `Cache-Control: no-cache` (a client or proxy may keep
it but must revalidate). The token is read before the body, so a body is never older
than its ETag: whatever moved in between moves the next token too.

On a read node the backend's token memo (`storage.read_positions.TokenMemo`) knows the
token without a connection while a stat shows its file unchanged: the dependency asks
it first, on the event loop (a stat, no thread hop), and reads the token in the thread
pool only when it cannot tell.
"""

# No `from __future__ import annotations`: FastAPI reads the dependency's parameters.

import hashlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

from ..caching import PositionLRU
from ..caching.tokens import ReadModels
from ..storage.read_positions import ReadPositions

if TYPE_CHECKING:
    from ..store import Store

CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class TokenOf:
    """What a route's token is: `key` names it per request (the token memo's key: the
    same key is always read the same way), `read` reads it on a session."""

    key: Callable[[Request], Hashable]
    read: Callable[[ReadPositions, Any, Request], str]  # (port, read session, request)


class NotModified(Exception):
    """Answered 304 by the handler `install_conditional` adds."""

    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


def of_read_models(models: ReadModels | Callable[[], ReadModels]) -> TokenOf:
    def chosen(_request: Request) -> ReadModels:
        return models() if callable(models) else models

    def token(positions: ReadPositions, session: Any, request: Request) -> str:
        return chosen(request).token(positions, session)
    return TokenOf(chosen, token)


def _stream_version(positions: ReadPositions, session: Any, request: Request) -> str:
    return positions.stream_version_token(session, request.path_params["stream_id"])


def _head(positions: ReadPositions, session: Any, _request: Request) -> str:
    return positions.head_token(session)


of_stream = TokenOf(lambda request: ("stream", request.path_params["stream_id"]),
                    _stream_version)
of_head = TokenOf(lambda _request: "head", _head)


def etag_for(token: str, request: Request) -> str:
    # The query is part of it (`/events?from_position=...`, filters): one ETag per answer.
    # `min_position` only says how long to wait, never what is answered.
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "min_position"]
    digest = hashlib.blake2b(f"{token}\0{request.url.path}\0{query!r}".encode(),
                             digest_size=12).hexdigest()
    return f'"{digest}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*` or a list of tags, compared weakly."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def headers_for(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL}


class ETag(str):
    """The ETag a route's answer carries (the dependency's value), and the node's cache of
    encoded answers by ETag: the ETag names the token read before the body was built, so
    a body kept under it is never older than that token (questlog.caching)."""

    bodies: PositionLRU[bytes]

    def apply(self, response: Response) -> Response:
        """Set the headers on a response the route builds itself."""
        response.headers.update(headers_for(self))
        return response

    def cached(self) -> Response | None:
        """The answer already encoded under this ETag, if the node still has it."""
        body = self.bodies.get(self, None)
        if body is None:
            return None
        return self.apply(Response(body, media_type="application/json"))

    def keep(self, response: Response) -> Response:
        """Keep a 200 answer's body under this ETag; answer it with the headers set."""
        self.bodies.put(self, None, bytes(response.body))
        return self.apply(response)


def conditional(store: "Store", token_of: TokenOf,
                read_access: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[ETag]]:
    """A dependency: access checked first, then the token; 304 when it matches."""

    bodies: PositionLRU[bytes] = PositionLRU(store.settings.read_cache_entries)
    positions = store.backend.read_positions
    memo = store.backend.token_memo

    def read_token(request: Request, key: Hashable) -> str:
        with store.read() as session:
            if memo is None:
                return token_of.read(positions, session, request)
            return memo.read(key, session, lambda s: token_of.read(positions, s, request))

    async def check(request: Request, response: Response,
                    _access: Annotated[None, Depends(read_access)]) -> ETag:
        key = token_of.key(request)
        token = memo.known(key) if memo is not None else None  # a stat: no thread hop
        if token is None:
            token = await run_in_threadpool(read_token, request, key)  # SQLite reads block
        etag = etag_for(token, request)
        if matches(request.headers.get("if-none-match"), etag):
            raise NotModified(etag)
        response.headers.update(headers_for(etag))  # routes that return data
        tag = ETag(etag)
        tag.bodies = bodies
        return tag

    return check


def install_conditional(app: FastAPI) -> None:
    @app.exception_handler(NotModified)
    async def not_modified(_request: Request, exc: NotModified) -> Response:
        return Response(status_code=304, headers=headers_for(exc.etag))
