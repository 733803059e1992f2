"""Request bodies parsed and validated off the event loop.

A body of up to QUESTLOG_MAX_BODY_BYTES (4 MB: 300k tiny events) takes a noticeable
time to parse and validate; on the event loop that would stall every other request,
`/health` included. Routes with a JSON body read its bytes and hand them to
`parse_body`, which runs in the thread pool and raises FastAPI's 422 on a bad body.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from .problems import body_errors

Model = TypeVar("Model", bound=BaseModel)


async def parse_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON body validated as `model`, parsed in a worker thread."""
    raw = await request.body()
    return await run_in_threadpool(_validate, model, raw)


def _validate(model: type[Model], raw: bytes) -> Model:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(body_errors(exc)) from exc
