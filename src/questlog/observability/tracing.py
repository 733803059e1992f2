"""OpenTelemetry spans through `opentelemetry-api` only.

Without an SDK (or before a tracer provider is set) every span is skipped at the cost
of one isinstance check: the API's own no-op span costs ~7 µs, which the append path
should not pay for nothing. With a provider set, spans go wherever the user exports them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import ProxyTracerProvider, Span, Status, StatusCode

TRACER_NAME = "questlog"
Attributes = Mapping[str, Any]


def active() -> bool:
    """Whether spans are made (a tracer provider is set): cheap, for the writer's path."""
    return _tracer() is not None


_UNKNOWN = object()
# A provider named in the environment is loaded by the API on first use: leave it to it.
_FROM_ENVIRONMENT = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _tracer() -> trace.Tracer | None:
    # The API's global is None until set_tracer_provider: reading it costs ~50 ns where
    # get_tracer_provider() costs over a microsecond (it reads the environment each time).
    if getattr(trace, "_TRACER_PROVIDER", _UNKNOWN) is None and not _FROM_ENVIRONMENT:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, ProxyTracerProvider):  # nobody installed an SDK
        return None
    return provider.get_tracer(TRACER_NAME)


def _clean(attributes: Attributes | None) -> dict[str, Any]:
    # OpenTelemetry takes str, bool, int, float and sequences of them; None is dropped.
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            out[f"questlog.{key}"] = value
        elif isinstance(value, (list, tuple)):
            out[f"questlog.{key}"] = [str(v) for v in value]
        else:
            out[f"questlog.{key}"] = str(value)
    return out


class ActiveSpan:
    """A started span made current (work inside it nests under it) until `end`."""

    __slots__ = ("span", "_token")

    def __init__(self, span: Span) -> None:
        self.span = span
        self._token = context.attach(trace.set_span_in_context(span))

    def set(self, key: str, value: Any) -> None:
        self.span.set_attributes(_clean({key: value}))

    def end(self, error: BaseException | None = None) -> None:
        context.detach(self._token)
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        self.span.end()


def start_span(name: str, attributes: Attributes | None = None) -> ActiveSpan | None:
    """A started, current span (the caller ends it), or None when tracing is off."""
    tracer = _tracer()
    if tracer is None:
        return None
    return ActiveSpan(tracer.start_span(name, attributes=_clean(attributes)))


def record_span(name: str, start_ns: int, end_ns: int, attributes: Attributes | None = None,
                error: BaseException | None = None) -> None:
    """A span for work already done (the writer reports its batch after the fact)."""
    tracer = _tracer()
    if tracer is None:
        return
    span = tracer.start_span(name, attributes=_clean(attributes), start_time=start_ns)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end(end_time=end_ns)
