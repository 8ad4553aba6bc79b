"""The ONNX graph rewrite shared by the classifier's export (`training.exporters.onnx`) and the map's embedder
(`training.exporters.embedder`)."""
from __future__ import annotations

import warnings


def fuse_for_ort(graph):
    """ONNX Runtime's transformer kernels in place of their decomposed form (onnxscript rewrite rules).

    BiasGelu and MultiHeadAttention; deliberately not the packed `Attention` op, so the Q/K/V
    projections stay MatMuls that int8 quantisation reaches (1.2x faster int8 here). Residual adds and
    LayerNormalization stay apart: ONNX Runtime's CPU SkipLayerNormalization kernel is ~4x slower than
    the two (see `serving.classifier`, which keeps ORT from fusing them on the CPU). These kernels exist
    for the CPU and CUDA providers alike; the `pkg.torch.onnx.name_scopes` metadata that
    `exclude_modules` reads survives the rewrites.
    """
    from onnxscript import optimizer
    from onnxscript.rewriter import rewrite
    from onnxscript.rewriter.ort_fusions import ORT_PATTERN_REWRITE_RULES
    from onnxscript.rewriter.ort_fusions.bias_gelu import fuse_bias_gelu
    from onnxscript.rewriter.ort_fusions.erfgelu import fuse_erfgelu
    from onnxscript.rewriter.ort_fusions.mha import fuse_mha2
    from onnxscript.rewriter.ort_fusions.sdpa import fuse_sdpa

    optimizer.optimize(graph)
    fuse_erfgelu(graph)
    fuse_sdpa(graph, apply_shape_inference=True)  # the pattern MultiHeadAttention is fused from
    fused = {"MultiHeadAttention": fuse_mha2(graph), "BiasGelu": fuse_bias_gelu(graph)}
    optimizer.optimize(graph)
    rewrite(graph, ORT_PATTERN_REWRITE_RULES)
    if not all(fused.values()):
        missing = ", ".join(op for op, count in fused.items() if not count)
        warnings.warn(f"no {missing} fusion matched this architecture; the graph runs unfused there")
    return graph
