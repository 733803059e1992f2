"""Content import and cold lookup speed: prints ONE JSON line.

Figures: whole-SRD import (validation, diff, one append of ~2,300 events, inline
projection; no embeddings) in seconds and entries/s; an unchanged re-import;
a cold process running `questlog content get spells fireball` (wall time, peak
RSS). References measured in the same run: validation alone, and a bare
`python -c pass` process. Targets: import <= 3 s, re-import <= 1 s, cold
lookup <= 0.5 s and <= 100 MB.

    .venv/bin/python benchmarks/content.py [--srd DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# Measured from a small launcher process: a child forked from this (large) process
# would report this process's pages in its peak RSS until it execs.
_LAUNCHER = """
import json, os, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps([done.returncode, wall, peak / 1024, done.stderr.decode()[-500:]]))
"""


def child(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process (must exit 0)."""
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], env=env,
                         capture_output=True, text=True, check=True).stdout
    code, wall, peak_mb, stderr = json.loads(out)
    if code != 0:
        raise SystemExit(f"{argv} failed: {stderr.strip()}")
    return float(wall), float(peak_mb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default_srd = os.environ.get("QUESTLOG_SRD_DIR") or str(
        REPO.parent / "shared" / "data" / "5e-srd-2014")
    parser.add_argument("--srd", default=default_srd)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    srd = Path(args.srd)

    from questlog import Store
    from questlog.content.validation import validate_pack

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        start = time.perf_counter()
        validated = validate_pack(srd, pack="srd")
        validate_s = time.perf_counter() - start
        entries = len(validated.entries)

        store = Store.open(db)
        store.write(lambda conn: None)  # start the writer and register projectors first
        start = time.perf_counter()
        report = store.content.import_pack(srd, pack="srd")
        import_s = time.perf_counter() - start
        start = time.perf_counter()
        again = store.content.import_pack(srd, pack="srd")
        reimport_s = time.perf_counter() - start
        assert report.added == entries and again.events_appended == 0
        store.close()

        env = {**os.environ, "QUESTLOG_DB": str(db)}
        questlog = str(Path(sys.executable).parent / "questlog")
        lookups = [child([questlog, "content", "get", "spells", "fireball"], env)
                   for _ in range(args.runs)]
        lookup_rss = max(rss for _, rss in lookups)
        python_wall, _ = child([sys.executable, "-c", "pass"], env)

    print(json.dumps({
        "benchmark": "content",
        "entries": entries,
        "events_appended": report.events_appended,
        "import_s": round(import_s, 3),
        "import_entries_per_s": round(entries / import_s),
        "reimport_unchanged_s": round(reimport_s, 3),
        "cold_get_wall_s_median": round(statistics.median(w for w, _ in lookups), 3),
        "cold_get_wall_s_max": round(max(w for w, _ in lookups), 3),
        "cold_get_peak_rss_mb": round(lookup_rss, 1),
        "reference_validate_only_s": round(validate_s, 3),
        "reference_python_startup_s": round(python_wall, 3),
        "targets": {"import_s": 3.0, "reimport_unchanged_s": 1.0, "cold_get_wall_s": 0.5,
                    "cold_get_peak_rss_mb": 100},
    }))


if __name__ == "__main__":
    main()
