"""The HTTP API in process (TestClient) over real stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from http_tokens import API_TOKEN, READ_TOKEN, WRITE
from read_sources import SwitchedReadSource

from questlog import Store
from questlog.errors import Backpressure
from questlog.http import create_app
from questlog.settings import Settings


def _append(client: TestClient, stream: str, *types: str, expected: object = "any",
            headers: dict[str, str] | None = None) -> object:
    body = {"expected_version": expected,
            "events": [{"type": t, "data": {"n": i}} for i, t in enumerate(types)]}
    return client.post(f"/streams/{stream}/events", json=body,
                       headers=WRITE if headers is None else headers)


def test_append_then_read_stream_and_log(client: TestClient) -> None:
    event_id = str(uuid.uuid4())
    body = {"expected_version": "no_stream", "events": [
        {"event_id": event_id, "type": "TestCreated", "data": {"name": "Vale"},
         "metadata": {"actor": "gm"}},
        {"type": "TestNoted", "data": {"q": 1}}]}
    resp = client.post("/streams/campaign-7/events", json=body, headers=WRITE)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"positions": [1, 2], "stream_version": 2, "replicated": False}
    # the same event id again is a no-op that returns the first result
    again = client.post("/streams/campaign-7/events", headers=WRITE, json={
        "events": [{"event_id": event_id, "type": "TestCreated", "data": {"name": "Vale"},
                    "metadata": {"actor": "gm"}}]})
    assert again.status_code == 200 and again.json()["positions"] == [1]
    events = client.get("/streams/campaign-7").json()["events"]
    assert [e["type"] for e in events] == ["TestCreated", "TestNoted"]
    assert events[0]["event_id"] == event_id and events[0]["metadata"] == {"actor": "gm"}
    assert set(events[0]) == {"position", "event_id", "stream_id", "stream_version", "type",
                              "schema_version", "data", "metadata", "recorded_at", "hash"}
    log = client.get("/events", params={"from_position": 2, "limit": 10}).json()["events"]
    assert [e["position"] for e in log] == [2]
    assert client.get("/streams/campaign-8").status_code == 404


def test_wrong_expected_version_is_409_with_expected_and_actual(client: TestClient,
                                                                store: Store) -> None:
    assert _append(client, "character-1", "A").status_code == 200  # type: ignore[attr-defined]
    resp = _append(client, "character-1", "B", "C", expected=0)
    assert resp.status_code == 409  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert body["expected"] == 0 and body["actual"] == 1 and body["stream_id"] == "character-1"
    assert store.head_position() == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": f"Basic {API_TOKEN}"},
                                     {"Authorization": f"Bearer {READ_TOKEN}"}])
def test_writes_without_the_right_token_are_401_and_write_nothing(
        client: TestClient, store: Store, headers: dict[str, str]) -> None:
    resp = _append(client, "campaign-x", "A", headers=headers)
    assert resp.status_code == 401  # type: ignore[attr-defined]
    assert resp.headers["www-authenticate"] == "Bearer"  # type: ignore[attr-defined]
    assert store.head_position() == 0


def test_server_without_a_token_refuses_writes_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "open.db"
    store = Store.open(path, settings=Settings(db=path))
    try:
        closed = TestClient(create_app(store))
        resp = _append(closed, "campaign-1", "A", headers={})
        assert resp.status_code == 401  # type: ignore[attr-defined]
        assert "QUESTLOG_API_TOKEN" in resp.json()["detail"]  # type: ignore[attr-defined]
        opened = TestClient(create_app(store, allow_unauthenticated_writes=True))
        assert _append(opened, "campaign-1", "A", headers={}).status_code == 200  # type: ignore[attr-defined]
    finally:
        store.close()


def test_read_token_guards_reads_when_set(store: Store) -> None:
    client = TestClient(create_app(store, read_token=READ_TOKEN))
    assert _append(client, "campaign-1", "A").status_code == 200  # type: ignore[attr-defined]
    assert client.get("/events").status_code == 401
    assert client.get("/events", headers={"Authorization": "Bearer bad"}).status_code == 401
    ok = client.get("/events", headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert ok.status_code == 200 and len(ok.json()["events"]) == 1
    assert client.get("/streams/campaign-1", headers=WRITE).status_code == 200
    assert client.get("/health").status_code == 200  # probes need no token


def test_oversized_bodies_are_refused_before_parsing(client: TestClient, store: Store) -> None:
    big = {"events": [{"type": "Big", "data": {"blob": "x" * 5000}}]}
    resp = client.post("/streams/campaign-1/events", json=big, headers=WRITE)
    assert resp.status_code == 413 and resp.json()["error"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"events": [{"type": "Big", "data": {"blob": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}}]}'

    resp = client.post("/streams/campaign-1/events", content=chunks(),
                       headers={**WRITE, "Content-Type": "application/json"})
    assert resp.status_code == 413
    # not even valid JSON, yet 413 rather than 422: nothing parsed it
    resp = client.post("/streams/campaign-1/events", content=b"{" * 6000,
                       headers={**WRITE, "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert store.head_position() == 0


def test_bodies_are_validated_with_the_library_model(client: TestClient, store: Store) -> None:
    bad = [{"events": []}, {"events": [{"type": "9bad", "data": {}}]},
           {"events": [{"type": "A", "data": {}, "extra": 1}]},
           {"events": [{"type": "A", "event_id": "not-a-uuid"}]},
           {"expected_version": -1, "events": [{"type": "A"}]},
           {"expected_version": "sometimes", "events": [{"type": "A"}]}]
    for body in bad:
        resp = client.post("/streams/campaign-1/events", json=body, headers=WRITE)
        assert resp.status_code == 422, (body, resp.text)
    resp = client.post("/streams/bad%20id/events", json={"events": [{"type": "A"}]},
                       headers=WRITE)
    assert resp.status_code == 422
    assert store.head_position() == 0


def test_backpressure_is_429_with_retry_after(client: TestClient, store: Store,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_a: object, **_k: object) -> object:
        raise Backpressure("writer queue full for 10.0 s")

    monkeypatch.setattr(store.writer, "submit", full)  # the writer's queue stays full
    resp = _append(client, "campaign-1", "A")
    assert resp.status_code == 429  # type: ignore[attr-defined]
    assert resp.headers["retry-after"] == "1"  # type: ignore[attr-defined]
    assert resp.json()["error"] == "backpressure"  # type: ignore[attr-defined]


def test_min_position_waits_then_answers_503(client: TestClient) -> None:
    pos = _append(client, "campaign-1", "A").json()["positions"][0]  # type: ignore[attr-defined]
    assert client.get("/events", params={"min_position": pos}).status_code == 200
    resp = client.get("/streams/campaign-1", params={"min_position": pos + 1})
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
    assert resp.json()["error"] == "min_position_not_reached"


def test_min_position_looks_less_often_as_the_wait_grows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each look at the position is a read: 10 ms apart at first, at most 100 ms later."""
    path = tmp_path / "wait.db"
    with Store.open(path, settings=Settings(db=path, api_token=API_TOKEN)) as store:
        looks: list[int] = []
        real = store.head_position

        def counted() -> int:
            looks.append(1)
            return real()

        monkeypatch.setattr(store, "head_position", counted)
        with TestClient(create_app(store, min_position_timeout_s=1.0)) as client:
            resp = client.get("/events", params={"min_position": 5})
    assert resp.status_code == 503
    # 10, 20, 40, 80 ms, then every 100 ms: about 14 looks in a second (100 every 10 ms).
    assert 5 <= len(looks) <= 20, len(looks)


def test_content_and_projection_routes(client: TestClient) -> None:
    resp = client.get("/content/spells/no-such-spell")
    assert resp.status_code == 404
    status = client.get("/projections")
    assert status.status_code == 200 and status.json()["head_position"] == 0
    assert client.get("/content/spells", params={"where": "novalue"}).status_code == 400


def test_read_role_refuses_writes_and_reads_through_fresh_read_only_connections(
        tmp_path: Path) -> None:
    path = tmp_path / "primary.db"
    primary = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN))
    primary.append("campaign-1", [{"type": "A", "data": {}}])
    replica = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN), read_only=True)
    try:
        client = TestClient(create_app(replica, "read"))
        resp = _append(client, "campaign-1", "B")
        assert resp.status_code == 403  # type: ignore[attr-defined]
        assert "read-only replica" in resp.json()["detail"]  # type: ignore[attr-defined]
        assert client.get("/streams/campaign-1").json()["events"][0]["type"] == "A"
        # fresh connection per read: a commit made after the app started is seen at once
        primary.append("campaign-1", [{"type": "C", "data": {}}])
        assert len(client.get("/streams/campaign-1").json()["events"]) == 2
        assert primary.head_position() == 2
        # the read-only store keeps no idle connection and opens the file with mode=ro
        assert replica.backend.database._reader.keep == 0  # type: ignore[attr-defined]
        with replica.read() as conn:
            conn.execute("PRAGMA query_only=0")
            with pytest.raises(Exception, match="readonly"):
                conn.execute("CREATE TABLE intruder(a)")
        health = client.get("/health").json()
        assert health["role"] == "read" and health["position"] == 2
    finally:
        replica.close()
        primary.close()


def test_openapi_documents_routes_and_bearer_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    # The versioned paths are documented; the deprecated aliases are not (versioning.py).
    for path in ("/v1/streams/{stream_id}/events", "/v1/streams/{stream_id}", "/v1/events",
                 "/health", "/v1/projections", "/v1/search", "/v1/content/{content_type}/{index}"):
        assert path in spec["paths"], path
    assert "/streams/{stream_id}/events" not in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    post = spec["paths"]["/v1/streams/{stream_id}/events"]["post"]
    assert {"401", "409", "413", "429"} <= set(post["responses"])
    assert client.get("/docs").status_code == 200 and client.get("/redoc").status_code == 200


def test_game_commands_and_read_models_over_http(client: TestClient, store: Store) -> None:
    pytest.importorskip("questlog.game.api")
    body = {"correlation_id": "turn-1", "commands": [
        {"kind": "create_campaign", "campaign_id": "c1", "name": "Vale",
         "starting_location": {"name": "Oakhurst"}}]}
    assert client.post("/game/commands", json=body).status_code == 401
    resp = client.post("/game/commands", json=body, headers=WRITE)
    assert resp.status_code == 200, resp.text
    assert resp.json()["correlation_id"] == "turn-1" and resp.json()["events"] >= 1
    head = store.head_position()
    again = client.post("/game/commands", json=body, headers=WRITE)  # a retry is a no-op
    assert again.status_code == 200 and store.head_position() == head
    summary = client.get("/game/campaigns/c1")
    assert summary.status_code == 200 and summary.json()["name"] == "Vale"
    state = client.get("/game/state/campaign/c1", params={"position": 0})
    assert state.status_code == 200
    assert client.get("/game/campaigns/nope").status_code == 404
    bad = {"commands": [{"kind": "no_such_command"}]}
    assert client.post("/game/commands", json=bad, headers=WRITE).status_code == 422
    assert store.head_position() == head


def test_content_get_and_list_over_http(client: TestClient, store: Store) -> None:
    pack = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
    if not (pack / "spells.json").exists():
        pytest.skip("bundled starter pack not present")
    store.content.import_pack(pack, pack="starter")
    entry = client.get("/content/spells/ember-choir")
    assert entry.status_code == 200 and entry.json()["index"] == "ember-choir"
    low = client.get("/content/spells", params={"where": "level<=1"})
    assert low.status_code == 200, low.text
    assert sorted(i["index"] for i in low.json()["items"]) == ["lantern-ward", "whispering-chalk"]
    assert client.get("/content/spells", params={"where": "level=abc"}).status_code == 400
    assert client.get("/content/no-such-type/x").status_code == 404


def test_undecodable_or_malformed_bodies_are_422_not_500(client: TestClient,
                                                         store: Store) -> None:
    for raw in (b"\x80", b"{", b'{"events": [{"type": "A", "data": []}]}', b"[]"):
        resp = client.post("/streams/campaign-1/events", content=raw,
                           headers={**WRITE, "Content-Type": "application/json"})
        assert resp.status_code == 422, (raw, resp.text)
        assert resp.json()["errors"][0]["loc"][0] == "body"
    assert store.head_position() == 0


def test_a_restoring_read_node_answers_503_unless_asked_to_wait_for_a_position(
        tmp_path: Path) -> None:
    """Without min_position a restoring node says so at once; with it, the restore is one
    more thing the bounded wait covers: the read answers 200 once the node is back."""
    import threading

    path = tmp_path / "replica.db"
    with Store.open(path, settings=Settings(db=path)) as primary:
        pos = primary.append("campaign-1", [{"type": "A", "data": {}}]).positions[0]
    with Store.open(path, settings=Settings(db=path), read_only=True) as replica:
        source = SwitchedReadSource(replica, ready=False)
        app = create_app(replica, "read", read_node=source,  # type: ignore[arg-type]
                         min_position_timeout_s=5.0)
        with TestClient(app) as client:
            resp = client.get("/streams/campaign-1")
            assert resp.status_code == 503 and resp.json()["error"] == "replica_not_ready"
            back = threading.Timer(0.3, lambda: setattr(source, "ready", True))
            back.start()
            resp = client.get("/streams/campaign-1", params={"min_position": pos})
            back.join()
            assert resp.status_code == 200, resp.text
            assert [e["position"] for e in resp.json()["events"]] == [pos]
            source.ready = False
            slow = create_app(replica, "read", read_node=source,  # type: ignore[arg-type]
                              min_position_timeout_s=0.2)
            with TestClient(slow) as late:
                resp = late.get("/streams/campaign-1", params={"min_position": pos})
            assert resp.status_code == 503 and resp.json()["error"] == "replica_not_ready"
