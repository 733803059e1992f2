"""Replication under load, for a few seconds (issue 17 pt 12).

The documented split deployment — `questlog replicate` and `questlog serve` as separate
processes on one file, plus a read node — with events appended at ~5/s over HTTP under
a CPU hog, through the same harness as benchmarks/replication_soak.py (which runs it for
10 minutes). Litestream's own checkpoints are pushed out of the test's window, so the
database file may change only if the write node checkpoints behind Litestream's back.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from replication_soak import TARGET_MAX_LAG_S, Segment, start_cpu_hog, summarize

# ~50 WAL pages per event: the 40 events of the run pass SQLite's 1000-page autocheckpoint
# twice, so a write node that still checkpoints does so inside the window.
PAD_BYTES = 200_000
APPEND_S = 8.0


@pytest.mark.timeout(300)
def test_serve_beside_replicate_never_checkpoints_and_replicates_within_2s(
        tmp_path: Path) -> None:
    segment = Segment(
        tmp_path / "soak", "documented", pad=PAD_BYTES,
        replicate_env={"QUESTLOG_LITESTREAM_MIN_CHECKPOINT_PAGE_COUNT": "1000000",
                       "QUESTLOG_LITESTREAM_CHECKPOINT_INTERVAL_S": "3600"})
    hogs = start_cpu_hog()
    try:
        segment.run(APPEND_S, rate=5.0)
    finally:
        for proc in hogs:
            proc.kill()
            proc.wait(10)
    figures = summarize([segment])
    assert figures["events"] >= 20 and figures["append_errors"] == 0, figures
    assert segment.db_file_changed is False, (
        "the write node checkpointed while `questlog replicate` watched its file:\n"
        + segment.log("replicate"))
    assert figures["unarrived"] == 0, figures
    assert figures["lag_max_s"] <= TARGET_MAX_LAG_S, figures
