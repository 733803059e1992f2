"""The inspector's pages and static files (`/ui/...`), behind the read access rule.

Pages are string templates filled on the server; their data comes from the node's JSON
read routes, fetched and polled by `static/inspector.js` (no build step, no CDN). The
JSON routes live under `API_BASE` (one constant: moving them, e.g. to `/v1`, is one edit).

The read token, when the node sets one, is taken from (first found) the `token` query
parameter, the `questlog_read_token` cookie, or an `Authorization: Bearer` header. A page
opened with `?token=` sets the cookie (HttpOnly, SameSite=Strict, path /ui), so links
between pages need no token; the page hands the token to its script in a meta tag, which
sends it as a bearer token to the JSON routes (the same rule as every read route).
"""

from __future__ import annotations

import html
import string
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from ..auth import Access
from ..security import bearer_token

UI_PREFIX = "/ui"
API_BASE = ""  # where the JSON read routes are, relative to the app's root path
TOKEN_QUERY = "token"
TOKEN_COOKIE = "questlog_read_token"
HERE = Path(__file__).resolve().parent
STATIC_FILES = {"inspector.js": "text/javascript", "inspector.css": "text/css"}
PAGES = {  # page name -> (title, template)
    "index": ("questlog inspector", "index.html"),
    "campaign": ("campaign", "campaign.html"),
    "encounter": ("encounter tracker", "encounter.html"),
    "events": ("event log", "events.html"),
    "projections": ("projections", "projections.html"),
}


@cache
def _template(name: str) -> string.Template:
    return string.Template((HERE / "templates" / name).read_text(encoding="utf-8"))


def _presented(request: Request) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the query (to remember)."""
    query = request.query_params.get(TOKEN_QUERY)
    if query:
        return query, True
    cookie = request.cookies.get(TOKEN_COOKIE)
    if cookie:
        return cookie, False
    return bearer_token(request.headers.get("authorization")), False


def build_inspector_router(access: Access) -> APIRouter:
    """`/ui/` pages and `/ui/static/*`, reading through `access`'s read rule."""
    router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

    def page(request: Request, name: str, entity_id: str = "") -> Response:
        token, from_query = _presented(request)
        if not access.may_read(token):
            body = _template("denied.html").substitute(prefix=html.escape(_root(request)))
            return HTMLResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        title, template = PAGES[name]
        root = _root(request)
        content = _template(template).substitute(id=html.escape(entity_id))
        fields: dict[str, Any] = {
            "title": html.escape(f"{title} {entity_id}".strip()),
            "page": name, "id": html.escape(entity_id), "content": content,
            "ui": html.escape(root + UI_PREFIX), "api": html.escape(root + API_BASE),
            "token": html.escape(token or "") if access.read_token is not None else "",
            "role": access.role,
        }
        answer = HTMLResponse(_template("base.html").substitute(fields))
        if from_query and token:
            answer.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict",
                              path=UI_PREFIX)
        return answer

    @router.get("/")
    def index(request: Request) -> Response:
        return page(request, "index")

    @router.get("/campaigns/{campaign_id}")
    def campaign(request: Request, campaign_id: str) -> Response:
        return page(request, "campaign", campaign_id)

    @router.get("/encounters/{encounter_id}")
    def encounter(request: Request, encounter_id: str) -> Response:
        return page(request, "encounter", encounter_id)

    @router.get("/events")
    def events(request: Request) -> Response:
        return page(request, "events")

    @router.get("/projections")
    def projections(request: Request) -> Response:
        return page(request, "projections")

    # The static files are public (the same for every node), like /docs' assets: a browser
    # fetches them without the bearer header.
    @router.get("/static/{name}")
    def static(name: str) -> Response:
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            return Response("no such file", status_code=404, media_type="text/plain")
        return FileResponse(HERE / "static" / name, media_type=media_type)

    return router


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))
