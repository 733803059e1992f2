"""The log's routes: append to a stream, read a stream, read the global log (paged)."""

# No `from __future__ import annotations`: FastAPI resolves the Annotated[...] parameters
# of the routes defined inside `build_events_router`, closures included.

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from .. import errors
from ..events import STREAM_ID_RE
from . import models
from .auth import Access
from .bodies import parse_body
from .conditional import ETag, conditional, of_head, of_stream
from .encoding import (
    DEFAULT_PAGE_EVENTS,
    MAX_PAGE_EVENTS,
    READ_BATCH_EVENTS,
    encode,
    json_response,
    page_body,
    paginate,
)
from .node import Node
from .problems import APPEND_UNPROCESSABLE, READ_ERRORS, HTTPProblem, problem_responses
from .security import bearer_token

if TYPE_CHECKING:
    from ..events import RecordedEvent
    from ..store import Store

STREAM_PATH = Path(pattern=STREAM_ID_RE.pattern, description="Stream id, e.g. campaign-7.")


def build_events_router(node: Node, access: Access) -> APIRouter:
    router = APIRouter(tags=["events"])
    store = node.store
    ReadAccess = Annotated[None, Depends(access.require_read)]
    StreamFresh = Annotated[ETag, Depends(conditional(store, of_stream, access))]
    LogFresh = Annotated[ETag, Depends(conditional(store, of_head, access))]

    if node.writable:
        # The hot path. FastAPI's generic machinery (dependency solving, a thread hop per
        # sync dependency, dict-then-model validation, response re-validation) cost more
        # CPU than the append itself; here the body is validated straight from its bytes by
        # the same pydantic model, and the OpenAPI spec still documents it (docs_routes).
        @router.post(
            "/streams/{stream_id}/events", response_model=models.AppendResponse,
            responses={**problem_responses(400, 401, 403, 409, 413, 429, 500, 503),
                       422: APPEND_UNPROCESSABLE,
                       202: {"model": models.AppendNotReplicatedResponse,
                             "description": "wait_replicated: the events are committed here "
                             "but the replica did not confirm them in time; do not resend."}},
            summary="Append events to a stream (atomic)",
            openapi_extra={
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AppendRequest"}}}},
                "security": [{"HTTPBearer": []}],
            },
        )
        async def append(request: Request, stream_id: Annotated[str, STREAM_PATH]) -> Response:
            access.check_write(bearer_token(request.headers.get("authorization")))
            body = await parse_body(request, models.AppendRequest)
            # Every precondition before the append: a refusal must write nothing.
            replicator = node.replicator
            if body.wait_replicated and replicator is None:
                raise HTTPProblem(400, "not_replicating",
                                  "wait_replicated asked of a write node without a replica; "
                                  "nothing was written")
            result = await store.aio.append(stream_id, body.events, body.expected_version)
            replicated = False
            if body.wait_replicated:
                assert replicator is not None
                try:
                    await run_in_threadpool(replicator.wait_replicated, result.last_position)
                except errors.ReplicationError as exc:
                    return json_response(encode(models.AppendNotReplicatedResponse(
                        positions=result.positions, stream_version=result.stream_version,
                        detail=f"committed (up to position {result.last_position}) but not "
                        f"yet replicated: {exc}",
                    ).model_dump()), status_code=202)
                replicated = True
            return Response(json.dumps({"positions": result.positions,
                                        "stream_version": result.stream_version,
                                        "replicated": replicated}),
                            media_type="application/json")
    else:
        @router.post(
            "/streams/{stream_id}/events", response_model=models.AppendResponse,
            responses=problem_responses(403, 413),
            summary="Refused: this is a read-only replica",
        )
        def append_refused(
            stream_id: Annotated[str, STREAM_PATH],
            _auth: Annotated[None, Depends(access.require_write)],
        ) -> models.AppendResponse:  # pragma: no cover - require_write always raises
            raise errors.ReadOnlyReplica("read-only replica")

    max_page_bytes = node.max_page_bytes
    page_limit = Query(ge=1, le=MAX_PAGE_EVENTS, description="Most events in this page (a "
                       f"page also stops at about {max_page_bytes} bytes of events).")

    @router.get("/streams/{stream_id}", response_model=models.StreamResponse,
                responses=READ_ERRORS, summary="Read one stream (one page)")
    def read_stream(
        stream_id: Annotated[str, STREAM_PATH],
        _access: ReadAccess,
        etag: StreamFresh,
        from_version: Annotated[int | None, Query(
            ge=1, le=2**62, description="First version of the page (default: the first, or "
            "the last when backwards).")] = None,
        limit: Annotated[int, page_limit] = DEFAULT_PAGE_EVENTS,
        backwards: bool = False,
    ) -> Response:
        # One more than the limit (is there a next page?), read lazily in short batches: the
        # byte budget may stop the page early.
        events = _read_stream_lazily(store, stream_id, from_version, backwards, limit + 1)
        page = paginate(events, limit, max_page_bytes)
        if page.last is None and store.stream_version(stream_id) == 0:
            raise errors.StreamNotFound(f"stream {stream_id!r} has no events")
        following = None
        if page.more and page.last is not None:
            following = page.last.stream_version + (-1 if backwards else 1)
        return etag.apply(json_response(page_body(page, "next_from_version",
                                                  following or None)))

    @router.get("/events", response_model=models.EventsResponse, responses=READ_ERRORS,
                summary="Read the global log from a position (one page)")
    def read_all(
        _access: ReadAccess,
        etag: LogFresh,
        from_position: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, page_limit] = DEFAULT_PAGE_EVENTS,
        type: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
        category: Annotated[list[str] | None, Query(description="Only these categories.")] = None,
    ) -> Response:
        # Read lazily, one more than the limit: the byte budget may stop the page early.
        events = store.read_all(from_position, limit + 1, types=type or None,
                                categories=category or None,
                                batch_size=min(limit + 1, READ_BATCH_EVENTS))
        page = paginate(events, limit, max_page_bytes)
        following = page.last.position + 1 if page.more and page.last is not None else None
        return etag.apply(json_response(page_body(page, "next_from_position", following)))

    return router


def _read_stream_lazily(store: "Store", stream_id: str, from_version: int | None,
                        backwards: bool, limit: int) -> Iterator["RecordedEvent"]:
    """Up to `limit` events of a stream, read READ_BATCH_EVENTS at a time."""
    version = from_version
    remaining = limit
    while remaining > 0:
        take = min(READ_BATCH_EVENTS, remaining)
        batch = store.read_stream(stream_id, from_version=version, backwards=backwards,
                                  limit=take)
        yield from batch
        if len(batch) < take:
            return
        remaining -= take
        version = batch[-1].stream_version + (-1 if backwards else 1)
        if version < 1:
            return
