"""all-MiniLM-L6-v2 on ONNX Runtime + `tokenizers`: the embedder of queries and of the index.

The same computation as sentence-transformers (WordPiece with at most 256
tokens, the transformer, mean pooling over real tokens, L2 normalisation),
without importing torch, transformers or sentence-transformers: a fresh
process pays for the tokenizer, one ONNX session and the texts, nothing else.
The graph comes from the model cache (`model_cache`), exported once from the
installed weights; its fp32 vectors equal sentence-transformers' within 1e-4
(tests/search/test_onnx_embedder.py), so it shares model id, embedding cache
and index with the sentence-transformers embedder.

Texts are tokenized once, sorted by length and cut into batches of similar
length under a token budget, so a batch pads little. The session has one
intra-op thread; a large call (an index build) runs one batch per core at a
time, each on its own Python thread (onnxruntime releases the GIL in `run`),
longest batches first so the cores finish together; a small call (a search
query) runs on the calling thread alone. Batches are small (1,024 padded
tokens) so a layer's activations stay in cache. Measured on the shared 2
cores (interleaved, same texts): one thread per batch embeds ~1.45x as many
chunks per CPU-second as one session with 2 intra-op threads and 8,192-token
batches, whose threads wait for each other at every operator; 512-2,048
tokens are within 10 % of each other, 8,192 is ~25 % slower per CPU-second.

`precision="int8"` (QUESTLOG_EMBEDDER_PRECISION) runs the smoothed int8
variant instead (search/quantization.py), with its own model id, one text per
`run` (its activations are quantized per run, so a text's vector must not
depend on its batch-mates; with no padding at all this costs nothing).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .embedder import MINILM_DIM, MINILM_ID, SMALL_BATCH, EmbeddingModelUnavailable, clean_text
from .model_cache import (
    MAX_TOKENS,
    MODEL_FILE,
    TOKENIZER_FILE,
    ModelExportFailed,
    Precision,
    ensure_model,
)
from .quantization import INT8_MODEL_ID

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..settings import Settings

    FloatArray = npt.NDArray[np.float32]
    IntArray = npt.NDArray[np.int64]

BATCH_TOKENS = 1024  # padded tokens per session.run: a layer's activations stay in cache
MAX_BATCH = 64

_lock = threading.Lock()
_sessions: dict[str, Any] = {}
_tokenizers: dict[str, Any] = {}


def workers() -> int:
    """Batches run at once: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxEmbedder:
    """Batched, normalized all-MiniLM-L6-v2 vectors from ONNX Runtime on CPU."""

    def __init__(self, *, model_dir: Path | None = None, settings: Settings | None = None,
                 precision: Precision | None = None) -> None:
        if precision is None:
            from ..settings import load_settings

            precision = (settings or load_settings()).embedder_precision
        self._model_dir = model_dir
        self._settings = settings
        self.precision: Precision = precision
        # int8: one text per run (see the module doc).
        self._max_batch = MAX_BATCH if precision == "fp32" else 1

    @property
    def model_id(self) -> str:
        return MINILM_ID if self.precision == "fp32" else INT8_MODEL_ID

    @property
    def dim(self) -> int:
        return MINILM_DIM

    @property
    def loaded(self) -> bool:
        directory = self._model_dir
        return directory is not None and any(key.startswith(str(directory))
                                             for key in _sessions)

    def model_dir(self) -> Path:
        """The export directory (exported now if it is not cached yet)."""
        if self._model_dir is None:
            try:
                self._model_dir = ensure_model(self._settings,
                                               precision=self.precision).directory
            except ModelExportFailed as exc:
                raise EmbeddingModelUnavailable(str(exc)) from exc
        return self._model_dir

    def tokenizer(self) -> Any:
        path = str(self.model_dir() / TOKENIZER_FILE)
        with _lock:
            tokenizer = _tokenizers.get(path)
            if tokenizer is None:
                try:
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise EmbeddingModelUnavailable(
                        f"the ONNX embedder needs the tokenizers package: {exc}") from exc
                tokenizer = Tokenizer.from_file(path)
                # The file pads and truncates to 128; sentence-transformers reads 256 and
                # pads to the longest text of a batch (we pad per batch ourselves).
                tokenizer.enable_truncation(MAX_TOKENS)
                tokenizer.no_padding()
                _tokenizers[path] = tokenizer
            return tokenizer

    def session(self) -> Any:
        """The ONNX session: one intra-op thread, shared by every thread that embeds."""
        path = str(self.model_dir() / MODEL_FILE)
        with _lock:
            session = _sessions.get(path)
            if session is None:
                try:
                    import onnxruntime as ort
                except ImportError as exc:
                    raise EmbeddingModelUnavailable(
                        f"the ONNX embedder needs onnxruntime: {exc}") from exc
                from .library_noise import ort_log_severity

                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = ort_log_severity()
                try:
                    session = ort.InferenceSession(path, options,
                                                   providers=["CPUExecutionProvider"])
                except Exception as exc:  # a corrupt or foreign file in the cache
                    raise EmbeddingModelUnavailable(
                        f"could not load the ONNX model {path}: {exc}") from exc
                _sessions[path] = session
            return session

    def encode_batch(self, texts: Sequence[str]) -> dict[str, IntArray]:
        """Token ids, attention mask and type ids of `texts`, padded to the longest."""
        encodings = self.tokenizer().encode_batch([clean_text(t) for t in texts])
        return _pad([e.ids for e in encodings], [e.type_ids for e in encodings])

    def embed(self, texts: Sequence[str]) -> FloatArray:
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer().encode_batch([clean_text(t) for t in texts])
        session = self.session()
        wanted = {i.name for i in session.get_inputs()}
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        # Longest last in the list, popped first: the last batches to start are the
        # short ones, so no core idles long while another finishes a 256-token batch.
        pending = _batches(order, [len(e.ids) for e in encodings], self._max_batch)
        taking = threading.Lock()
        failed: list[BaseException] = []

        def work() -> None:
            while True:
                with taking:
                    if not pending or failed:
                        return
                    rows = pending.pop()
                feeds = _pad([encodings[i].ids for i in rows],
                             [encodings[i].type_ids for i in rows])
                try:
                    out[rows] = session.run(None, {k: v for k, v in feeds.items()
                                                   if k in wanted})[0]
                except BaseException as exc:  # re-raised in the calling thread
                    failed.append(exc)
                    return

        extra = min(workers(), len(pending)) - 1 if len(texts) > SMALL_BATCH else 0
        helpers = [threading.Thread(target=work, name="questlog-embed", daemon=True)
                   for _ in range(extra)]
        for helper in helpers:
            helper.start()
        work()  # the calling thread takes batches too
        for helper in helpers:
            helper.join()
        if failed:
            raise failed[0]
        return out


def _batches(order: list[int], lengths: list[int],
             max_batch: int = MAX_BATCH) -> list[list[int]]:
    """Consecutive runs of `order` (ascending length) within the token budget."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so the newest text is the longest of its batch.
        if current and ((len(current) + 1) * lengths[i] > BATCH_TOKENS
                        or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _pad(ids: list[list[int]], type_ids: list[list[int]]) -> dict[str, IntArray]:
    import numpy as np

    width = max(len(row) for row in ids)
    input_ids = np.zeros((len(ids), width), dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    types = np.zeros((len(ids), width), dtype=np.int64)
    for r, row in enumerate(ids):
        input_ids[r, :len(row)] = row
        mask[r, :len(row)] = 1
        types[r, :len(row)] = type_ids[r]
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": types}
