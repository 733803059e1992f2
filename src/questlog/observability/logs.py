"""The one logging set-up of every entry point (`questlog ...`, `serve`, `read-node`).

`setup_logging(level, fmt)`: `text` is one human-readable line per record, `json` one
JSON object per line; `auto` picks text on a terminal and JSON otherwise (a service
manager, a container, a pipe). Every record carries the request id and the correlation
id of the work it belongs to, when there is one (`request_id`, `correlation_id`
context variables: the HTTP middleware sets the first from `X-Request-ID`, an append
the second from its events' metadata).

JSON fields: `ts` (UTC, ISO 8601), `level`, `logger`, `message`, and when present
`request_id`, `correlation_id`, `operation`, `duration_ms`, `params` (slow operations),
`method`, `route`, `path`, `status` (access log), `error` (the exception's type and
message; its traceback only with QUESTLOG_DEBUG=1). Only these fields are written:
arbitrary `extra` values never reach the output, so headers (and their tokens) cannot.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["auto", "text", "json"]
LOG_FORMATS: tuple[str, ...] = ("auto", "text", "json")

request_id: ContextVar[str | None] = ContextVar("questlog_request_id", default=None)
correlation_id: ContextVar[str | None] = ContextVar("questlog_correlation_id", default=None)

ACCESS_LOGGER = "questlog.access"
SLOW_LOGGER = "questlog.slow"
CONTEXT_FIELDS = ("request_id", "correlation_id")
EXTRA_FIELDS = ("operation", "duration_ms", "params", "method", "route", "path", "status",
                "backend", "driver", "sqlite_version", "sqlite_vec", "schema_revision", "role")


class _ContextFilter(logging.Filter):
    """Stamps the request and correlation ids of the current context on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("correlation_id", correlation_id)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*CONTEXT_FIELDS, *EXTRA_FIELDS):
        value = getattr(record, name, None)
        if value is not None:
            out[name] = value
    return out


def _error(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    error = record.exc_info[1]
    text = f"{type(error).__name__}: {error}"
    if os.environ.get("QUESTLOG_DEBUG"):
        text += "\n" + "".join(traceback.format_exception(*record.exc_info))
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record (the fields in the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        error = _error(record)
        if error is not None:
            body["error"] = error
        return json.dumps(body, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-01-01T00:00:00.000Z info questlog.http: message key=value ...`, one line."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        message = " ".join(record.getMessage().split())  # one line, whatever it holds
        parts = [ts.replace("+00:00", "Z"), record.levelname.lower(),
                 f"{record.name}: {message}"]
        parts += [f"{k}={json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}"
                  for k, v in _fields(record).items()]
        error = _error(record)
        if error is not None:
            parts.append(f"({error})")
        return " ".join(parts)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def resolve_format(fmt: str) -> str:
    if fmt == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        return "text" if isatty is not None and isatty() else "json"
    return fmt


def setup_logging(level: str = "warning", fmt: str = "auto", *,
                  access_log: bool = False, slow_log: bool = True) -> None:
    """Configure the root logger once per entry point (calling again replaces questlog's
    own handler, never one somebody else installed).

    `slow_log=False` silences the slow-operation log: a one-shot command's user sees its
    whole run, and a warning line would break the one-line answer scripts read from
    stderr; servers keep it on."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if resolve_format(fmt) == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The access log is info records of its own logger: on only when asked for.
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO if access_log else logging.WARNING)
    logging.getLogger(SLOW_LOGGER).setLevel(logging.NOTSET if slow_log else logging.ERROR)
