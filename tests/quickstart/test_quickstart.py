"""The README's main job: `questlog quickstart` in a fresh directory, as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

QUESTLOG = [sys.executable, "-m", "questlog.cli"]


def test_quickstart_runs_twice_and_searches(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    first = subprocess.run([*QUESTLOG, "--json", "quickstart"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert (tmp_path / "quickstart" / "questlog.db").exists()
    assert report["import"]["added"] >= 15
    assert report["verify"]["ok"] is True
    assert set(report["lookups"]) == {"spells/lantern-ward", "monsters/lantern-wisp",
                                      "magic-items/brinesteel-hook"}
    top = [f"{h['type']}/{h['index']}" for h in report["search"]]
    assert "monsters/lantern-wisp" in top
    # Running it again appends nothing: the pack is unchanged and the game response
    # carries the same correlation id.
    second = subprocess.run([*QUESTLOG, "--json", "quickstart", "--no-search"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["import"]["added"] == 0 and again["import"]["unchanged"] >= 15
    assert again["game"]["replayed"] is True
    assert again["verify"]["events"] == report["verify"]["events"]
