"""The Prometheus families questlog records into outside the writer (one registry per
process): searches, the embedding cache, replication waits, HTTP requests. The writer's
own numbers are plain Python counters (`batches.WriterStats`), and whatever must be
read from the store (projector lag, queue depth, replication lag) is collected at scrape
time (`store_metrics`). `set_enabled(False)` turns recording off (benchmarks).

Families (all prefixed `questlog_`):

| family | type | labels |
| --- | --- | --- |
| search_seconds | histogram | mode |
| embedding_cache_lookups_total | counter | result (hit, miss) |
| wait_replicated_seconds | histogram | outcome |
| http_request_seconds | histogram | method, route, status |

An outcome is `ok` or the snake_case name of the error (`outcomes.outcome_of`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

from .batches import SECONDS_BUCKETS
from .outcomes import outcome_of
from .switch import enabled, set_enabled

__all__ = ["REGISTRY", "enabled", "set_enabled"]

REGISTRY = CollectorRegistry(auto_describe=True)
F = TypeVar("F", bound=Callable[..., Any])

SEARCH_SECONDS = Histogram("questlog_search_seconds", "Search latency by mode.", ["mode"],
                           buckets=SECONDS_BUCKETS, registry=REGISTRY)
EMBEDDING_CACHE = Counter("questlog_embedding_cache_lookups",
                          "Embedding cache lookups by result (hit: no model run).", ["result"],
                          registry=REGISTRY)
WAIT_REPLICATED = Histogram("questlog_wait_replicated_seconds",
                            "Time until the replica confirmed a position (wait_replicated).",
                            ["outcome"], buckets=SECONDS_BUCKETS, registry=REGISTRY)
HTTP_SECONDS = Histogram("questlog_http_request_seconds",
                         "HTTP request latency by route template and status.",
                         ["method", "route", "status"], buckets=SECONDS_BUCKETS,
                         registry=REGISTRY)


def record_embedding_lookups(hits: int, misses: int) -> None:
    if not enabled():
        return
    if hits:
        EMBEDDING_CACHE.labels("hit").inc(hits)
    if misses:
        EMBEDDING_CACHE.labels("miss").inc(misses)


def timed_wait_replicated(fn: F) -> F:
    """Decorate `Replicator.wait_replicated`: its latency by outcome."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        error: BaseException | None = None
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if enabled():
                WAIT_REPLICATED.labels(outcome_of(error)).observe(time.perf_counter() - began)

    return wrapper  # type: ignore[return-value]
