"""Read rate of the log beside raw SQLite reads of the same rows, in one run.

Prints one JSON line: events/s of `Store.read_all` (pages of `--page` events, each
decoded into RecordedEvents) and of `Store.read_stream` (one long stream), beside two
references on the same file with plain pysqlite3: the raw `SELECT` of the same
columns (rows fetched, nothing decoded) and that SELECT with `json.loads` of data and
metadata (what an application reading this table by hand would do). Every figure is
measured `--repeats` times, interleaved (the machine is shared and noisy); a rate is the median of its runs.

Usage: python benchmarks/read.py [--events 100000] [--page 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import emit

from questlog import Store
from questlog.sqlite.driver import load_dbapi

COLUMNS = ("position, event_id, stream_id, stream_version, category, type, schema_version, "
           "data, metadata, recorded_at, hash")


def fill(path: Path, count: int) -> None:
    store = Store.open(path, projectors=[])
    try:
        for start in range(0, count, 1000):
            store.append("bench-long", [
                {"type": "HitPointsChanged",
                 "data": {"character": n % 32, "delta": -n, "note": "a hit ✓"},
                 "metadata": {"actor": "bench", "correlation_id": f"c{n}"}}
                for n in range(start, min(count, start + 1000))])
    finally:
        store.close()


def read_store(path: Path, count: int, page: int) -> float:
    store = Store.open(path, projectors=[])
    try:
        t0 = time.perf_counter()
        seen = sum(1 for _ in store.read_all(1, batch_size=page))
        elapsed = time.perf_counter() - t0
    finally:
        store.close()
    assert seen == count
    return count / elapsed


def read_stream(path: Path, count: int) -> float:
    store = Store.open(path, projectors=[])
    try:
        t0 = time.perf_counter()
        events = store.read_stream("bench-long")
        elapsed = time.perf_counter() - t0
    finally:
        store.close()
    assert len(events) == count
    return count / elapsed


def raw(path: Path, count: int, page: int, decode: bool) -> float:
    conn = load_dbapi().connect(str(path), isolation_level=None)
    try:
        t0 = time.perf_counter()
        after, seen = 0, 0
        loads = json.loads
        while True:
            rows = conn.execute(f"SELECT {COLUMNS} FROM events WHERE position > ? "
                                "ORDER BY position LIMIT ?", (after, page)).fetchall()
            if not rows:
                break
            if decode:
                for r in rows:
                    loads(r[7])
                    loads(r[8])
            seen += len(rows)
            after = rows[-1][0]
        elapsed = time.perf_counter() - t0
    finally:
        conn.close()
    assert seen == count
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "read.db"
        fill(path, args.events)
        figures: dict[str, Callable[[], float]] = {
            "raw_select_per_s": lambda: raw(path, args.events, args.page, decode=False),
            "raw_select_json_loads_per_s": lambda: raw(path, args.events, args.page,
                                                       decode=True),
            "read_all_per_s": lambda: read_store(path, args.events, args.page),
            "read_stream_per_s": lambda: read_stream(path, args.events),
        }
        for _ in range(args.repeats):
            for label, run in figures.items():
                runs.setdefault(label, []).append(run())
    median = {label: statistics.median(r) for label, r in runs.items()}
    out: dict[str, Any] = {"benchmark": "read", "events": args.events, "page": args.page,
                           "repeats": args.repeats,
                           **{label: round(rate) for label, rate in median.items()}}
    out["read_all_vs_raw_select"] = round(median["read_all_per_s"]
                                          / median["raw_select_per_s"], 2)
    out["read_all_vs_raw_select_json_loads"] = round(
        median["read_all_per_s"] / median["raw_select_json_loads_per_s"], 2)
    out["runs"] = {label: [round(r) for r in rs] for label, rs in runs.items()}
    emit(out)


if __name__ == "__main__":
    main()
