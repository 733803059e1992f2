"""Keeping the machine-learning libraries quiet unless the user asked to see them.

Loading the model through transformers prints a `Loading weights` progress bar,
torch's ONNX exporter prints tracer and deprecation warnings, and onnxruntime
logs graph-optimisation notices: none of it means anything to someone who
typed `questlog search`. `quiet()` silences all of that for a block; `--verbose`
(`set_verbose(True)`) lets it through.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator

_verbose = False


def set_verbose(verbose: bool) -> None:
    """Whether library output (warnings, progress bars, logs) is shown from now on."""
    global _verbose
    _verbose = verbose


def verbose() -> bool:
    return _verbose


def ort_log_severity() -> int:
    """onnxruntime's session log level: 2 (warnings) when verbose, else 3 (errors only)."""
    return 2 if _verbose else 3


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings, transformers' and huggingface_hub's bars and logs in this block."""
    if _verbose:
        yield
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    # Read by huggingface_hub (and through it transformers) when first imported; the
    # calls in _disable_progress_bars cover libraries imported before this block.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restore = _silence_loggers()
        try:
            yield
        finally:
            restore()


def _silence_loggers() -> Callable[[], None]:
    names = ("transformers", "sentence_transformers", "huggingface_hub", "torch.onnx",
             "onnxruntime", "root")
    levels = {name: logging.getLogger(name if name != "root" else None).level for name in names}
    for name in names:
        logging.getLogger(name if name != "root" else None).setLevel(logging.ERROR)
    undo_bars = _disable_progress_bars()

    def restore() -> None:
        for name, level in levels.items():
            logging.getLogger(name if name != "root" else None).setLevel(level)
        undo_bars()

    return restore


def _disable_progress_bars() -> Callable[[], None]:
    """Turn off transformers' and huggingface_hub's tqdm bars if they are imported."""
    undo: list[Callable[[], None]] = []
    tf_logging = sys.modules.get("transformers.utils.logging")
    if tf_logging is not None and tf_logging.is_progress_bar_enabled():
        tf_logging.disable_progress_bar()
        undo.append(tf_logging.enable_progress_bar)
    hub_utils = sys.modules.get("huggingface_hub.utils")
    if hub_utils is not None and not hub_utils.are_progress_bars_disabled():
        hub_utils.disable_progress_bars()
        undo.append(hub_utils.enable_progress_bars)

    def restore() -> None:
        for fn in undo:
            fn()

    return restore
