"""HTTP error answers: which status each library error gets, and their one shape.

Every error answer is RFC 9457 problem details (`application/problem+json`, the
body `models.ErrorResponse`): `type`, `title`, `status`, `detail`, and the
extension member `error` (the machine-readable kind); a 409 adds the stream and
its expected and actual versions, a 422 the list of `errors`. `problem_body`
builds every one of them; the handlers that send them are in `errors.py`.
"""

import reprlib
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .. import errors
from ..game.errors import UnknownEntity
from ..search.api import InvalidSearchQuery
from ..storage.errors import StorageBusy
from . import models

# Client mistakes are listed one by one; anything else questlog raises is the server's
# fault (500), so a new error class can never turn a server fault into a 4xx.
STATUS_FOR: list[tuple[type[errors.QuestlogError], int]] = [
    (UnknownEntity, 404),  # a DomainError that means 'no such thing'
    (InvalidSearchQuery, 400),
    (errors.ReadOnlyStore, 403),
    (errors.WrongExpectedVersion, 409),
    (errors.DuplicateEventId, 409),
    (errors.Backpressure, 429),
    (errors.WriterClosed, 503),
    (errors.ReplicationError, 503),
    (errors.StoreNotInitialized, 503),
    (errors.VectorSearchUnavailable, 503),
    (errors.StreamNotFound, 404),
    (errors.ContentNotFound, 404),
    (errors.ContentPackNotFound, 404),
    (errors.UnknownFilterField, 422),  # the type exists; the request names no such field
    (errors.UnknownContentType, 404),
    (errors.UnknownProjector, 404),
    (errors.InvalidEventPayload, 422),
    (errors.PoisonEvent, 500),
    (errors.InvalidEvent, 400),
    (errors.ContentValidationError, 400),
    (errors.ContentError, 400),  # a bad filter or pack the caller named
    (errors.DomainError, 400),
    # Server faults, named so the spec and the mapping say the same.
    (StorageBusy, 503),
    (errors.StorageFull, 503),
    (errors.StorageIOError, 503),
    (errors.StorageCorrupt, 500),
    (errors.ConfigurationError, 500),
    (errors.ProjectionError, 500),
]
RETRY_AFTER_S = 1


PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:questlog:problem:"


class HTTPProblem(Exception):
    """An error answer that is not a library error (auth, readiness)."""

    def __init__(self, status: int, error: str, detail: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def problem_body(status: int, error: str, detail: str, **extensions: Any) -> dict[str, Any]:
    """The problem details of one error answer; `extensions` are added members."""
    return {"type": PROBLEM_TYPE_PREFIX + error,
            "title": error.replace("_", " ").capitalize(),
            "status": status, "detail": detail, "error": error, **extensions}


def error_kind(exc: Exception) -> str:
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def status_for(exc: errors.QuestlogError) -> int:
    for cls, status in STATUS_FOR:
        if isinstance(exc, cls):
            return status
    return 500


def retry_after(exc: errors.QuestlogError, status: int) -> bool:
    """Whether the answer should carry Retry-After: the same call may succeed later."""
    if isinstance(exc, errors.StorageError):
        return exc.retryable
    return status in (429, 503)


def _problem_content(*models_: type[models.ErrorResponse]) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in models_]
    return {PROBLEM_MEDIA_TYPE: {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route (problem details; see `document_problems`)."""
    described = {400: "Rejected by the library (invalid event, domain error, bad filter).",
                 401: "Missing or wrong bearer token.",
                 403: "Read-only replica: writes go to the write node.",
                 404: "No such stream, content entry or type.",
                 409: "Conflict: wrong expected version (expected and actual in the body).",
                 413: "Request body over QUESTLOG_MAX_BODY_BYTES.",
                 422: "A parameter or the body does not fit (every issue in `errors`), or a "
                      "filter names a field the content type does not have.",
                 429: "Backpressure: the writer queue is full; retry after Retry-After.",
                 500: "A server fault a retry will not mend (corrupt file, configuration "
                      "problem, projector bug). Nothing was written.",
                 503: "Replica not ready, min_position not reached, storage full or failing "
                      "(nothing was written), or a dependency is unavailable (see "
                      "Retry-After)."}
    shapes: dict[int, tuple[type[models.ErrorResponse], ...]] = {
        409: (models.ConflictResponse,),
        422: (models.ValidationErrorResponse, models.ErrorResponse)}
    return {code: {"description": described[code],
                   "content": _problem_content(*shapes.get(code, (models.ErrorResponse,)))}
            for code in codes}


READ_ERRORS = problem_responses(400, 401, 404, 503)

#: An append's 422: a body that is not an append request (every issue listed), or a known
#: game event whose data the game could not read (InvalidEventPayload).
APPEND_UNPROCESSABLE: dict[str, Any] = {
    "description": "The body is not an append request, or a known game event's data does "
                   "not fit its type (the detail names the event, the field, what was expected).",
    "content": _problem_content(models.ValidationErrorResponse, models.ErrorResponse),
}

#: The error shapes the spec's components must hold (docs_routes adds them).
PROBLEM_MODELS = (models.ErrorResponse, models.ConflictResponse, models.ValidationErrorResponse)
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """The spec with every 422 that FastAPI documents by itself (its `HTTPValidationError`)
    documented as the problem this API answers instead."""
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()
                      if isinstance(op, dict)):
        answer = operation.get("responses", {}).get("422")
        if answer is not None and _FASTAPI_422 in str(answer.get("content")):
            answer["content"] = _problem_content(models.ValidationErrorResponse)
    if _FASTAPI_422 not in str(schema.get("paths")):
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


MAX_ECHO_CHARS = 200  # of a rejected value, echoed back in a 422
_PREVIEW = reprlib.Repr()  # keyword arguments need Python 3.12
_PREVIEW.maxlevel, _PREVIEW.maxdict, _PREVIEW.maxlist, _PREVIEW.maxtuple = 3, 4, 4, 4
_PREVIEW.maxstring = _PREVIEW.maxother = 60


def bounded_input(value: Any) -> Any:
    """A rejected value as a 422 echoes it: numbers, booleans and short strings as they
    are; a long string cut; a list or object as a short preview text. Never the whole
    input, so a 4 MB body does not come back as a 4 MB answer."""
    if isinstance(value, bytes):
        value = value[:MAX_ECHO_CHARS * 4].decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "..."
    preview = _PREVIEW.repr(value)  # bounded work, however big the value
    return preview[:MAX_ECHO_CHARS] + ("..." if len(preview) > MAX_ECHO_CHARS else "")


def validation_errors(errors_: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's 422 items with every `input` bounded (see `bounded_input`)."""
    out = []
    for error in errors_:
        item = dict(error)
        if "input" in item:
            item["input"] = bounded_input(item["input"])
        if "ctx" in item:
            item["ctx"] = {k: v if isinstance(v, int | float | str | bool | None) else str(v)
                           for k, v in item["ctx"].items()}
        out.append(item)
    return out


def body_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors in FastAPI's 422 shape, every value JSON-safe and bounded."""
    out = []
    for error in exc.errors(include_url=False):
        item: dict[str, Any] = {"type": error["type"], "loc": ("body", *error["loc"]),
                                "msg": error["msg"]}
        item["input"] = bounded_input(error.get("input"))
        if "ctx" in error:
            item["ctx"] = {k: v if isinstance(v, int | float | str | bool | None) else str(v)
                           for k, v in error["ctx"].items()}
        out.append(item)
    return out
