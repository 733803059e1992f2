"""`GET /metrics`: the Prometheus text format of this node (behind the read token when
the server sets one): the families the process records (`observability.metrics`) and
those read from the store at scrape time (`observability.store_metrics`), with the
node's replication lag."""

# No `from __future__ import annotations`: FastAPI reads the route's parameters at definition.

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..observability.store_metrics import exposition, recorded
from .auth import Access
from .node import Node
from .ops_routes import node_health


def build_metrics_router(node: Node, access: Access) -> APIRouter:
    router = APIRouter(tags=["ops"])

    def scrape() -> bytes:
        if node.read_node is not None and not node.read_node.ready:
            return recorded()  # restoring its replica: no store to read yet
        return exposition(node.store, lambda: node_health(node))

    @router.get("/metrics", dependencies=[Depends(access.require_read_token)],
                response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}},
                                 "description": "Prometheus text exposition format"}},
                summary="Prometheus metrics of this node (text exposition format)")
    async def metrics() -> Any:
        body = await run_in_threadpool(scrape)  # reads the store: keep the event loop free
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
