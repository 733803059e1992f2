"""Caching by position over HTTP: ETags from checkpoints, 304s, never a stale body, and
the versioned API (/v1 paths; the old ones answer with Deprecation and a successor Link)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_tokens import API_TOKEN

from questlog import Store
from questlog.http import create_app
from questlog.http.versioning import DEPRECATION
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.settings import Settings

STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _tiny_pack(root: Path, desc: str) -> Path:
    """One starter spell whose description says `desc` (re-import to change it)."""
    root.mkdir(exist_ok=True)
    spell = next(s for s in json.loads((STARTER / "spells.json").read_text())
                 if s["index"] == "lantern-ward")
    (root / "spells.json").write_text(json.dumps([{**spell, "desc": [desc]}]))
    return root


def _revalidate(client: TestClient, url: str, etag: str) -> Any:
    return client.get(url, headers={"If-None-Match": etag})


def test_content_entry_answers_304_until_an_import_changes_it(
        client: TestClient, store: Store, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store.content.import_pack(_tiny_pack(tmp_path / "pack", "first words"), pack="tiny")
    url = "/v1/content/spells/lantern-ward"
    first = client.get(url)
    assert first.status_code == 200 and first.json()["desc"] == ["first words"]
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"

    # A 304 never touches the read model: the content API is not even called.
    def read_model_touched(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a 304 read the read model")

    with monkeypatch.context() as patched:
        patched.setattr(store.content, "get", read_model_touched)
        again = _revalidate(client, url, etag)
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert _revalidate(client, url, f'W/{etag}, "other"').status_code == 304

    store.content.import_pack(_tiny_pack(tmp_path / "pack", "second words"), pack="tiny")
    changed = _revalidate(client, url, etag)
    assert changed.status_code == 200, changed.text
    assert changed.json()["desc"] == ["second words"]  # never the stale body
    assert changed.headers["etag"] != etag
    assert _revalidate(client, url, changed.headers["etag"]).status_code == 304


def test_an_unrelated_append_never_makes_the_content_etag_stale(
        client: TestClient, store: Store, tmp_path: Path) -> None:
    # The content token is the content projector's checkpoint. An append no content
    # projector handles may leave it where it is (inline checkpoints advance lazily) or
    # move it: a spurious 200 is allowed, a 304 for a body that changed never.
    store.content.import_pack(_tiny_pack(tmp_path / "pack", "words"), pack="tiny")
    url = "/v1/content/spells"
    first = client.get(url)
    etag = first.headers["etag"]
    store.append("campaign-1", [{"type": "Noted", "data": {}}])
    again = _revalidate(client, url, etag)
    assert again.status_code in (200, 304)
    now = client.get(url)
    assert now.json() == first.json()  # nothing the content model holds changed
    if again.status_code == 200:
        assert again.headers["etag"] != etag and again.json() == first.json()
    # A change to content itself always moves the token.
    store.content.import_pack(_tiny_pack(tmp_path / "pack2", "other words"), pack="tiny")
    changed = _revalidate(client, url, etag)
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_stream_and_log_pages_revalidate_by_position(client: TestClient, store: Store) -> None:
    store.append("campaign-1", [{"type": "A", "data": {"i": 1}}])
    stream_url, log_url = "/v1/streams/campaign-1", "/v1/events?from_position=1"
    stream_tag = client.get(stream_url).headers["etag"]
    log_tag = client.get(log_url).headers["etag"]
    assert client.get("/v1/events?from_position=2").headers["etag"] != log_tag  # the query
    assert _revalidate(client, stream_url, stream_tag).status_code == 304
    assert _revalidate(client, f"{stream_url}?min_position=1", stream_tag).status_code == 304

    store.append("campaign-2", [{"type": "B", "data": {}}])  # another stream
    assert _revalidate(client, stream_url, stream_tag).status_code == 304  # its version holds
    moved = _revalidate(client, log_url, log_tag)
    assert moved.status_code == 200 and [e["type"] for e in moved.json()["events"]] == ["A", "B"]

    store.append("campaign-1", [{"type": "C", "data": {}}])
    grown = _revalidate(client, stream_url, stream_tag)
    assert grown.status_code == 200 and len(grown.json()["events"]) == 2


def test_game_reads_revalidate_by_the_game_read_models(client: TestClient, store: Store) -> None:
    def command(body: dict[str, Any]) -> None:
        answer = client.post("/v1/game/commands", headers=AUTH, json={"commands": [body]})
        assert answer.status_code == 200, answer.text

    command({"kind": "create_campaign", "campaign_id": "c", "name": "Quay Tales",
             "starting_location": "Quay"})
    url = "/v1/game/campaigns/c"
    etag = client.get(url).headers["etag"]
    assert _revalidate(client, url, etag).status_code == 304
    command({"kind": "change_location", "campaign_id": "c", "name": "Lighthouse"})
    moved = _revalidate(client, url, etag)
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    assert "Lighthouse" in moved.text


def test_errors_carry_no_etag(client: TestClient) -> None:
    missing = client.get("/v1/streams/campaign-404")
    assert missing.status_code == 404 and "etag" not in missing.headers


@pytest.fixture
def search_store(tmp_path: Path) -> Iterator[Store]:
    # The index is built with the deterministic hashing embedder; keyword search (what is
    # asked here) does not embed the query at all.
    set_default_embedder(HashingEmbedder(256))
    path = tmp_path / "search.db"
    store = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN))
    try:
        yield store
    finally:
        store.close()
        set_default_embedder(None)


def test_a_repeated_search_is_answered_from_the_cache_and_never_stale(
        search_store: Store, tmp_path: Path) -> None:
    store = search_store
    store.content.import_pack(_tiny_pack(tmp_path / "pack", "a ward of amber light"),
                              pack="tiny")
    store.projections.catch_up(["search_index"])
    client = TestClient(create_app(store))
    url = "/v1/search?q=amber&mode=keyword"
    first = client.get(url)
    assert first.status_code == 200 and [h["index"] for h in first.json()["hits"]] == [
        "lantern-ward"]
    assert client.get(url).json() == first.json()  # the node's answer cache
    hits_before = store.search._results.hits
    assert store.search("amber", mode="keyword") == store.search("amber", mode="keyword")
    assert store.search._results.hits == hits_before + 1  # the API's LRU answered
    assert _revalidate(client, url, first.headers["etag"]).status_code == 304

    store.content.import_pack(_tiny_pack(tmp_path / "pack", "a ward of cobalt light"),
                              pack="tiny")
    store.projections.catch_up(["search_index"])
    after = _revalidate(client, url, first.headers["etag"])
    assert after.status_code == 200 and after.json()["hits"] == []  # amber is gone
    cobalt = client.get("/v1/search?q=cobalt&mode=keyword").json()["hits"]
    assert [h["index"] for h in cobalt] == ["lantern-ward"]


# -- the versioned API --------------------------------------------------------------------


def test_v1_paths_serve_and_old_paths_are_deprecated_aliases(client: TestClient,
                                                              store: Store) -> None:
    store.append("campaign-1", [{"type": "A", "data": {}}])
    current = client.get("/v1/streams/campaign-1")
    assert current.status_code == 200 and "deprecation" not in current.headers
    old = client.get("/streams/campaign-1")
    assert old.status_code == 200 and old.json() == current.json()
    assert old.headers["deprecation"] == DEPRECATION and DEPRECATION.startswith("@")
    assert old.headers["link"] == '</v1/streams/campaign-1>; rel="successor-version"'
    # Writes and error answers on an old path say it too.
    wrote = client.post("/streams/campaign-1/events", headers=AUTH,
                        json={"expected_version": "any", "events": [{"type": "B", "data": {}}]})
    assert wrote.status_code == 200 and wrote.headers["deprecation"] == DEPRECATION
    missing = client.get("/content/spells/nothing-here")
    assert missing.status_code == 404 and missing.headers["deprecation"] == DEPRECATION
    assert missing.headers["link"] == '</v1/content/spells/nothing-here>; rel="successor-version"'
    # Operational endpoints stay outside the versioned API.
    health = client.get("/health")
    assert health.status_code == 200 and "deprecation" not in health.headers


def test_the_spec_documents_only_the_v1_paths(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    operational = {"/health", "/metrics"}  # outside the versioned API (docs/compatibility.md)
    assert operational <= paths
    api = paths - operational
    assert api and all(p.startswith("/v1/") for p in api), sorted(api)
    assert {"/v1/streams/{stream_id}/events", "/v1/game/commands", "/v1/search"} <= api
