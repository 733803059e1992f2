"""Replication and HTTP figures, one JSON line.

- commit -> visible lag on a read node (follower + read-only store, fresh connection per
  read) under 20 commits/s at the shipped Litestream defaults;
- the same with `wait_replicated` after each commit: what it adds to the commit, and the
  commit -> visible lag it gives;
- HTTP append throughput (8 clients, one event per request, against `questlog serve` in its
  own process) against in-process appends from 8 threads in this run (the reference);
- read-node query latency over HTTP (`questlog read-node` process).

Targets: every event arrives; p95 lag <= 1 s at the defaults; wait_replicated adds
<= 20 ms p95 and makes the event visible within 200 ms p95; HTTP >= 30 % of in-process.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from questlog import Store
from questlog.events import NewEvent
from questlog.replication import LitestreamOptions, Replicator
from questlog.replication.readnode import ReadNode
from questlog.settings import Settings

TOKEN = "bench-token"
QUESTLOG = str(Path(sys.executable).parent / "questlog")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(value: float) -> float:
    return round(value * 1000, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Watcher:
    """Polls the read node's head every 5 ms and stamps when each position appears."""

    def __init__(self, node: ReadNode) -> None:
        self.node = node
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        last = self.node.position()
        while not self.stop.is_set():
            head = self.node.position()
            now = time.perf_counter()
            for p in range(last + 1, head + 1):
                self.seen.setdefault(p, now)
            last = max(last, head)
            time.sleep(0.005)

    def wait_for(self, position: int, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while position not in self.seen and time.perf_counter() < deadline:
            time.sleep(0.005)
        return position in self.seen


def lag_run(store: Store, watcher: Watcher, replicator: Replicator | None, n: int,
            rate: float) -> dict[str, Any]:
    committed: dict[int, float] = {}
    added: list[float] = []
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(n):
        due = start + i * interval
        time.sleep(max(0.0, due - time.perf_counter()))
        pos = store.append(f"campaign-lag{i % 5}", [NewEvent(type="BenchTick",
                                                            data={"i": i})]).positions[0]
        committed[pos] = time.perf_counter()
        if replicator is not None:
            replicator.wait_replicated(pos)
            added.append(time.perf_counter() - committed[pos])
    last = max(committed)
    watcher.wait_for(last, 10.0)
    lags = [watcher.seen[p] - t for p, t in committed.items() if p in watcher.seen]
    out: dict[str, Any] = {
        "events": n, "arrived": len(lags), "all_arrived": len(lags) == n,
        "p50_ms": ms(statistics.median(lags)), "p95_ms": ms(pct(lags, 0.95)),
        "max_ms": ms(max(lags)),
    }
    if added:
        out["wait_replicated_added_p50_ms"] = ms(statistics.median(added))
        out["wait_replicated_added_p95_ms"] = ms(pct(added, 0.95))
    return out


def wait_replicated_on_tmpfs(n: int = 60) -> dict[str, float] | None:
    """What wait_replicated adds when the replica's fsync is not on this host's disk.

    A file:// replica on the local disk pays an fsync per upload; /dev/shm isolates
    Litestream's own sync cost (an S3 replica pays network latency instead).
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return None
    tmp = Path(tempfile.mkdtemp(prefix="questlog-bench-shm-", dir=shm))
    primary_dir = Path(tempfile.mkdtemp(prefix="questlog-bench-"))
    path = primary_dir / "shm-primary.db"
    store = Store.open(path, settings=Settings(db=path, litestream_active=True))
    store.append("campaign-seed", [NewEvent(type="BenchTick", data={})])
    replicator = Replicator.for_store(store, f"file://{tmp / 'replica'}").start()
    added: list[float] = []
    try:
        for i in range(n):
            pos = store.append("campaign-shm", [NewEvent(type="BenchTick",
                                                         data={"i": i})]).positions[0]
            began = time.perf_counter()
            replicator.wait_replicated(pos)
            added.append(time.perf_counter() - began)
            time.sleep(0.05)
    finally:
        replicator.stop()
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(primary_dir, ignore_errors=True)
    return {"p50_ms": ms(statistics.median(added)), "p95_ms": ms(pct(added, 0.95))}


def in_process_throughput(path: Path, threads: int, seconds: float) -> float:
    store = Store.open(path, settings=Settings(db=path))
    store.append("warmup-1", [NewEvent(type="BenchTick", data={})])
    count = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            store.append(f"character-ip{k}", [NewEvent(type="BenchTick", data={"i": i})])
            i += 1
        count[k] = i

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    began = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - began
    store.close()
    return sum(count) / elapsed


def http_throughput(url: str, threads: int, seconds: float) -> float:
    """8 keep-alive clients, one event per request (http.client: the client's own CPU
    stays small, since it shares this host's cores with the server)."""
    count = [0] * threads
    stop = time.perf_counter() + seconds
    parsed = urlparse(url)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def worker(k: int) -> None:
        i = 0
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        while time.perf_counter() < stop:
            body = json.dumps({"events": [{"type": "BenchTick", "data": {"i": i}}]})
            conn.request("POST", f"/v1/streams/character-http{k}/events", body=body,
                         headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"append answered {resp.status}")
            i += 1
        conn.close()
        count[k] = i

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    began = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(count) / (time.perf_counter() - began)


def start_node(argv: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env["QUESTLOG_API_TOKEN"] = TOKEN
    with log.open("wb") as fh:
        proc = subprocess.Popen([*argv, "--port", str(port), "--log-level", "warning"],
                                stdout=fh, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"node did not start: {log.read_text()}")


def stop_node(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="questlog-bench-repl-"))
    options = LitestreamOptions()
    path = tmp / "primary.db"
    store = Store.open(path, settings=Settings(db=path, litestream_active=True))
    store.append("campaign-seed", [NewEvent(type="BenchTick", data={})])
    replica = f"file://{tmp / 'replica'}"
    replicator = Replicator.for_store(store, replica, options=options).start()
    node = ReadNode(replica, tmp / "node", options=options).start()
    watcher = Watcher(node)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        defaults = lag_run(store, watcher, None, n=200, rate=20.0)
        waited = lag_run(store, watcher, replicator, n=60, rate=20.0)

        # read-node query latency over HTTP, against the replica written above
        read_port = free_port()
        procs.append(start_node([QUESTLOG, "read-node", "--replica", replica, "--data-dir",
                                 str(tmp / "http-node")], read_port, tmp / "read.log"))
        read_url = f"http://127.0.0.1:{read_port}"
        with httpx.Client(base_url=read_url, timeout=30) as client:
            stream_lat, log_lat = [], []
            for _ in range(200):
                t = time.perf_counter()
                client.get("/v1/streams/campaign-lag1").raise_for_status()
                stream_lat.append(time.perf_counter() - t)
                t = time.perf_counter()
                client.get("/v1/events", params={"from_position": 1, "limit": 100}
                           ).raise_for_status()
                log_lat.append(time.perf_counter() - t)
    finally:
        watcher.stop.set()
        for proc in procs:
            stop_node(proc)
        node.stop()
        replicator.stop()
        store.close()

    tmpfs = wait_replicated_on_tmpfs()
    # In-process and HTTP alternate in short rounds so both see the same machine load
    # (this host's two cores are shared); the medians are compared.
    rounds, seconds = 3, 2.0
    write_port = free_port()
    write = start_node([QUESTLOG, "--db", str(tmp / "http.db"), "serve",
                        "--no-projector-daemon"], write_port, tmp / "write.log")
    references: list[float] = []
    http_runs: list[float] = []
    try:
        for r in range(rounds):
            references.append(in_process_throughput(tmp / f"inproc{r}.db", 8, seconds))
            http_runs.append(http_throughput(f"http://127.0.0.1:{write_port}", 8, seconds))
    finally:
        stop_node(write)
        shutil.rmtree(tmp, ignore_errors=True)
    reference = statistics.median(references)
    http_tps = statistics.median(http_runs)

    print(json.dumps({
        "benchmark": "replication",
        "defaults": {"monitor_interval_s": options.monitor_interval_s,
                     "sync_interval_s": options.sync_interval_s,
                     "follow_interval_s": options.follow_interval_s},
        "lag_20_per_s": defaults,
        "lag_with_wait_replicated": waited,
        "wait_replicated_added_replica_on_tmpfs": tmpfs,
        "http_append_per_s_8_clients": round(http_tps, 1),
        "http_rounds": [round(x) for x in http_runs],
        "in_process_rounds": [round(x) for x in references],
        "in_process_append_per_s_8_threads": round(reference, 1),
        "http_vs_in_process": round(http_tps / reference, 3),
        "read_node_stream_read_p50_ms": ms(statistics.median(stream_lat)),
        "read_node_stream_read_p95_ms": ms(pct(stream_lat, 0.95)),
        "read_node_log_100_p50_ms": ms(statistics.median(log_lat)),
        "read_node_log_100_p95_ms": ms(pct(log_lat, 0.95)),
        "targets": {
            "all_arrived": defaults["all_arrived"] and waited["all_arrived"],
            "p95_lag_le_1s": defaults["p95_ms"] <= 1000,
            "wait_replicated_added_le_20ms": waited["wait_replicated_added_p95_ms"] <= 20,
            "wait_replicated_visible_le_200ms": waited["p95_ms"] <= 200,
            "http_ge_30pct": http_tps / reference >= 0.30,
        },
    }))


if __name__ == "__main__":
    main()
