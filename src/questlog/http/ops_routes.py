"""`GET /health`: the node's role, status, position and replication lag (no token needed;
without the read token, when one is set, only status and position)."""

# No `from __future__ import annotations`: FastAPI reads the route's parameters at definition.

from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from . import models
from .auth import Access
from .health import public_view
from .node import Node
from .security import bearer_token

if TYPE_CHECKING:
    from ..store import Store


def build_ops_router(node: Node, access: Access) -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/health", response_model=models.HealthResponse,
                summary="Role, position and lag of this node (no token needed: without the "
                "read token, when one is set, only status and position)")
    def health(request: Request) -> Any:
        body = node_health(node)
        if not access.may_read(bearer_token(request.headers.get("authorization"))):
            return JSONResponse(public_view(body))  # not filled up by the response model
        return body

    return router


def node_health(node: Node) -> dict[str, Any]:
    """The full /health body of a node."""
    if node.read_node is not None:
        return node.read_node.health()
    store = node.store
    position = store.head_position()
    body: dict[str, Any] = {"role": node.role, "status": "ok", "position": position,
                            "commit_time": _commit_time(store, position)}
    reason = node.write_faults.reason() if node.write_faults is not None else None
    if reason is not None:
        body.update(status="degraded", reason=reason)
    if node.replicator is not None:
        status = node.replicator.status()
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


def _commit_time(store: "Store", position: int) -> str | None:
    if position <= 0:
        return None
    for event in store.read_all(position, 1):
        return event.recorded_at
    return None


def _seconds_between(earlier: str | None, later: str | None) -> float | None:
    if earlier is None or later is None:
        return None if later is not None else 0.0
    a = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
    b = datetime.fromisoformat(later.replace("Z", "+00:00"))
    return max(0.0, (b - a).total_seconds())
