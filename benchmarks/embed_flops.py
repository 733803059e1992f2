"""The fp32 embedder against this CPU's dense matrix-product ceiling (issue 15's 4x target).

Prints one JSON line. The SRD's cold-build chunk texts are tokenized as the ONNX embedder
tokenizes them and cut into its length-sorted batches; the encoder work of those batches
is counted in FLOP (all-MiniLM-L6-v2: 6 layers, width 384, feed-forward 1536: per
sequence of L tokens 2 * 6 * (L * (4 * 384^2 + 2 * 384 * 1536) + 2 * L^2 * 384)). Each
round then measures numpy's fp32 matrix product (2048 x 2048, and the feed-forward
layer's shape) as the reference ceiling, the ONNX fp32 embedder on every chunk, and on
a 384-chunk sample the plain sentence-transformers loop `benchmarks/search.py` uses
(batches of 64, warmed up first) beside the ONNX embedder: achieved GFLOP/s against the ceiling, and
the GFLOP/s that 4x the plain loop would take.
Usage: python benchmarks/embed_flops.py [--rounds 2] [--srd DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit, srd_dir
from search import _plain_loop_s

from questlog import Store
from questlog.search import building
from questlog.search.embedder import SentenceTransformerEmbedder, set_default_embedder
from questlog.search.onnx_embedder import MAX_BATCH, OnnxEmbedder, _batches

LAYERS, WIDTH, FEED_FORWARD = 6, 384, 1536


def encoder_flop(tokens: int) -> float:
    """FLOP of one sequence of `tokens` through the encoder (matrix products)."""
    per_layer = (tokens * (4 * WIDTH * WIDTH + 2 * WIDTH * FEED_FORWARD)
                 + 2 * tokens * tokens * WIDTH)
    return 2.0 * LAYERS * per_layer


def matmul_gflops(m: int, k: int, n: int, reps: int) -> float:
    a = np.random.rand(m, k).astype(np.float32)
    b = np.random.rand(k, n).astype(np.float32)
    a @ b
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2.0 * m * k * n * reps / (time.perf_counter() - started) / 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--srd", type=Path, default=None)
    args = parser.parse_args()
    onnx = OnnxEmbedder(precision="fp32")
    set_default_embedder(onnx)
    store = Store.open(Path(tempfile.mkdtemp(prefix="qlbench-flops-")) / "srd.db")
    store.content.import_pack(args.srd or srd_dir(), pack="srd")
    texts = list(building.plan(store).to_embed.values())
    store.close()
    lengths = [len(e.ids) for e in onnx.tokenizer().encode_batch(texts)]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    gflop = sum(encoder_flop(max(lengths[i] for i in b)) * len(b)
                for b in _batches(order, lengths, MAX_BATCH)) / 1e9
    sample = random.Random(7).sample(texts, min(384, len(texts)))
    sample_gflop = sum(encoder_flop(n) for n in
                       (len(e.ids) for e in onnx.tokenizer().encode_batch(sample))) / 1e9
    model = SentenceTransformerEmbedder().model()
    _plain_loop_s(model, sample[:64])  # warm: torch's first batches run slower
    onnx.embed(sample[:64])
    rounds = []
    for _ in range(args.rounds):
        ceiling = max(matmul_gflops(2048, 2048, 2048, 5), matmul_gflops(4096, 384, 1536, 20))
        started = time.perf_counter()
        onnx.embed(texts)
        all_s = time.perf_counter() - started
        plain = len(sample) / _plain_loop_s(model, sample)
        started = time.perf_counter()
        onnx.embed(sample)
        onnx_sample_s = time.perf_counter() - started
        rounds.append({
            "matmul_ceiling_gflops": round(ceiling, 1),
            "onnx_fp32_chunks_per_s": round(len(texts) / all_s, 1),
            "onnx_fp32_gflops": round(gflop / all_s, 1),
            "plain_loop_sample_chunks_per_s": round(plain, 1),
            "onnx_fp32_sample_chunks_per_s": round(len(sample) / onnx_sample_s, 1),
            "gflops_for_4x_plain_loop": round(4 * plain * sample_gflop / len(sample), 1),
        })
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    emit({"benchmark": "embed_flops", "chunks": len(texts), "mean_tokens": round(
        statistics.mean(lengths), 1), "cut_at_256": sum(1 for n in lengths if n >= 256),
        "gflop_cold_build": round(gflop, 1), "median": med, "rounds": rounds,
        "fp32_4x_within_ceiling": med["gflops_for_4x_plain_loop"] <= med["matmul_ceiling_gflops"],
        "load": [round(x, 2) for x in os.getloadavg()]})


if __name__ == "__main__":
    main()
