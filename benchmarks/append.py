"""Append throughput and latency through the writer queue, against raw SQLite.

Prints one JSON line. For 1, 8 and 32 producer threads appending one event per
call, and 8 threads appending 100 events per call, at synchronous FULL and
NORMAL: events/s and p50/p99 call latency. References measured in the same
run, on the same events, into the same `events` schema with plain pysqlite3
(making each row from the event — id, JSON, timestamp — is timed, as an
application would do it): one row per transaction, and all rows by
`executemany` in one transaction.

Targets (issue 2): 32x1 at FULL >= 4x raw one-row-per-transaction; 8x100 >= 50 %
of raw executemany; p99 call latency at 32 threads <= 20 ms.
Usage: python benchmarks/append.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _common import emit, summary_ms

from questlog import NewEvent, Store
from questlog.db import load_dbapi
from questlog.settings import Settings


def run_store(tmp: Path, durability: str, threads: int, calls: int, per_call: int
              ) -> dict[str, Any]:
    path = tmp / f"store-{durability}-{threads}-{per_call}.db"
    store = Store.open(path, settings=Settings(durability=durability), projectors=[])  # type: ignore[arg-type]
    store.append("warmup-1", [NewEvent(type="Warm")])
    latencies: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def producer(n: int) -> None:
        barrier.wait()
        out = latencies[n]
        for i in range(calls):
            events = [NewEvent(type="HitPointsChanged", data={"character": n, "delta": -i,
                                                              "seq": j})
                      for j in range(per_call)]
            t0 = time.perf_counter()
            store.append(f"character-{n}", events)
            out.append(time.perf_counter() - t0)

    workers = [threading.Thread(target=producer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    commits = store.writer.commits
    store.close()
    total = threads * calls * per_call
    flat = [x for lat in latencies for x in lat]
    return {"events": total, "events_per_s": round(total / elapsed), "commits": commits,
            **summary_ms(flat)}


def raw_inputs(count: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The same logical events the store benchmark appends: (stream, type, data)."""
    return [(f"character-{pos % 32}", "HitPointsChanged",
             {"character": pos % 32, "delta": -pos, "seq": 0}) for pos in range(1, count + 1)]


def raw_reference(tmp: Path, durability: str, count: int) -> dict[str, float]:
    """Plain pysqlite3 into the same schema (created by questlog's migration), no queue.

    The timed work is what an application writing these events with raw SQLite does:
    make each row from its (stream, type, data) — an id, the JSON text, a timestamp —
    and insert it. It has no hash chain, no expected-version checks, no stream table,
    no futures: the gap to it is the price of the store's guarantees.
    """
    sql = ("INSERT INTO events (position, event_id, stream_id, stream_version, category, type, "
           "schema_version, data, metadata, recorded_at, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
    results = {}
    for label, one_per_txn in (("raw_one_row_per_txn", True), ("raw_executemany", False)):
        path = tmp / f"raw-{durability}-{label}.db"
        Store.open(path, projectors=[]).close()
        conn = load_dbapi().connect(str(path), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={durability}")
        n = count if not one_per_txn else min(count, 4000)
        inputs = raw_inputs(n)
        def row(pos: int, item: tuple[str, str, dict[str, Any]],
                now: str = "2026-01-01T00:00:00.000000Z") -> tuple[Any, ...]:
            stream, type_, data = item
            return (pos, str(uuid.uuid4()), stream, pos, "character", type_, 1,
                    json.dumps(data), "{}", now, "")

        t0 = time.perf_counter()
        if one_per_txn:
            for pos, item in enumerate(inputs, 1):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(sql, row(pos, item))
                conn.execute("COMMIT")
        else:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, [row(pos, item) for pos, item in enumerate(inputs, 1)])
            conn.execute("COMMIT")
        results[f"{label}_per_s"] = round(n / (time.perf_counter() - t0))
        conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply the work by this.")
    args = parser.parse_args()
    s = args.scale
    out: dict[str, Any] = {"benchmark": "append", "projectors": "none (the log alone)"}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for durability in ("FULL", "NORMAL"):
            figures: dict[str, Any] = {}
            figures.update(raw_reference(tmp, durability, int(20_000 * s)))
            for threads, calls, per_call in ((1, int(2000 * s), 1), (8, int(500 * s), 1),
                                             (32, int(250 * s), 1), (8, int(25 * s), 100)):
                figures[f"threads{threads}_x{per_call}"] = run_store(
                    tmp, durability, threads, calls, per_call)
            raw1 = figures["raw_one_row_per_txn_per_s"]
            rawmany = figures["raw_executemany_per_s"]
            figures["ratio_32x1_vs_raw_one_per_txn"] = round(
                figures["threads32_x1"]["events_per_s"] / raw1, 2)
            figures["ratio_8x100_vs_raw_executemany"] = round(
                figures["threads8_x100"]["events_per_s"] / rawmany, 2)
            out[durability] = figures
    full = out["FULL"]
    out["targets"] = {
        "32x1_full_ge_4x_raw_one_per_txn": full["ratio_32x1_vs_raw_one_per_txn"] >= 4,
        "8x100_full_ge_half_raw_executemany": full["ratio_8x100_vs_raw_executemany"] >= 0.5,
        "p99_32_threads_le_20ms": full["threads32_x1"]["p99_ms"] <= 20,
    }
    emit(out)


if __name__ == "__main__":
    main()
