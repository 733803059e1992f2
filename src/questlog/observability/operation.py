"""An operation (append, search, projection batch, HTTP request): traced, timed, and
logged when it takes at least `QUESTLOG_SLOW_MS` (the `slow_ms` setting).

The slow-operation log names the operation, its parameters and its time. Parameters
are what the caller chose to describe the work (a stream id, a count, a mode): never a
payload, a search text or a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from . import tracing
from .logs import SLOW_LOGGER, correlation_id
from .switch import enabled

if TYPE_CHECKING:
    from prometheus_client.metrics import Histogram

slow_log = logging.getLogger(SLOW_LOGGER)
T = TypeVar("T")


class Operation:
    """`with Operation("search", settings.slow_ms, {"mode": mode}): ...`"""

    __slots__ = ("name", "threshold_s", "params", "histogram", "_start", "_span", "_context")

    def __init__(self, name: str, slow_ms: float, params: Mapping[str, Any],
                 histogram: Histogram | None = None) -> None:
        self.name = name
        self.threshold_s = slow_ms / 1000
        self.params = params
        self.histogram = histogram  # observes the duration, when given
        self._span: tracing.ActiveSpan | None = None
        self._start = 0.0
        self._context: Token[str | None] | None = None

    def __enter__(self) -> Operation:
        # An operation that names a correlation id (an append) stamps it on every record
        # logged while it runs.
        correlation = self.params.get("correlation_id")
        if correlation is not None:
            self._context = correlation_id.set(correlation)
        self._span = tracing.start_span(f"questlog.{self.name}", self.params)
        self._start = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        elapsed = time.perf_counter() - self._start
        if self._span is not None:
            self._span.end(error)
        if self.histogram is not None:
            if enabled():
                self.histogram.observe(elapsed)
        if elapsed >= self.threshold_s:
            log_slow(self.name, self.params, elapsed, error)
        if self._context is not None:
            correlation_id.reset(self._context)


def log_slow(name: str, params: Mapping[str, Any], elapsed_s: float,
             error: BaseException | None = None) -> None:
    """One line: `slow operation NAME took N ms`, the parameters as fields."""
    duration_ms = round(elapsed_s * 1000, 3)
    fields: dict[str, Any] = {"operation": name, "duration_ms": duration_ms,
                              "params": dict(params)}
    if error is not None:
        fields["error"] = type(error).__name__
    slow_log.warning("slow operation %s took %.1f ms", name, duration_ms, extra=fields)


def observe_append(slow_ms: float, calls: Sequence[tuple[str, Sequence[Any], Any]],
                   work: Callable[[], T]) -> T:
    """`work()` as the `append` operation, at the least cost when nobody traces.

    An append is the one operation run thousands of times a second from many threads,
    where each microsecond a producer holds the GIL is paid many times over (a writer
    waiting for the GIL behind 32 producers). Untraced, it costs two clock reads and the
    correlation id: the parameters are described only for a slow call. Traced, it is an
    `Operation` like any other.
    """
    if tracing.active():
        with Operation("append", slow_ms, append_params(calls)):
            return work()
    correlation = correlation_of(calls[0][1]) if calls else None
    token = correlation_id.set(correlation) if correlation is not None else None
    start = time.perf_counter()
    error: BaseException | None = None
    try:
        return work()
    except BaseException as exc:
        error = exc
        raise
    finally:
        elapsed = time.perf_counter() - start
        if elapsed * 1000 >= slow_ms:
            log_slow("append", append_params(calls), elapsed, error)
        if token is not None:
            correlation_id.reset(token)


def append_params(calls: Sequence[tuple[str, Sequence[Any], Any]]) -> dict[str, Any]:
    """What the append operation logs and traces of its calls: the stream (or how many),
    how many events, the correlation id; never the events themselves."""
    params: dict[str, Any] = ({"stream_id": calls[0][0]} if len(calls) == 1
                              else {"streams": len(calls)})
    params["events"] = sum(len(call[1]) for call in calls)
    params["correlation_id"] = correlation_of(calls[0][1]) if calls else correlation_id.get()
    return params


def correlation_of(events: Sequence[Any]) -> str | None:
    """The correlation id of an append (its first event's metadata `correlation_id`: the
    events of one call share one), else the one of the work in progress."""
    if events:
        event = events[0]
        metadata = (event.get("metadata") if isinstance(event, dict)
                    else getattr(event, "metadata", None))
        if isinstance(metadata, dict):
            found = metadata.get("correlation_id")
            if isinstance(found, str):
                return found
    return correlation_id.get()
