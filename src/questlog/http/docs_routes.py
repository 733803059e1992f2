"""The API's own description: `/openapi.json` (Swagger UI at `/docs` and ReDoc at `/redoc`
are served from local assets by `docs_assets`).

All three are behind the read token when the server sets one (open otherwise). The
spec is FastAPI's, completed with what FastAPI cannot see: the models of bodies
that routes validate by hand, and the problem-details shape of every error answer.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' parameters.

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .auth import Access
from .problems import PROBLEM_MODELS, document_problems

OPENAPI_URL = "/openapi.json"


def build_docs_router(app: FastAPI, access: Access) -> APIRouter:
    router = APIRouter(include_in_schema=False,
                       dependencies=[Depends(access.require_read_token)])

    @router.get(OPENAPI_URL)
    async def openapi_spec() -> JSONResponse:
        return JSONResponse(app.openapi())

    return router


def complete_openapi(app: FastAPI, hand_parsed: Sequence[type[BaseModel]]) -> None:
    """Make `app.openapi()` document the hand-parsed bodies and the error answers."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            documented: list[type[BaseModel]] = [*hand_parsed, *PROBLEM_MODELS]
            for model in documented:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in body.pop("$defs", {}).items():
                    components.setdefault(name, sub)
                components.setdefault(model.__name__, body)
            app.openapi_schema = document_problems(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
