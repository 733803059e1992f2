"""The first search after an import builds what is missing: progress, committed batches, resume.

Real parts: the CLI in a subprocess, a real SQLite store, the real model (ONNX
Runtime), a real SIGINT. The pack is a slice of the SRD's spells so a build
takes seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from questlog import Store
from questlog.search.building import BuildPlan, needs_build

EXE = str(Path(sys.executable).with_name("questlog"))
PLAN = re.compile(r"building the search index: (\d+) entries, (\d+) chunks "
                  r"\((\d+) in the embedding cache, (\d+) to embed\)")
DONE = re.compile(r"search index built: (\d+) entries, (\d+) chunks "
                  r"\((\d+) from the embedding cache, (\d+) embedded")
KEPT = re.compile(r"interrupted: (\d+) of (\d+) chunk\(s\) were embedded and kept")


@pytest.fixture
def spells_pack(srd_dir: Path, tmp_path: Path) -> Path:
    spells = json.loads((srd_dir / "5e-SRD-Spells.json").read_text(encoding="utf-8"))
    pack = tmp_path / "spells-pack"
    pack.mkdir()
    (pack / "5e-SRD-Spells.json").write_text(json.dumps(spells[:90]), encoding="utf-8")
    return pack


@pytest.fixture
def imported(spells_pack: Path, tmp_path: Path) -> Path:
    """A store with the pack imported and the search index not built."""
    path = tmp_path / "first.db"
    with Store.open(path) as store:
        store.content.import_pack(spells_pack, pack="srd")
        assert needs_build(store)
    return path


def _env(**extra: str) -> dict[str, str]:
    # The slow-operation log is not library noise: on a loaded machine a first query
    # can pass its threshold, so the quiet-stderr checks here raise it.
    return {**os.environ, "HF_HUB_OFFLINE": "1", "QUESTLOG_SLOW_MS": "60000", **extra}


def _cached_vectors(path: Path) -> int:
    with Store.open(path, read_only=True, create=False) as store, store.read() as conn:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'embedding_cache'"
                              ).fetchone()
        return int(conn.execute("SELECT COUNT(*) FROM embedding_cache").fetchone()[0]) \
            if exists else 0


def _indexed_chunks(path: Path) -> int:
    with Store.open(path, read_only=True, create=False) as store, store.read() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM search_chunks").fetchone()[0])


def test_first_search_builds_then_answers_quietly(imported: Path) -> None:
    cmd = [EXE, "--db", str(imported), "search", "a cantrip that deals cold damage", "-k", "5"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=_env(),
                           check=False)
    assert first.returncode == 0, first.stderr
    planned = PLAN.search(first.stderr)
    done = DONE.search(first.stderr)
    assert planned and done, first.stderr
    entries, chunks, cached, to_embed = map(int, planned.groups())
    assert entries == 90 and chunks >= entries and cached == 0 and to_embed == chunks
    assert list(map(int, done.groups())) == [entries, chunks, 0, chunks]
    assert "spells/cone-of-cold" in first.stdout
    # Library noise stays out unless --verbose.
    for noise in ("Loading weights", "Warning", "warn(", "Traceback"):
        assert noise not in first.stderr, first.stderr
    assert _indexed_chunks(imported) == chunks

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(),
                            check=False)
    assert second.returncode == 0 and second.stderr == "", second.stderr
    assert second.stdout == first.stdout


def test_interrupted_build_keeps_its_batches_and_the_next_search_resumes(
        imported: Path) -> None:
    batch = 8
    env = _env(QUESTLOG_SEARCH_BUILD_BATCH=str(batch))
    cmd = [EXE, "--db", str(imported), "search", "fire", "-k", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        deadline = time.monotonic() + 300
        while _cached_vectors(imported) < 2 * batch:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no batch committed in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    kept = KEPT.search(err)
    assert kept, err
    assert "Traceback" not in err
    reported, total = map(int, kept.groups())
    cached = _cached_vectors(imported)
    # Every finished batch was committed (one more may have landed while the
    # interrupt was being handled); the build was not finished.
    assert batch <= reported <= cached < total
    assert _indexed_chunks(imported) == 0

    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    planned = PLAN.search(resumed.stderr)
    done = DONE.search(resumed.stderr)
    assert planned and done, resumed.stderr
    _, chunks, was_cached, to_embed = map(int, planned.groups())
    assert chunks == total and was_cached == cached and to_embed == total - cached
    assert int(done.group(4)) == total - cached  # only the rest was embedded
    assert _indexed_chunks(imported) == total and _cached_vectors(imported) == total


class Recorder:
    def __init__(self) -> None:
        self.plan: BuildPlan | None = None
        self.steps: list[tuple[int, int, float]] = []
        self.applied = False

    def planned(self, plan: BuildPlan) -> None:
        self.plan = plan

    def embedded(self, chunks: int, entries_ready: int, chunks_per_s: float) -> None:
        self.steps.append((chunks, entries_ready, chunks_per_s))

    def applying(self) -> None:
        self.applied = True


def test_build_reports_progress_per_committed_batch(imported: Path, hashing: Any) -> None:
    """Progress counts chunks and entries monotonically up to the plan (fast embedder)."""
    with Store.open(imported, settings=None) as store:
        recorder = Recorder()
        report = store.search.build(progress=recorder)
        plan = recorder.plan
        assert plan is not None and recorder.applied
        assert [s[0] for s in recorder.steps] == sorted(s[0] for s in recorder.steps)
        assert [s[1] for s in recorder.steps] == sorted(s[1] for s in recorder.steps)
        assert recorder.steps[-1][:2] == (len(plan.to_embed), plan.entries)
        assert all(rate > 0 for *_, rate in recorder.steps)
        assert len(recorder.steps) == -(-len(plan.to_embed) // store.settings.search_build_batch)
        assert report.embedded == plan.chunks and not needs_build(store)
        assert store.search("ray of frost", k=3)
        again = store.search.build()
        assert again.embedded == 0 and again.entries == 0
