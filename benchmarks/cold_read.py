"""Cold commands: `questlog --help`, `events read` and `content get` from a fresh process.

Prints one JSON line. Every command runs as a new process, interleaved with the
references in each round (so a busy machine slows all of them alike); figures are
medians over the rounds. References measured in the same run: a bare
`python -c pass`, a cold stdlib `sqlite3` read of the same rows, and a bare
interpreter that imports pydantic and validates one small model (`python_pydantic_model`:
what any process that returns a pydantic model pays before its own work, plugin
search included, as pydantic does by default).
Targets: issue 13 — `--help`, `events read` and `content get` each <= 6x a bare
interpreter start; issue 2 — `events read` under 0.5 s wall and 80 MB peak RSS.
The store holds the starter content pack (data/packs/starter) and a 50-event stream.
Children run with bytecode caching on (in a temporary PYTHONPYCACHEPREFIX, after one
warm-up round), as an installed package runs: pip compiles it at install, while a
PYTHONDONTWRITEBYTECODE=1 environment would recompile every questlog module each time.
Usage: python benchmarks/cold_read.py [--runs 11]
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

from _common import REPO, emit

from questlog import NewEvent, Store

TARGET_RATIO = 6.0


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one cold child process.

    Peak memory comes from GNU time (%M): a forked child's own rusage would count the
    pages it shares with this (large) parent until it execs.
    """
    timer = ["/usr/bin/time", "-f", "%M"] if os.path.exists("/usr/bin/time") else []
    t0 = time.perf_counter()
    proc = subprocess.run([*timer, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr}")
    peak_kb = float(proc.stderr.strip().splitlines()[-1]) if timer else float("nan")
    return wall, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "small.db"
        store = Store.open(path)
        store.content.import_pack(REPO / "data" / "packs" / "starter")
        for i in range(50):
            store.append("campaign-1", [NewEvent(type="ChatMessagePosted", data={"n": i})])
        spell = store.content.list("spells", limit=1)[0].index  # type: ignore[attr-defined]
        store.close()
        questlog = str(Path(sys.executable).with_name("questlog"))
        db = ["--db", str(path)]
        commands = {
            "python_pass": [sys.executable, "-c", "pass"],
            "questlog_help": [questlog, "--help"],
            "questlog_events_read": [questlog, *db, "events", "read", "campaign-1"],
            "questlog_content_get": [questlog, *db, "content", "get", "spells", spell],
            "python_pydantic_model": [sys.executable, "-c",
                                      "from pydantic import BaseModel\n"
                                      "class Entry(BaseModel):\n    index: str\n"
                                      "Entry.model_validate_json('{\"index\": \"x\"}')"],
            "python_stdlib_sqlite_read": [sys.executable, "-c",
                                          "import sqlite3, json; c = sqlite3.connect("
                                          f"{str(path)!r}); [json.loads(r[0]) for r in "
                                          "c.execute('select data from events')]"],
        }
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for cmd in commands.values():  # warm-up: writes the bytecode cache
            measure(cmd, env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                samples[name].append(measure(cmd, env))
    out: dict[str, object] = {"benchmark": "cold_read", "runs": args.runs}
    medians = {}
    for name, got in samples.items():
        medians[name] = statistics.median(s[0] for s in got)
        out[name] = {"wall_s_median": round(medians[name], 3),
                     "wall_s_max": round(max(s[0] for s in got), 3),
                     "peak_mb_max": round(max(s[1] for s in got), 1)}
    bare = medians["python_pass"]
    ratios = {name: round(medians[name] / bare, 2)
              for name in ("questlog_help", "questlog_events_read", "questlog_content_get")}
    out["ratio_to_python_pass"] = ratios
    out["pydantic_model_ratio_to_python_pass"] = round(medians["python_pydantic_model"] / bare, 2)
    read = out["questlog_events_read"]
    assert isinstance(read, dict)
    out["targets"] = {
        **{f"{name}_le_{TARGET_RATIO:g}x": ratio <= TARGET_RATIO for name, ratio in ratios.items()},
        "events_read_wall_le_0_5s": read["wall_s_median"] <= 0.5,
        "events_read_peak_le_80mb": read["peak_mb_max"] <= 80,
    }
    emit(out)


if __name__ == "__main__":
    main()
