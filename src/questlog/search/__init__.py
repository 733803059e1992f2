"""questlog.search: embeddings, the content search index, and semantic/keyword/hybrid search.

Light to import: numpy, torch and sentence-transformers are loaded only when a
vector is computed or compared. `store.search` is `questlog.search.api.SearchAPI`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backend import BackendChoice, backend_report, choose_backend

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["BackendChoice", "backend_report", "choose_backend", "report"]


def report(settings: Settings | None = None) -> dict[str, Any]:
    """backend_report for the current settings (QUESTLOG_* environment)."""
    from ..settings import load_settings

    return backend_report(settings or load_settings())
