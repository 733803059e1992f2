"""The exception handlers of an app: every error answer as problem details.

Library errors take their status from `problems.status_for`; FastAPI's own answers
(an unknown route 404, a 405, a request that does not validate 422) and anything
unexpected (500) are sent in the same shape (`problems.problem_body`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors
from .health import WriteFaults
from .node import Role
from .problems import (
    PROBLEM_MEDIA_TYPE,
    RETRY_AFTER_S,
    HTTPProblem,
    error_kind,
    problem_body,
    retry_after,
    status_for,
    validation_errors,
)

log = logging.getLogger("questlog.http")

LibraryErrorHandler = Callable[[Request, errors.QuestlogError], Awaitable[JSONResponse]]


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_response(status: int, error: str, detail: str, *,
                     headers: Mapping[str, str] | None = None,
                     **extensions: Any) -> ProblemResponse:
    body = problem_body(status, error, detail, **extensions)
    return ProblemResponse(jsonable_encoder(body), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, role: Role, write_faults: WriteFaults | None, *,
                           follows_a_file_copy: bool = False) -> None:
    """Answer every error of `app` as problem details (`follows_a_file_copy`: a read node
    whose file a follower replaces under its reads)."""

    @app.exception_handler(errors.QuestlogError)
    async def library_error(request: Request, exc: errors.QuestlogError) -> JSONResponse:
        status = status_for(exc)
        extensions: dict[str, Any] = {}
        if isinstance(exc, errors.WrongExpectedVersion):
            extensions.update(stream_id=exc.stream_id, expected=exc.expected,
                              actual=exc.actual)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if retry_after(exc, status) else None
        if isinstance(exc, errors.StorageError) and write_faults is not None:
            write_faults.failed(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        # A driver's message (inside a storage fault) may span lines: the detail is one.
        detail = errors.one_line(exc) if isinstance(exc, errors.StorageError) else str(exc)
        return problem_response(status, error_kind(exc), detail, headers=headers,
                                **extensions)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's items, every rejected value echoed only in part.
        issues = validation_errors(exc.errors())
        return problem_response(422, "validation_error", validation_summary(issues),
                                errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Framework errors: an unknown route, a method the route lacks.
        try:
            kind = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        except ValueError:
            kind = "http_error"
        return problem_response(exc.status_code, kind, str(exc.detail), headers=exc.headers)

    @app.exception_handler(HTTPProblem)
    async def http_problem(_request: Request, exc: HTTPProblem) -> JSONResponse:
        return problem_response(exc.status, exc.error, exc.detail, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback and re-raises after sending this answer.
        log.error("%s %s: unexpected %s: %s", request.method, request.url.path,
                  type(exc).__name__, exc)
        return problem_response(500, "internal_error",
                                "an unexpected error on the server; nothing more is said here")

    install_database_error_handlers(app, role, library_error,
                                    follows_a_file_copy=follows_a_file_copy)


def retry_can_fix(fault: errors.StorageError, *, follows_a_file_copy: bool) -> bool:
    """Whether a read node's read that failed with `fault` may succeed when retried.

    A busy or cancelled read (`StorageBusy`: a standby's recovery conflict cancels reads
    with SQLSTATE 40001 or 40P01) and an unreachable server (`StorageUnavailable`) pass.
    On a follower's file copy, so does a file that reads as damaged or unreadable: the
    follower rewrites it (restores afresh) under open reads. Anything else (permission
    denied, a missing table, a damaged server database) stays until someone fixes it."""
    from ..storage.errors import StorageBusy, StorageUnavailable

    if isinstance(fault, (StorageBusy, StorageUnavailable)):
        return True
    return follows_a_file_copy and isinstance(fault, (errors.StorageCorrupt,
                                                      errors.StorageIOError))


def install_database_error_handlers(app: FastAPI, role: Role,
                                    library_error: LibraryErrorHandler, *,
                                    follows_a_file_copy: bool = False) -> None:
    """Errors of the database driver that reach a route, answered through the storage
    layer's neutral error tree (the engine packages registered with it say which
    classes are their driver's and what each error means)."""
    from ..storage.errors import driver_error_classes, storage_error

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        # A read that met a failing or damaged database: the server's fault, never a 4xx.
        fault = storage_error(exc)
        if fault is not None:
            return await library_error(request, fault)
        log.error("%s %s: database error: %s", request.method, request.url.path,
                  errors.one_line(exc))
        return problem_response(500, "database_error", errors.one_line(exc))

    async def read_node_database_error(request: Request, exc: Exception) -> JSONResponse:
        fault = storage_error(exc)
        if fault is None or not retry_can_fix(fault, follows_a_file_copy=follows_a_file_copy):
            return await database_error(request, exc)
        log.warning("read on the replica failed, asking the client to retry: %s",
                    errors.one_line(fault))
        return problem_response(
            503, "replica_not_ready",
            errors.one_line(f"the replica is being restored or replayed under this read: "
                            f"{fault}"),
            headers={"Retry-After": str(RETRY_AFTER_S)})

    read_node = role == "read"
    for driver_error in driver_error_classes(database_only=read_node):
        app.add_exception_handler(driver_error,
                                  read_node_database_error if read_node else database_error)


def validation_summary(issues: Sequence[dict[str, Any]]) -> str:
    """One line naming the first thing wrong (and how many more there are)."""
    if not issues:
        return "the request does not fit this route"
    first = issues[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "request"
    more = len(issues) - 1
    return f"{where}: {first.get('msg', 'invalid')}" + (f" (and {more} more)" if more else "")
