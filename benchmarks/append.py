"""Append throughput and latency through the writer queue, against raw SQLite.

Prints one JSON line. For 1, 8 and 32 producer threads appending one event per
call, and 8 threads appending 100 events per call, at synchronous FULL and
NORMAL: events/s and p50/p99 call latency. References measured in the same
run, on the same events, into the same `events` schema with plain pysqlite3
(making each row from the event — id, JSON, timestamp — is timed, as an
application would do it): one row per transaction, and all rows by
`executemany` in one transaction.

Every figure is measured `--repeats` times, the references and the store runs
interleaved so that both see the same state of this shared machine's disk and
CPUs; a rate is the median of its runs (each run is listed under `runs`), a
latency percentile is taken over the calls of all runs. For information, 32x1 at
FULL is also run with the shipped projectors registered: inline read models put
every batch back in a BEGIN IMMEDIATE transaction (see src/questlog/writer.py).

Targets (issue 2): 32x1 at FULL >= 4x raw one-row-per-transaction; 8x100 >= 50 %
of raw executemany; p99 call latency at 32 threads <= 20 ms.

`--metrics-overhead` measures only what recording metrics costs (issue 14: at most 3 %):
each store case run in back-to-back pairs with recording on and off
(`observability.metrics.set_enabled`; the order alternates), reporting medians of
events/s and of process CPU per event, and the median of the pairs' ratios, at
`--durability` (NORMAL by default there: without an fsync per commit the writer is
CPU-bound, so the metrics' share is largest and the disk's noise smallest). What "off"
leaves in place: the operation timing and the tracing check of every append (about
0.6 us per call, measured apart: `observe_append`), which are logging and tracing, not metrics.

Issue 13 (`issue13`, at FULL, interleaved with the rest of each repeat): the same
workloads, plus one 10,000-event call, 10 threads x 100-event calls and 2 threads x
one 10,000-event call, each for the log alone (`projectors=[]`) and for the default
`Store.open` (the shipped projectors) on events no shipped model reads; 32x1 of a
realistic game mix (the recorded session of tests/fixtures, one copy per thread)
through the default store; eventsourcing 9.5.6's `SQLiteApplicationRecorder` driven
directly on the same rows (10x100, 2x10,000); the append CPU per event of the
10,000-event call (process CPU time, writer thread included) and a profile of its
steps (validate, encode, plan+hash, insert; µs per event, median of the repeats).
The new workloads append plain dicts (what the HTTP API and most callers hand in).
Targets: default store on unread events >= 90 % of the log alone on every figure;
game mix 32x1 >= 2x raw one-row-per-transaction; CPU <= 25 µs per event; 10x100 and
2x10,000 >= 1.2x eventsourcing's recorder.

The machine these figures come from is shared and noisy: only ratios measured in
the same run, from medians of interleaved repeats, mean anything.
`--game-mix` runs only the game-mix figure and its reference (raw one row per
transaction at FULL), interleaved, `--repeats` times: the quick check of that target.

Usage: python benchmarks/append.py [--scale 1.0] [--repeats 3]
       [--metrics-overhead [--durability NORMAL]] [--game-mix]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _common import emit, summary_ms

from questlog import NewEvent, Store
from questlog.events import GENESIS_HASH, plain_new_event
from questlog.observability import metrics
from questlog.planner import BatchState, encode_event, make_call, plan_calls
from questlog.settings import Settings
from questlog.sqlite.driver import load_dbapi


def run_store(tmp: Path, durability: str, threads: int, calls: int, per_call: int,
              log_alone: bool = True, settings: Settings | None = None,
              cpu: list[float] | None = None) -> tuple[float, int, list[float]]:
    """(events/s, group commits, call latencies in s) of one run (`settings` replaces
    the default ones at `durability`); `cpu` is given the process's CPU seconds of it."""
    path = tmp / f"store-{durability}-{threads}-{per_call}-{log_alone}.db"
    settings = settings or Settings(durability=durability)  # type: ignore[arg-type]
    store = Store.open(path, settings=settings, projectors=[] if log_alone else None)
    # Warm with the measured kind of event: the first event on a game stream loads the game's
    # event models (`questlog.game.normalize`, ~0.15 s once per process), which a short
    # run would otherwise count as per-event cost.
    store.append("character-warmup", [NewEvent(type="HitPointsChanged",
                                       data={"character": 0, "delta": 0, "seq": 0})])
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
    start, cpu_start = time.perf_counter(), time.process_time()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if cpu is not None:
        cpu.append(time.process_time() - cpu_start)
    commits = store.writer.commits
    store.close()
    return threads * calls * per_call / elapsed, commits, [x for lat in latencies for x in lat]


def raw_inputs(count: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The same logical events the store benchmark appends: (stream, type, data)."""
    return [(f"character-{pos % 32}", "HitPointsChanged",
             {"character": pos % 32, "delta": -pos, "seq": 0}) for pos in range(1, count + 1)]


def raw_reference(tmp: Path, durability: str, count: int) -> dict[str, float]:
    """Rows/s of each raw reference in one run: plain pysqlite3 into the same schema
    (created by questlog's migration), no queue.

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
        results[label] = n / (time.perf_counter() - t0)
        conn.close()
    return results


CASES = (("threads1_x1", 1, 2000, 1), ("threads8_x1", 8, 500, 1), ("threads32_x1", 32, 500, 1),
         ("threads8_x100", 8, 25, 100))


UNREAD_TYPE = "ClientPinged"  # on `telemetry-*` streams: no shipped projector reads them


def unread_events(n: int, count: int, base: int = 0) -> list[dict[str, Any]]:
    return [{"type": UNREAD_TYPE, "data": {"client": n, "seq": base + j, "rtt_ms": 12.5},
             "metadata": {"source": "bench"}} for j in range(count)]


def run_calls(path: Path, threads: int, calls: int, per_call: int, *, log_alone: bool,
              events_of: Any = None) -> tuple[float, float, list[float]]:
    """(events/s, process CPU µs per event, call latencies) of `threads` producers each
    making `calls` appends of `per_call` events; `events_of(n, i)` gives (stream, events)
    of call i of producer n (unread telemetry events when None)."""
    store = Store.open(path, settings=Settings(durability="FULL"),
                       projectors=[] if log_alone else None)
    store.append("warmup-1", [{"type": "Warm"}])
    if events_of is None:
        def events_of(n: int, i: int) -> tuple[str, list[dict[str, Any]]]:
            return f"telemetry-{n}", unread_events(n, per_call, i * per_call)
    work = [[events_of(n, i) for i in range(calls)] for n in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def producer(n: int) -> None:
        barrier.wait()
        out = latencies[n]
        for stream, events in work[n]:
            t0 = time.perf_counter()
            store.append(stream, events)
            out.append(time.perf_counter() - t0)

    workers = [threading.Thread(target=producer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    cpu0 = time.process_time()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    store.close()
    total = sum(len(events) for calls_ in work for _, events in calls_)
    return total / elapsed, cpu / total * 1e6, [x for lat in latencies for x in lat]


def run_eventsourcing(path: Path, threads: int, calls: int, per_call: int) -> float:
    """Events/s of eventsourcing 9.5.6's SQLiteApplicationRecorder, driven directly on
    the same events: each made a StoredEvent (JSON state) and inserted, per call, by
    `insert_events`, from `threads` threads."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    datastore = SQLiteDatastore(str(path), pool_size=threads + 1)
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    ids = [uuid.uuid4() for _ in range(threads)]
    work = [[unread_events(n, per_call, i * per_call) for i in range(calls)]
            for n in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def producer(n: int) -> None:
        barrier.wait()
        version = 0
        for events in work[n]:
            stored = []
            for e in events:
                version += 1
                stored.append(StoredEvent(ids[n], version, e["type"], json.dumps(
                    {"data": e["data"], "metadata": e["metadata"]}).encode()))
            recorder.insert_events(stored)

    workers = [threading.Thread(target=producer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    datastore.close()
    return threads * calls * per_call / elapsed


def game_mix(copies: int, calls: int) -> list[list[tuple[str, list[NewEvent]]]]:
    """One copy of the recorded game session per producer, one event per call."""
    from game import remapped_log  # benchmarks/game.py: the session with ids made unique

    log = remapped_log(copies)
    per_copy = len(log) // copies
    return [[(stream, [event]) for stream, event in log[k * per_copy:k * per_copy + calls]]
            for k in range(copies)]


def profile_steps(path: Path, count: int) -> dict[str, float]:
    """µs per event of each step of one `count`-event append of plain dicts, run alone:
    validate (the NewEvent rules), encode (canonical JSON of data and metadata),
    plan+hash (rows, versions, SHA-256 chain), insert (the one INSERT statement)."""
    events = unread_events(0, count)
    t0 = time.perf_counter()
    for e in events:
        plain_new_event(e)
    t1 = time.perf_counter()
    encoded = [encode_event(e) for e in events]
    t2 = time.perf_counter()
    call = make_call("telemetry-0", events, "any")
    call.events = encoded
    state = BatchState(0, GENESIS_HASH, {"telemetry-0": 0}, {})
    t3 = time.perf_counter()
    plan = plan_calls([call], state, {}, "2026-01-01T00:00:00.000000Z", record=False)
    t4 = time.perf_counter()
    store = Store.open(path, settings=Settings(durability="FULL"), projectors=[])
    timing: list[float] = []

    def insert(session: Any) -> None:
        started = time.perf_counter()
        store.backend.log.insert(session, plan.rows)
        timing.append(time.perf_counter() - started)

    store.write(insert)
    store.close()
    us = 1e6 / count
    return {"validate_us": (t1 - t0) * us, "encode_us": (t2 - t1 - (t1 - t0)) * us,
            "plan_hash_us": (t4 - t3) * us, "insert_us": timing[0] * us}


ISSUE13_CASES = (("threads1_x1", 1, 2000, 1), ("threads32_x1", 32, 500, 1),
                 ("threads8_x100", 8, 25, 100), ("threads10_x100", 10, 10, 100),
                 ("single_call_x10000", 1, 1, 10_000), ("threads2_x10000", 2, 1, 10_000))


def measure_issue13(run_dir: Path, scale: float, rates: dict[str, list[float]],
                    extra: dict[str, list[float]]) -> None:
    """One repeat of every issue-13 figure (rates in events/s, CPU and steps in µs)."""
    for label, threads, calls, per_call in ISSUE13_CASES:
        n_calls = max(1, int(calls * scale)) if per_call < 10_000 else 1
        for kind, log_alone in (("log_alone", True), ("default_store_unread", False)):
            rate, cpu, _ = run_calls(run_dir / f"{kind}-{label}.db", threads, n_calls,
                                     per_call, log_alone=log_alone)
            rates.setdefault(f"{kind}.{label}", []).append(rate)
            if label == "single_call_x10000":
                extra.setdefault(f"{kind}.cpu_us_per_event_x10000", []).append(cpu)
        if label in ("threads10_x100", "threads2_x10000"):
            rates.setdefault(f"eventsourcing.{label}", []).append(run_eventsourcing(
                run_dir / f"es-{label}.db", threads, n_calls, per_call))
    calls = max(1, int(500 * scale))
    mix = game_mix(32, calls)
    rate, _, lat = run_calls(run_dir / "game-mix.db", 32, calls, 1, log_alone=False,
                             events_of=lambda n, i: mix[n][i])
    rates.setdefault("default_store_game_mix.threads32_x1", []).append(rate)
    extra.setdefault("game_mix_latency_s", []).extend(lat)
    for step, us in profile_steps(run_dir / "profile.db", 10_000).items():
        extra.setdefault(f"profile.{step}", []).append(us)


def game_mix_only(tmp: Path, scale: float, repeats: int) -> dict[str, Any]:
    """The game mix at 32x1 through the default store against raw one-row-per-transaction,
    interleaved (each repeat runs both): medians, their ratio and every run."""
    raw: list[float] = []
    game: list[float] = []
    latencies: list[float] = []
    calls = max(1, int(500 * scale))
    mix = game_mix(32, calls)
    for rep in range(repeats):
        run_dir = tmp / f"game-mix-{rep}"
        run_dir.mkdir()
        raw.append(raw_reference(run_dir, "FULL", int(20_000 * scale))["raw_one_row_per_txn"])
        rate, _, lat = run_calls(run_dir / "game-mix.db", 32, calls, 1, log_alone=False,
                                 events_of=lambda n, i: mix[n][i])
        game.append(rate)
        latencies.extend(lat)
    return {"raw_one_row_per_txn_per_s": round(statistics.median(raw)),
            "default_store_game_mix_threads32_x1": {
                "events_per_s": round(statistics.median(game)),
                "vs_raw_one_row_per_txn": round(statistics.median(game)
                                                / statistics.median(raw), 2),
                **summary_ms(latencies)},
            "runs": {"raw_one_row_per_txn": [round(r) for r in raw],
                     "game_mix": [round(r) for r in game]}}


def summarise_issue13(rates: dict[str, list[float]], extra: dict[str, list[float]],
                      raw_one_per_txn: float) -> dict[str, Any]:
    med = {k: statistics.median(v) for k, v in rates.items()}
    out: dict[str, Any] = {}
    for kind in ("log_alone", "default_store_unread", "eventsourcing"):
        out[kind] = {label: round(med[f"{kind}.{label}"]) for label, *_ in ISSUE13_CASES
                     if f"{kind}.{label}" in med}
    out["default_store_unread_vs_log_alone"] = {
        label: round(med[f"default_store_unread.{label}"] / med[f"log_alone.{label}"], 2)
        for label, *_ in ISSUE13_CASES}
    out["log_alone_vs_eventsourcing"] = {
        label: round(med[f"log_alone.{label}"] / med[f"eventsourcing.{label}"], 2)
        for label in ("threads10_x100", "threads2_x10000")}
    out["default_store_unread_vs_eventsourcing"] = {
        label: round(med[f"default_store_unread.{label}"] / med[f"eventsourcing.{label}"], 2)
        for label in ("threads10_x100", "threads2_x10000")}
    game = med["default_store_game_mix.threads32_x1"]
    out["default_store_game_mix_threads32_x1"] = {
        "events_per_s": round(game), "vs_raw_one_row_per_txn": round(game / raw_one_per_txn, 2),
        **summary_ms(extra["game_mix_latency_s"])}
    out["cpu_us_per_event_x10000"] = {
        kind: round(statistics.median(extra[f"{kind}.cpu_us_per_event_x10000"]), 1)
        for kind in ("log_alone", "default_store_unread")}
    # The median over repeats, and the least (the step's cost when no other process
    # took the CPU from it: this machine is shared, so the minimum is the steadier figure).
    out["profile_us_per_event_x10000"] = {
        key.split(".", 1)[1]: {"median": round(statistics.median(v), 2), "min": round(min(v), 2)}
        for key, v in extra.items() if key.startswith("profile.")}
    out["runs"] = {label: [round(r) for r in runs] for label, runs in rates.items()}
    return out


def measure(tmp: Path, durability: str, scale: float, repeats: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {}
    commits: dict[str, list[int]] = {}
    latencies: dict[str, list[float]] = {}
    issue13_rates: dict[str, list[float]] = {}
    issue13_extra: dict[str, list[float]] = {}
    for rep in range(repeats):
        run_dir = tmp / f"{durability}-{rep}"
        run_dir.mkdir()
        for label, rate in raw_reference(run_dir, durability, int(20_000 * scale)).items():
            rates.setdefault(label, []).append(rate)
        for label, threads, calls, per_call in CASES:
            rate, batches, lat = run_store(run_dir, durability, threads,
                                           max(1, int(calls * scale)), per_call)
            rates.setdefault(label, []).append(rate)
            commits.setdefault(label, []).append(batches)
            latencies.setdefault(label, []).extend(lat)
        if durability == "FULL":  # informational: what a store with its read models does
            rate, _, _ = run_store(run_dir, durability, 32, max(1, int(500 * scale)), 1,
                                   log_alone=False)
            rates.setdefault("threads32_x1_with_inline_projectors", []).append(rate)
            measure_issue13(run_dir, scale, issue13_rates, issue13_extra)
    median = {label: statistics.median(runs) for label, runs in rates.items()}
    figures: dict[str, Any] = {
        "raw_one_row_per_txn_per_s": round(median["raw_one_row_per_txn"]),
        "raw_executemany_per_s": round(median["raw_executemany"]),
    }
    for label, threads, calls, per_call in CASES:
        figures[label] = {"events_per_s": round(median[label]),
                          "events_per_run": threads * max(1, int(calls * scale)) * per_call,
                          "commits_per_run": round(statistics.median(commits[label])),
                          **summary_ms(latencies[label])}
    figures["ratio_32x1_vs_raw_one_per_txn"] = round(
        median["threads32_x1"] / median["raw_one_row_per_txn"], 2)
    figures["ratio_8x100_vs_raw_executemany"] = round(
        median["threads8_x100"] / median["raw_executemany"], 2)
    if "threads32_x1_with_inline_projectors" in median:
        figures["threads32_x1_with_inline_projectors_per_s"] = round(
            median["threads32_x1_with_inline_projectors"])
    figures["runs"] = {label: [round(r) for r in runs] for label, runs in rates.items()}
    if issue13_rates:
        figures["issue13"] = summarise_issue13(issue13_rates, issue13_extra,
                                               median["raw_one_row_per_txn"])
    return figures


def writer_report_cost(number: int = 20_000) -> dict[str, float]:
    """Microseconds the writer spends reporting one batch (`WriterStats.batch_done`, with
    metrics on) of 1 and of 32 one-event calls: a figure the machine's load barely moves,
    to set beside the CPU per event of the runs."""
    import timeit

    from questlog.observability.batches import WriterStats
    from questlog.planner import make_call
    from questlog.writer import AppendRequest

    call = make_call("character-1", [NewEvent(type="HitPointsChanged",
                                              data={"character": 1, "delta": -1, "seq": 0})],
                     "any")
    out: dict[str, float] = {}
    for size in (1, 32):
        stats = WriterStats()
        batch = [AppendRequest([call]) for _ in range(size)]
        outcomes = [(r.future, True, [1]) for r in batch]
        seconds = min(timeit.repeat(
            lambda s=stats, b=batch, o=outcomes: s.batch_done(b, o, time.perf_counter(), 1e9),
            number=number // size, repeat=5))
        out[f"batch_of_{size}"] = round(seconds / (number // size) * 1e6, 2)
    return out


def metrics_overhead(tmp: Path, durability: str, scale: float, repeats: int
                     ) -> dict[str, Any]:
    """Each store case run in pairs, metrics recorded and not, back to back (the order
    alternating): the medians of events/s and of CPU per event, and the median of the
    pairs' ratios (a pair shares the machine's load of the moment, which on a shared
    machine swings each run's rate far more than the metrics can)."""
    runs: dict[tuple[str, bool], list[tuple[float, float]]] = {}  # (events/s, CPU us/event)
    for rep in range(repeats):
        for label, threads, calls, per_call in CASES:
            n_calls = max(1, int(calls * scale))
            for recording in ((True, False) if rep % 2 == 0 else (False, True)):
                metrics.set_enabled(recording)
                run_dir = tmp / f"overhead-{rep}-{label}-{recording}"
                run_dir.mkdir()
                cpu: list[float] = []
                rate, _, _ = run_store(run_dir, durability, threads, n_calls, per_call,
                                       cpu=cpu)
                events = threads * n_calls * per_call
                runs.setdefault((label, recording), []).append((rate, cpu[0] / events * 1e6))
    metrics.set_enabled(True)
    figures: dict[str, Any] = {"writer_report_us": writer_report_cost()}
    for label, *_ in CASES:
        on, off = runs[(label, True)], runs[(label, False)]
        rate_ratios = [b[0] / a[0] for a, b in zip(on, off, strict=True)]  # off/on
        cpu_ratios = [a[1] / b[1] for a, b in zip(on, off, strict=True)]  # on/off
        figures[label] = {
            "events_per_s_on": round(statistics.median(r for r, _ in on)),
            "events_per_s_off": round(statistics.median(r for r, _ in off)),
            "cpu_us_per_event_on": round(statistics.median(c for _, c in on), 2),
            "cpu_us_per_event_off": round(statistics.median(c for _, c in off), 2),
            "throughput_cost_pct_median_of_pairs": round(
                (statistics.median(rate_ratios) - 1) * 100, 2),
            "cpu_cost_pct_median_of_pairs": round((statistics.median(cpu_ratios) - 1) * 100, 2),
            "runs_on": [[round(r), round(c, 1)] for r, c in on],
            "runs_off": [[round(r), round(c, 1)] for r, c in off],
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply the work by this.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of every figure.")
    parser.add_argument("--metrics-overhead", action="store_true",
                        help="Only measure what recording metrics costs (see above).")
    parser.add_argument("--durability", default="NORMAL", choices=["FULL", "NORMAL"],
                        help="synchronous level of --metrics-overhead.")
    parser.add_argument("--game-mix", action="store_true",
                        help="Only the game mix against raw one row per transaction.")
    args = parser.parse_args()
    if args.game_mix:
        with tempfile.TemporaryDirectory() as tmpdir:
            figures = game_mix_only(Path(tmpdir), args.scale, args.repeats)
            emit({"benchmark": "append_game_mix", "repeats": args.repeats,
                  "scale": args.scale, **figures,
                  "targets": {"game_mix_32x1_ge_2x_raw_one_per_txn": figures[
                      "default_store_game_mix_threads32_x1"]["vs_raw_one_row_per_txn"] >= 2}})
        return
    if args.metrics_overhead:
        with tempfile.TemporaryDirectory() as tmpdir:
            emit({"benchmark": "append_metrics_overhead", "repeats": args.repeats,
                  "scale": args.scale, "durability": args.durability,
                  **metrics_overhead(Path(tmpdir), args.durability, args.scale,
                                     args.repeats)})
        return
    out: dict[str, Any] = {"benchmark": "append", "repeats": args.repeats,
                           "projectors": "none (the log alone), except the figure named "
                                         "with_inline_projectors (the shipped set)"}
    with tempfile.TemporaryDirectory() as tmpdir:
        for durability in ("FULL", "NORMAL"):
            out[durability] = measure(Path(tmpdir), durability, args.scale, args.repeats)
    full = out["FULL"]
    out["targets"] = {
        "32x1_full_ge_4x_raw_one_per_txn": full["ratio_32x1_vs_raw_one_per_txn"] >= 4,
        "8x100_full_ge_half_raw_executemany": full["ratio_8x100_vs_raw_executemany"] >= 0.5,
        "p99_32_threads_le_20ms": full["threads32_x1"]["p99_ms"] <= 20,
    }
    i13 = full["issue13"]
    out["targets"].update({
        "default_store_unread_ge_90pct_log_alone": all(
            r >= 0.9 for r in i13["default_store_unread_vs_log_alone"].values()),
        "game_mix_32x1_ge_2x_raw_one_per_txn":
            i13["default_store_game_mix_threads32_x1"]["vs_raw_one_row_per_txn"] >= 2,
        "cpu_per_event_x10000_log_alone_le_25us":
            i13["cpu_us_per_event_x10000"]["log_alone"] <= 25,
        "10x100_and_2x10000_ge_1.2x_eventsourcing": all(
            r >= 1.2 for r in i13["log_alone_vs_eventsourcing"].values()),
    })
    emit(out)


if __name__ == "__main__":
    main()
