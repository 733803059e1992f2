"""The inspector's pages in-process: served by write and read nodes, token rules, files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from http_tokens import API_TOKEN, READ_TOKEN

from questlog import Store
from questlog.http import create_app
from questlog.http.inspector.router import PAGES, STATIC_FILES, TOKEN_COOKIE
from questlog.http.node import Role
from questlog.settings import Settings

PATHS = {"index": "/ui/", "campaign": "/ui/campaigns/c1", "encounter": "/ui/encounters/e1",
         "events": "/ui/events", "projections": "/ui/projections"}


def test_every_page_has_a_path() -> None:
    assert set(PATHS) == set(PAGES)


@pytest.mark.parametrize("role", ["write", "read"])
def test_both_roles_serve_the_pages_and_their_files(tmp_path: Path, role: Role) -> None:
    path = tmp_path / "ui.db"
    Store.open(path, settings=Settings(db=path)).close()
    store = Store.open(path, settings=Settings(db=path), read_only=role == "read")
    with TestClient(create_app(store, role)) as client:
        for name, url in PATHS.items():
            page = client.get(url)
            assert page.status_code == 200, url
            assert f'data-page="{name}"' in page.text
            assert "http://" not in page.text and "https://" not in page.text  # no CDN
        for name, media_type in STATIC_FILES.items():
            got = client.get(f"/ui/static/{name}")
            assert got.status_code == 200 and got.headers["content-type"].startswith(media_type)
        assert client.get("/ui/static/router.py").status_code == 404
        assert client.get("/ui/static/..%2Frouter.py").status_code == 404
    store.close()


def test_the_read_token_comes_from_query_cookie_or_header(tmp_path: Path) -> None:
    path = tmp_path / "ui.db"
    store = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN,
                                               read_token=READ_TOKEN))
    with TestClient(create_app(store)) as client:
        assert client.get("/ui/").status_code == 401
        assert client.get("/ui/static/inspector.js").status_code == 200  # public files
        assert client.get("/ui/?token=wrong").status_code == 401
        first = client.get(f"/ui/?token={READ_TOKEN}")
        assert first.status_code == 200
        assert f'name="questlog-token" content="{READ_TOKEN}"' in first.text
        assert first.cookies.get(TOKEN_COOKIE) == READ_TOKEN
        assert "httponly" in first.headers["set-cookie"].lower()
        assert client.get("/ui/events").status_code == 200  # the cookie carries it
        client.cookies.clear()
        assert client.get("/ui/events").status_code == 401
        assert client.get("/ui/events", headers={
            "Authorization": f"Bearer {API_TOKEN}"}).status_code == 200
    store.close()


def test_an_entity_id_is_escaped_in_the_page(client: TestClient) -> None:
    page = client.get("/ui/campaigns/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
