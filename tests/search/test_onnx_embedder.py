"""The ONNX embedder: the same vectors as sentence-transformers, no torch on the query path.

Real parts only: the installed all-MiniLM-L6-v2 weights, torch's exporter,
ONNX Runtime and sentence-transformers as the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from questlog.search import onnx_embedder
from questlog.search.embedder import MINILM_ID, SentenceTransformerEmbedder
from questlog.search.model_cache import cached_model, ensure_model
from questlog.search.onnx_embedder import BATCH_TOKENS, OnnxEmbedder, _batches
from questlog.settings import Settings

TOLERANCE = 1e-4

RULES = ("When you take the Attack action, you can make one attack. Rolling a 20 on the "
         "d20 is a critical hit; the attack hits regardless of any modifiers. ")
VARIED = [
    "a cantrip that deals cold damage",
    "Ray of Frost",
    "",                                   # empty
    " ",                                  # whitespace only
    ".",                                  # punctuation only
    "\x00abc",                            # NUL, cleaned like the index does
    "bad surrogate \ud800 here",          # lone surrogate
    "héllo wörld — ünïcode: Æsir, naïve café, 中文, テスト, 🐉🔥",
    "ÀÉÎÕÜ façade jalapeño Straße",
    RULES * 12,                           # far past 256 tokens: truncated like s-t
    RULES * 3,                            # just past 256 tokens
    "word " * 254,                        # at the limit
    "Fireball. A bright streak flashes from your pointing finger to a point you choose "
    "within range and then blossoms with a low roar into an explosion of flame.",
    "undead that drains life and creates spawn",
    "1d8 + 3 slashing; AC 18 (plate); CR 1/2",
]


# A fresh process embeds one query with the configured embedder and says its model id,
# the vector's squared norm and which heavy libraries it imported.
FRESH_EMBED = (
    "import json, sys\n"
    "from questlog.search.embedder import default_embedder\n"
    "e = default_embedder()\n"
    "v = e.embed(['ray of frost'])[0]\n"
    "print(json.dumps({'id': e.model_id, 'norm': float((v * v).sum()), 'heavy': sorted("
    "m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)}))\n")


def embed_in_fresh_process(env: dict[str, str], timeout: float
                           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", FRESH_EMBED], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)


def doctor_model_report(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """`questlog doctor --json`'s onnx_model section, in a fresh process."""
    doctor = subprocess.run([str(Path(sys.executable).with_name("questlog")), "--db",
                             str(tmp_path / "none.db"), "--json", "doctor"],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert doctor.returncode == 0, doctor.stderr
    report: dict[str, Any] = json.loads(doctor.stdout)["onnx_model"]
    return report


@pytest.fixture(scope="module")
def model_settings() -> Settings:
    """Where this module's export lives: the user's cache unless QUESTLOG_MODEL_CACHE says."""
    return Settings()


def test_fp32_vectors_equal_sentence_transformers(model_settings: Settings) -> None:
    onnx = OnnxEmbedder(settings=model_settings)
    reference = SentenceTransformerEmbedder()
    assert (onnx.model_id, onnx.dim) == (MINILM_ID, 384)
    want = reference.embed(VARIED)
    got = onnx.embed(VARIED)
    assert got.dtype == np.float32 and got.shape == (len(VARIED), 384)
    worst = np.abs(got - want).max(axis=1)
    assert worst.max() <= TOLERANCE, dict(zip(VARIED, worst.tolist(), strict=True))
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # One text at a time (the query path: a one-thread session, no padding) agrees too.
    for text, row in zip(VARIED[:6], want[:6], strict=True):
        assert np.abs(onnx.embed([text])[0] - row).max() <= TOLERANCE, text


def test_fp32_vectors_equal_on_srd_chunks(model_settings: Settings, srd_dir: Path) -> None:
    """A batch of real chunks of mixed lengths: sorting and batching change nothing."""
    from questlog.search.texts import entry_chunks

    spells = json.loads((srd_dir / "5e-SRD-Spells.json").read_text(encoding="utf-8"))
    monsters = json.loads((srd_dir / "5e-SRD-Monsters.json").read_text(encoding="utf-8"))
    texts = [c.text for e in spells[:40] for c in entry_chunks("spells", e["index"], e)]
    texts += [c.text for e in monsters[:20] for c in entry_chunks("monsters", e["index"], e)]
    assert len(texts) > 60
    got = OnnxEmbedder(settings=model_settings).embed(texts)
    want = SentenceTransformerEmbedder().embed(texts)
    assert float(np.abs(got - want).max()) <= TOLERANCE


def test_batches_follow_the_token_budget() -> None:
    lengths = [3, 256, 10, 256, 5, 200] + [8] * 100
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = _batches(order, lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 64
        assert len(batch) * max(lengths[i] for i in batch) <= BATCH_TOKENS or len(batch) == 1


def test_export_happens_once_with_one_line_and_the_query_path_stays_light(
        tmp_path: Path) -> None:
    """A fresh cache: the first embed exports (one line on stderr); the next process
    embeds a query without importing torch, transformers or sentence-transformers."""
    cache = tmp_path / "models"
    env = {**os.environ, "QUESTLOG_MODEL_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    first = embed_in_fresh_process(env, timeout=600)
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "exporting all-MiniLM-L6-v2 to ONNX once" in lines[0], lines
    model = cached_model(Settings(model_cache=cache))
    assert model.complete() and model.model.exists() and model.tokenizer.exists()
    assert model.manifest()["max_abs_diff_vs_torch_fp32"] <= 1e-5

    second = embed_in_fresh_process(env, timeout=300)
    assert second.returncode == 0, second.stderr
    assert second.stderr.strip() == ""
    out = json.loads(second.stdout)
    assert out["heavy"] == [] and abs(out["norm"] - 1.0) < 1e-5

    report = doctor_model_report(env, tmp_path)
    assert report["status"] == "cached" and report["path"] == str(model.directory)


def test_ensure_model_reuses_a_complete_export(model_settings: Settings) -> None:
    first = ensure_model(model_settings)
    assert ensure_model(model_settings, notice=lambda line: pytest.fail(line)) == first



class _Recording:
    """Wraps the real session: records which thread ran each batch, may fail one."""

    def __init__(self, real: Any, fail_at: int | None = None) -> None:
        self.real, self.fail_at = real, fail_at
        self.calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def get_inputs(self) -> Any:
        return self.real.get_inputs()

    def run(self, names: Any, feeds: Any) -> Any:
        with self._lock:
            self.calls.append((threading.current_thread().name, len(feeds["input_ids"])))
            count = len(self.calls)
        if count == self.fail_at:
            raise RuntimeError(f"batch {count} failed")
        return self.real.run(names, feeds)


def test_a_large_call_runs_batches_on_one_thread_per_core(
        model_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index build uses every core (one single-thread batch each); a query one thread."""
    embedder = OnnxEmbedder(settings=model_settings)
    recording = _Recording(embedder.session())
    monkeypatch.setattr(embedder, "session", lambda: recording)
    monkeypatch.setattr(onnx_embedder, "workers", lambda: 2)
    texts = [f"text number {i} " * (1 + i % 40) for i in range(200)]
    got = embedder.embed(texts)
    want = np.vstack([embedder.embed([t]) for t in texts[:5]])
    np.testing.assert_allclose(got[:5], want, atol=TOLERANCE)
    big = {name for name, _ in recording.calls[:-5]}
    assert big == {threading.current_thread().name, "questlog-embed"}
    assert {name for name, _ in recording.calls[-5:]} == {threading.current_thread().name}


def test_a_failing_batch_fails_the_whole_call(model_settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches run on several threads: an error in any of them reaches the caller."""
    embedder = OnnxEmbedder(settings=model_settings)
    recording = _Recording(embedder.session(), fail_at=3)
    monkeypatch.setattr(embedder, "session", lambda: recording)
    monkeypatch.setattr(onnx_embedder, "workers", lambda: 2)
    texts = [f"text number {i} " * (1 + i % 40) for i in range(300)]
    with pytest.raises(RuntimeError, match="batch 3 failed"):
        embedder.embed(texts)
    lengths = [len(e.ids) for e in embedder.tokenizer().encode_batch(texts)]
    batches = _batches(sorted(range(300), key=lambda i: lengths[i]), lengths)
    # The other threads stop taking batches (each finishes at most the one it runs).
    assert 3 <= len(recording.calls) < len(batches)
