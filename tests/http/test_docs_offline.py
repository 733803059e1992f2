"""`/docs` and `/redoc` load every asset from the node itself (no CDN): they work offline."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsers import need_chromium
from fastapi.testclient import TestClient
from http_tokens import API_TOKEN, READ_TOKEN

from questlog import Store
from questlog.http import create_app
from questlog.http.docs_assets import ASSETS_URL
from questlog.settings import Settings

_REF = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")
MIN_BYTES = {"swagger-ui-bundle.js": 500_000, "swagger-ui.css": 50_000,
             "redoc.standalone.js": 500_000, "favicon.png": 1_000}


def _refs(html: str) -> list[str]:
    return [a or b for a, b in _REF.findall(html)]


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    path = tmp_path / "docs.db"
    store = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN,
                                               read_token=READ_TOKEN))
    with TestClient(create_app(store)) as c:
        yield c
    store.close()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    html = answer.text
    assert "cdn." not in html and "fonts.googleapis" not in html
    refs = _refs(html)
    assets = [r for r in refs if r.startswith(ASSETS_URL + "/")]
    assert assets, html
    assert all(r.startswith("/") for r in refs), f"a non-local reference in {page}: {refs}"
    assert "/openapi.json" in refs
    for ref in assets:
        got = client.get(ref)
        assert got.status_code == 200, ref
        name = ref.rsplit("/", 1)[1]
        assert len(got.content) >= MIN_BYTES[name], (ref, len(got.content))
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")


def test_swagger_ui_reads_openapi_3_1() -> None:
    # Swagger UI 4 shows "does not specify a valid version field" for a 3.1 spec.
    from questlog.http.docs_assets import asset_dir

    bundle = (asset_dir() / "swagger-ui-bundle.js").read_text(encoding="utf-8", errors="replace")
    versions = re.findall(r'"(5\.\d+\.\d+)"', bundle)
    assert versions, "the bundled Swagger UI is not version 5"


def test_guarded_docs_need_the_read_token_but_assets_do_not(guarded: TestClient) -> None:
    assert guarded.get("/docs").status_code == 401
    assert guarded.get("/redoc").status_code == 401
    auth = {"Authorization": f"Bearer {READ_TOKEN}"}
    page = guarded.get("/docs", headers=auth)
    assert page.status_code == 200
    # A browser fetches scripts without the Authorization header: they must load anyway.
    for ref in _refs(page.text):
        if ref.startswith(ASSETS_URL):
            assert guarded.get(ref).status_code == 200, ref
    assert guarded.get("/openapi.json").status_code == 401
    assert guarded.get("/openapi.json", headers=auth).status_code == 200


def test_swagger_ui_renders_in_a_real_browser(write_node_url: str, tmp_path: Path) -> None:
    # This machine reaches no CDN: a page that renders its operations loaded all it needs
    # from the node.
    chromium = need_chromium()
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=10000", "--dump-dom", f"{write_node_url}/docs"],
        capture_output=True, text=True, timeout=120)
    assert 'data-path="/v1/streams/{stream_id}/events"' in done.stdout, done.stderr[-2000:]
    assert 'data-path="/health"' in done.stdout
