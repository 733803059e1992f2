"""`GET /health`: the node's role, status, position and replication lag (no token needed;
without the read token, when one is set, only status and position)."""

# No `from __future__ import annotations`: FastAPI reads the route's parameters at definition.

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from . import models
from .auth import Access
from .health import public_view
from .node import Node
from .security import bearer_token


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
    from ..replication.primary import read_head, seconds_behind

    head = read_head(node.store)
    position = head.position
    body: dict[str, Any] = {"role": node.role, "status": "ok", "position": position,
                            "commit_time": head.commit_time}
    reason = node.write_faults.reason() if node.write_faults is not None else None
    if reason is not None:
        body.update(status="degraded", reason=reason)
    if node.replicator is not None:
        status = node.replicator.status()
        body["primary_position"] = status.replicated_position
        lag = max(0, position - status.replicated_position)
        body["lag_positions"] = lag
        body["lag_seconds"] = (0.0 if lag == 0 else
                               seconds_behind(head.commit_time, status.replicated_at))
        body["replication"] = status.as_dict()
        if status.pid is None or status.last_error:
            body["status"] = "degraded"
            body.setdefault("reason", status.last_error or "litestream is not running")
    return body
