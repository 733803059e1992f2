"""What the writer's periodic anchoring costs appends: the same runs with it off and on.

Prints one JSON line. The append runs of benchmarks/append.py (the log alone,
synchronous FULL) — 32 threads x 1 event per call and 8 threads x 100 — once with no
anchor key (the reference, anchoring off) and once with a key and anchoring far more
often than the defaults (every 100 events and every second; the anchorer itself caps
at ~10 anchors a second), interleaved `--repeats` times so both see the same state of
this shared machine. A rate is the median of its runs; percentiles are over the calls
of all runs; `anchors_per_run` counts the lines the anchorer wrote; `ratio_on_vs_off`
divides the medians and `ratio_median_of_pairs` is the median of each repeat's on/off
ratio (the off and on runs of one repeat are back to back, so it drifts less with the
machine's load).

Because throughput on a shared 2-core machine moves by more than any anchoring cost,
the script also measures that cost directly: `take_anchor_ms` (one anchor on a store of
the same size — read the head, fsync WAL and file, sign, append + fsync; this runs on the
anchorer's thread, never the writer's) and `committed_call_ns` (what the writer thread
pays per commit: `Anchorer.committed`).

Target (issue 17 point 11): anchoring never slows appends noticeably — on/off events/s
ratio >= 0.9 and p99 latency within 1.25x + 1 ms of the reference.
Usage: python benchmarks/anchors.py [--scale 1.0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, summary_ms
from append import run_store
from pydantic import SecretStr

from questlog import Store
from questlog.anchors import Anchorer, AnchorKey, default_anchor_path, take_anchor
from questlog.settings import Settings

CASES = (("threads32_x1", 32, 500, 1), ("threads8_x100", 8, 25, 100))
ANCHORING = {"anchor_key": SecretStr("benchmark-anchor-key-0123456789abcdef"),
             "anchor_every_events": 100, "anchor_every_s": 1.0}


def direct_costs(run_dir: Path) -> dict[str, Any]:
    """The anchoring work itself, on a store left by a run (so of the same size)."""
    (db,) = [p for p in run_dir.iterdir() if p.suffix == ".db"]
    settings = Settings(durability="FULL", **ANCHORING)
    store = Store.open(db, settings=settings, projectors=[])
    key = AnchorKey.from_settings(settings)
    target = run_dir / "direct.anchors.jsonl"
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        take_anchor(store.db, key, target)
        times.append(time.perf_counter() - t0)
    anchorer = Anchorer(store.db, key, run_dir / "idle.anchors.jsonl", every_events=10**9,
                        every_s=0)
    calls = 200_000
    t0 = time.perf_counter()
    for head in range(calls):
        anchorer.committed(head)
    per_call_ns = (time.perf_counter() - t0) / calls * 1e9
    anchorer.close()
    store.close()
    return {"take_anchor_ms": summary_ms(times), "committed_call_ns": round(per_call_ns)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply the work by this.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of every figure.")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {}
    latencies: dict[str, list[float]] = {}
    anchors: dict[str, list[int]] = {}
    pair_ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        for rep in range(args.repeats):
            for mode in ("off", "on"):
                for label, threads, calls, per_call in CASES:
                    run_dir = Path(tmpdir) / f"{rep}-{mode}-{label}"
                    run_dir.mkdir()
                    settings = Settings(durability="FULL",
                                        **(ANCHORING if mode == "on" else {}))
                    rate, _, lat = run_store(run_dir, "FULL", threads,
                                             max(1, int(calls * args.scale)), per_call,
                                             settings=settings)
                    key = f"{label}_anchoring_{mode}"
                    rates.setdefault(key, []).append(rate)
                    latencies.setdefault(key, []).extend(lat)
                    written = [p for p in run_dir.iterdir()
                               if p.name.endswith(default_anchor_path(Path(".db")).name)]
                    anchors.setdefault(key, []).append(
                        sum(len(p.read_text().splitlines()) for p in written))
                    if mode == "on":
                        pair_ratios.setdefault(label, []).append(
                            rate / rates[f"{label}_anchoring_off"][-1])
        direct = direct_costs(Path(tmpdir) / f"0-on-{CASES[0][0]}")
    out: dict[str, Any] = {"benchmark": "anchors", "repeats": args.repeats,
                           "durability": "FULL", "anchoring": {
                               "every_events": ANCHORING["anchor_every_events"],
                               "every_s": ANCHORING["anchor_every_s"]}}
    targets: dict[str, bool] = {}
    for label, threads, calls, per_call in CASES:
        off, on = f"{label}_anchoring_off", f"{label}_anchoring_on"
        figures: dict[str, Any] = {"events_per_run": threads * max(1, int(calls * args.scale))
                                   * per_call}
        for key in (off, on):
            figures[key] = {"events_per_s": round(statistics.median(rates[key])),
                            "anchors_per_run": round(statistics.median(anchors[key])),
                            "runs": [round(r) for r in rates[key]], **summary_ms(latencies[key])}
        ratio = statistics.median(rates[on]) / statistics.median(rates[off])
        figures["ratio_on_vs_off"] = round(ratio, 3)
        figures["ratio_median_of_pairs"] = round(statistics.median(pair_ratios[label]), 3)
        out[label] = figures
        targets[f"{label}_ratio_ge_0.9"] = ratio >= 0.9
        targets[f"{label}_p99_within_1.25x_plus_1ms"] = (
            figures[on]["p99_ms"] <= figures[off]["p99_ms"] * 1.25 + 1)
    out.update(direct)
    out["targets"] = targets
    emit(out)


if __name__ == "__main__":
    main()
