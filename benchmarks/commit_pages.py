"""Pages a commit writes, by table and index: where the game mix's write cost goes.

Prints one JSON line. Each workload runs through a store whose WAL is never checkpointed
(`litestream_active`, as under Litestream), so the WAL holds every page every commit
wrote; the script then reads the WAL's frame headers (page number, commit marker) and
names each page's b-tree with SQLite's `dbstat` table. pysqlite3's SQLite has no
`dbstat`, so that step runs the `sqlite3` command (Debian package `sqlite3`) on a copy;
without it only the totals are printed.

Workloads, 32 threads x one event per call (as `benchmarks/append.py` runs them):
- `game_mix`: the recorded game session (tests/fixtures), one copy per thread, through
  the default `Store.open` (the shipped inline read models);
- `game_events_log_alone`: the same events with no projectors;
- `unread_log_alone`: telemetry events with new ids (UUIDv7), no projectors;
- reference `raw_one_row_per_txn`: plain pysqlite3, one `INSERT` of the same kind of
  row per transaction into the same schema.

Each page a commit writes is a whole page (4 KiB) appended to the WAL and, at FULL,
synced. A key inserted at a random place in a b-tree (a random event id, a stream's
next version, a campaign's row) dirties a page of its own, where rows in key order
share one.

Usage: python benchmarks/commit_pages.py [--calls 300]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import struct
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from _common import emit
from append import game_mix, unread_events

from questlog import Store
from questlog.settings import Settings
from questlog.sqlite.driver import load_dbapi

THREADS = 32


def wal_frames(wal: Path) -> tuple[list[int], int]:
    """(page number of every frame, number of commits) of a WAL file."""
    data = wal.read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    pages: list[int] = []
    commits = 0
    offset = 32   # the WAL header; each frame: a 24-byte header, then the page
    while offset + 24 + page_size <= len(data):
        page, db_size_after = struct.unpack(">II", data[offset:offset + 8])
        pages.append(page)
        commits += db_size_after != 0   # only a commit's last frame carries the size
        offset += 24 + page_size
    return pages, commits


def page_owners(db: Path, wal: Path, scratch: Path) -> dict[int, str] | None:
    """Page number -> table or index name, by the sqlite3 command's dbstat (None without
    it). Read from a checkpointed copy, so the WAL's pages are in place."""
    cli = shutil.which("sqlite3")
    if cli is None:
        return None
    copy = scratch / "owners.db"
    shutil.copy(db, copy)
    shutil.copy(wal, scratch / "owners.db-wal")
    subprocess.run([cli, str(copy), "PRAGMA wal_checkpoint(TRUNCATE);"], check=True,
                   capture_output=True)
    out = subprocess.run([cli, str(copy), "SELECT pageno, name FROM dbstat;"], check=True,
                         capture_output=True, text=True).stdout
    return {int(page): name for page, name in (line.split("|", 1) for line in out.splitlines())}


def run_store(path: Path, work: list[list[tuple[str, list[Any]]]], log_alone: bool) -> None:
    store = Store.open(path, settings=Settings(durability="FULL", litestream_active=True),
                       projectors=[] if log_alone else None)
    barrier = threading.Barrier(THREADS)

    def producer(n: int) -> None:
        barrier.wait()
        for stream, events in work[n]:
            store.append(stream, events)

    workers = [threading.Thread(target=producer, args=(n,)) for n in range(THREADS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    # The WAL is read before close: closing the last connection checkpoints it.
    shutil.copy(f"{path}-wal", f"{path}.frames")
    store.close()


def run_raw(path: Path, count: int) -> None:
    Store.open(path, projectors=[]).close()
    conn = load_dbapi().connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    sql = ("INSERT INTO events (position, event_id, stream_id, stream_version, category, type, "
           "schema_version, data, metadata, recorded_at, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
    versions: collections.Counter[str] = collections.Counter()
    for pos, event in enumerate(unread_events(0, count), 1):
        stream = f"telemetry-{pos % THREADS}"
        versions[stream] += 1
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(sql, (pos, str(uuid.uuid4()), stream, versions[stream], "telemetry",
                           event["type"], 1, str(event["data"]), "{}",
                           "2026-01-01T00:00:00.000000Z", ""))
        conn.execute("COMMIT")
    shutil.copy(f"{path}-wal", f"{path}.frames")
    conn.close()


def pages_of(path: Path, events: int, scratch: Path) -> dict[str, Any]:
    frames = Path(f"{path}.frames")
    pages, commits = wal_frames(frames)
    out: dict[str, Any] = {"events": events, "commits": commits,
                           "events_per_commit": round(events / commits, 1),
                           "pages_per_commit": round(len(pages) / commits, 1),
                           "pages_per_event": round(len(pages) / events, 2)}
    owners = page_owners(path, frames, scratch)
    if owners is not None:
        by_name = collections.Counter(owners.get(page, "?") for page in pages)
        out["pages_per_commit_by_btree"] = {
            name: round(n / commits, 1) for name, n in by_name.most_common() if n / commits >= 0.1}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per thread")
    args = parser.parse_args()
    mix = game_mix(THREADS, args.calls)
    unread = [[(f"telemetry-{n}", unread_events(n, 1, i)) for i in range(args.calls)]
              for n in range(THREADS)]
    events = THREADS * args.calls
    result: dict[str, Any] = {"benchmark": "commit_pages", "threads": THREADS,
                              "calls_per_thread": args.calls}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for name, work, log_alone in (("game_mix", mix, False),
                                      ("game_events_log_alone", mix, True),
                                      ("unread_log_alone", unread, True)):
            path = scratch / f"{name}.db"
            run_store(path, work, log_alone)
            result[name] = pages_of(path, events, scratch)
        raw = scratch / "raw.db"
        run_raw(raw, 2000)
        result["raw_one_row_per_txn"] = pages_of(raw, 2000, scratch)
    result["dbstat"] = shutil.which("sqlite3") is not None
    emit(result)


if __name__ == "__main__":
    main()
