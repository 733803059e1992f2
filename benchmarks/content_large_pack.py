"""Importing one large generated content pack: prints ONE JSON line.

Figures: wall time, CPU time and peak RSS of a `questlog content import` process for a pack
of N small `conditions` entries in one file (default 600,000 entries, about 32 MB),
validation and one append included. Reference measured in the same run: the same
command on a pack of 1,000 such entries (the fixed cost of a process that imports).
Goal: peak RSS stays bounded (well under 1 GB for the default pack).

    .venv/bin/python benchmarks/content_large_pack.py [--entries N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit

# Measured from a small launcher process, so the peak RSS is the child's alone.
_LAUNCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps([done.returncode, wall, usage.ru_maxrss / 1024, cpu, done.stderr.decode()[-500:]]))
"""


def write_pack(directory: Path, entries: int) -> int:
    """A pack of `entries` minimal conditions in one file; returns its size in bytes."""
    directory.mkdir(parents=True)
    (directory / "questlog-pack.json").write_text(json.dumps({"name": "large"}))
    path = directory / "conditions.json"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i in range(entries):
            sep = ",\n" if i + 1 < entries else "\n"
            fh.write(f'{{"index":"c{i}","name":"C{i}","url":"/api/conditions/c{i}",'
                     f'"desc":["d"]}}{sep}')
        fh.write("]\n")
    return path.stat().st_size


def import_run(pack: Path, db: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of one `questlog content import` process
    (CPU time, because wall time on a shared machine moves with everyone else's load)."""
    argv = [sys.executable, "-m", "questlog", "--db", str(db), "content", "import", str(pack)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], env=env,
                         capture_output=True, text=True, check=True).stdout
    code, wall, peak_mb, cpu, stderr = json.loads(out)
    if code != 0:
        raise SystemExit(f"import failed ({code}): {stderr.strip()}")
    return float(wall), float(peak_mb), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=600_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ref_bytes = write_pack(root / "small", 1_000)
        ref_wall, ref_peak, ref_cpu = import_run(root / "small", root / "small.db")
        pack_bytes = write_pack(root / "large", args.entries)
        wall, peak, cpu = import_run(root / "large", root / "large.db")
    emit({
        "benchmark": "content_large_pack",
        "entries": args.entries,
        "pack_mb": round(pack_bytes / 2**20, 1),
        "import_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(peak, 1),
        "entries_per_s": round(args.entries / wall),
        "reference_1000_entries": {"pack_mb": round(ref_bytes / 2**20, 3),
                                   "import_s": round(ref_wall, 2),
                                   "cpu_s": round(ref_cpu, 2),
                                   "peak_rss_mb": round(ref_peak, 1)},
    })


if __name__ == "__main__":
    main()
