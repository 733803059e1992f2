"""`/docs` (Swagger UI) and `/redoc` served from an installed package: they work offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a machine without the
internet they are blank. The `fastapi-offline` package ships those assets (Swagger UI 5,
which reads the OpenAPI 3.1 spec FastAPI writes, and ReDoc); this module serves them
from its `static/` folder under `ASSETS_URL` and builds both pages on them.

`serve_docs_offline(app, guard)` replaces whatever `/docs` and `/redoc` routes the app has
(FastAPI's CDN pages, or the app's own guarded ones) with pages on the local assets, behind
`guard` (a FastAPI dependency, e.g. the read-token check) when one is given. The assets
themselves need no token: they are the same public files for every node.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ..errors import ConfigurationError

ASSETS_URL = "/docs-assets"
SPEC_URL = "/openapi.json"  # where the app serves its spec (guarded or not)
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
DOC_PATHS = ("/docs", "/redoc")


def asset_dir() -> Path:
    """The installed folder holding Swagger UI's and ReDoc's files."""
    try:
        import fastapi_offline
    except ImportError as exc:
        raise ConfigurationError(
            "the API docs need the fastapi-offline package (pip install 'questlog[http]')"
        ) from exc
    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    missing = [name for name in ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigurationError(f"the API docs assets are incomplete in {folder}: "
                                 f"{', '.join(missing)} missing")
    return folder


def serve_docs_offline(app: FastAPI, guard: Callable[..., Any] | None = None) -> None:
    """Serve `/docs` and `/redoc` from the local assets (behind `guard` when given)."""
    folder = asset_dir()
    app.router.routes[:] = [route for route in app.router.routes
                            if getattr(route, "path", None) not in DOC_PATHS]
    app.mount(ASSETS_URL, StaticFiles(directory=folder), name="docs-assets")
    dependencies = [Depends(guard)] if guard is not None else []

    @app.get("/docs", include_in_schema=False, dependencies=dependencies)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{SPEC_URL}", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            swagger_ui_parameters=app.swagger_ui_parameters)

    @app.get("/redoc", include_in_schema=False, dependencies=dependencies)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{SPEC_URL}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False)
