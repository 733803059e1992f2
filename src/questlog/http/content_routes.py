"""Content routes: one effective entry, and entries of a type filtered like the CLI's."""

# No `from __future__ import annotations`: FastAPI resolves the Annotated[...] parameters
# of the routes defined inside `build_content_router`.

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..caching import CONTENT
from ..content.where_text import parse_where
from . import models
from .auth import Access
from .conditional import ETag, conditional, of_read_models
from .encoding import as_json, encode, json_response
from .problems import problem_responses

if TYPE_CHECKING:
    from ..store import Store

WHERE_DESCRIPTION = ("Filters as in `questlog content list --where`: FIELD=VALUE, "
                     "FIELD>=VALUE, a,b for any of (repeatable, AND-ed).")


def build_content_router(store: "Store", access: Access) -> APIRouter:
    router = APIRouter(tags=["read models"])
    ReadAccess = Annotated[None, Depends(access.require_read)]
    Fresh = Annotated[ETag, Depends(conditional(store, of_read_models(CONTENT),
                                                access))]

    @router.get("/content/{content_type}/{index}", response_model=dict[str, Any],
                responses=problem_responses(400, 401, 404, 503),
                summary="One content entry (the effective one across packs)")
    async def content_get(content_type: str, index: str, _access: ReadAccess,
                          etag: Fresh) -> Response:
        # async: a kept answer costs no thread hop; a read goes to the pool (SQLite blocks).
        if (answer := etag.cached()) is not None:
            return answer
        entry = await run_in_threadpool(store.content.get, content_type, index)
        return etag.keep(json_response(encode(as_json(entry))))

    @router.get("/content/{content_type}", response_model=models.ContentListResponse,
                responses=problem_responses(400, 401, 404, 422, 503),
                summary="List content entries")
    def content_list(
        content_type: str,
        _access: ReadAccess,
        etag: Fresh,
        where: Annotated[list[str] | None, Query(description=WHERE_DESCRIPTION)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> Response:
        filters = parse_where(where, store.content.filter_columns(content_type)) if where else {}
        items = store.content.list(content_type, where=filters, limit=limit, offset=offset)
        return etag.apply(json_response(encode({"items": [as_json(i) for i in items]})))

    return router
