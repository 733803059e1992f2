"""The read-only web inspector under `/ui/`: campaign, encounter tracker, event log,
projections. Server-rendered pages whose vanilla JS polls the node's JSON read routes."""

from .router import UI_PREFIX, build_inspector_router

__all__ = ["UI_PREFIX", "build_inspector_router"]
