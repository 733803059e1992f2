"""Every request observed: its request id, latency metric, span, access log line and
slow-operation line.

`X-Request-ID` is taken from the request (when it is a short, printable id) or made,
echoed on the response, and set as the `request_id` of every log record the request
causes. Latency is recorded by route template (`/streams/{stream_id}/events`, never
the path a client chose, so the label set stays small) and status. The access log
(`questlog serve --access-log`) is info records of the `questlog.access` logger:
method, route, path, status, duration; never headers or the query string.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..observability import metrics, tracing
from ..observability.logs import ACCESS_LOGGER, request_id
from ..observability.operation import log_slow

access_log = logging.getLogger(ACCESS_LOGGER)
REQUEST_ID_HEADER = b"x-request-id"
_GOOD_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
UNMATCHED_ROUTE = "unmatched"  # a 404 for a path no route has: one label for all of them


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER and _GOOD_ID.fullmatch(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestObserver:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would add a task per request)."""

    def __init__(self, app: ASGIApp, slow_ms: float) -> None:
        self.app = app
        self.slow_s = slow_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = request_id.set(rid)
        method = scope.get("method", "")
        span = tracing.start_span("questlog.http_request", {
            "http.method": method, "request_id": rid})
        status = 500
        header = (REQUEST_ID_HEADER, rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        started = time.perf_counter()
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            error = exc
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
            if metrics.enabled():
                metrics.HTTP_SECONDS.labels(method, route, str(status)).observe(elapsed)
            if span is not None:
                span.set("http.route", route)
                span.set("http.status_code", status)
                span.end(error)
            fields = {"method": method, "route": route, "path": scope.get("path", ""),
                      "status": status, "duration_ms": round(elapsed * 1000, 3)}
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %d %.1f ms", method, fields["path"], status,
                                elapsed * 1000, extra=fields)
            if elapsed >= self.slow_s:
                log_slow("http_request", {"method": method, "route": route, "status": status},
                         elapsed, error)
            request_id.reset(token)
