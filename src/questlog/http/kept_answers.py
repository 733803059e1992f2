"""Kept answers served before routing: a GET of a URL whose answer a route kept is
answered from the kept bytes without FastAPI's routing and parameter parsing.

A cached answer used to cost a whole pass through FastAPI — matching the path against
every route, solving the route's dependencies, validating each query parameter —
only to reach `ETag.cached()`; for a search (seven parameters, the route far down the
list) that was most of a millisecond, more than the kept body itself. So a route that
keeps an answer (`ETag.keep`: content entries, searches) also records here, by its
exact URL (path and raw query string), what answering it again takes: the route, its
path parameters, its token key and the ETag's inputs, and its `Conditional` — the same
access rules, token memo and bodies by ETag. None of that depends on the store's state:
a URL always routes the same way. The answer itself is still decided per request, by
the route's own rules (`Conditional.answer_again`):

1. access: the same bearer-token and readiness checks as `Access.require_read`
   (a URL with `min_position` is never recorded: it may have to wait);
2. the current token (the memo's stat on a read node, else one read), so the ETag is
   the one the route would compute now;
3. a matching `If-None-Match` → 304, else the body kept under that ETag.

When any step cannot answer (access refused, a body not kept under the current ETag —
e.g. after an append —, evicted, a fault while reading the token), the request goes on
to the app unchanged and the route answers it, 401/503 and fresh bodies included (a
fault then meets the app's exception handlers, as on any routed request). A URL whose
query is longer than `MAX_KEPT_QUERY` is never kept. So this is never staler than the
route: a body is only ever served under the ETag of the token read for this request.

The middleware sits inside the request observer and the deprecated-alias headers
(`create_app`), so request ids, the access log, latency by route and status (the kept
route is set as `scope["route"]`) and `Deprecation` headers are exactly as on the
route's path. The index is bounded by `read_cache_entries` (0: nothing kept, nothing
served here).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from .conditional import Conditional

SCOPE_KEY = "questlog.kept_answers"  # how a route's `ETag.keep` finds the index
# A URL is kept with its query twice (raw and parsed), and any client that may read can
# add parameters the route ignores: a longer query is answered by the route every time,
# so the index stays small (read_cache_entries x about 4 KB at most).
MAX_KEPT_QUERY = 2048

URLKey = tuple[str, str, bytes]  # (root_path, path, raw query string)


@dataclass(frozen=True)
class KeptURL:
    """What answering one URL again takes; all of it is the URL's, none the store's."""

    source: Conditional
    route: Any  # scope["route"]: the latency metric's route label
    path_params: dict[str, Any]
    key: Hashable  # the token's key (TokenOf.key)
    path: str  # the ETag's inputs (conditional.answer_of)
    query: tuple[tuple[str, str], ...]


def _url_key(scope: Scope) -> URLKey:
    return scope.get("root_path", ""), scope["path"], scope.get("query_string", b"")


def kept_answers_of(scope: MutableMapping[str, Any]) -> KeptAnswers | None:
    """The index of the app serving this request (None without the middleware)."""
    answers = scope.get(SCOPE_KEY)
    return answers if isinstance(answers, KeptAnswers) else None


class KeptAnswers:
    """The URLs whose answers routes keep, by exact URL; least recently used out first."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._urls: OrderedDict[URLKey, KeptURL] = OrderedDict()
        self._lock = threading.Lock()  # searches keep their answers from the thread pool
        self.answered = 0  # requests answered before routing

    def __len__(self) -> int:
        return len(self._urls)

    def remember(self, scope: Scope, url: KeptURL) -> None:
        if self.max_entries == 0 or len(scope.get("query_string", b"")) > MAX_KEPT_QUERY:
            return
        key = _url_key(scope)
        with self._lock:
            self._urls[key] = url
            self._urls.move_to_end(key)
            while len(self._urls) > self.max_entries:
                self._urls.popitem(last=False)

    def find(self, scope: Scope) -> KeptURL | None:
        key = _url_key(scope)
        with self._lock:
            url = self._urls.get(key)
            if url is not None:
                self._urls.move_to_end(key)
            return url


class ServeKeptAnswers:
    """ASGI middleware: a GET of a kept URL answered by its route's rules, before routing."""

    def __init__(self, app: ASGIApp, answers: KeptAnswers) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] == "GET" and (url := self.answers.find(scope)) is not None:
                request = Request({**scope, "path_params": url.path_params})
                try:
                    response = await url.source.answer_again(url, request)
                except Exception:  # the route answers it, through the app's handlers
                    # A fault here (a busy or restoring file, a lost server) sits outside
                    # the app's exception handlers: let the route read the token again,
                    # so the fault gets its own status, headers and health report.
                    response = None
                if response is not None:
                    self.answers.answered += 1
                    scope["route"] = url.route
                    await response(scope, receive, send)
                    return
            scope[SCOPE_KEY] = self.answers
        await self.app(scope, receive, send)
