"""OpenTelemetry spans around append, batch commit, projection batches, search and HTTP
requests, seen through the SDK's in-memory exporter (the library itself uses the API
only: without a tracer provider no span is made)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from obs_helpers import API_TOKEN
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from questlog import NewEvent, Store
from questlog.http import create_app
from questlog.observability import tracing
from questlog.settings import Settings

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def provider() -> Iterator[None]:
    """The SDK as a user would install it (the global provider can be set once per
    process: later tests in this process trace into the same exporter)."""
    assert tracing.start_span("before-sdk") is None  # no SDK yet: no span at all
    sdk = TracerProvider()
    sdk.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(sdk)
    yield


def _spans(name: str) -> list[ReadableSpan]:
    return [s for s in EXPORTER.get_finished_spans() if s.name == name]


def _ancestors(span: ReadableSpan) -> set[int]:
    by_id = {s.context.span_id: s for s in EXPORTER.get_finished_spans()}
    found: set[int] = set()
    parent = span.parent
    while parent is not None and parent.span_id not in found:
        found.add(parent.span_id)
        above = by_id.get(parent.span_id)
        parent = above.parent if above is not None else None
    return found


def test_an_http_append_nests_append_under_the_request_and_commits_a_batch(
        tmp_path: Path) -> None:
    EXPORTER.clear()
    path = tmp_path / "traced.db"
    store = Store.open(path, settings=Settings(db=path, api_token=API_TOKEN))
    try:
        with TestClient(create_app(store)) as c:
            answer = c.post("/streams/log-1/events",
                            headers={"Authorization": f"Bearer {API_TOKEN}",
                                     "X-Request-ID": "trace-req-1"},
                            json={"expected_version": "any", "events": [{
                                "type": "Noted", "data": {},
                                "metadata": {"correlation_id": "trace-corr"}}]})
            assert answer.status_code == 200
    finally:
        store.close()
    (request,) = [s for s in _spans("questlog.http_request")
                  if s.attributes and s.attributes.get("questlog.request_id") == "trace-req-1"]
    assert request.attributes is not None
    assert request.attributes["questlog.http.route"] == "/streams/{stream_id}/events"
    assert request.attributes["questlog.http.status_code"] == 200
    appends = [s for s in _spans("questlog.append")
               if s.attributes and s.attributes.get("questlog.stream_id") == "log-1"]
    assert len(appends) == 1
    append = appends[0]
    assert append.attributes is not None
    assert append.attributes["questlog.correlation_id"] == "trace-corr"
    # The append runs inside the request (FastAPI's own endpoint spans may stand between).
    assert append.context.trace_id == request.context.trace_id
    assert request.context.span_id in _ancestors(append)
    batches = _spans("questlog.batch_commit")
    assert batches and all(s.end_time and s.start_time and s.end_time >= s.start_time
                           for s in batches)


def test_projection_batches_and_searches_are_spans(indexed_store: Store) -> None:
    EXPORTER.clear()
    indexed_store.projections.catch_up(["search_index"])
    hits = indexed_store.search("fire", mode="keyword", k=3)
    assert hits
    batches = [s for s in _spans("questlog.projection_batch")
               if s.attributes and s.attributes.get("questlog.projector") == "search_index"]
    assert batches and sum(int(str(s.attributes["questlog.events"]))  # type: ignore[index]
                           for s in batches) > 0
    (search,) = _spans("questlog.search")
    assert search.attributes is not None
    assert (search.attributes["questlog.mode"], search.attributes["questlog.k"]) == ("keyword", 3)
    assert "fire" not in str(dict(search.attributes))  # the user's text is not recorded


def test_a_failed_append_ends_its_span_with_an_error(tmp_path: Path) -> None:
    from questlog.errors import WrongExpectedVersion

    EXPORTER.clear()
    with Store.open(tmp_path / "failing.db", projectors=[]) as store:
        store.append("log-2", [NewEvent(type="Noted")])
        with pytest.raises(WrongExpectedVersion):
            store.append("log-2", [NewEvent(type="Noted")], expected_version=5)
    failed = [s for s in _spans("questlog.append") if not s.status.is_ok]
    assert len(failed) == 1
    assert failed[0].status.description == "WrongExpectedVersion"
