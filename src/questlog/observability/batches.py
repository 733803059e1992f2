"""What the writer reports after each batch: append outcomes (calls, events, bytes),
the batch's size and latency, a `questlog.batch_commit` span, and a slow-operation line.

Called once per batch on the writer thread, before its callers are woken (so a caller
that reads the metrics after its append sees its own batch): the cost is a loop over
the batch's calls and a few counter updates, never anything per event but a `len`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import Backpressure
from . import tracing
from .operation import log_slow

# `metrics` (prometheus-client: ~30 ms of imports) is imported on the first batch, not
# when the writer module loads: read-only commands never pay for it.


def _sizes(calls: Iterable[Any]) -> tuple[int, int, int]:
    """(calls, events, bytes of their data and metadata JSON) of append calls."""
    n_calls = n_events = size = 0
    for call in calls:
        n_calls += 1
        n_events += len(call.events)
        for event in call.events:
            size += len(event.data_json) + len(event.metadata_json)
    return n_calls, n_events, size


def refused(item: Any, error: BaseException) -> None:
    """A call that never reached a batch (Backpressure, a closed writer)."""
    from . import metrics

    if not metrics.enabled():
        return
    if isinstance(error, Backpressure):
        metrics.record_backpressure()
    calls = getattr(item, "calls", None)
    if calls is not None:
        metrics.record_appends(metrics.outcome_of(error), *_sizes(calls))


def batch_done(batch: Sequence[Any], outcomes: Sequence[tuple[Any, bool, Any]] | None,
               started: float, slow_ms: float, error: BaseException | None = None) -> None:
    """Report a batch: `outcomes` (completion, ok, result or error) once written, or
    `error` when the whole batch failed. `started` is its time.perf_counter()."""
    from . import metrics

    elapsed = time.perf_counter() - started
    end_ns = time.time_ns()
    if metrics.enabled():
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.COMMIT_SECONDS.observe(elapsed)
        _record_outcomes(batch, outcomes, error)
    attributes = {"batch_size": len(batch)}
    tracing.record_span("questlog.batch_commit", end_ns - int(elapsed * 1e9), end_ns,
                        attributes, error)
    if elapsed * 1000 >= slow_ms:
        log_slow("batch_commit", attributes, elapsed, error)


def _record_outcomes(batch: Sequence[Any], outcomes: Sequence[tuple[Any, bool, Any]] | None,
                     error: BaseException | None) -> None:
    from . import metrics

    by_future = {id(f): (None if ok else value) for f, ok, value in outcomes or ()}
    totals: dict[str, list[int]] = {}
    for item in batch:
        calls = getattr(item, "calls", None)
        if calls is None:  # a write job, not an append
            continue
        failed = by_future.get(id(item.future), error) if outcomes is not None else error
        label = metrics.outcome_of(failed if isinstance(failed, BaseException) else None)
        n_calls, n_events, size = _sizes(calls)
        row = totals.setdefault(label, [0, 0, 0])
        row[0] += n_calls
        row[1] += n_events
        row[2] += size
    for label, (n_calls, n_events, size) in totals.items():
        metrics.record_appends(label, n_calls, n_events, size)
