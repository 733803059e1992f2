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

A route that keeps its encoded answers (`ETag.keep`: content entries, searches) also
tells the node's `kept_answers.KeptAnswers` how to find them again from the URL alone
(`Conditional.remember`), so the next GET of the same URL is answered before routing
and parameter parsing (`http.kept_answers`), by the same rules: the same access check,
the same current token, the same ETag, the same 304 or kept body.
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
from .auth import Access
from .kept_answers import KeptURL, kept_answers_of

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


# `min_position` only says how long to wait, never what is answered: it is no part of an
# ETag, and a URL carrying it is never answered before routing (it may have to wait).
WAIT_PARAMETER = "min_position"

Query = tuple[tuple[str, str], ...]


def answer_of(request: Request) -> tuple[str, Query]:
    """What an answer is of, beside the token: the path and the query (`/events?
    from_position=...`, filters: one ETag per answer), without `min_position`."""
    query = tuple((k, v) for k, v in request.query_params.multi_items() if k != WAIT_PARAMETER)
    return request.url.path, query


def etag_for(token: str, path: str, query: Query) -> str:
    digest = hashlib.blake2b(f"{token}\0{path}\0{list(query)!r}".encode(),
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


def not_modified(etag: str) -> Response:
    return Response(status_code=304, headers=headers_for(etag))


class Conditional:
    """One read route's revalidation: its access rules, its token, and the answers it keeps
    by ETag. `dependency()` is what the route depends on; `answer_again` answers a URL a
    route kept an answer for, without the route (http.kept_answers)."""

    def __init__(self, store: "Store", token_of: TokenOf, access: Access) -> None:
        self.store = store
        self.token_of = token_of
        self.access = access
        self.bodies: PositionLRU[bytes] = PositionLRU(store.settings.read_cache_entries)
        self.positions = store.backend.read_positions
        self.memo = store.backend.token_memo

    def _read_token(self, request: Request, key: Hashable) -> str:
        with self.store.read() as session:
            if self.memo is None:
                return self.token_of.read(self.positions, session, request)
            return self.memo.read(
                key, session, lambda s: self.token_of.read(self.positions, s, request))

    async def token(self, request: Request, key: Hashable) -> str:
        """The current token: from the memo on the event loop (a stat, no thread hop) when
        it can tell, else read in the thread pool (SQLite reads block)."""
        token = self.memo.known(key) if self.memo is not None else None
        if token is None:
            token = await run_in_threadpool(self._read_token, request, key)
        return token

    def kept(self, etag: str) -> Response | None:
        """The answer already encoded under `etag`, if the node still has it."""
        body = self.bodies.get(etag, None)
        if body is None:
            return None
        response = Response(body, media_type="application/json")
        response.headers.update(headers_for(etag))
        return response

    def dependency(self) -> Callable[..., Awaitable["ETag"]]:
        """Access checked first, then the token; 304 when it matches."""

        async def check(request: Request, response: Response,
                        _access: Annotated[None, Depends(self.access.require_read)]) -> ETag:
            key = self.token_of.key(request)
            path, query = answer_of(request)
            etag = etag_for(await self.token(request, key), path, query)
            if matches(request.headers.get("if-none-match"), etag):
                raise NotModified(etag)
            response.headers.update(headers_for(etag))  # routes that return data
            tag = ETag(etag)
            tag.source, tag.request, tag.key = self, request, key
            return tag

        return check

    def remember(self, request: Request, key: Hashable) -> None:
        """Tell the node's kept answers how to answer this URL again from the URL alone
        (route, path parameters, token key and ETag inputs are all the URL's)."""
        answers = kept_answers_of(request.scope)
        if answers is None or WAIT_PARAMETER in request.query_params:
            return
        path, query = answer_of(request)
        answers.remember(request.scope, KeptURL(
            source=self, route=request.scope.get("route"),
            path_params=dict(request.path_params), key=key, path=path, query=query))

    async def answer_again(self, url: KeptURL, request: Request) -> Response | None:
        """The answer the route would give `request` for `url`, when the rules let it be
        given at once: access admitted without waiting, then a 304 or the kept body under
        the current ETag. None: let the route answer."""
        if not await self.access.admits_at_once(request):
            return None
        etag = etag_for(await self.token(request, url.key), url.path, url.query)
        if matches(request.headers.get("if-none-match"), etag):
            return not_modified(etag)
        return self.kept(etag)


class ETag(str):
    """The ETag a route's answer carries (the dependency's value): it names the token read
    before the body was built, so a body kept under it is never older than that token
    (questlog.caching)."""

    source: Conditional
    request: Request
    key: Hashable

    def apply(self, response: Response) -> Response:
        """Set the headers on a response the route builds itself."""
        response.headers.update(headers_for(self))
        return response

    def cached(self) -> Response | None:
        """The answer already encoded under this ETag, if the node still has it."""
        return self.source.kept(self)

    def keep(self, response: Response) -> Response:
        """Keep a 200 answer's body under this ETag; answer it with the headers set."""
        self.source.bodies.put(self, None, bytes(response.body))
        self.source.remember(self.request, self.key)
        return self.apply(response)


def conditional(store: "Store", token_of: TokenOf,
                access: Access) -> Callable[..., Awaitable[ETag]]:
    """The dependency of a read route whose answer is built from `token_of`'s positions."""
    return Conditional(store, token_of, access).dependency()


def install_conditional(app: FastAPI) -> None:
    @app.exception_handler(NotModified)
    async def not_modified_answer(_request: Request, exc: NotModified) -> Response:
        return not_modified(exc.etag)
