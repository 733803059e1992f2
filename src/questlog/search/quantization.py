"""The int8 variant of the ONNX model: smoothed, dynamically quantized, made once from fp32.

`QUESTLOG_EMBEDDER_PRECISION=int8` embeds with this graph instead of the fp32
export. It is made offline from the cached fp32 export (itself made from the
installed weights), checked, and cached beside it (`model_cache`):

1. **Smoothing** (SmoothQuant, alpha 0.5). The inputs of the QKV projections,
   the attention output projections and the first feed-forward layers have a
   few channels ~15x larger than the rest (channel 99, 63, 223 ...), so one
   int8 scale per activation tensor rounds the ordinary channels to a handful
   of steps. Each such input is multiplied by 1/s per channel (a `Mul` node)
   and the weight rows by s, which leaves the fp32 graph's result unchanged
   and moves part of the range into the weights, which are quantized per
   output channel. s = max|x|^0.5 / max|w|^0.5 per input channel, with max|x|
   measured on the paragraphs of the model card shipped with the weights
   (README.md; the export's probe texts when it is absent). Smoothing the
   second feed-forward layers (GELU outputs) made things worse and is not done.
2. **Dynamic int8** (onnxruntime `quantize_dynamic`): int8 weights per output
   channel, uint8 activations quantized per `run` from their own range, on
   every MatMul and fused Attention except the first layer's second
   feed-forward MatMul (the largest activation outliers of all; kept fp32).

On 300 SRD chunks this graph's vectors have mean cosine 0.997 (min 0.993) to
the fp32 ones, against 0.994 (min 0.987) for plain dynamic int8, and it embeds
~2x the chunks per CPU-second of fp32 (50 against 23 on the shared 2 cores).
Its vectors are not fp32's, so it has its own model id (`INT8_MODEL_ID`): the
embedding cache keys them apart and an index built by one variant is never
queried or updated by the other.
Activations are quantized per `run` over the whole batch, so the int8 embedder
runs one text per `run`: a text's vector never depends on its batch-mates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .embedder import MINILM_ID

QUANT_VERSION = 1  # bump when the recipe changes: it is part of the model id and cache dir
# The int8 vectors' model id (embedding cache key, index state): never fp32's.
INT8_MODEL_ID = f"{MINILM_ID}@int8-q{QUANT_VERSION}"
SMOOTH_ALPHA = 0.5
# Which MatMul/Attention inputs are smoothed (by node name), and which MatMuls stay fp32.
SMOOTHED = ("Attention", "attention/output/dense", "intermediate/dense")
KEPT_FP32 = ("layer.0/output/dense",)
# The int8 vectors must stay this close (cosine to fp32, every probe text) or the
# quantized file is refused.
MIN_COSINE = 0.98


def calibration_texts(source: Path, fallback: Sequence[str]) -> list[str]:
    """The model card's paragraphs (shipped with the weights), else `fallback`."""
    card = source / "README.md"
    if card.exists():
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", card.read_text(encoding="utf-8"))
                      if len(p.strip()) > 40]
        if paragraphs:
            return paragraphs
    return [t for t in fallback if t]


def quantize(fp32_model: Path, out: Path, texts: Sequence[str], encode: Any) -> dict[str, Any]:
    """Write the smoothed int8 graph of `fp32_model` to `out`; what was done, for the manifest.

    `encode(text)` gives the fp32 graph's inputs for one text (the embedder's tokenizer).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    maxima = _activation_maxima(fp32_model, texts, encode)
    smoothed = out.with_name(out.stem + "-smoothed.onnx")
    model = onnx.load(str(fp32_model))
    names = _smooth(model, maxima)
    onnx.save(model, str(smoothed))
    kept = [n.name for n in model.graph.node
            if n.op_type == "MatMul" and any(k in n.name for k in KEPT_FP32)]
    try:
        quantize_dynamic(str(smoothed), str(out), per_channel=True,
                         weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Attention"],
                         nodes_to_exclude=kept,
                         # The fused contrib ops hide their output types from shape inference.
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        smoothed.unlink(missing_ok=True)
    return {"quant_version": QUANT_VERSION, "smooth_alpha": SMOOTH_ALPHA,
            "smoothed_nodes": len(names), "kept_fp32": kept, "calibration_texts": len(texts),
            "weights": "int8 per output channel", "activations": "uint8 dynamic, per run"}


def _activation_maxima(fp32_model: Path, texts: Sequence[str], encode: Any) -> dict[str, Any]:
    """max |x| per input channel of every smoothed node, over `texts` (one run each)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(fp32_model))
    inputs = {n.name: n.input[0] for n in model.graph.node
              if n.op_type in ("MatMul", "Attention") and any(s in n.name for s in SMOOTHED)}
    for tensor in sorted(set(inputs.values())):
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    tensors = sorted(set(inputs.values()))
    seen: dict[str, Any] = {}
    for text in texts:
        feeds = {k: v for k, v in encode(text).items() if k in wanted}
        for tensor, value in zip(tensors, session.run(tensors, feeds), strict=True):
            top = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            seen[tensor] = np.maximum(seen[tensor], top) if tensor in seen else top
    return {name: seen[tensor] for name, tensor in inputs.items()}


def _smooth(model: Any, maxima: dict[str, Any]) -> list[str]:
    """x W = (x / s)(s W): a Mul by 1/s before each node, its weight rows times s."""
    import numpy as np
    from onnx import helper, numpy_helper

    weights = {i.name: i for i in model.graph.initializer}
    nodes = []
    done = []
    for node in model.graph.node:
        if node.name in maxima and node.input[1] in weights:
            init = weights[node.input[1]]
            w = numpy_helper.to_array(init)
            x_max = np.maximum(maxima[node.name], 1e-5)
            w_max = np.maximum(np.abs(w).max(axis=1), 1e-5)
            s = (x_max ** SMOOTH_ALPHA / w_max ** (1 - SMOOTH_ALPHA)).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32),
                                                  init.name))
            inverse = numpy_helper.from_array((1.0 / s).astype(np.float32),
                                              f"{node.name}_smooth_inverse")
            model.graph.initializer.append(inverse)
            smoothed = f"{node.input[0]}_smoothed_for_{node.name}"
            nodes.append(helper.make_node("Mul", [node.input[0], inverse.name], [smoothed],
                                          name=f"{node.name}_smooth"))
            node.input[0] = smoothed
            done.append(node.name)
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return done
