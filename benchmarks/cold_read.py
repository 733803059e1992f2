"""A cold process running `questlog events read` on a small store: wall time and peak memory.

Prints one JSON line. Reference measured in the same run: a cold `python -c pass`
and a cold `python -c "import sqlite3"` reading the same rows with the stdlib.
Targets (issue 2): under 0.5 s wall and under 80 MB peak RSS.
Usage: python benchmarks/cold_read.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

from questlog import NewEvent, Store


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one cold child process.

    Peak memory comes from GNU time (%M): a forked child's own rusage would count the
    pages it shares with this (large) parent until it execs.
    """
    timer = ["/usr/bin/time", "-f", "%M"] if os.path.exists("/usr/bin/time") else []
    t0 = time.perf_counter()
    proc = subprocess.run([*timer, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr}")
    peak_kb = float(proc.stderr.strip().splitlines()[-1]) if timer else float("nan")
    return wall, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small.db"
        store = Store.open(path)
        for i in range(50):
            store.append("campaign-1", [NewEvent(type="ChatMessagePosted", data={"n": i})])
        store.close()
        questlog = str(Path(sys.executable).with_name("questlog"))
        runs = {
            "questlog_events_read": [questlog, "--db", str(path), "events", "read", "campaign-1"],
            "python_pass": [sys.executable, "-c", "pass"],
            "python_stdlib_sqlite_read": [sys.executable, "-c",
                                          "import sqlite3, json; c = sqlite3.connect("
                                          f"{str(path)!r}); [json.loads(r[0]) for r in "
                                          "c.execute('select data from events')]"],
        }
        out: dict[str, object] = {"benchmark": "cold_read", "runs": args.runs}
        for name, cmd in runs.items():
            samples = [measure(cmd) for _ in range(args.runs)]
            out[name] = {"wall_s_median": round(statistics.median(s[0] for s in samples), 3),
                         "wall_s_max": round(max(s[0] for s in samples), 3),
                         "peak_mb_max": round(max(s[1] for s in samples), 1)}
    q = out["questlog_events_read"]
    assert isinstance(q, dict)
    out["targets"] = {"wall_le_0_5s": q["wall_s_median"] <= 0.5, "peak_le_80mb": q["peak_mb_max"] <= 80}
    emit(out)


if __name__ == "__main__":
    main()
