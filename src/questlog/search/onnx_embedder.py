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
length under a token budget, so a batch pads little; a call of a few texts (a
search query) runs on a one-thread session, which on shared cores answers
sooner than threads waiting on each other. (Measured on the loaded shared 2
cores: one single-thread batch per core on parallel Python threads, or
2,048-token batches, were no faster than this within the noise.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .embedder import MINILM_DIM, MINILM_ID, SMALL_BATCH, EmbeddingModelUnavailable, clean_text
from .model_cache import MAX_TOKENS, MODEL_FILE, TOKENIZER_FILE, ModelExportFailed, ensure_model

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..settings import Settings

    FloatArray = npt.NDArray[np.float32]
    IntArray = npt.NDArray[np.int64]

BATCH_TOKENS = 8192  # padded tokens per session.run: larger batches gain nothing on 2 cores
MAX_BATCH = 64

_lock = threading.Lock()
_sessions: dict[tuple[str, int], Any] = {}
_tokenizers: dict[str, Any] = {}


class OnnxEmbedder:
    """Batched, normalized all-MiniLM-L6-v2 vectors from ONNX Runtime on CPU."""

    def __init__(self, *, model_dir: Path | None = None,
                 settings: Settings | None = None) -> None:
        self._model_dir = model_dir
        self._settings = settings

    @property
    def model_id(self) -> str:
        return MINILM_ID

    @property
    def dim(self) -> int:
        return MINILM_DIM

    @property
    def loaded(self) -> bool:
        directory = self._model_dir
        return directory is not None and any(key[0].startswith(str(directory))
                                             for key in _sessions)

    def model_dir(self) -> Path:
        """The export directory (exported now if it is not cached yet)."""
        if self._model_dir is None:
            try:
                self._model_dir = ensure_model(self._settings).directory
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

    def session(self, threads: int = 0) -> Any:
        """The ONNX session (threads=0: onnxruntime's default, one per core)."""
        path = str(self.model_dir() / MODEL_FILE)
        with _lock:
            session = _sessions.get((path, threads))
            if session is None:
                try:
                    import onnxruntime as ort
                except ImportError as exc:
                    raise EmbeddingModelUnavailable(
                        f"the ONNX embedder needs onnxruntime: {exc}") from exc
                from .library_noise import ort_log_severity

                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = ort_log_severity()
                try:
                    session = ort.InferenceSession(path, options,
                                                   providers=["CPUExecutionProvider"])
                except Exception as exc:  # a corrupt or foreign file in the cache
                    raise EmbeddingModelUnavailable(
                        f"could not load the ONNX model {path}: {exc}") from exc
                _sessions[(path, threads)] = session
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
        session = self.session(threads=1 if len(texts) <= SMALL_BATCH else 0)
        wanted = {i.name for i in session.get_inputs()}
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for rows in _batches(order, [len(e.ids) for e in encodings]):
            feeds = _pad([encodings[i].ids for i in rows], [encodings[i].type_ids for i in rows])
            out[rows] = session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
        return out


def _batches(order: list[int], lengths: list[int]) -> list[list[int]]:
    """Consecutive runs of `order` (ascending length) within the token budget."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so the newest text is the longest of its batch.
        if current and ((len(current) + 1) * lengths[i] > BATCH_TOKENS
                        or len(current) >= MAX_BATCH):
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
