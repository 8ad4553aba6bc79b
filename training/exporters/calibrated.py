"""Calibrated int8: a quantised model whose output for a sentence never depends on what shares its batch.

ONNX Runtime's dynamic quantisation takes each MatMul input's range from the whole batch, so a sentence's
probabilities move with its neighbours. Here every range is fixed in advance, measured on calibration inputs
built the way serving builds them (prepared corpus sentences in their context, and bare), so each token is
quantised by itself alone.

The ranges are per input channel, not per tensor: a fine-tuned BERT's MatMul inputs have a few channels whose
range is tens of times the others', and one range for the whole tensor leaves the rest a handful of levels.
A per-channel scale s_k cannot go into the integer product, but it can go into the weights: x_k / s_k is
quantised to uint8 (with a per-channel zero point), and W'[k, n] = s_k W[k, n] is quantised per output column
to int8, so that

    y[n] = ws[n] * sum_k (q_k - zp_k) Wq'[k, n] = ws[n] * sum_k q_k Wq'[k, n] - ws[n] * sum_k zp_k Wq'[k, n]

where the last term is a constant folded into the bias of ONNX Runtime's fused `MatMulIntegerToFloat` (with the
layer's own bias, when an Add of a constant bias follows the MatMul).

Folding s_k into the weights moves the activation's spread into them. Two things keep that from costing the
weights their precision:
- *outlier channels*: an input channel whose calibrated range is more than `outlier_ratio` times the median
  (at most `max_outliers` per tensor) is left out of the int8 product and multiplied in fp32 beside it;
- *smoothing*: the per-channel scales are s_k^a * max(s)^(1-a), with `a` chosen per tensor from `smoothing`
  by the smallest relative error of its MatMuls' outputs on a sample of calibration tokens (a = 1: fully per
  channel; 0: one scale for the tensor, as plain static quantisation).
Computing a scale and zero point per channel costs one multiply and one add per input value beside the
quantisation itself; measured on e5-small, this runs at 83-95 % of dynamic int8's speed. The token embedding table, most of
a small model's weights, is stored as int8 rows, each with its own scale (a weight-only quantisation, looked up
per token).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

MS_DOMAIN = "com.microsoft"


@dataclass
class ChannelStatistics:
    """What calibration saw of one MatMul input: per-channel minimum and maximum, and a sample of its tokens."""
    low: np.ndarray
    high: np.ndarray
    sample: np.ndarray  # tokens x channels
    # How it is quantised, once worked out, per the outlier setting that chose it (attempts may differ only there).
    plans: dict = field(default_factory=dict)


@dataclass
class CalibrationSettings:
    """The `calibration` block of configs/export.yaml."""
    max_inputs: int = 2000
    sample_tokens: int = 2048
    outlier_ratio: float = 6.0
    max_outliers: int = 2
    smoothing: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    seed: int = 0
    int8_embeddings: bool = True  # large embedding tables as int8 rows, each with its own scale (weights only)

    @classmethod
    def from_settings(cls, values: dict | None) -> "CalibrationSettings":
        values = dict(values or {})
        if "smoothing" in values:
            values["smoothing"] = tuple(float(a) for a in values["smoothing"])
        return cls(**values)


def quantizable_matmuls(model) -> list:
    """The MatMul nodes of an ONNX model whose second input is a constant 2-D weight matrix."""
    weights = {init.name: init for init in model.graph.initializer}
    return [node for node in model.graph.node
            if node.op_type == "MatMul" and node.input[1] in weights and len(weights[node.input[1]].dims) == 2]


def collect_statistics(graph: Path, feeds: Iterable[dict[str, np.ndarray]], total_tokens: int,
                       settings: CalibrationSettings) -> dict[str, ChannelStatistics]:
    """Run the fp32 graph on the calibration `feeds` and record every quantisable MatMul input, per channel,
    over the real (unpadded) tokens; `total_tokens` (real tokens in all feeds) sizes the token sample."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(graph)
    names = sorted({node.input[0] for node in quantizable_matmuls(model)})
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in names)
    options = ort.SessionOptions()
    # Basic optimisations only: the recorded tensors are graph outputs, which no fusion may swallow.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    del model
    random = np.random.default_rng(settings.seed)
    keep = min(1.0, settings.sample_tokens / max(total_tokens, 1))
    low: dict[str, np.ndarray] = {}
    high: dict[str, np.ndarray] = {}
    samples: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for feed in feeds:
        real = feed["attention_mask"].astype(bool)
        chosen = random.random(int(real.sum())) < keep
        for name, values in zip(names, session.run(names, feed)):
            if values.shape[:2] == real.shape:
                tokens, picked = values[real], chosen
            elif values.ndim == 3 and values.shape[1] == 1:  # a module that runs on the first position only
                tokens, picked = values[:, 0], random.random(len(values)) < keep
            else:
                raise ValueError(f"MatMul input {name} has shape {values.shape}, not (batch, sequence, channels)")
            low[name] = np.minimum(low[name], tokens.min(0)) if name in low else tokens.min(0)
            high[name] = np.maximum(high[name], tokens.max(0)) if name in high else tokens.max(0)
            samples[name].append(tokens[picked])
    if not low:
        raise ValueError("no calibration input")
    return {name: ChannelStatistics(low[name], high[name], np.concatenate(samples[name])) for name in names}


@dataclass
class _InputPlan:
    """How one MatMul input is quantised: its channel scales and zero points, and its fp32 outlier channels."""
    scale: np.ndarray
    zero_point: np.ndarray
    outliers: list[int]
    smoothing: float


def _plan_input(stats: ChannelStatistics, weights: list[np.ndarray], settings: CalibrationSettings) -> _InputPlan:
    low, high = np.minimum(stats.low, 0.0).astype(np.float64), np.maximum(stats.high, 0.0).astype(np.float64)
    spread = high - low
    median = float(np.median(spread))
    outliers = [int(k) for k in np.argsort(-spread, kind="stable")[:settings.max_outliers]
                if median > 0 and spread[k] > settings.outlier_ratio * median]
    sample = stats.sample.astype(np.float32)
    if outliers:  # they take no part in the int8 product
        low[outliers], high[outliers] = np.median(low), np.median(high)
        sample = sample.copy()
        sample[:, outliers] = 0.0
    finest = np.maximum(high - low, 1e-8) / 255.0
    inner = [w.astype(np.float64) for w in weights]
    for w in inner:
        w[outliers] = 0.0
    exact = [sample @ w.astype(np.float32) for w in inner]

    def channel_scales(smoothing: float) -> np.ndarray:
        return finest ** smoothing * finest.max() ** (1.0 - smoothing)

    def relative_error(smoothing: float) -> float:
        scale = channel_scales(smoothing)
        zero_point = np.clip(np.round(-low / scale), 0, 255)
        levels = (np.clip(np.round(sample / scale) + zero_point, 0, 255) - zero_point).astype(np.float32)
        error = 0.0
        for w, product in zip(inner, exact):
            column_scale, quantized = _quantize_columns(w * scale[:, None])
            approximate = levels @ (quantized * column_scale).astype(np.float32)
            error += float(((product - approximate) ** 2).sum() / max(float((product ** 2).sum()), 1e-30))
        return error

    if len(sample) and len(settings.smoothing) > 1:
        smoothing = min(settings.smoothing, key=relative_error)
    else:
        smoothing = max(settings.smoothing)
    scale = channel_scales(smoothing)
    zero_point = np.clip(np.round(-low / scale), 0, 255)
    return _InputPlan(scale.astype(np.float32), zero_point.astype(np.uint8), outliers, smoothing)


def _quantize_columns(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output column: (column scales, integer weights as float64)."""
    column_scale = np.maximum(np.abs(weights).max(axis=0), 1e-30) / 127.0
    return column_scale, np.clip(np.round(weights / column_scale), -127, 127)


def quantize_calibrated(source: Path, target: Path, statistics: dict[str, ChannelStatistics],
                        exclude_nodes: Iterable[str], settings: CalibrationSettings) -> dict:
    """Write `target`: `source` with every quantisable MatMul not in `exclude_nodes` replaced by its calibrated
    int8 form, and (`int8_embeddings`) its embedding tables int8 row by row. Returns what was done (`fp32_nodes`,
    `int8_nodes`, `outlier_channels`, `smoothing` per input)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(source)
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    quantizable = quantizable_matmuls(model)
    kept_fp32 = sorted({node.name for node in quantizable} & set(exclude_nodes))
    targets = [node for node in quantizable if node.name not in kept_fp32]
    consumers: dict[str, list] = {}
    for node in targets:
        consumers.setdefault(node.input[0], []).append(node)
    missing = sorted(set(consumers) - set(statistics))
    if missing:
        raise ValueError(f"no calibration statistics for MatMul input(s) {', '.join(missing)}")

    # An input's plan weighs the errors of all MatMuls that read it, kept fp32 or not, so that it is worked out
    # once and is the same in every attempt with the same outlier setting.
    readers: dict[str, list] = {}
    for node in quantizable:
        readers.setdefault(node.input[0], []).append(node)
    plans = {}
    for name in consumers:
        cached = statistics[name].plans
        if settings.max_outliers not in cached:
            cached[settings.max_outliers] = _plan_input(
                statistics[name], [numpy_helper.to_array(weights[n.input[1]]) for n in readers[name]], settings)
        plans[name] = cached[settings.max_outliers]
    initializers: list = []
    prepared: set[str] = set()
    nodes = []
    target_names = {node.name for node in targets}
    bias_adds = _bias_adds(graph, targets, weights)  # MatMul name -> the Add of its bias, folded into the int8 op
    folded = {add.name for add, _ in bias_adds.values()}
    for node in graph.node:
        if node.name in folded:
            continue
        if node.name not in target_names:
            nodes.append(node)
            continue
        name, plan = node.input[0], plans[node.input[0]]
        if name not in prepared:
            prepared.add(name)
            nodes += _quantize_input_nodes(name, plan, initializers)
        add, bias = bias_adds.get(node.name, (None, None))
        nodes += _int8_matmul_nodes(node, plan, numpy_helper.to_array(weights[node.input[1]]), initializers,
                                    bias=bias, outputs=list(add.output) if add is not None else None)

    replaced = {node.input[1] for node in targets} | {name for add, _ in bias_adds.values() for name in add.input}
    if settings.int8_embeddings:
        nodes, tables = _int8_embedding_nodes(nodes, weights, initializers)
        replaced |= tables
    still_used = {i for node in nodes for i in node.input}
    kept = [init for init in graph.initializer if init.name not in replaced or init.name in still_used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + initializers)
    if not any(opset.domain == MS_DOMAIN for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.save(model, target)
    return {
        "int8_nodes": len(targets),
        "fp32_nodes": kept_fp32,
        "outlier_channels": {name: plan.outliers for name, plan in plans.items() if plan.outliers},
        "smoothing": {name: plan.smoothing for name, plan in plans.items()},
    }


EMBEDDING_MIN_ROWS = 4096  # a Gather from a constant table at least this tall is an embedding worth int8


def _int8_embedding_nodes(nodes: list, weights: dict, initializers: list) -> tuple[list, set[str]]:
    """`nodes` with every Gather from a large constant table (the token embeddings) reading an int8 copy of the
    table instead, each row with its own scale: rows are looked up, never multiplied, so this depends on nothing
    but the token. Returns the nodes and the names of the tables replaced."""
    from onnx import helper, numpy_helper

    result, replaced = [], set()
    for node in nodes:
        table = weights.get(node.input[0]) if node.op_type == "Gather" else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if table is None or len(table.dims) != 2 or table.dims[0] < EMBEDDING_MIN_ROWS or axis != 0:
            result.append(node)
            continue
        values = numpy_helper.to_array(table).astype(np.float64)
        row_scale = np.maximum(np.abs(values).max(axis=1, keepdims=True), 1e-30) / 127.0
        name, rows = node.input[0], node.input[1]
        initializers += [numpy_helper.from_array(np.clip(np.round(values / row_scale), -127, 127).astype(np.int8),
                                                 f"{name}.int8"),
                         numpy_helper.from_array(row_scale.astype(np.float32), f"{name}.int8_row_scale")]
        result += [
            helper.make_node("Gather", [f"{name}.int8", rows], [f"{node.output[0]}.int8"], name=f"{node.name}.int8"),
            helper.make_node("Gather", [f"{name}.int8_row_scale", rows], [f"{node.output[0]}.scale"],
                             name=f"{node.name}.scale"),
            helper.make_node("Cast", [f"{node.output[0]}.int8"], [f"{node.output[0]}.float"], to=1,
                             name=f"{node.name}.float"),
            helper.make_node("Mul", [f"{node.output[0]}.float", f"{node.output[0]}.scale"], list(node.output),
                             name=f"{node.name}.dequantize"),
        ]
        replaced.add(name)
    return result, replaced


def _quantize_input_nodes(name: str, plan: _InputPlan, initializers: list) -> list:
    """uint8 codes of input `name`: round(x / s_k + zp_k), saturated; and its fp32 outlier channels."""
    from onnx import helper, numpy_helper

    initializers += [
        numpy_helper.from_array((1.0 / plan.scale).astype(np.float32), f"{name}.int8_inverse_scale"),
        numpy_helper.from_array(plan.zero_point.astype(np.float32), f"{name}.int8_zero_point"),
        numpy_helper.from_array(np.array(1.0, np.float32), f"{name}.int8_unit"),
        numpy_helper.from_array(np.array(0, np.uint8), f"{name}.int8_origin"),
    ]
    nodes = [
        helper.make_node("Mul", [name, f"{name}.int8_inverse_scale"], [f"{name}.int8_scaled"], name=f"{name}.int8_scale"),
        helper.make_node("Add", [f"{name}.int8_scaled", f"{name}.int8_zero_point"], [f"{name}.int8_shifted"],
                         name=f"{name}.int8_shift"),
        helper.make_node("QuantizeLinear", [f"{name}.int8_shifted", f"{name}.int8_unit", f"{name}.int8_origin"],
                         [f"{name}.int8"], name=f"{name}.int8_quantize"),
    ]
    if plan.outliers:
        initializers.append(numpy_helper.from_array(np.array(plan.outliers, np.int64), f"{name}.outlier_channels"))
        nodes.append(helper.make_node("Gather", [name, f"{name}.outlier_channels"], [f"{name}.outliers"], axis=-1,
                                      name=f"{name}.gather_outliers"))
    return nodes


def _bias_adds(graph, matmuls: list, weights: dict) -> dict[str, tuple]:
    """For each MatMul whose output goes only to an Add of a constant bias vector: (that Add, the bias)."""
    from onnx import numpy_helper

    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    outputs = {output.name for output in graph.output}
    found = {}
    for matmul in matmuls:
        product = matmul.output[0]
        followers = readers.get(product, [])
        if product in outputs or len(followers) != 1 or followers[0].op_type != "Add":
            continue
        add = followers[0]
        other = add.input[1] if add.input[0] == product else add.input[0]
        bias = weights.get(other)
        width = weights[matmul.input[1]].dims[1]
        if bias is not None and list(bias.dims) == [width]:
            found[matmul.name] = (add, numpy_helper.to_array(bias).astype(np.float64))
    return found


def _int8_matmul_nodes(node, plan: _InputPlan, weight: np.ndarray, initializers: list,
                       bias: np.ndarray | None = None, outputs: list[str] | None = None) -> list:
    """`node` (x @ W) as MatMulIntegerToFloat over the uint8 codes of x, plus x's outlier channels in fp32;
    `bias`, where given, is added inside the int8 op, whose result is then `outputs` (those of the bias Add)."""
    from onnx import helper, numpy_helper

    name, prefix = node.input[0], node.name
    outputs = outputs or list(node.output)
    scaled = weight.astype(np.float64) * plan.scale[:, None].astype(np.float64)
    scaled[plan.outliers] = 0.0
    column_scale, quantized = _quantize_columns(scaled)
    # sum_k zp_k * Wq[k, n] * ws[n], taken off every output: the codes carry the zero points.
    correction = -(plan.zero_point.astype(np.float64) @ quantized) * column_scale
    if bias is not None:
        correction = correction + bias
    initializers += [
        numpy_helper.from_array(quantized.astype(np.int8), f"{prefix}.int8_weight"),
        numpy_helper.from_array(column_scale.astype(np.float32), f"{prefix}.int8_column_scale"),
        numpy_helper.from_array(np.array(1.0, np.float32), f"{prefix}.int8_input_scale"),
        numpy_helper.from_array(correction.astype(np.float32), f"{prefix}.int8_zero_point_correction"),
    ]
    inputs = [f"{name}.int8", f"{prefix}.int8_weight", f"{prefix}.int8_input_scale", f"{prefix}.int8_column_scale",
              "", "", f"{prefix}.int8_zero_point_correction"]
    if not plan.outliers:
        return [helper.make_node("MatMulIntegerToFloat", inputs, outputs, name=f"{prefix}.int8", domain=MS_DOMAIN)]
    initializers.append(numpy_helper.from_array(weight[plan.outliers].astype(np.float32), f"{prefix}.outlier_weight"))
    return [
        helper.make_node("MatMulIntegerToFloat", inputs, [f"{prefix}.int8_part"], name=f"{prefix}.int8", domain=MS_DOMAIN),
        helper.make_node("MatMul", [f"{name}.outliers", f"{prefix}.outlier_weight"], [f"{prefix}.outlier_part"],
                         name=f"{prefix}.outliers"),
        helper.make_node("Add", [f"{prefix}.int8_part", f"{prefix}.outlier_part"], outputs,
                         name=f"{prefix}.int8_sum"),
    ]
