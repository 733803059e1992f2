"""Helpers shared by the benchmark scripts (each script prints one JSON line)."""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"p50_ms": round(percentile(ms, 50), 3), "p99_ms": round(percentile(ms, 99), 3),
            "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan")}


def srd_dir() -> Path:
    env = os.environ.get("QUESTLOG_SRD_DIR")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "5e-srd-2014"
    if not path.is_dir():
        sys.exit(f"SRD data set not found at {path} (set QUESTLOG_SRD_DIR)")
    return path


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, sort_keys=True))
