"""`GET /metrics` and `questlog stats`: each family moves as the store is used."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from obs_helpers import API_TOKEN, READ_TOKEN, Scrape, engine_helpers

from questlog import NewEvent, Store
from questlog.cli import cli
from questlog.errors import Backpressure
from questlog.http import create_app
from questlog.settings import Settings

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
EVENTS_ROUTE = "/streams/{stream_id}/events"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "metrics.db"
    s = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN))
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store)) as c:
        yield c


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Scrape:
    answer = client.get("/metrics", headers=headers or {})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return Scrape(answer.text)


def test_appends_move_the_append_writer_http_and_projector_families(
        client: TestClient, store: Store) -> None:
    before = scrape(client)
    events = 0
    for call in range(3):
        body = {"expected_version": "any",
                "events": [{"type": "Noted", "data": {"n": i}} for i in range(call + 1)]}
        assert client.post("/streams/log-1/events", json=body, headers=AUTH).status_code == 200
        events += call + 1
    refused = client.post("/streams/log-1/events", headers=AUTH, json={
        "expected_version": 1, "events": [{"type": "Noted", "data": {"n": 9}}]})
    assert refused.status_code == 409
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("questlog_append_calls_total", outcome="ok") == 3
    assert moved("questlog_append_events_total", outcome="ok") == events
    # canonical JSON: {"n":0} (7 bytes) + {} (2 bytes) per event
    assert moved("questlog_append_bytes_total", outcome="ok") == 9 * events
    assert moved("questlog_append_calls_total", outcome="wrong_expected_version") == 1
    assert moved("questlog_append_events_total", outcome="wrong_expected_version") == 1
    assert moved("questlog_writer_batch_size_count") >= 4  # one batch per call at least
    assert moved("questlog_writer_batch_size_sum") >= 4
    assert moved("questlog_writer_commit_seconds_count") >= 4
    assert moved("questlog_writer_commit_seconds_sum") > 0
    assert moved("questlog_http_request_seconds_count", method="POST", route=EVENTS_ROUTE,
                 status="200") == 3
    assert moved("questlog_http_request_seconds_count", method="POST", route=EVENTS_ROUTE,
                 status="409") == 1
    # The previous scrape is counted by route template too.
    assert moved("questlog_http_request_seconds_count", method="GET", route="/metrics",
                 status="200") == 1
    head = store.head_position()
    assert after.value("questlog_head_position") == head == events
    # Inline projectors are at the head; async ones (not running here) lag by every event.
    assert after.value("questlog_projector_position", projector="content", mode="inline") == head
    assert after.value("questlog_projector_lag_events", projector="event_counts",
                       mode="async") == head
    assert after.value("questlog_projector_lag_seconds", projector="event_counts",
                       mode="async") >= 0
    assert after.value("questlog_projector_parked", projector="content", mode="inline") == 0
    assert "questlog_writer_queue_depth" in after.families


def test_metrics_need_the_read_token_when_one_is_set(tmp_path: Path) -> None:
    path = tmp_path / "guarded.db"
    store = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN,
                                               read_token=READ_TOKEN))
    try:
        with TestClient(create_app(store)) as c:
            assert c.get("/metrics").status_code == 401
            assert c.get("/metrics", headers={
                "Authorization": "Bearer wrong"}).status_code == 401
            scrape(c, {"Authorization": f"Bearer {READ_TOKEN}"})
    finally:
        store.close()


def test_a_parked_projector_shows_parked_and_its_lag(tmp_path: Path) -> None:
    h = engine_helpers()
    path = tmp_path / "parked.db"
    store = Store.open(path, projectors=[h.Tally()])
    try:
        store.append("score-1", [NewEvent(type="Scored", data={"amount": 2})])
        with TestClient(create_app(store, settings=Settings(db=path))) as c:
            healthy = scrape(c)
            assert healthy.value("questlog_projector_parked", projector="tally",
                                 mode="inline") == 0
            # A recorded fact the projector cannot apply parks it (validate=False: replay).
            poison = store.append("score-2", [NewEvent(type="Scored", data={"amount": "x"})],
                                  validate=False).positions[0]
            store.append("score-3", [NewEvent(type="Scored", data={"amount": 1})])
            parked = scrape(c)
        assert parked.value("questlog_projector_parked", projector="tally", mode="inline") == 1
        assert parked.value("questlog_projector_position", projector="tally",
                            mode="inline") == poison - 1
        assert parked.value("questlog_projector_lag_events", projector="tally",
                            mode="inline") == store.head_position() - (poison - 1) == 2
        assert parked.value("questlog_projector_lag_seconds", projector="tally",
                            mode="inline") >= 0
    finally:
        store.close()


def test_a_keyword_search_moves_search_latency_and_the_embedding_cache(
        indexed_store: Store) -> None:
    app = create_app(indexed_store, settings=Settings(db=indexed_store.path))
    with TestClient(app) as c:
        before = scrape(c)
        indexed_store.projections.catch_up(["search_index"])  # embeds every chunk: misses
        built = scrape(c)
        indexed_store.projections.rebuild(["search_index"])  # the same texts: all hits
        rebuilt = scrape(c)
        answer = c.get("/search", params={"q": "fire", "mode": "keyword"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["hits"]
        searched = scrape(c)
    misses = (built.value("questlog_embedding_cache_lookups_total", result="miss")
              - before.value("questlog_embedding_cache_lookups_total", result="miss"))
    assert misses > 0
    hits = (rebuilt.value("questlog_embedding_cache_lookups_total", result="hit")
            - built.value("questlog_embedding_cache_lookups_total", result="hit"))
    assert hits == misses
    assert (searched.value("questlog_search_seconds_count", mode="keyword")
            - rebuilt.value("questlog_search_seconds_count", mode="keyword")) == 1
    assert (searched.value("questlog_search_seconds_count", mode="vector")
            == rebuilt.value("questlog_search_seconds_count", mode="vector"))
    assert built.value("questlog_projector_lag_events", projector="search_index",
                       mode="async") == 0


def test_backpressure_refusals_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    store = Store.open(path, settings=Settings(db=path, writer_queue_size=1), projectors=[])
    try:
        store.append("warm-1", [NewEvent(type="Warm")])
        release = threading.Event()
        started = threading.Event()

        def hold(_session: object) -> None:
            started.set()
            release.wait(10)

        held = store.write_later(hold)
        assert started.wait(10)
        queued = store.write_later(lambda _s: None)  # the queue (bound 1) is now full
        with TestClient(create_app(store, settings=Settings(db=path))) as c:
            before = scrape(c)
            with pytest.raises(Backpressure):
                store.append("full-1", [NewEvent(type="Refused")], timeout=0.05)
            release.set()
            held.result()
            queued.result()
            after = scrape(c)
        assert (after.value("questlog_backpressure_refusals_total")
                - before.value("questlog_backpressure_refusals_total")) == 1
        assert (after.value("questlog_append_calls_total", outcome="backpressure")
                - before.value("questlog_append_calls_total", outcome="backpressure")) == 1
    finally:
        store.close()


def test_stats_prints_the_store_families_without_a_server(tmp_path: Path) -> None:
    path = tmp_path / "stats.db"
    with Store.open(path) as store:
        for i in range(4):
            store.append(f"log-{i}", [NewEvent(type="Noted", data={"i": i})])
    runner = CliRunner()
    text = runner.invoke(cli, ["--db", str(path), "stats"])
    assert text.exit_code == 0, text.output
    parsed = Scrape(text.output)
    assert parsed.value("questlog_head_position") == 4
    assert parsed.value("questlog_projector_position", projector="content", mode="inline") == 4
    assert parsed.value("questlog_projector_lag_events", projector="event_counts",
                        mode="async") == 4
    as_json = runner.invoke(cli, ["--db", str(path), "stats", "--json"])
    assert as_json.exit_code == 0, as_json.output
    families = json.loads(as_json.output)
    # The same families, the same values.
    for name in ("questlog_head_position", "questlog_projector_position",
                 "questlog_projector_lag_events", "questlog_projector_lag_seconds",
                 "questlog_projector_parked"):
        assert name in parsed.families and name in families
    assert families["questlog_head_position"]["samples"][0]["value"] == 4
    lag = {s["labels"]["projector"]: s["value"]
           for s in families["questlog_projector_lag_events"]["samples"]}
    assert lag["event_counts"] == 4 and lag["content"] == 0
    # The store was opened read-only: stats wrote nothing.
    with Store.open(path, read_only=True) as store:
        assert store.head_position() == 4


def test_replication_lag_and_wait_replicated_latency(tmp_path: Path) -> None:
    from questlog.replication import Replicator

    path = tmp_path / "primary.db"
    store = Store.open(path, settings=Settings(db=path, litestream_active=True), projectors=[])
    store.append("tick-1", [NewEvent(type="Tick")])
    # No background tracking: the lag stays until this test waits for the replica.
    replicator = Replicator.for_store(store, f"file://{tmp_path / 'replica'}",
                                      track_interval_s=3600).start()
    try:
        with TestClient(create_app(store, replicator=replicator,
                                   settings=Settings(db=path))) as c:
            synced = scrape(c)
            assert synced.value("questlog_replication_lag_events") == 0
            store.append("tick-1", [NewEvent(type="Tick") for _ in range(3)])
            behind = scrape(c)
            assert behind.value("questlog_replication_lag_events") == 3
            assert behind.value("questlog_replication_lag_seconds") >= 0
            replicator.wait_replicated()
            caught_up = scrape(c)
        assert caught_up.value("questlog_replication_lag_events") == 0
        assert (caught_up.value("questlog_wait_replicated_seconds_count", outcome="ok")
                - behind.value("questlog_wait_replicated_seconds_count", outcome="ok")) == 1
        assert caught_up.value("questlog_wait_replicated_seconds_sum", outcome="ok") > 0
    finally:
        replicator.stop()
        store.close()
