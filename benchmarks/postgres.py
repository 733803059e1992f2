"""Append throughput on PostgreSQL through the writer queue, against raw psycopg and
eventsourcing's PostgreSQL recorder, on the same server in the same run.

Prints one JSON line. Cases (events/s, and p50/p99 call latency):
- 1, 8 and 32 producer threads appending one event per call, 8 threads x 100 events,
  each twice: on the log alone (`projectors=[]`) and on the store users get by default
  (`Store.open(url)`: the shipped projectors, inline ones in every batch) appending to
  streams no shipped model reads (`default_store_*`, and their ratio to the log alone);
- writer processes: 1 and 4 processes x 8 threads x 1 event, each process its own
  `Store` (its own writer queue and group commit), all on one database for a fixed
  time; the aggregate rate of 4 over that of 1 says what several writers gain.
`writer_paths` counts, per case over all runs, the writer's batches, those written in
one round trip (`questlog_append_after`), those of them written after another process's
events (`rebased`), and one-round-trip tries redone as transactions (`fallbacks`).
References, each on a fresh database with questlog's schema (so the same `events`
table, indexes and stream trigger):
- raw psycopg, one row per transaction (BEGIN, INSERT, COMMIT per event), one thread;
- raw psycopg `executemany` of the same rows in one transaction;
- eventsourcing 9.5.6's `PostgresApplicationRecorder` (`insert_events`), 8 threads x 1
  event and 8 threads x 100 events, each thread its own aggregate.
The raw references make each row from its event (an id, the JSON text, a timestamp),
as an application would; they keep no hash chain, check no expected versions.

Every figure is measured `--repeats` times, references and store runs interleaved; a
rate is the median of its runs (listed under `runs`). The server is
$QUESTLOG_BENCH_POSTGRES_URL, else a throwaway pgserver (PostgreSQL 16.2, pgvector
0.6.2) in a temporary directory, stopped at the end. This shared machine is noisy:
only ratios from the same run mean anything.

Targets (issue 12): 32x1 >= 4x raw one-row-per-transaction; 8x100 >= 50 % of raw
executemany; 4 processes x 8 threads >= 1.5x one process; >= 5x eventsourcing's
recorder at 8x1 and >= 1x at 8x100.
Usage: python benchmarks/postgres.py [--scale 1.0] [--repeats 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from _common import emit, summary_ms
from _postgres import Databases, server, server_version

from questlog import NewEvent, Store

INSERT_SQL = ("INSERT INTO events (position, event_id, stream_id, stream_version, category, "
              "type, schema_version, data, metadata, recorded_at, hash) "
              "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)")

# One writer process of the multi-process case: opens and warms up, says "ready", reads
# the common start time from stdin, appends from 8 threads for `seconds` from then, and
# prints how many events it appended.
PROCESS = """
import sys, threading, time
from questlog import NewEvent, Store
url, seconds, tag = sys.argv[1], float(sys.argv[2]), sys.argv[3]
store = Store.open(url, projectors=[])
store.append(f"warm-{tag}", [NewEvent(type="Warm")])
print("ready", flush=True)
start = float(sys.stdin.readline())
counts = [0] * 8
def producer(n):
    while time.time() < start:
        time.sleep(0.001)
    i = 0
    while time.time() < start + seconds:
        store.append(f"character-{tag}-{n}", [NewEvent(type="HitPointsChanged",
                                                       data={"character": n, "delta": -i})])
        i += 1
    counts[n] = i
threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
w = store.writer
paths = [w.commits, w.single_statement_batches, w.single_statement_rebases,
         w.single_statement_fallbacks]
store.close()
print(sum(counts), *paths)
"""


def run_store(url: str, threads: int, calls: int, per_call: int,
              default_store: bool = False) -> tuple[float, list[float]]:
    """`default_store`: opened as users open one (the shipped projectors, inline ones in
    every batch), appending to `bench-` streams, which no shipped model reads."""
    store = Store.open(url) if default_store else Store.open(url, projectors=[])
    prefix = "bench" if default_store else "character"
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
            store.append(f"{prefix}-{n}", events)
            out.append(time.perf_counter() - t0)

    elapsed = _timed(threads, producer, barrier)
    _count_paths(f"default_store_{threads}x{per_call}" if default_store
                 else f"{threads}x{per_call}", _paths(store))
    store.close()
    return threads * calls * per_call / elapsed, [x for lat in latencies for x in lat]


# How the writer wrote each case's batches, over all its runs: batches, those in one round
# trip (single statement), those of them written after another process's events
# (rebased), and one-round-trip tries redone as transactions (fallbacks).
PATHS: dict[str, list[int]] = {}
PATH_NAMES = ("batches", "one_round_trip", "rebased", "fallbacks")


def _paths(store: Store) -> list[int]:
    w = store.writer
    return [w.commits, w.single_statement_batches, w.single_statement_rebases,
            w.single_statement_fallbacks]


def _count_paths(case: str, counts: list[int]) -> None:
    total = PATHS.setdefault(case, [0] * len(PATH_NAMES))
    for i, n in enumerate(counts):
        total[i] += n


def _timed(threads: int, producer: Callable[[int], None], barrier: threading.Barrier) -> float:
    workers = [threading.Thread(target=producer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def _row(pos: int, now: str = "2026-01-01T00:00:00.000000Z") -> tuple[Any, ...]:
    return (pos, str(uuid.uuid4()), f"character-{pos % 32}", pos // 32 + 1, "character",
            "HitPointsChanged", 1, json.dumps({"character": pos % 32, "delta": -pos, "seq": 0}),
            "{}", now, "")


def raw_one_row_per_txn(url: str, count: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        for pos in range(1, count + 1):
            conn.execute("BEGIN")
            conn.execute(INSERT_SQL, _row(pos))
            conn.execute("COMMIT")
        return count / (time.perf_counter() - t0)


def raw_executemany(url: str, count: int) -> float:
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.executemany(INSERT_SQL, [_row(pos) for pos in range(1, count + 1)])
        conn.commit()
        return count / (time.perf_counter() - t0)


def run_eventsourcing(url: str, threads: int, calls: int, per_call: int) -> float:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    info = psycopg.conninfo.conninfo_to_dict(url)
    datastore = PostgresDatastore(str(info["dbname"]), str(info.get("host", "")),
                                  str(info.get("port", 5432)), str(info.get("user", "")),
                                  str(info.get("password", "")), pool_size=threads + 1)
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()
    ids = [uuid.uuid4() for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def producer(n: int) -> None:
        barrier.wait()
        version = 0
        for i in range(calls):
            stored = []
            for j in range(per_call):
                version += 1
                stored.append(StoredEvent(ids[n], version, "HitPointsChanged", json.dumps(
                    {"data": {"character": n, "delta": -i, "seq": j}, "metadata": {}}).encode()))
            recorder.insert_events(stored)

    elapsed = _timed(threads, producer, barrier)
    datastore.close()
    return threads * calls * per_call / elapsed


def run_processes(url: str, processes: int, seconds: float) -> float:
    procs = [subprocess.Popen([sys.executable, "-c", PROCESS, url, str(seconds), str(n)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(processes)]
    for proc in procs:  # every process opened and warmed up
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"writer process failed: {proc.communicate()[1][-500:]}")
    start = time.time() + 0.5
    for proc in procs:  # every process told the start before any is waited for
        assert proc.stdin is not None
        proc.stdin.write(f"{start}\n")
        proc.stdin.flush()
    total = 0
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise SystemExit(f"writer process failed: {err.strip().splitlines()[-1:]}")
        appended, *paths = (int(x) for x in out.split())
        total += appended
        _count_paths(f"processes{processes}", paths)
    return total / seconds


CASES = (("threads1_x1", 1, 300, 1), ("threads8_x1", 8, 150, 1), ("threads32_x1", 32, 60, 1),
         ("threads8_x100", 8, 10, 100))


def measure(url: str, scale: float, repeats: int, seconds: float) -> dict[str, Any]:
    dbs = Databases(url)
    runs: dict[str, list[float]] = {}
    latencies: dict[str, list[float]] = {}
    try:
        for _ in range(repeats):
            runs.setdefault("raw_one_row_per_txn", []).append(
                raw_one_row_per_txn(dbs.fresh(), int(1000 * scale)))
            for label, threads, calls, per_call in CASES:
                for default_store in (False, True):
                    key = f"default_store_{label}" if default_store else label
                    rate, lat = run_store(dbs.fresh(), threads, max(1, int(calls * scale)),
                                          per_call, default_store)
                    runs.setdefault(key, []).append(rate)
                    latencies.setdefault(key, []).extend(lat)
            runs.setdefault("raw_executemany", []).append(
                raw_executemany(dbs.fresh(), int(8000 * scale)))
            runs.setdefault("eventsourcing_threads8_x1", []).append(
                run_eventsourcing(dbs.fresh(schema=False), 8, max(1, int(150 * scale)), 1))
            runs.setdefault("eventsourcing_threads8_x100", []).append(
                run_eventsourcing(dbs.fresh(schema=False), 8, max(1, int(10 * scale)), 100))
            for processes in (1, 4):
                runs.setdefault(f"processes{processes}_threads8_x1", []).append(
                    run_processes(dbs.fresh(), processes, seconds))
    finally:
        dbs.drop_all()
    rate = {k: round(statistics.median(v), 1) for k, v in runs.items()}
    return {
        "events_per_s": rate,
        "latency": {k: summary_ms(v) for k, v in latencies.items()},
        "ratios": {
            **{f"default_store_{label}_vs_log_alone":
               round(rate[f"default_store_{label}"] / rate[label], 2) for label, *_ in CASES},
            "threads32_x1_vs_raw_one_row_per_txn":
                round(rate["threads32_x1"] / rate["raw_one_row_per_txn"], 2),
            "threads8_x100_vs_raw_executemany":
                round(rate["threads8_x100"] / rate["raw_executemany"], 2),
            "processes4_vs_processes1":
                round(rate["processes4_threads8_x1"] / rate["processes1_threads8_x1"], 2),
            "threads8_x1_vs_eventsourcing":
                round(rate["threads8_x1"] / rate["eventsourcing_threads8_x1"], 2),
            "threads8_x100_vs_eventsourcing":
                round(rate["threads8_x100"] / rate["eventsourcing_threads8_x100"], 2),
        },
        "runs": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        "writer_paths": {case: dict(zip(PATH_NAMES, counts, strict=True))
                         for case, counts in PATHS.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with server() as url:
        version = server_version(url)
        result = measure(url, args.scale, args.repeats, args.seconds)
    emit({"benchmark": "postgres", "server_version": version,
          "scale": args.scale, "repeats": args.repeats, **result})


if __name__ == "__main__":
    main()
