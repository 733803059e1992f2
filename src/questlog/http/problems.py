"""HTTP error answers: which status each library error gets, and their documented shapes.

Every error answer has the same JSON body (`models.ErrorResponse`: error kind, detail);
a 409 adds the stream and its expected and actual versions.
"""

from typing import Any

from pydantic import ValidationError

from .. import errors
from . import models

STATUS_FOR: list[tuple[type[errors.QuestlogError], int]] = [
    (errors.ReadOnlyStore, 403),
    (errors.WrongExpectedVersion, 409),
    (errors.DuplicateEventId, 409),
    (errors.Backpressure, 429),
    (errors.WriterClosed, 503),
    (errors.ReplicationError, 503),
    (errors.StoreNotInitialized, 503),
    (errors.VectorSearchUnavailable, 503),
    (errors.ContentNotFound, 404),
    (errors.ContentPackNotFound, 404),
    (errors.UnknownContentType, 404),
    (errors.UnknownProjector, 404),
    (errors.InvalidEventPayload, 422),
    (errors.PoisonEvent, 500),
    (errors.InvalidEvent, 400),
    (errors.ContentValidationError, 400),
    (errors.DomainError, 400),
]
RETRY_AFTER_S = 1


class HTTPProblem(Exception):
    """An error answer that is not a library error (auth, readiness, not implemented)."""

    def __init__(self, status: int, error: str, detail: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def error_kind(exc: Exception) -> str:
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def status_for(exc: errors.QuestlogError) -> int:
    if isinstance(exc, _not_found_errors()):
        return 404
    for cls, status in STATUS_FOR:
        if isinstance(exc, cls):
            return status
    return 400


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {400: "Rejected by the library (invalid event, domain error).",
                 401: "Missing or wrong bearer token.",
                 403: "Read-only replica: writes go to the write node.",
                 404: "No such stream, content entry or type.",
                 409: "Conflict: wrong expected version (expected and actual in the body).",
                 413: "Request body over QUESTLOG_MAX_BODY_BYTES.",
                 429: "Backpressure: the writer queue is full; retry after Retry-After.",
                 501: "The feature's module is not installed on this node yet.",
                 503: "Replica not ready, min_position not reached, or a dependency is "
                      "unavailable (see Retry-After)."}
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model: type[models.ErrorResponse] = (
            models.ConflictResponse if code == 409 else models.ErrorResponse)
        out[code] = {"model": model, "description": described[code]}
    return out


READ_ERRORS = problem_responses(400, 401, 404, 503)

#: An append's 422: a body that is not an append request (FastAPI's validation shape), or a
#: known game event whose data the game could not read (InvalidEventPayload, ErrorResponse).
APPEND_UNPROCESSABLE: dict[str, Any] = {
    "description": "The body is not an append request, or a known game event's data does "
                   "not fit its type (the detail names the event, the field, what was expected).",
    "content": {"application/json": {"schema": {"anyOf": [
        {"$ref": "#/components/schemas/HTTPValidationError"},
        {"$ref": "#/components/schemas/ErrorResponse"}]}}},
}


def body_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors in FastAPI's 422 shape, every value JSON-safe (raw bytes included)."""
    out = []
    for error in exc.errors(include_url=False):
        item: dict[str, Any] = {"type": error["type"], "loc": ("body", *error["loc"]),
                                "msg": error["msg"]}
        raw = error.get("input")
        item["input"] = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if "ctx" in error:
            item["ctx"] = {k: v if isinstance(v, int | float | str | bool | None) else str(v)
                           for k, v in error["ctx"].items()}
        out.append(item)
    return out


def _not_found_errors() -> tuple[type[Exception], ...]:
    """Domain errors that mean 'no such thing' (404), from modules that may be absent."""
    try:
        from ..game.errors import UnknownEntity
    except ImportError:
        return ()
    return (UnknownEntity,)
