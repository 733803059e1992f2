"""`GET /search`: semantic, keyword or hybrid search with the filters of the CLI and the
Python API (content types, packs, and `where` over one type's filter fields)."""

# No `from __future__ import annotations`: FastAPI resolves the Annotated[...] parameters
# of the route defined inside `build_search_router`.

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..caching import SEARCH
from ..content.where_text import parse_where
from ..search.api import InvalidSearchQuery
from . import models
from .auth import Access
from .conditional import ETag, conditional, of_read_models
from .content_routes import WHERE_DESCRIPTION
from .encoding import as_json, encode, json_response
from .problems import problem_responses

if TYPE_CHECKING:
    from ..store import Store


def build_search_router(store: "Store", access: Access) -> APIRouter:
    router = APIRouter(tags=["read models"])
    ReadAccess = Annotated[None, Depends(access.require_read)]
    Fresh = Annotated[ETag, Depends(conditional(store, of_read_models(SEARCH),
                                                access))]

    @router.get("/search", response_model=models.SearchResponse,
                responses=problem_responses(400, 401, 404, 422, 503),
                summary="Semantic / keyword / hybrid search over content")
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=1000)],
        _access: ReadAccess,
        etag: Fresh,
        type: Annotated[list[str] | None, Query(
            description="Only this content type (repeatable); an unknown type is 404.")] = None,
        pack: Annotated[list[str] | None, Query(
            description="Only entries of this pack (repeatable).")] = None,
        where: Annotated[list[str] | None, Query(
            description=f"{WHERE_DESCRIPTION} Needs exactly one `type`; a field that type "
            "does not have is 422.")] = None,
        k: Annotated[int, Query(ge=1, le=100)] = 5,
        mode: Annotated[Literal["hybrid", "vector", "keyword"] | None, Query()] = None,
    ) -> Response:
        # async: a kept answer costs no thread hop; a search goes to the pool (SQLite blocks).
        if (answer := etag.cached()) is not None:
            return answer
        return await run_in_threadpool(answer_search, q, type or [], pack, where, k, mode,
                                       etag)

    def answer_search(q: str, types: list[str], pack: list[str] | None,
                      where: list[str] | None, k: int, mode: str | None,
                      etag: ETag) -> Response:
        columns = [store.content.filter_columns(t) for t in types]  # an unknown type: 404
        filters = None
        if where:
            if len(types) != 1:
                raise InvalidSearchQuery("`where` filters need exactly one content type "
                                         "(`type`): the fields are that type's")
            filters = parse_where(where, columns[0])
        kwargs: dict[str, Any] = {"types": types or None, "packs": pack or None,
                                  "where": filters, "k": k}
        if mode is not None:
            kwargs["mode"] = mode
        hits = store.search(q, **kwargs)
        return etag.keep(json_response(encode({"hits": [as_json(h) for h in hits]})))

    return router
