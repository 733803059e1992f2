"""End to end with real processes: a write node replicating to a file:// replica,
a read node following it, and Litestream killed under them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
from replication_nodes import (
    AUTH,
    QUESTLOG,
    Cluster,
    append,
    kill_pid,
    pid_alive,
    write_node,
)

from questlog import Store


def _events(url: str, **params: object) -> list[dict[str, object]]:
    resp = httpx.get(f"{url}/events", params={"limit": 10_000, **params}, timeout=30)
    assert resp.status_code == 200, resp.text
    events: list[dict[str, object]] = resp.json()["events"]
    return events


def _wait(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_http_appends_become_readable_on_the_read_node(cluster: Cluster) -> None:
    result = append(cluster.write, "campaign-e2e", 5)
    last = result["positions"][-1]
    # read-your-writes: the read node waits until it has `last`, no sleeping here
    resp = httpx.get(f"{cluster.read.url}/streams/campaign-e2e",
                     params={"min_position": last}, timeout=30)
    assert resp.status_code == 200, resp.text
    on_read = resp.json()["events"]
    on_write = httpx.get(f"{cluster.write.url}/streams/campaign-e2e", timeout=10).json()["events"]
    assert [e["position"] for e in on_read] == result["positions"]
    assert on_read == on_write  # same envelopes, hashes included


def test_read_node_revalidates_by_position_and_never_serves_a_stale_body(
        cluster: Cluster) -> None:
    first = append(cluster.write, "campaign-etag", 2)["positions"][-1]
    url = f"{cluster.read.url}/v1/streams/campaign-etag"
    fresh = httpx.get(url, params={"min_position": first}, timeout=30)
    assert fresh.status_code == 200, fresh.text
    etag = fresh.headers["etag"]
    same = httpx.get(url, headers={"If-None-Match": etag}, timeout=30)
    assert same.status_code == 304 and same.content == b""
    last = append(cluster.write, "campaign-etag", 1)["positions"][-1]
    moved = httpx.get(url, params={"min_position": last}, headers={"If-None-Match": etag},
                      timeout=30)
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] != etag
    assert [e["position"] for e in moved.json()["events"]][-1] == last  # never stale
    assert httpx.get(url, headers={"If-None-Match": moved.headers["etag"]},
                     timeout=30).status_code == 304


def test_min_position_beyond_the_head_answers_503_with_retry_after(cluster: Cluster) -> None:
    head = cluster.write.health()["position"]
    started = time.monotonic()
    resp = httpx.get(f"{cluster.read.url}/events", params={"min_position": head + 1000},
                     timeout=30)
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "1"
    assert resp.json()["error"] == "min_position_not_reached"
    assert time.monotonic() - started >= 0.9  # it waited (--min-position-timeout 1)


def _read_own_write(url: str, position: int, retries: int = 3) -> httpx.Response:
    """GET `url` at `min_position`, as a client does: a read node that is not there
    within its wait (1 s here) answers the documented 503 with Retry-After, and the client
    asks again after it. A loaded machine can need a second ask; anything else fails."""
    for _ in range(retries):
        resp = httpx.get(url, params={"min_position": position}, timeout=30)
        if resp.status_code != 503:
            return resp
        assert resp.json()["error"] == "min_position_not_reached", resp.text
        time.sleep(float(resp.headers["retry-after"]))
    return httpx.get(url, params={"min_position": position}, timeout=30)


def test_read_your_writes_for_every_append(cluster: Cluster) -> None:
    for i in range(10):
        result = append(cluster.write, f"character-ryw{i}")
        resp = _read_own_write(f"{cluster.read.url}/streams/character-ryw{i}",
                               result["positions"][0])
        assert resp.status_code == 200, resp.text
        assert resp.json()["events"][0]["position"] == result["positions"][0]


def test_writes_to_the_read_node_are_refused_and_change_nothing(cluster: Cluster) -> None:
    append(cluster.write, "campaign-ro", 1, wait_replicated=True)
    before_write = cluster.write.health()["position"]
    assert _wait(lambda: cluster.read.health()["position"] == before_write)
    body = {"expected_version": "any", "events": [{"type": "Hack", "data": {}}]}
    for headers in (AUTH, {}):
        resp = httpx.post(f"{cluster.read.url}/streams/campaign-ro/events", json=body,
                          headers=headers, timeout=10)
        assert resp.status_code == 403
        assert resp.json()["error"] == "read_only_replica"
        assert "read-only replica" in resp.json()["detail"]
    game = httpx.post(f"{cluster.read.url}/game/commands", headers=AUTH, timeout=10,
                      json={"commands": [{"kind": "create_campaign", "campaign_id": "x",
                                          "name": "X", "starting_location": {"name": "Y"}}]})
    assert game.status_code == 403 and game.json()["error"] == "read_only_replica"
    assert cluster.write.health()["position"] == before_write
    assert cluster.read.health()["position"] == before_write
    assert not _events(cluster.read.url, type="Hack")


def test_missing_or_wrong_token_gets_401_and_writes_nothing(cluster: Cluster) -> None:
    before = cluster.write.health()["position"]
    body = {"events": [{"type": "Sneaky", "data": {}}]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        resp = httpx.post(f"{cluster.write.url}/streams/campaign-auth/events", json=body,
                          headers=headers, timeout=10)
        assert resp.status_code == 401, resp.text
    assert cluster.write.health()["position"] == before
    assert not _events(cluster.write.url, type="Sneaky")


def test_read_node_health_reports_position_and_lag(cluster: Cluster) -> None:
    result = append(cluster.write, "campaign-health", 3, wait_replicated=True)
    last = result["positions"][-1]

    def caught_up() -> bool:
        h = cluster.read.health()
        return bool(h["position"] == last and h["primary_position"] == last)

    assert _wait(caught_up), cluster.read.health()
    health = cluster.read.health()
    assert health["role"] == "read" and health["status"] == "ok"
    assert health["lag_positions"] == 0 and health["lag_seconds"] == 0.0
    assert health["commit_time"] is not None
    assert health["replication"]["lag_txids"] == 0
    write_health = cluster.write.health()
    assert write_health["role"] == "write" and write_health["position"] == last


def test_killed_litestream_is_restarted_and_nothing_is_lost(cluster: Cluster) -> None:
    old_pid = cluster.write.health()["replication"]["pid"]
    assert isinstance(old_pid, int) and pid_alive(old_pid)
    kill_pid(old_pid, signal.SIGKILL)
    # keep writing while Litestream is down and coming back
    positions = []
    for i in range(20):
        positions += append(cluster.write, f"encounter-kill{i % 3}")["positions"]

    def restarted() -> bool:
        rep = cluster.write.health()["replication"]
        return bool(rep["pid"] not in (None, old_pid) and rep["restarts"] >= 1)

    assert _wait(restarted), cluster.write.health()
    last = append(cluster.write, "encounter-kill0", wait_replicated=True)["positions"][-1]
    events = _events(cluster.read.url, min_position=last, from_position=positions[0])
    got = {e["position"] for e in events}
    assert set(positions) | {last} <= got


def test_killed_follower_restores_afresh_and_keeps_serving(cluster: Cluster) -> None:
    old = cluster.read.health()["replication"]
    kill_pid(old["follower_pid"], signal.SIGKILL)

    def back() -> bool:
        rep = cluster.read.health()["replication"]
        return bool(rep["follower_pid"] not in (None, old["follower_pid"])
                    and rep["follower_restarts"] >= old["follower_restarts"] + 1)

    assert _wait(back), cluster.read.health()
    last = append(cluster.write, "campaign-after-follower")["positions"][-1]
    resp = httpx.get(f"{cluster.read.url}/streams/campaign-after-follower",
                     params={"min_position": last}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert len(_events(cluster.read.url)) == cluster.write.health()["position"]


def test_sigkill_write_node_after_wait_replicated_then_restore(tmp_path: Path) -> None:
    replica = f"file://{tmp_path / 'replica'}"
    node = write_node(tmp_path, replica=replica, name="victim")
    try:
        node.start()
        positions: list[int] = []
        for i in range(30):
            positions += append(node, f"character-v{i % 4}", 2)["positions"]
        acked = append(node, "campaign-v", 1, wait_replicated=True)
        assert acked["replicated"] is True
        last = acked["positions"][-1]
        node.stop(signal.SIGKILL)
        out = tmp_path / "restored.db"
        proc = subprocess.run(
            [QUESTLOG, "--json", "restore", "--replica", replica, "-o", str(out)],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert report["verify"]["ok"] is True
        assert report["head_position"] >= last
    finally:
        node.stop(signal.SIGKILL)
    store = Store.open(out, read_only=True)
    try:
        stored = [e.position for e in store.read_all()]
        assert stored[: last] == list(range(1, last + 1))
        assert set(positions) <= set(stored)
        assert store.verify().ok
    finally:
        store.close()
