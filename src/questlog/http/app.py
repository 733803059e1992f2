"""The FastAPI app of a questlog node: `create_app(store, role="write"|"read")`.

One app serves both roles. A write node holds the store's writer (and maybe a
Replicator); a read node serves its source (`replication.read_source`: a Litestream
follower's file, or a PostgreSQL hot standby) through a store opened read-only and
answers every write route with 403. Read routes accept `?min_position=N` so a client can
read its own writes on any node: the request waits until the node has N (and, on a
read node restoring its replica, until it is back), up to `min_position_timeout_s`,
then answers 503 with Retry-After.

This module only assembles: one router per area (`*_routes.py`), the access rules
(`auth.py`) and the error answers (`errors.py`, `problems.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from .. import errors
from ..caching import game_read_models
from ..settings import Settings
from . import models
from .auth import Access
from .conditional import conditional, install_conditional, of_read_models
from .content_routes import build_content_router
from .docs_assets import serve_docs_offline
from .docs_routes import build_docs_router, complete_openapi
from .encoding import MAX_PAGE_BYTES, as_json
from .errors import install_error_handlers
from .events_routes import build_events_router
from .game_routes import GameCommandsRequest, build_game_router
from .health import WriteFaults
from .inspector import build_inspector_router
from .kept_answers import KeptAnswers, ServeKeptAnswers
from .metrics_routes import build_metrics_router
from .node import Node, Role
from .observe import RequestObserver
from .ops_routes import build_ops_router
from .problems import problem_responses
from .projections_routes import build_projections_router
from .search_routes import build_search_router
from .security import BodySizeLimit
from .versioning import DeprecatedAliases, include_versioned

if TYPE_CHECKING:
    from ..replication.read_source import ReadSource
    from ..replication.replicator import Replicator
    from ..store import Store


def create_app(
    store: Store,
    role: Role = "write",
    *,
    settings: Settings | None = None,
    replicator: Replicator | None = None,
    read_node: ReadSource | None = None,
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
    if role not in ("write", "read"):
        raise errors.ConfigurationError(f"unknown node role {role!r}: write or read")
    if role == "write" and store.read_only:
        raise errors.ConfigurationError("a write node needs a store opened for writing")
    node = Node(store=store, role=role, max_page_bytes=max_page_bytes, replicator=replicator,
                read_node=read_node, write_faults=WriteFaults(store) if role == "write" else None)
    access = Access(
        role=role,
        api_token=api_token if api_token is not None else settings.api_token,
        read_token=read_token if read_token is not None else settings.read_token,
        allow_unauthenticated_writes=allow_unauthenticated_writes,
        position=node.position, read_node=read_node,
        min_position_timeout_s=min_position_timeout_s)

    app = FastAPI(title="questlog", version="1",
                  description="Event-sourced game-state and content store. "
                  f"This node's role: {role}. Every error answer is RFC 9457 problem "
                  "details (application/problem+json).",
                  docs_url=None, redoc_url=None, openapi_url=None)  # docs_routes serves them
    app.state.store = store
    app.state.role = role
    # Innermost (inside the body limit, the observer and the alias headers added below): a
    # GET of a URL whose answer a route kept, answered by the route's rules before routing
    # and parameter parsing (kept_answers).
    app.state.kept_answers = KeptAnswers(settings.read_cache_entries)
    app.add_middleware(ServeKeptAnswers, answers=app.state.kept_answers)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestObserver, slow_ms=settings.slow_ms)  # outermost: sees every answer
    # A backend without a server-side standby has its copies made outside it (SQLite
    # files: Litestream), so a read node on it reads a follower's file copy.
    install_error_handlers(app, role, node.write_faults,
                           follows_a_file_copy=role == "read" and store.backend.standby() is None)
    install_conditional(app)  # ETags and 304s (http.conditional)
    app.add_middleware(DeprecatedAliases, owner=app)  # the unversioned paths (versioning)

    include_versioned(app, build_events_router(node, access))
    include_versioned(app, build_content_router(store, access))
    include_versioned(app, build_search_router(store, access))
    include_versioned(app, build_projections_router(node, access))
    include_versioned(app, build_game_router(
        read_access=access.require_read, write_access=access.require_write,
        game=lambda: store.game, as_json=as_json, responses=problem_responses,
        writable=node.writable,
        fresh_read=conditional(store, of_read_models(game_read_models), access)))
    app.include_router(build_ops_router(node, access))
    app.include_router(build_metrics_router(node, access))
    app.include_router(build_docs_router(app, access))
    app.include_router(build_inspector_router(access))  # /ui/: the read-only web inspector
    serve_docs_offline(app, access.require_read_token)  # /docs, /redoc: no CDN, work offline
    complete_openapi(app, hand_parsed=[models.AppendRequest, GameCommandsRequest])
    return app
