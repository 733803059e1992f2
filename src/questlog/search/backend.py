"""Which vector backend answers queries, and why (what `questlog doctor` prints).

`QUESTLOG_VECTOR_BACKEND`: `auto` (sqlite-vec when it loads, else numpy),
`sqlite-vec` (required: an error when it cannot load), `numpy` (always). A store
on PostgreSQL uses pgvector unless `numpy` is asked for.
Importing this module is light: it probes sqlite-vec through `search.indexes` only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import VectorSearchUnavailable
from ..settings import Settings
from .embedder import MINILM_ID, default_embedder
from .indexes import approximate_index_layout, approximate_index_status


@dataclass(frozen=True)
class BackendChoice:
    configured: str
    active: str
    reason: str


def choose_backend(settings: Settings, engine: str = "sqlite") -> BackendChoice:
    """The vector backend of a store on `engine` (its backend's name)."""
    configured = settings.vector_backend
    if configured == "numpy":
        return BackendChoice(configured, "numpy", "QUESTLOG_VECTOR_BACKEND=numpy")
    if engine == "postgresql":
        # The accelerated index is the server's pgvector (questlog.postgres.vectors); a
        # server without it leaves the mirror unsynced and queries fall back to numpy.
        return BackendChoice(configured, "pgvector", "postgresql: pgvector on the server")
    status = approximate_index_status()
    if status.loaded:
        how = "auto: " if configured == "auto" else ""
        return BackendChoice(configured, "sqlite-vec", f"{how}sqlite-vec {status.version} loaded")
    if configured == "sqlite-vec":
        raise VectorSearchUnavailable(
            f"QUESTLOG_VECTOR_BACKEND=sqlite-vec but sqlite-vec cannot load: {status.reason}")
    return BackendChoice(configured, "numpy", f"auto: fallback, {status.reason}")


def backend_report(settings: Settings) -> dict[str, Any]:
    """A dict for `questlog doctor`: configured and active backend, reason, layout, model."""
    status = approximate_index_status()
    try:
        choice = asdict(choose_backend(settings))
    except VectorSearchUnavailable as exc:
        choice = {"configured": settings.vector_backend, "active": "unavailable",
                  "reason": str(exc)}
    embedder = default_embedder()
    loaded = getattr(embedder, "loaded", None)
    return {
        **choice,
        "sqlite_vec": {"loaded": status.loaded, "version": status.version,
                       "reason": status.reason},
        "layout": approximate_index_layout(),
        "model": embedder.model_id if embedder.model_id else MINILM_ID,
        "model_loaded": bool(loaded) if loaded is not None else None,
    }
