"""The Prometheus families questlog records into while it runs (one registry per process).

Recording is cheap by design: the writer reports once per batch (a few counter and
histogram updates, each a short lock inside prometheus-client), never per event;
whatever must be read from the store (projector lag, queue depth, replication lag) is
collected at scrape time by `store_metrics`. `set_enabled(False)` turns the recording
off: benchmarks/append.py uses it to measure what the metrics cost.

Families (all prefixed `questlog_`):

| family | type | labels |
| --- | --- | --- |
| append_calls_total, append_events_total, append_bytes_total | counter | outcome |
| writer_batch_size (calls per batch), writer_commit_seconds | histogram | |
| backpressure_refusals_total | counter | |
| search_seconds | histogram | mode |
| embedding_cache_lookups_total | counter | result (hit, miss) |
| wait_replicated_seconds | histogram | outcome |
| http_request_seconds | histogram | method, route, status |

An outcome is `ok` or the snake_case name of the error (`wrong_expected_version`, ...).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_enabled = True
F = TypeVar("F", bound=Callable[..., Any])

# Latency buckets from 0.5 ms (a commit at synchronous NORMAL) to 10 s (a stuck lock).
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

APPEND_CALLS = Counter("questlog_append_calls", "Append calls by outcome.", ["outcome"],
                       registry=REGISTRY)
APPEND_EVENTS = Counter("questlog_append_events", "Events in append calls by outcome.",
                        ["outcome"], registry=REGISTRY)
APPEND_BYTES = Counter("questlog_append_bytes",
                       "Bytes of the events' data and metadata JSON in append calls, by outcome.",
                       ["outcome"], registry=REGISTRY)
BATCH_SIZE = Histogram("questlog_writer_batch_size", "Calls and write jobs per writer batch.",
                       buckets=BATCH_BUCKETS, registry=REGISTRY)
COMMIT_SECONDS = Histogram("questlog_writer_commit_seconds",
                           "Time the writer spends on a batch, from taking it off the queue to "
                           "its commit.", buckets=SECONDS_BUCKETS, registry=REGISTRY)
BACKPRESSURE = Counter("questlog_backpressure_refusals",
                       "Calls refused because the writer queue stayed full (Backpressure).",
                       registry=REGISTRY)
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

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_outcome_names: dict[type[BaseException], str] = {}


def enabled() -> bool:
    return _enabled


def set_enabled(on: bool) -> None:
    """Switch recording on or off for this process (benchmarks compare both)."""
    global _enabled
    _enabled = on


def outcome_of(error: BaseException | None) -> str:
    """`ok`, or the error's class name in snake_case (a small, fixed set of labels)."""
    if error is None:
        return "ok"
    kind = type(error)
    name = _outcome_names.get(kind)
    if name is None:
        name = _outcome_names[kind] = _CAMEL.sub("_", kind.__name__).lower()
    return name


def record_appends(outcome: str, calls: int, events: int, size: int) -> None:
    if not _enabled:
        return
    APPEND_CALLS.labels(outcome).inc(calls)
    APPEND_EVENTS.labels(outcome).inc(events)
    APPEND_BYTES.labels(outcome).inc(size)


def record_backpressure() -> None:
    if _enabled:
        BACKPRESSURE.inc()


def record_embedding_lookups(hits: int, misses: int) -> None:
    if not _enabled:
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
            if _enabled:
                WAIT_REPLICATED.labels(outcome_of(error)).observe(time.perf_counter() - began)

    return wrapper  # type: ignore[return-value]
