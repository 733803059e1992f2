"""Issue 15 point 5, HTTP side: one error shape (RFC 9457 problem details) for every error
answer, FastAPI's own included; `/search` filtered by pack and `where` like the CLI and the
Python API; an unknown filter field is 422, an unknown content type 404. Real stores; the
search index is built with the deterministic hashing embedder (the ranking is not what is
tested here, the filters are)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from http_tokens import API_TOKEN, WRITE

from questlog import Store
from questlog.errors import Backpressure
from questlog.http import create_app
from questlog.http.models import ConflictResponse, ErrorResponse, ValidationErrorResponse
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.settings import Settings

STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def assert_problem(resp: httpx.Response, status: int, error: str | None = None) -> dict[str, Any]:
    """The answer is problem details with this status (and kind); returns its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE, resp.headers
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["type"] == f"urn:questlog:problem:{body['error']}"
    assert body["title"] == body["error"].replace("_", " ").capitalize()
    assert isinstance(body["detail"], str) and body["detail"] and "\n" not in body["detail"]
    ErrorResponse.model_validate(body)
    if error is not None:
        assert body["error"] == error, body
    return body


def test_every_kind_of_error_answer_is_problem_details(
        client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.append("campaign-1", [{"type": "A", "data": {}}])
    # 400: a library refusal and a route's own
    assert_problem(client.post("/streams/campaign-1/events", headers=WRITE,
                               json={"events": [{"type": "A"}], "wait_replicated": True}),
                   400, "not_replicating")
    assert_problem(client.get("/content/spells", params={"where": "novalue"}), 400,
                   "invalid_content_filter")
    # 401, with its challenge
    resp = client.post("/streams/campaign-1/events", json={"events": [{"type": "A"}]})
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers["www-authenticate"] == "Bearer"
    # 404: the library's, the route's and FastAPI's own (no such route)
    assert_problem(client.get("/content/spells/no-such-spell"), 404, "content_not_found")
    assert_problem(client.get("/streams/campaign-9"), 404, "stream_not_found")
    assert_problem(client.get("/no/such/route"), 404, "not_found")
    # 405: FastAPI's own, with Allow
    resp = client.delete("/streams/campaign-1")
    assert_problem(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["allow"]
    # 409 keeps the stream and its versions as members
    resp = client.post("/streams/campaign-1/events", headers=WRITE,
                       json={"expected_version": 0, "events": [{"type": "B"}]})
    body = assert_problem(resp, 409, "wrong_expected_version")
    assert (body["stream_id"], body["expected"], body["actual"]) == ("campaign-1", 0, 1)
    ConflictResponse.model_validate(body)
    # 413 from the body-size middleware, before FastAPI sees the request
    assert_problem(client.post("/streams/campaign-1/events", headers=WRITE,
                               json={"events": [{"type": "Big", "data": {"b": "x" * 5000}}]}),
                   413, "body_too_large")
    # 422: FastAPI's validation (query and body), every issue under `errors`
    body = assert_problem(client.get("/events", params={"limit": 0}), 422, "validation_error")
    assert body["errors"][0]["loc"] == ["query", "limit"] and "query.limit" in body["detail"]
    ValidationErrorResponse.model_validate(body)
    body = assert_problem(client.post("/streams/campaign-1/events", content=b"{",
                                      headers={**WRITE, "Content-Type": "application/json"}),
                          422, "validation_error")
    assert body["errors"][0]["loc"][0] == "body"
    # 503: min_position beyond the head, with Retry-After
    resp = client.get("/events", params={"min_position": 99})
    assert_problem(resp, 503, "min_position_not_reached")
    assert resp.headers["retry-after"] == "1"

    # 429: the writer's queue stays full
    def full(*_a: object, **_k: object) -> object:
        raise Backpressure("writer queue full for 10.0 s")

    monkeypatch.setattr(store.writer, "submit", full)
    resp = client.post("/streams/campaign-1/events", headers=WRITE,
                       json={"events": [{"type": "C"}]})
    assert_problem(resp, 429, "backpressure")
    assert resp.headers["retry-after"] == "1"
    assert store.head_position() == 1


def test_read_node_refusal_and_unexpected_faults_are_problem_details(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "primary.db"
    primary = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN))
    replica = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN), read_only=True)
    try:
        reader = TestClient(create_app(replica, "read"))
        body = assert_problem(reader.post("/streams/campaign-1/events", headers=WRITE,
                                          json={"events": [{"type": "A"}]}),
                              403, "read_only_replica")
        assert "read-only replica" in body["detail"]
        assert_problem(reader.post("/game/commands", headers=WRITE,
                                   json={"commands": [{"kind": "x"}]}), 403, "read_only_replica")

        def broken(*_a: object, **_k: object) -> object:
            raise RuntimeError("a bug")

        monkeypatch.setattr(primary, "read_all", broken)
        writer = TestClient(create_app(primary), raise_server_exceptions=False)
        body = assert_problem(writer.get("/events"), 500, "internal_error")
        assert "a bug" not in body["detail"]  # nothing of the server's internals is said
    finally:
        replica.close()
        primary.close()


def test_a_replica_file_replaced_under_a_read_is_503_problem_details(tmp_path: Path) -> None:
    """What a read node answers while its follower rewrites the file (here: the file is
    no database at all for a moment): retry later, in the one error shape."""
    path = tmp_path / "replica.db"
    primary = Store.open(path, settings=Settings(db=path))
    primary.append("campaign-1", [{"type": "A", "data": {}}])
    primary.close()
    replica = Store.open(path, settings=Settings(db=path), read_only=True)
    try:
        client = TestClient(create_app(replica, "read"))
        assert client.get("/events").status_code == 200
        for leftover in tmp_path.glob("replica.db-*"):
            leftover.unlink()
        path.write_bytes(b"not a database " * 500)
        resp = client.get("/events")
        body = assert_problem(resp, 503, "replica_not_ready")
        assert "being restored" in body["detail"] and resp.headers["retry-after"] == "1"
    finally:
        replica.close()


def test_the_spec_documents_problem_details_for_every_error(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own 422 shape is not answered
    assert {"type", "title", "status", "detail", "error"} <= set(
        schemas["ErrorResponse"]["required"])
    assert "errors" in schemas["ValidationErrorResponse"]["required"]
    documented = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation["responses"].items():
                if int(code) < 400:
                    continue
                assert list(answer["content"]) == [PROBLEM_MEDIA_TYPE], (path, method, code)
                refs = json.dumps(answer["content"])
                assert "ErrorResponse" in refs or "ConflictResponse" in refs, (path, code)
                documented += 1
    assert documented > 50
    unprocessable = spec["paths"]["/v1/events"]["get"]["responses"]["422"]
    assert "ValidationErrorResponse" in json.dumps(unprocessable)
    assert "501" not in json.dumps({p: {m: list(o["responses"]) for m, o in ops.items()}
                                    for p, ops in spec["paths"].items()})


# -- /search with the CLI's filters ------------------------------------------------------


def _homebrew_pack(root: Path) -> Path:
    """One spell of a second pack, so that a pack filter has something to leave out."""
    root.mkdir()
    spell = next(s for s in json.loads((STARTER / "spells.json").read_text())
                 if s["index"] == "lantern-ward")
    spell = {**spell, "index": "storm-lantern", "name": "Storm Lantern", "level": 5}
    (root / "spells.json").write_text(json.dumps([spell]))
    return root


@pytest.fixture
def search_client(tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    set_default_embedder(HashingEmbedder(256))
    path = tmp_path / "search.db"
    store = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN))
    try:
        store.content.import_pack(STARTER, pack="starter")
        store.content.import_pack(_homebrew_pack(tmp_path / "homebrew"), pack="homebrew")
        store.projections.catch_up(["search_index"])
        yield TestClient(create_app(store)), store
    finally:
        store.close()
        set_default_embedder(None)


def _hits(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    resp = client.get("/search", params=params)
    assert resp.status_code == 200, resp.text
    hits: list[dict[str, Any]] = resp.json()["hits"]
    return hits


def test_search_filters_by_pack_and_where_like_the_python_api(
        search_client: tuple[TestClient, Store]) -> None:
    client, store = search_client
    everything = _hits(client, q="lantern", mode="keyword", k=20)
    assert {h["pack"] for h in everything} == {"starter", "homebrew"}
    homebrew = _hits(client, q="lantern", mode="keyword", k=20, pack="homebrew")
    assert [h["index"] for h in homebrew] == ["storm-lantern"]
    assert _hits(client, q="lantern", mode="keyword", pack=["homebrew", "starter"],
                 k=20) == everything
    # where: the CLI's grammar over the one type's filter fields
    spells = _hits(client, q="you", type="spells", mode="keyword", k=20)
    assert {h["index"] for h in spells} >= {"lantern-ward", "ember-choir", "storm-lantern"}
    low = _hits(client, q="you", type="spells", mode="keyword", k=20, where="level<=1")
    assert low and {h["index"] for h in low} <= {"lantern-ward", "whispering-chalk"}
    api = store.search("you", types=["spells"], where={"level": {"lte": 1}}, k=20,
                       mode="keyword")
    assert [h["index"] for h in low] == [h.index for h in api]
    both = _hits(client, q="lantern", type="spells", mode="keyword", k=20,
                 where=["level>=1", "level<=5"], pack="homebrew")
    assert [h["index"] for h in both] == ["storm-lantern"]
    assert _hits(client, q="lantern", type="spells", k=20, where="level=0",
                 pack="homebrew") == []  # hybrid (the default mode) filters the same way


def test_search_filter_mistakes_are_clear_client_errors(
        search_client: tuple[TestClient, Store]) -> None:
    client, _ = search_client
    body = assert_problem(client.get("/search", params={"q": "x", "type": "spells",
                                                        "where": "colour=red"}),
                          422, "unknown_filter_field")
    assert "'colour'" in body["detail"] and "known:" in body["detail"]
    assert_problem(client.get("/search", params={"q": "x", "type": "spellz",
                                                 "where": "level=1"}),
                   404, "unknown_content_type")
    assert_problem(client.get("/search", params={"q": "x", "type": "spellz"}), 404,
                   "unknown_content_type")
    assert_problem(client.get("/search", params={"q": "x", "where": "level=1"}), 400,
                   "invalid_search_query")
    assert_problem(client.get("/search", params={"q": "x", "type": "spells",
                                                 "where": "level=high"}),
                   400, "invalid_content_filter")
    # the same field mistake on the content list route
    assert_problem(client.get("/content/spells", params={"where": "colour=red"}), 422,
                   "unknown_filter_field")
    assert_problem(client.get("/content/spellz", params={"where": "level=1"}), 404,
                   "unknown_content_type")


def test_a_read_node_asks_for_a_retry_only_when_a_retry_can_help() -> None:
    from questlog.errors import StorageCorrupt, StorageFull, StorageIOError
    from questlog.http.errors import retry_can_fix
    from questlog.storage.errors import StorageBusy, StorageUnavailable

    for passing in (StorageBusy("40001 recovery conflict"), StorageUnavailable("refused")):
        assert retry_can_fix(passing, follows_a_file_copy=False)
        assert retry_can_fix(passing, follows_a_file_copy=True)
    for damaged in (StorageCorrupt("not a database"), StorageIOError("cannot open")):
        assert retry_can_fix(damaged, follows_a_file_copy=True)  # the follower rewrites it
        assert not retry_can_fix(damaged, follows_a_file_copy=False)  # a server's stays
    assert not retry_can_fix(StorageFull("disk full"), follows_a_file_copy=True)
