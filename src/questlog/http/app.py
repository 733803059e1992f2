"""The FastAPI app of a questlog node: `create_app(store, role="write"|"read")`.

One app serves both roles. A write node holds the store's writer (and maybe a
Replicator); a read node serves a Litestream follower's file through a store
opened read-only (a fresh `mode=ro` connection per read) and answers every
write route with 403. Read routes accept `?min_position=N` so a client can
read its own writes on any node: the request waits until the node has N, up
to `min_position_timeout_s`, then answers 503 with Retry-After.
"""

# No `from __future__ import annotations`: FastAPI resolves the Annotated[...] dependencies
# declared inside create_app at definition time, closures included.

import asyncio
import importlib
import json
import logging
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors
from ..events import STREAM_ID_RE
from ..settings import Settings
from . import models
from .bodies import parse_body
from .docs_assets import serve_docs_offline
from .encoding import (
    DEFAULT_PAGE_EVENTS,
    MAX_PAGE_BYTES,
    MAX_PAGE_EVENTS,
    READ_BATCH_EVENTS,
    as_json,
    encode,
    json_response,
    page_body,
    paginate,
)
from .health import WriteFaults, public_view
from .problems import (
    APPEND_UNPROCESSABLE,
    READ_ERRORS,
    RETRY_AFTER_S,
    HTTPProblem,
    error_kind,
    problem_responses,
    retry_after,
    status_for,
    validation_errors,
)
from .security import BodySizeLimit, bearer_token, token_matches

if TYPE_CHECKING:
    from ..events import RecordedEvent
    from ..replication.readnode import ReadNode
    from ..replication.replicator import Replicator
    from ..store import Store

log = logging.getLogger("questlog.http")
Role = Literal["write", "read"]
_bearer = HTTPBearer(auto_error=False, description="QUESTLOG_API_TOKEN for writes; "
                     "QUESTLOG_READ_TOKEN for reads when the server sets one.")

def create_app(
    store: "Store",
    role: Role = "write",
    *,
    settings: Settings | None = None,
    replicator: "Replicator | None" = None,
    read_node: "ReadNode | None" = None,
    api_token: str | None = None,
    read_token: str | None = None,
    allow_unauthenticated_writes: bool = False,
    min_position_timeout_s: float = 5.0,
    max_page_bytes: int = MAX_PAGE_BYTES,
) -> FastAPI:
    """Build the app for one node. Tokens default to the settings (QUESTLOG_API_TOKEN, ...).

    With a read token set, `/docs`, `/redoc` and `/openapi.json` need it too.
    """
    settings = settings or store.settings
    api_token = api_token if api_token is not None else settings.api_token
    read_token = read_token if read_token is not None else settings.read_token
    if role not in ("write", "read"):
        raise errors.ConfigurationError(f"unknown node role {role!r}: write or read")
    if role == "write" and store.read_only:
        raise errors.ConfigurationError("a write node needs a store opened for writing")

    docs_guarded = read_token is not None  # served below, behind the read token
    app = FastAPI(
        title="questlog",
        version="1",
        description="Event-sourced game-state and content store. "
        f"This node's role: {role}.",
        docs_url=None if docs_guarded else "/docs",
        redoc_url=None if docs_guarded else "/redoc",
        openapi_url=None if docs_guarded else "/openapi.json",
    )
    app.state.store = store
    app.state.role = role
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    write_faults = WriteFaults(store) if role == "write" else None

    @app.exception_handler(errors.QuestlogError)
    async def _library_error(_request: Request, exc: errors.QuestlogError) -> JSONResponse:
        status = status_for(exc)
        body: dict[str, Any] = {"error": error_kind(exc), "detail": str(exc)}
        headers: dict[str, str] = {}
        if isinstance(exc, errors.WrongExpectedVersion):
            body.update(stream_id=exc.stream_id, expected=exc.expected, actual=exc.actual)
        if retry_after(exc, status):
            headers["Retry-After"] = str(RETRY_AFTER_S)
        if isinstance(exc, errors.StorageError) and write_faults is not None:
            write_faults.failed(exc)
        if status >= 500:
            log.warning("%s %s: %s", _request.method, _request.url.path, exc)
        return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's 422 shape, but a rejected value is echoed only in part.
        return JSONResponse({"detail": jsonable_encoder(validation_errors(exc.errors()))},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Framework errors (unparseable body, unknown route) in the same shape as ours.
        try:
            kind = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        except ValueError:
            kind = "http_error"
        return JSONResponse({"error": kind, "detail": str(exc.detail)},
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(HTTPProblem)
    async def _problem(_request: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse({"error": exc.error, "detail": exc.detail}, status_code=exc.status,
                            headers=exc.headers)

    if role == "read":
        from ..db import load_dbapi

        @app.exception_handler(load_dbapi().DatabaseError)
        async def _replica_busy(_request: Request, exc: Exception) -> JSONResponse:
            # The follower replaced the file under this read (a restart restores afresh).
            log.warning("read on the replica failed, asking the client to retry: %s", exc)
            return JSONResponse({"error": "replica_not_ready",
                                 "detail": f"the replica file is being restored: {exc}"},
                                status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    else:
        from ..db import load_dbapi, storage_error

        @app.exception_handler(load_dbapi().Error)
        async def _database_error(request: Request, exc: Exception) -> JSONResponse:
            # A read that met a failing or damaged file: the server's fault, never a 4xx.
            fault = storage_error(exc)
            if fault is not None:
                return await _library_error(request, fault)
            log.error("%s %s: database error: %s", request.method, request.url.path, exc)
            return JSONResponse({"error": "database_error", "detail": str(exc)},
                                status_code=500)

    # -- access -----------------------------------------------------------------------------

    def node_position() -> int:
        if read_node is not None:
            return read_node.position()
        return store.head_position()

    # Access checks are `async def`: FastAPI runs sync dependencies in its thread pool, one
    # hop per dependency per request (measured: 783 -> 1041 appends/s when removed).
    def may_read(presented: str | None) -> bool:
        # The write token also reads: a writer may always read back what it wrote.
        return read_token is None or token_matches(presented, read_token) or (
            api_token is not None and token_matches(presented, api_token))

    async def require_read_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> None:
        if not may_read(credentials.credentials if credentials else None):
            raise HTTPProblem(401, "unauthorized", "missing or wrong bearer token for reads",
                              headers={"WWW-Authenticate": "Bearer"})

    async def require_read(
        _token: Annotated[None, Depends(require_read_token)],
        min_position: Annotated[int | None, Query(
            ge=0, le=2**62,
            description="Wait (bounded) until this node has applied this position.")] = None,
    ) -> None:
        if read_node is not None and not read_node.ready:
            raise HTTPProblem(503, "replica_not_ready",
                              "this read node is restoring its replica; retry shortly",
                              headers={"Retry-After": str(RETRY_AFTER_S)})
        if min_position is not None:
            await wait_for_position(min_position)

    async def wait_for_position(target: int) -> None:
        deadline = time.monotonic() + min_position_timeout_s
        while True:
            have = await run_in_threadpool(node_position)  # SQLite reads block
            if have >= target:
                return
            if time.monotonic() >= deadline:
                raise HTTPProblem(
                    503, "min_position_not_reached",
                    f"this node is at position {have}, below min_position {target}, after "
                    f"waiting {min_position_timeout_s:.1f} s",
                    headers={"Retry-After": str(RETRY_AFTER_S)})
            await asyncio.sleep(0.01)

    def check_write(presented: str | None) -> None:
        if role == "read":
            raise errors.ReadOnlyReplica(
                "this node serves a read-only replica; send writes to the write node")
        if api_token is None:
            if allow_unauthenticated_writes:
                return
            raise HTTPProblem(401, "unauthorized",
                              "writes are disabled: the server has no QUESTLOG_API_TOKEN set",
                              headers={"WWW-Authenticate": "Bearer"})
        if not token_matches(presented, api_token):
            raise HTTPProblem(401, "unauthorized", "missing or wrong bearer token for writes",
                              headers={"WWW-Authenticate": "Bearer"})

    async def require_write(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> None:
        check_write(credentials.credentials if credentials else None)

    ReadAccess = Annotated[None, Depends(require_read)]
    stream_path = Path(pattern=STREAM_ID_RE.pattern, description="Stream id, e.g. campaign-7.")

    # -- events -----------------------------------------------------------------------------

    events_router = APIRouter(tags=["events"])

    if role == "write":
        # The hot path. FastAPI's generic machinery (dependency solving, a thread hop per
        # sync dependency, dict-then-model validation, response re-validation) cost more
        # CPU than the append itself; here the body is validated straight from its bytes by
        # the same pydantic model, and the OpenAPI spec still documents it (below).
        @events_router.post(
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
        async def append(request: Request, stream_id: Annotated[str, stream_path]) -> Response:
            check_write(bearer_token(request.headers.get("authorization")))
            body = await parse_body(request, models.AppendRequest)
            # Every precondition before the append: a refusal must write nothing.
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
        @events_router.post(
            "/streams/{stream_id}/events", response_model=models.AppendResponse,
            responses=problem_responses(403, 413),
            summary="Refused: this is a read-only replica",
        )
        def append_refused(
            stream_id: Annotated[str, stream_path],
            _auth: Annotated[None, Depends(require_write)],
        ) -> models.AppendResponse:  # pragma: no cover - require_write always raises
            raise errors.ReadOnlyReplica("read-only replica")

    page_limit = Query(ge=1, le=MAX_PAGE_EVENTS, description="Most events in this page (a "
                       f"page also stops at about {max_page_bytes} bytes of events).")

    @events_router.get("/streams/{stream_id}", response_model=models.StreamResponse,
                       responses=READ_ERRORS, summary="Read one stream (one page)")
    def read_stream(
        stream_id: Annotated[str, stream_path],
        _access: ReadAccess,
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
            raise HTTPProblem(404, "stream_not_found", f"stream {stream_id!r} has no events")
        following = None
        if page.more and page.last is not None:
            following = page.last.stream_version + (-1 if backwards else 1)
        return json_response(page_body(page, "next_from_version", following or None))

    @events_router.get("/events", response_model=models.EventsResponse, responses=READ_ERRORS,
                       summary="Read the global log from a position (one page)")
    def read_all(
        _access: ReadAccess,
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
        return json_response(page_body(page, "next_from_position", following))

    app.include_router(events_router)

    # -- read models (built by other modules; 501 until they exist) --------------------------

    models_router = APIRouter(tags=["read models"])

    def facade(name: str) -> Any:
        try:
            return getattr(store, name)
        except (AttributeError, ImportError) as exc:
            raise HTTPProblem(501, "not_implemented",
                              f"the {name} API is not available on this node: {exc}") from exc

    def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (AttributeError, ImportError) as exc:
            raise HTTPProblem(501, "not_implemented", f"not available on this node: {exc}") from exc

    content_errors = problem_responses(400, 401, 404, 501, 503)

    @models_router.get("/content/{content_type}/{index}", response_model=dict[str, Any],
                       responses=content_errors,
                       summary="One content entry (the effective one across packs)")
    def content_get(content_type: str, index: str, _access: ReadAccess) -> Response:
        entry = call(facade("content").get, content_type, index)
        return json_response(encode(as_json(entry)))

    @models_router.get("/content/{content_type}", response_model=models.ContentListResponse,
                       responses=content_errors, summary="List content entries")
    def content_list(
        content_type: str,
        _access: ReadAccess,
        where: Annotated[list[str] | None, Query(
            description="Filters as in `questlog content list --where`: FIELD=VALUE, "
            "FIELD>=VALUE, a,b for any of (repeatable, AND-ed).")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> Response:
        content = facade("content")
        filters = _parse_where(content, content_type, where or [])
        items = call(content.list, content_type, where=filters, limit=limit, offset=offset)
        return json_response(encode({"items": [as_json(i) for i in items]}))

    @models_router.get("/search", response_model=models.SearchResponse,
                       responses=problem_responses(400, 401, 404, 501, 503),
                       summary="Semantic / keyword / hybrid search over content")
    def search(
        q: Annotated[str, Query(min_length=1, max_length=1000)],
        _access: ReadAccess,
        type: Annotated[list[str] | None, Query()] = None,
        k: Annotated[int, Query(ge=1, le=100)] = 5,
        mode: Annotated[Literal["hybrid", "vector", "keyword"] | None, Query()] = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"types": type or None, "k": k}
        if mode is not None:
            kwargs["mode"] = mode
        hits = call(facade("search"), q, **kwargs)
        return {"hits": [as_json(h) for h in hits]}

    @models_router.get("/projections", response_model=models.ProjectionsResponse,
                       responses=READ_ERRORS, summary="Projector checkpoints and lag")
    def projections(_access: ReadAccess) -> dict[str, Any]:
        head = node_position()
        try:
            status = store.projections.status()
        except (AttributeError, ImportError) as exc:
            raise HTTPProblem(501, "not_implemented", f"projection status unavailable: {exc}"
                              ) from exc
        return {"head_position": head, "projections": [as_json(s) for s in status]}

    app.include_router(models_router)
    hand_parsed: list[type[BaseModel]] = [models.AppendRequest]
    if not _include_optional_router(app, "questlog.game.http", store, role):
        from .game_routes import GameCommandsRequest, build_game_router

        app.include_router(build_game_router(
            read_access=require_read, write_access=require_write,
            game=lambda: facade("game"), as_json=as_json, responses=problem_responses,
            writable=role == "write"))
        hand_parsed.append(GameCommandsRequest)

    _document_models(app, *hand_parsed)

    # -- health -----------------------------------------------------------------------------

    @app.get("/health", response_model=models.HealthResponse, tags=["ops"],
             summary="Role, position and lag of this node (no token needed: without the "
             "read token, when one is set, only status and position)")
    def health(request: Request) -> Any:
        body = node_health()
        if not may_read(bearer_token(request.headers.get("authorization"))):
            return JSONResponse(public_view(body))  # not filled up by the response model
        return body

    def node_health() -> dict[str, Any]:
        if read_node is not None:
            return read_node.health()
        position = store.head_position()
        body: dict[str, Any] = {"role": role, "status": "ok", "position": position,
                                "commit_time": _commit_time(store, position)}
        reason = write_faults.reason() if write_faults is not None else None
        if reason is not None:
            body.update(status="degraded", reason=reason)
        if replicator is not None:
            status = replicator.status()
            body["primary_position"] = status.replicated_position
            lag = max(0, position - status.replicated_position)
            body["lag_positions"] = lag
            body["lag_seconds"] = (0.0 if lag == 0 else
                                   _seconds_between(status.replicated_at, body["commit_time"]))
            body["replication"] = status.as_dict()
            if status.pid is None or status.last_error:
                body["status"] = "degraded"
                body.setdefault("reason", status.last_error or "litestream is not running")
        return body

    if docs_guarded:
        @app.get("/openapi.json", include_in_schema=False)
        async def openapi_spec(_token: Annotated[None, Depends(require_read_token)]
                               ) -> JSONResponse:
            return JSONResponse(app.openapi())

        @app.get("/docs", include_in_schema=False)
        async def swagger_docs(_token: Annotated[None, Depends(require_read_token)]
                               ) -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="questlog")

        @app.get("/redoc", include_in_schema=False)
        async def redoc_docs(_token: Annotated[None, Depends(require_read_token)]
                             ) -> HTMLResponse:
            return get_redoc_html(openapi_url="/openapi.json", title="questlog")

    serve_docs_offline(app, require_read_token if docs_guarded else None)  # no CDN: offline
    return app


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


def _document_models(app: FastAPI, *extra: type[BaseModel]) -> None:
    """Add models that routes validate by hand to the spec's components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in extra:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in body.pop("$defs", {}).items():
                    components.setdefault(name, sub)
                components.setdefault(model.__name__, body)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _include_optional_router(app: FastAPI, module: str, store: "Store", role: Role) -> bool:
    """Mount `module.build_router(store, role)` when that module provides one."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    build = getattr(mod, "build_router", None)
    if not callable(build):
        return False
    app.include_router(build(store, role))
    return True


def _parse_where(content: Any, content_type: str, items: list[str]) -> dict[str, Any]:
    """The CLI's `--where` grammar, so HTTP and command line filter alike."""
    if not items:
        return {}
    import click

    try:
        from ..cli.content import parse_where

        columns = content.filter_columns(content_type)
    except (AttributeError, ImportError) as exc:
        raise HTTPProblem(501, "not_implemented", f"content filters unavailable: {exc}"
                          ) from exc
    try:
        where: dict[str, Any] = parse_where(tuple(items), columns)
    except click.BadParameter as exc:
        raise HTTPProblem(400, "invalid_filter", exc.message) from exc
    return where


def _commit_time(store: "Store", position: int) -> str | None:
    if position <= 0:
        return None
    for event in store.read_all(position, 1):
        return event.recorded_at
    return None


def _seconds_between(earlier: str | None, later: str | None) -> float | None:
    from datetime import datetime

    if earlier is None or later is None:
        return None if later is not None else 0.0
    a = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
    b = datetime.fromisoformat(later.replace("Z", "+00:00"))
    return max(0.0, (b - a).total_seconds())
