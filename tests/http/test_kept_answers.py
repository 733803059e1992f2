"""Kept answers served before routing (`questlog.http.kept_answers`): a repeated GET of a
content entry or a search is answered from the kept bytes without FastAPI's routing, by
the route's own rules — the same bytes and headers, the same 401/503, the same metrics,
access log and request ids, and never a body older than the store it is served from.

Real stores throughout: a store file written by a real `Store` (the search index built
with the deterministic hashing embedder; keyword search embeds nothing), served by a
read node over the file opened read-only, or by a write node; changes are real imports
through a writer on the same file. `app.state.kept_answers.answered` counts the requests
answered before routing, so each test shows which path answered.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from http_tokens import API_TOKEN
from prometheus_client.parser import text_string_to_metric_families
from read_sources import SwitchedReadSource

from questlog import Store
from questlog.http import create_app
from questlog.http.kept_answers import KeptAnswers
from questlog.search.embedder import HashingEmbedder, set_default_embedder
from questlog.settings import Settings
from questlog.sqlite.token_memo import RACY_MARGIN_NS

STARTER = Path(__file__).resolve().parents[2] / "data" / "packs" / "starter"
SPELL = next(s for s in json.loads((STARTER / "spells.json").read_text())
             if s["index"] == "lantern-ward")
READ_TOKEN = "kept-read-token-3b71c0"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
CONTENT_URL = "/v1/content/spells/lantern-ward"
SEARCH_URL = "/v1/search?q=lantern&mode=keyword&k=3&type=spells"
SETTLE_S = RACY_MARGIN_NS / 1e9 * 2  # sleep this long for the file's state to be settled


def _write_version(path: Path, version: int) -> None:
    """Import lantern-ward saying `version N` through a writer on `path`, index it for
    search, and close the writer (its WAL checkpointed into the file)."""
    pack = path.parent / "pack"
    pack.mkdir(exist_ok=True)
    (pack / "spells.json").write_text(json.dumps(
        [{**SPELL, "desc": [f"A lantern ward, version {version}."]}]))
    with Store.open(path, settings=Settings(db=path)) as writer:
        writer.content.import_pack(pack, pack="tiny")
        writer.projections.catch_up(["search_index"])


def _version_of(text: str) -> int:
    found = re.search(r"version (\d+)", text)
    assert found is not None, text
    return int(found.group(1))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    set_default_embedder(HashingEmbedder(64))
    path = tmp_path / "kept.db"
    try:
        _write_version(path, 1)
        yield path
    finally:
        set_default_embedder(None)


@pytest.fixture
def node(db: Path) -> Iterator[Store]:
    settings = Settings(db=db, read_token=READ_TOKEN, api_token=API_TOKEN)
    with Store.open(db, settings=settings, read_only=True) as store:
        yield store


@pytest.fixture
def client(node: Store) -> Iterator[TestClient]:
    with TestClient(create_app(node, "read")) as c:
        yield c


def _kept(client: TestClient) -> KeptAnswers:
    answers = client.app.state.kept_answers  # type: ignore[attr-defined]
    assert isinstance(answers, KeptAnswers)
    return answers


def _headers(response: object) -> dict[str, str]:
    """Every header but the request id (made per request)."""
    headers = dict(response.headers)  # type: ignore[attr-defined]
    assert headers.pop("x-request-id")
    return headers


@pytest.mark.parametrize("url", [CONTENT_URL, SEARCH_URL, "/content/spells/lantern-ward",
                                 "/search?q=lantern&mode=keyword&k=3&type=spells"])
def test_a_kept_answer_is_the_routes_answer_byte_for_byte(client: TestClient, url: str) -> None:
    kept = _kept(client)
    first = client.get(url, headers=READ)  # the route computes and keeps it
    assert first.status_code == 200, first.text
    assert kept.answered == 0 and len(kept) == 1
    again = client.get(url, headers=READ)
    assert kept.answered == 1  # answered before routing
    assert again.status_code == 200 and again.content == first.content
    assert _headers(again) == _headers(first)
    assert again.headers["content-type"] == "application/json"
    assert again.headers["cache-control"] == "no-cache" and again.headers["etag"]
    if not url.startswith("/v1/"):  # an unversioned alias still says it is one
        assert again.headers["deprecation"].startswith("@")
        assert again.headers["link"].startswith("</v1/")
    # The route's own kept answer (a URL with `min_position` always goes through it).
    waiting = client.get(f"{url}{'&' if '?' in url else '?'}min_position=0", headers=READ)
    assert kept.answered == 1
    assert waiting.content == first.content
    assert waiting.headers["etag"] == first.headers["etag"]
    assert waiting.headers["content-type"] == first.headers["content-type"]
    # A matching If-None-Match is the same 304 either way.
    etag = first.headers["etag"]
    early = client.get(url, headers={**READ, "If-None-Match": etag})
    assert kept.answered == 2 and early.status_code == 304 and early.content == b""
    late = client.get(f"{url}{'&' if '?' in url else '?'}min_position=0",
                      headers={**READ, "If-None-Match": etag})
    assert late.status_code == 304 and _headers(early) == _headers(late)
    # A list of tags, weak or not, and a tag that does not match.
    assert client.get(url, headers={**READ, "If-None-Match": f'"x", W/{etag}'}
                      ).status_code == 304
    other = client.get(url, headers={**READ, "If-None-Match": '"other"'})
    assert other.status_code == 200 and other.content == first.content
    assert kept.answered == 4


def test_access_is_checked_exactly_as_the_route_checks_it(db: Path, node: Store) -> None:
    source = SwitchedReadSource(node, ready=True)
    with TestClient(create_app(node, "read", read_node=source)) as client:  # type: ignore[arg-type]
        kept = _kept(client)
        assert client.get(SEARCH_URL, headers=READ).status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": READ_TOKEN},
                        {"Authorization": f"Basic {READ_TOKEN}"}):
            refused = client.get(SEARCH_URL, headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["error"] == "unauthorized" and "etag" not in refused.headers
        assert kept.answered == 0
        # The write token reads too, on the route and here.
        write_token = {"Authorization": f"Bearer {API_TOKEN}"}
        assert client.get(SEARCH_URL, headers=write_token).status_code == 200
        assert kept.answered == 1
        # A node restoring its replica answers 503, whatever it keeps.
        source.ready = False
        restoring = client.get(SEARCH_URL, headers=READ)
        assert restoring.status_code == 503 and restoring.json()["error"] == "replica_not_ready"
        assert kept.answered == 1
        source.ready = True
        # Writes on a read node are still refused (403), kept reads or not.
        wrote = client.post("/v1/streams/c-1/events", headers=write_token, json={
            "expected_version": "any", "events": [{"type": "A", "data": {}}]})
        assert wrote.status_code == 403
        assert client.get(SEARCH_URL, headers=READ).status_code == 200
        assert kept.answered == 2


def test_metrics_access_log_and_request_ids_are_recorded_as_on_the_route(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    def latency_count(route: str, status: str) -> float:
        text = client.get("/metrics", headers=READ).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "questlog_http_request_seconds_count" and sample.labels == {
                        "method": "GET", "route": route, "status": status}:
                    return sample.value
        return 0.0

    # The label is whatever the route's own answers carry (the route's template).
    search, content = "/search", "/content/{content_type}/{index}"
    ok, not_modified = latency_count(search, "200"), latency_count(search, "304")
    alias = latency_count(content, "200")
    etag = client.get(SEARCH_URL, headers=READ).headers["etag"]  # the route answers
    client.get("/content/spells/lantern-ward", headers=READ)
    assert latency_count(search, "200") == ok + 1 and latency_count(content, "200") == alias + 1
    kept = _kept(client)
    assert kept.answered == 0
    with caplog.at_level(logging.INFO, logger="questlog.access"):
        for n in range(3):
            answer = client.get(SEARCH_URL, headers={**READ, "X-Request-ID": f"kept-{n}"})
            assert answer.headers["x-request-id"] == f"kept-{n}"  # echoed as given
        assert client.get(SEARCH_URL, headers={**READ, "If-None-Match": etag}
                          ).status_code == 304
        made = client.get("/content/spells/lantern-ward", headers=READ)
    assert kept.answered == 5 and len(made.headers["x-request-id"]) == 32
    assert latency_count(search, "200") == ok + 4
    assert latency_count(search, "304") == not_modified + 1
    assert latency_count(content, "200") == alias + 2
    lines = [r for r in caplog.records if r.name == "questlog.access"]
    assert [(r.route, r.status, r.path) for r in lines] == [  # type: ignore[attr-defined]
        *[(search, 200, "/v1/search")] * 3, (search, 304, "/v1/search"),
        (content, 200, "/content/spells/lantern-ward")]
    assert all("?" not in r.getMessage() for r in lines)  # never the query string


def _settle(client: TestClient, node: Store, url: str) -> None:
    """Request `url` until the read node's memo vouches for the file (no connection)."""
    memo = node.backend.token_memo
    assert memo is not None
    deadline = time.monotonic() + 5
    while True:
        hits = memo.known_hits
        assert client.get(url, headers=READ).status_code == 200
        if memo.known_hits > hits:
            return
        assert time.monotonic() < deadline, "the memo never settled on an unchanged file"
        time.sleep(SETTLE_S)


def test_a_changed_file_is_answered_with_the_new_body_and_a_new_etag(
        client: TestClient, node: Store, db: Path) -> None:
    kept = _kept(client)
    for url in (CONTENT_URL, SEARCH_URL):
        _settle(client, node, url)
    answered = kept.answered
    before = {url: client.get(url, headers=READ) for url in (CONTENT_URL, SEARCH_URL)}
    assert kept.answered == answered + 2  # answered before routing, by the memo's stat
    assert _version_of(before[SEARCH_URL].text) == 1

    # A writer on the same file, still open: its commit is in the WAL.
    pack = db.parent / "pack"
    (pack / "spells.json").write_text(json.dumps(
        [{**SPELL, "desc": ["A lantern ward, version 2."]}]))
    with Store.open(db, settings=Settings(db=db)) as writer:
        writer.content.import_pack(pack, pack="tiny")
        writer.projections.catch_up(["search_index"])
        for url, old in before.items():
            now = client.get(url, headers={**READ, "If-None-Match": old.headers["etag"]})
            assert now.status_code == 200 and _version_of(now.text) == 2, now.text
            assert now.headers["etag"] != old.headers["etag"]

    # Another change with the file's mtime forced back to what it was, once settled.
    for url in (CONTENT_URL, SEARCH_URL):
        _settle(client, node, url)
    seen = {url: client.get(url, headers=READ) for url in (CONTENT_URL, SEARCH_URL)}
    st = os.stat(db)
    _write_version(db, 3)
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(SETTLE_S)  # past the margin: only the file's signature decides
    for url, old in seen.items():
        now = client.get(url, headers=READ)
        assert now.status_code == 200 and _version_of(now.text) == 3, now.text
        assert now.headers["etag"] != old.headers["etag"]
        again = client.get(url, headers=READ)  # kept again, under the new ETag
        assert again.content == now.content and again.headers["etag"] == now.headers["etag"]


def test_a_write_nodes_kept_answers_follow_its_appends(db: Path) -> None:
    with Store.open(db, settings=Settings(db=db, api_token=API_TOKEN)) as store, \
            TestClient(create_app(store)) as client:
        assert store.backend.token_memo is None  # the token is read on every request
        kept = _kept(client)
        first = client.get(SEARCH_URL)
        assert client.get(SEARCH_URL).content == first.content and kept.answered == 1
        (db.parent / "pack" / "spells.json").write_text(json.dumps(
            [{**SPELL, "desc": ["A lantern ward, version 4."]}]))
        store.content.import_pack(db.parent / "pack", pack="tiny")
        store.projections.catch_up(["search_index"])
        for url in (SEARCH_URL, CONTENT_URL):
            now = client.get(url)
            assert now.status_code == 200 and _version_of(now.text) == 4, now.text
        assert client.get(SEARCH_URL).headers["etag"] != first.headers["etag"]


def test_nothing_is_answered_early_with_the_caches_off(db: Path) -> None:
    settings = Settings(db=db, read_cache_entries=0)
    with Store.open(db, settings=settings, read_only=True) as store, \
            TestClient(create_app(store, "read")) as client:
        bodies = {client.get(SEARCH_URL).content for _ in range(3)}
        assert len(bodies) == 1 and _kept(client).answered == 0 and len(_kept(client)) == 0


def test_the_kept_urls_are_bounded_least_recently_used_out_first(db: Path) -> None:
    settings = Settings(db=db, read_cache_entries=2)
    with Store.open(db, settings=settings, read_only=True) as store, \
            TestClient(create_app(store, "read")) as client:
        kept = _kept(client)
        urls = [f"/v1/search?q=lantern&mode=keyword&k={k}" for k in (1, 2, 3)]
        for url in urls:
            client.get(url)
        assert len(kept) == 2
        client.get(urls[2])
        assert kept.answered == 1
        client.get(urls[0])  # forgotten: the route answers (and keeps it again)
        assert kept.answered == 1


def test_a_fault_while_answering_early_is_answered_by_the_route_and_its_handlers(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token read that fails before routing (a busy or restoring file, a lost server)
    goes on to the route, so the fault meets the app's handlers: the same 503, problem
    body and Retry-After as a routed request, never a bare 500."""
    from questlog.http.conditional import Conditional
    from questlog.storage.errors import StorageBusy

    assert client.get(CONTENT_URL, headers=READ).status_code == 200  # kept now
    kept = _kept(client)

    async def busy(self: Conditional, request: object, key: object) -> str:
        raise StorageBusy("the store is busy")

    monkeypatch.setattr(Conditional, "token", busy)
    routed = client.get(CONTENT_URL + "?min_position=0", headers=READ)  # never kept
    early = client.get(CONTENT_URL, headers=READ)
    assert routed.status_code == early.status_code == 503
    assert early.json()["type"] == routed.json()["type"]
    assert early.headers.get("retry-after") == routed.headers.get("retry-after") is not None
    assert early.headers["x-request-id"]
    assert kept.answered == 0


def test_a_url_with_a_long_query_is_never_kept(client: TestClient) -> None:
    from questlog.http.kept_answers import MAX_KEPT_QUERY

    long_url = f"{CONTENT_URL}?pad={'x' * MAX_KEPT_QUERY}"
    for _ in range(2):
        assert client.get(long_url, headers=READ).status_code == 200
    kept = _kept(client)
    assert len(kept) == 0 and kept.answered == 0
    client.get(CONTENT_URL, headers=READ)
    assert len(kept) == 1


def test_never_older_than_the_last_committed_import_under_concurrent_writes(
        client: TestClient, node: Store, db: Path) -> None:
    """A writer imports versions 2..6 on the file while the client reads; every answer,
    before routing or not, is at least the version committed before the request."""
    committed = [1]
    failures: list[str] = []

    def write() -> None:
        for version in range(2, 7):
            _write_version(db, version)
            committed[0] = version
            time.sleep(SETTLE_S * 2)  # the memo settles and answers in between

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        for url in (CONTENT_URL, SEARCH_URL):
            floor = committed[0]
            answer = client.get(url, headers=READ)
            if answer.status_code != 200 or _version_of(answer.text) < floor:
                failures.append(f"{url}: {answer.status_code} {answer.text[:80]} after "
                                f"version {floor} was committed")
    writer.join()
    assert not failures, failures
    assert _kept(client).answered > 0  # the early path did answer meanwhile
    for url in (CONTENT_URL, SEARCH_URL):
        assert _version_of(client.get(url, headers=READ).text) == 6


