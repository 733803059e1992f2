"""What the `events` schema costs per row in SQLite, against eventsourcing's table.

Prints one JSON line. 20,000 rows of unread events, planned once as the writer plans
them, are inserted by the store's own `INSERT ... FROM jsonb_each(?)` statement into a
fresh store's `events` table, as shipped and with parts of it dropped (the trigger that
keeps `streams`, the `type` and `category` indexes, both), and the same events, one
`StoredEvent`-shaped row each (text id, version, topic, JSON state), by `executemany`
into eventsourcing 9.5.6's SQLite table shape (one unique index): µs a row, medians of
`--rounds` interleaved rounds, synchronous NORMAL, one transaction each, the statement
alone timed. It is the floor under issue 13's eventsourcing comparisons: what SQLite
itself charges for questlog's rows before any Python work.
Usage: python benchmarks/insert_schema_cost.py [--rounds 5] [--rows 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from _common import emit
from append import unread_events

from questlog import Store
from questlog.events import GENESIS_HASH
from questlog.planner import BatchState, make_call, plan_calls
from questlog.sqlite.driver import load_dbapi
from questlog.sqlite.log import INSERT_EVENTS_JSON_SQL

VARIANTS: dict[str, list[str]] = {
    "as_shipped": [],
    "without_streams_trigger": ["DROP TRIGGER events_track_stream"],
    "without_type_category_indexes": ["DROP INDEX ix_events_type",
                                      "DROP INDEX ix_events_category"],
    "without_both": ["DROP TRIGGER events_track_stream", "DROP INDEX ix_events_type",
                     "DROP INDEX ix_events_category"],
}
ES_TABLE = ("CREATE TABLE stored_events (notification_id INTEGER PRIMARY KEY, "
            "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "UNIQUE (originator_id, originator_version))")
ES_INSERT = ("INSERT INTO stored_events (originator_id, originator_version, topic, state) "
             "VALUES (?, ?, ?, ?)")


def timed_insert(path: Path, drops: list[str], sql: str, params: Any, many: bool) -> float:
    dbapi = load_dbapi()
    conn = dbapi.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in drops:
            conn.execute(statement)
        conn.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        if many:
            conn.executemany(sql, params)
        else:
            conn.execute(sql, params)
        seconds = time.perf_counter() - started
        conn.execute("COMMIT")
        return seconds
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    n = args.rows
    call = make_call("telemetry-0", unread_events(0, n), "any")
    plan = plan_calls([call], BatchState(0, GENESIS_HASH, {"telemetry-0": 0}, {}), {},
                      "2026-01-01T00:00:00.000000Z", record=False)
    payload = (orjson.dumps(plan.rows).decode("utf-8"),)
    stored = [(str(uuid.uuid4()), 1, f"bench:{r[5]}", (r[7] + r[8]).encode("utf-8"))
              for r in plan.rows]
    tmp = Path(tempfile.mkdtemp(prefix="qlbench-schema-"))
    us: dict[str, list[float]] = {name: [] for name in [*VARIANTS, "eventsourcing_table"]}
    for round_ in range(args.rounds):
        for name, drops in VARIANTS.items():
            path = tmp / f"{name}-{round_}.db"
            Store.open(path, projectors=[]).close()  # the shipped schema, at head
            us[name].append(timed_insert(path, drops, INSERT_EVENTS_JSON_SQL, payload,
                                         False) / n * 1e6)
        path = tmp / f"eventsourcing-{round_}.db"
        dbapi = load_dbapi()
        conn = dbapi.connect(str(path))
        conn.execute(ES_TABLE)
        conn.close()
        us["eventsourcing_table"].append(timed_insert(path, [], ES_INSERT, stored, True)
                                         / n * 1e6)
    emit({"benchmark": "insert_schema_cost", "rows": n, "rounds": args.rounds,
          "us_per_row_median": {k: round(statistics.median(v), 2) for k, v in us.items()},
          "us_per_row_runs": {k: [round(x, 2) for x in v] for k, v in us.items()},
          "load": [round(x, 2) for x in os.getloadavg()]})


if __name__ == "__main__":
    main()
