"""The versioned HTTP API: every route under `/v1/`, the old unversioned paths as aliases.

`include_versioned(app, router)` mounts a router twice: under `API_PREFIX` (the
documented paths) and at its old paths, hidden from the OpenAPI spec. The aliases
stay for one minor version (questlog 0.2 removes them; docs/compatibility.md) and
every answer they give — errors included — carries a `Deprecation` header in the
RFC 9745 form (`@` + the Unix time the aliases were deprecated) and a `Link` to the
same path under `/v1` with `rel="successor-version"` (`DeprecatedAliases`).
`/health`, `/openapi.json`, `/docs` and `/redoc` are operational endpoints outside the
versioned API and stay where they are.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/v1"
# When the unversioned paths were deprecated (the release that added /v1).
DEPRECATED_AT = datetime(2026, 12, 1, tzinfo=UTC)
DEPRECATION = f"@{int(DEPRECATED_AT.timestamp())}"
REMOVED_IN = "0.2"


def include_versioned(app: FastAPI, router: APIRouter) -> None:
    """Mount `router` under /v1 and, deprecated and undocumented, at its old paths."""
    app.include_router(router, prefix=API_PREFIX)
    app.include_router(router, include_in_schema=False)
    aliases: set[str] | None = getattr(app.state, "deprecated_aliases", None)
    if aliases is None:
        aliases = app.state.deprecated_aliases = set()
    for route in router.routes:
        path = getattr(route, "path", "")
        if path.startswith("/"):
            aliases.add("/" + path.split("/")[1])


class DeprecatedAliases:
    """ASGI middleware: the Deprecation and successor Link headers on the old paths."""

    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner

    def _is_alias(self, path: str) -> bool:
        aliases: set[str] = getattr(self.owner.state, "deprecated_aliases", set())
        first = "/" + path.split("/")[1] if path.startswith("/") else path
        return first in aliases

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_alias(scope["path"]):
            await self.app(scope, receive, send)
            return
        # The path as the client sent it (percent-encoded), so the header stays ASCII.
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        link = b"<" + API_PREFIX.encode() + raw + b'>; rel="successor-version"'

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"deprecation", DEPRECATION.encode("ascii")))
                headers.append((b"link", link))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
