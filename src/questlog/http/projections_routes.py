"""`GET /projections`: every projector's checkpoint and lag behind this node's head."""

# No `from __future__ import annotations`: FastAPI resolves the Annotated[...] parameters
# of the route defined inside `build_projections_router`.

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from . import models
from .auth import Access
from .encoding import as_json
from .node import Node
from .problems import READ_ERRORS


def build_projections_router(node: Node, access: Access) -> APIRouter:
    router = APIRouter(tags=["read models"])
    ReadAccess = Annotated[None, Depends(access.require_read)]

    @router.get("/projections", response_model=models.ProjectionsResponse,
                responses=READ_ERRORS, summary="Projector checkpoints and lag")
    def projections(_access: ReadAccess) -> dict[str, Any]:
        head = node.position()
        status = node.store.projections.status()
        return {"head_position": head, "projections": [as_json(s) for s in status]}

    return router
