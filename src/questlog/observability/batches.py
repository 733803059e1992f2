"""What the writer records per batch, in plain Python numbers that only its own thread
writes: append outcomes (calls, events, bytes), the batch's size and latency; plus a
`questlog.batch_commit` span and a slow-operation line.

No prometheus-client object is touched on the writer's path (each update there takes a
lock and costs a microsecond or more): `WriterStats.families()` turns the numbers into
Prometheus families when `/metrics` is scraped (`store_metrics.StoreCollector`). The
report runs once per batch, before the batch's callers are woken (so a caller that
scrapes after its append sees its own batch), and costs a loop over the batch's calls.
Refusals (Backpressure before a call reaches the queue) happen on the callers' threads
and are counted under a lock: they are rare by nature.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import Backpressure
from . import tracing
from .operation import log_slow
from .outcomes import outcome_of
from .switch import enabled

if TYPE_CHECKING:
    from prometheus_client.core import Metric

# Calls and jobs per batch; seconds from 0.5 ms (a commit at synchronous NORMAL) to 10 s.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)


class PlainHistogram:
    """A histogram as a list of bucket counts and a sum (one writer thread updates it)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le: value <= bound
        self.total += value

    def family(self, name: str, documentation: str) -> Metric:
        from prometheus_client.core import HistogramMetricFamily

        counts, total = list(self.counts), self.total
        cumulative, running = [], 0
        for bound, count in zip((*map(_le, self.bounds), "+Inf"), counts, strict=True):
            running += count
            cumulative.append((bound, running))
        return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=total)


def _le(bound: float) -> str:
    return repr(float(bound))


def _sizes(calls: Iterable[Any]) -> tuple[int, int, int]:
    """(calls, events, bytes of their data and metadata JSON) of append calls (each call's
    `size` is counted by `planner.make_call`, in the caller's thread)."""
    n_calls = n_events = size = 0
    for call in calls:
        n_calls += 1
        n_events += len(call.events)
        size += call.size
    return n_calls, n_events, size


class WriterStats:
    """One writer's numbers since it started."""

    def __init__(self) -> None:
        self.appends: dict[str, list[int]] = {}  # outcome -> [calls, events, bytes]
        self.batch_size = PlainHistogram(BATCH_BUCKETS)
        self.commit_seconds = PlainHistogram(SECONDS_BUCKETS)
        self._refusals_lock = threading.Lock()
        self.refusals: dict[str, list[int]] = {}  # outcome -> [calls, events, bytes]
        self.backpressure = 0

    # -- writer thread ---------------------------------------------------------------------

    def batch_done(self, batch: Sequence[Any],
                   outcomes: Sequence[tuple[Any, bool, Any]] | None, started: float,
                   slow_ms: float, error: BaseException | None = None) -> None:
        """Report a batch: `outcomes` (completion, ok, result or error) once written, or
        `error` when the whole batch failed. `started` is its time.perf_counter()."""
        elapsed = time.perf_counter() - started
        if enabled():
            self.batch_size.observe(len(batch))
            self.commit_seconds.observe(elapsed)
            self._count(batch, outcomes, error)
        if tracing.active():
            end_ns = time.time_ns()
            tracing.record_span("questlog.batch_commit", end_ns - int(elapsed * 1e9), end_ns,
                                {"batch_size": len(batch)}, error)
        if elapsed * 1000 >= slow_ms:
            log_slow("batch_commit", {"batch_size": len(batch)}, elapsed, error)

    def _count(self, batch: Sequence[Any], outcomes: Sequence[tuple[Any, bool, Any]] | None,
               error: BaseException | None) -> None:
        failures = {id(f): value for f, ok, value in outcomes or () if not ok}
        appends = self.appends
        if outcomes is not None and not failures:  # the usual batch: every call ok
            n_calls = n_events = size = 0
            for item in batch:
                for call in getattr(item, "calls", ()):
                    n_calls += 1
                    n_events += len(call.events)
                    size += call.size
            row = appends.get("ok")
            if row is None:
                row = appends["ok"] = [0, 0, 0]
            row[0] += n_calls
            row[1] += n_events
            row[2] += size
            return
        for item in batch:
            calls = getattr(item, "calls", None)
            if calls is None:  # a write job, not an append
                continue
            failed = error if outcomes is None else failures.get(id(item.future))
            label = "ok" if failed is None else outcome_of(failed)
            row = appends.get(label)
            if row is None:
                row = appends[label] = [0, 0, 0]
            n_calls, n_events, size = _sizes(calls)
            row[0] += n_calls
            row[1] += n_events
            row[2] += size

    # -- callers' threads ------------------------------------------------------------------

    def refused(self, item: Any, error: BaseException) -> None:
        """A call that never reached a batch (Backpressure, a closed writer)."""
        if not enabled():
            return
        calls = getattr(item, "calls", None)
        sizes = _sizes(calls) if calls is not None else None
        with self._refusals_lock:
            if isinstance(error, Backpressure):
                self.backpressure += 1
            if sizes is not None:
                row = self.refusals.setdefault(outcome_of(error), [0, 0, 0])
                for i, n in enumerate(sizes):
                    row[i] += n

    # -- scrape ----------------------------------------------------------------------------

    def families(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        with self._refusals_lock:
            totals = {k: list(v) for k, v in self.refusals.items()}
            backpressure = self.backpressure
        for label, row in list(self.appends.items()):
            into = totals.setdefault(label, [0, 0, 0])
            for i, n in enumerate(row):
                into[i] += n
        for i, (name, text) in enumerate((
                ("questlog_append_calls", "Append calls by outcome."),
                ("questlog_append_events", "Events in append calls by outcome."),
                ("questlog_append_bytes",
                 "Bytes of the events' data and metadata JSON in append calls, by outcome."))):
            family = CounterMetricFamily(name, text, labels=["outcome"])
            for label, row in sorted(totals.items()):
                family.add_metric([label], row[i])
            yield family
        yield CounterMetricFamily(
            "questlog_backpressure_refusals",
            "Calls refused because the writer queue stayed full (Backpressure).",
            value=backpressure)
        yield self.batch_size.family("questlog_writer_batch_size",
                                     "Calls and write jobs per writer batch.")
        yield self.commit_seconds.family(
            "questlog_writer_commit_seconds",
            "Time the writer spends on a batch, from taking it off the queue to its commit.")
