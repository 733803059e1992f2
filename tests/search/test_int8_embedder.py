"""The int8 variant (QUESTLOG_EMBEDDER_PRECISION=int8): made once, keyed apart, never mixed.

Real parts only: the installed weights' fp32 export, onnxruntime's quantizer,
the SRD and the labelled queries. The int8 vectors are not fp32's (cosine
~0.997), so what is tested is what the variant promises instead of 1e-4
equality: closeness, batch independence, its own model id in the embedding
cache and the index, and recall on the labelled set.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from questlog import Store
from questlog.errors import VectorSearchUnavailable
from questlog.search import index
from questlog.search.embedder import MINILM_ID, set_default_embedder
from questlog.search.evaluation import evaluate, halves, load_queries
from questlog.search.indexes import embedding_cache
from questlog.search.model_cache import cached_model, ensure_model
from questlog.search.onnx_embedder import OnnxEmbedder
from questlog.search.quantization import INT8_MODEL_ID, MIN_COSINE
from questlog.settings import Settings

from .conftest import QUERIES, SMALL_PACK, write_pack
from .test_onnx_embedder import VARIED, doctor_model_report, embed_in_fresh_process

# fp32 ranks imp 5th for this question, 0.0004 of cosine above the 6th hit: any
# other model's rounding may move it to 6th or 7th (int8 does: 7th, found at k=10).
BOUNDARY = "tiny flying fey that turns invisible"


@pytest.fixture(scope="module")
def fp32() -> OnnxEmbedder:
    return OnnxEmbedder(settings=Settings(), precision="fp32")


@pytest.fixture(scope="module")
def int8() -> OnnxEmbedder:
    return OnnxEmbedder(settings=Settings(), precision="int8")


def test_int8_is_made_once_from_fp32_quietly_and_the_query_path_stays_light(
        fp32: OnnxEmbedder, tmp_path: Path) -> None:
    """A cache holding only the fp32 export: the first int8 use quantizes (one line on
    stderr, nothing else); the next process embeds without torch and doctor says int8."""
    cache = tmp_path / "models"
    source = fp32.model_dir()
    shutil.copytree(source, cache / source.parent.name / source.name)
    env = {**os.environ, "QUESTLOG_MODEL_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
           "QUESTLOG_EMBEDDER_PRECISION": "int8"}
    first = embed_in_fresh_process(env, timeout=600)
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "quantizing all-MiniLM-L6-v2 to int8 once" in lines[0], lines
    settings = Settings(model_cache=cache)
    model = cached_model(settings, precision="int8")
    assert model.complete() and model.directory != cached_model(settings).directory
    manifest = model.manifest()
    assert manifest["precision"] == "int8" and manifest["min_cosine_vs_fp32"] >= MIN_COSINE
    assert ensure_model(settings, notice=lambda line: pytest.fail(line),
                        precision="int8") == model

    second = embed_in_fresh_process(env, timeout=300)
    assert second.returncode == 0 and second.stderr.strip() == "", second.stderr
    out = json.loads(second.stdout)
    assert out["id"] == INT8_MODEL_ID != MINILM_ID
    assert out["heavy"] == [] and abs(out["norm"] - 1.0) < 1e-5

    report = doctor_model_report(env, tmp_path)
    assert (report["precision"], report["status"], report["path"]) == (
        "int8", "cached", str(model.directory))


def test_int8_vectors_are_close_to_fp32_and_independent_of_the_batch(
        fp32: OnnxEmbedder, int8: OnnxEmbedder) -> None:
    want = fp32.embed(VARIED)
    got = int8.embed(VARIED)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * want).sum(axis=1)
    assert cosine.min() >= MIN_COSINE, dict(zip(VARIED, cosine.tolist(), strict=True))
    # Really another model: this is why it has its own id.
    assert float(np.abs(got - want).max()) > 1e-3
    # Activations are quantized per run, so each text runs alone: the same vector
    # whatever else is embedded with it.
    for text, row in zip(VARIED, got, strict=True):
        assert np.array_equal(int8.embed([text])[0], row), text


@pytest.fixture
def restore_embedder() -> Iterator[None]:
    yield
    set_default_embedder(None)


def test_the_cache_keys_variants_apart_and_an_index_takes_one_model(
        fp32: OnnxEmbedder, int8: OnnxEmbedder, srd_dir: Path, tmp_path: Path,
        restore_embedder: None) -> None:
    pack = write_pack(srd_dir, tmp_path / "pack", SMALL_PACK)
    set_default_embedder(fp32)
    with Store.open(tmp_path / "q.db") as store:
        store.content.import_pack(pack, pack="srd")
        assert store.search.build().embedded > 0
        assert store.search("ray of frost", k=3, mode="vector")

        set_default_embedder(int8)
        # Querying the fp32 index with int8 vectors is refused (a query not asked before:
        # results are cached per index token) ...
        with pytest.raises(VectorSearchUnavailable, match="rebuild the index"):
            store.search("a frozen beam", k=3, mode="hybrid")
        # ... and so is adding int8 vectors to it: nothing is embedded.
        more = write_pack(srd_dir, tmp_path / "more", {"Spells": ["light", "mage-hand"]})
        store.content.import_pack(more, pack="more")
        with pytest.raises(VectorSearchUnavailable, match="holds vectors of"):
            store.search.build()
        with store.read() as conn:
            hashes = [str(r[0]) for r in conn.execute(
                f"SELECT text_hash FROM {index.CHUNKS_TABLE}")]
            cache = embedding_cache()
            assert cache.lookup(conn, INT8_MODEL_ID, hashes) == {}

        # A rebuild with int8 makes an int8 index; fp32 is the one refused now.
        store.projections.rebuild(["search_index"])
        hits = store.search("a cantrip that deals cold damage", k=3, mode="vector")
        assert ("spells", "ray-of-frost") in [(h.type, h.index) for h in hits]
        set_default_embedder(fp32)
        with pytest.raises(VectorSearchUnavailable, match="rebuild the index"):
            store.search("a healing spell", k=3, mode="vector")
        # Both variants' vectors are cached, each under its own model id, and differ.
        with store.read() as conn:
            fp32_rows = cache.lookup(conn, MINILM_ID, hashes)
            int8_rows = cache.lookup(conn, INT8_MODEL_ID, hashes)
    assert set(fp32_rows) == set(int8_rows) == set(hashes)
    assert all(fp32_rows[h] != int8_rows[h] for h in hashes)


def test_int8_finds_what_fp32_finds_but_one_boundary_question(
        real_store: Store, int8: OnnxEmbedder, srd_dir: Path, tmp_path: Path,
        restore_embedder: None) -> None:
    """Every labelled question fp32 answers in the top k (5, 10), vector and hybrid, on
    both halves, int8 answers too, except BOUNDARY in vector's top 5: int8's vector
    recall@5 on the held-back half IS lower by that one question (0.92 against 0.96),
    which is why int8 is not the default."""
    queries = load_queries(QUERIES)

    def misses(store: Store) -> dict[tuple[str, str, int], list[str]]:
        out = {}
        for half, part in zip(("tuning", "held back"), halves(queries), strict=True):
            for mode in ("vector", "hybrid"):
                for k in (5, 10):
                    q = evaluate(part, lambda t, m=mode, k=k: [
                        (h.type, h.index) for h in store.search(t, k=k, mode=m)], mode, k=k)
                    out[(half, mode, k)] = q.misses
        return out

    want = misses(real_store)
    set_default_embedder(int8)
    with Store.open(tmp_path / "int8.db") as store:
        store.content.import_pack(srd_dir, pack="srd")
        store.search.build()
        got = misses(store)
    print("\nmissed by fp32:", json.dumps({" ".join(map(str, k)): v for k, v in want.items()}),
          "\nmissed by int8:", json.dumps({" ".join(map(str, k)): v for k, v in got.items()}))
    for key, missed in got.items():
        allowed = set(want[key]) | ({BOUNDARY} if key[1:] == ("vector", 5) else set())
        assert set(missed) <= allowed, (key, missed, want[key])
        if key[1:] != ("vector", 5):
            assert len(missed) <= len(want[key]), key


def test_int8_without_the_onnx_embedder_is_an_error_not_a_silent_fp32(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from questlog.search.embedder import EmbeddingModelUnavailable, _configured_embedder

    monkeypatch.setenv("QUESTLOG_EMBEDDER", "sentence-transformers")
    monkeypatch.setenv("QUESTLOG_EMBEDDER_PRECISION", "int8")
    with pytest.raises(EmbeddingModelUnavailable, match="PRECISION=int8 needs the ONNX"):
        _configured_embedder()
    monkeypatch.setenv("QUESTLOG_EMBEDDER", "onnx")
    embedder = _configured_embedder()
    assert isinstance(embedder, OnnxEmbedder) and embedder.model_id == INT8_MODEL_ID
