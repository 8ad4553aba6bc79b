import shutil

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from pcc.model_input import TITLE_CONTEXT, heading_context
from pcc.records import read_jsonl
from serving.classifier import SentenceClassifier
from tests.conftest import DEV_GOLD, OUTSIDE_CORPUS_GOLD
from training.exporters.calibrated import CalibrationSettings, collect_statistics, quantize_calibrated
from training.exporters.onnx import _node_scopes, _quantize

CONTEXTS = [None, heading_context(["一、存在的问题"]), heading_context(["二、原因分析"], "究其原因，主要有以下几点："),
            TITLE_CONTEXT]


def probabilities(classifier, texts, contexts):
    return np.array([list(p.scores.values()) for p in classifier.classify(texts, contexts)])


def batch_dependence(bundle) -> float:
    """Largest change of a probability of the same sentences across batch sizes 1, 8 and 32, alone and mixed
    with other sentences (longer and shorter ones, so neighbours and padding change); labels must not move."""
    texts = [row["text"] for row in read_jsonl(DEV_GOLD)][:40]
    contexts = [CONTEXTS[i % len(CONTEXTS)] for i in range(len(texts))]
    others = [row["text"] for row in read_jsonl(OUTSIDE_CORPUS_GOLD)][:60]
    mixed_texts = [t for pair in zip(others, texts) for t in pair] + others[len(texts):]
    mixed_contexts = [c for pair in zip([None] * len(texts), contexts) for c in pair] + [None] * (len(others) - len(texts))
    positions = list(range(1, 2 * len(texts), 2))
    reference = probabilities(SentenceClassifier(bundle, device="cpu", precision="int8", batch_size=1), texts, contexts)
    largest = 0.0
    for batch_size in (1, 8, 32):
        classifier = SentenceClassifier(bundle, device="cpu", precision="int8", batch_size=batch_size)
        for result in (probabilities(classifier, texts, contexts),
                       probabilities(classifier, mixed_texts, mixed_contexts)[positions]):
            assert result.shape == reference.shape
            largest = max(largest, float(np.abs(result - reference).max()))
            if largest <= 1e-6:
                assert (result.argmax(1) == reference.argmax(1)).all()
    return largest


def test_shipped_int8_gives_a_sentence_the_same_result_however_it_is_batched(tiny_bundle, tmp_path):
    assert SentenceClassifier(tiny_bundle, device="cpu", precision="int8").batch_independent
    assert batch_dependence(tiny_bundle) <= 1e-6
    # The same check catches dynamic quantisation, whose ranges come from the batch (on this random tiny model its
    # probabilities are near-uniform, so they move by less than a trained model's).
    dynamic = tmp_path / "dynamic"
    shutil.copytree(tiny_bundle, dynamic)
    _quantize(tiny_bundle / "model.onnx", dynamic / "model.int8.onnx", {"per_channel": True},
              _node_scopes(tiny_bundle / "model.onnx"))
    assert batch_dependence(dynamic) > 1e-5


def one_matmul_graph(weight: np.ndarray, bias: np.ndarray) -> onnx.ModelProto:
    """x (batch, sequence, K) @ weight + bias, with an attention mask input as the model's has."""
    nodes = [helper.make_node("MatMul", ["x", "weight"], ["product"], name="projection"),
             helper.make_node("Add", ["product", "bias"], ["y"], name="bias_add")]
    graph = helper.make_graph(
        nodes, "one_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", weight.shape[0]]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", weight.shape[1]])],
        [numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _has_vnni() -> bool:
    try:
        flags = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return True
    return "avx512_vnni" in flags or "avx_vnni" in flags or "amx_int8" in flags


def activations(random, batch: int, spread: np.ndarray) -> np.ndarray:
    return (random.normal(size=(batch, 12, len(spread))) * spread + 0.3 * spread).astype(np.float32)


@pytest.mark.parametrize("outlier_ratio", [6.0, 1e9])
def test_per_channel_ranges_go_into_the_weights_and_an_outlier_channel_stays_fp32(tmp_path, outlier_ratio):
    random = np.random.default_rng(0)
    spread = np.ones(48, dtype=np.float32)
    spread[7] = 100.0  # one channel far wider than the rest, as in a fine-tuned BERT
    spread[16:40] = 0.05  # and many much narrower ones, which one range per tensor would flatten
    weight = random.normal(size=(48, 16)).astype(np.float32)
    bias = random.normal(size=16).astype(np.float32)
    source = tmp_path / "fp32.onnx"
    onnx.save(one_matmul_graph(weight, bias), source)
    feeds = [{"x": activations(random, 4, spread), "attention_mask": np.ones((4, 12), np.int64)} for _ in range(25)]
    settings = CalibrationSettings(outlier_ratio=outlier_ratio, sample_tokens=600)
    statistics = collect_statistics(source, feeds, 25 * 4 * 12, settings)
    assert list(statistics) == ["x"] and len(statistics["x"].sample) > 300
    target = tmp_path / "int8.onnx"
    done = quantize_calibrated(source, target, statistics, [], settings)

    int8_graph = onnx.load(target).graph
    ops = [node.op_type for node in int8_graph.node]
    assert "MatMulIntegerToFloat" in ops and done["int8_nodes"] == 1
    # The bias is added inside the int8 op: the Add that followed the MatMul is gone, and so is the fp32 weight.
    assert "bias_add" not in {node.name for node in int8_graph.node}
    assert {init.name for init in int8_graph.initializer}.isdisjoint({"weight", "bias"})
    assert done["outlier_channels"] == ({"x": [7]} if outlier_ratio < 100 else {})
    test = activations(random, 3, spread)
    mask = np.ones((3, 12), np.int64)
    exact = onnxruntime.InferenceSession(source).run(None, {"x": test, "attention_mask": mask})[0]
    int8 = onnxruntime.InferenceSession(target).run(None, {"x": test, "attention_mask": mask})[0]
    relative = np.abs(int8 - exact).max() / np.abs(exact).max()
    # A row's result is its own: the same row alone gives the same numbers.
    alone = onnxruntime.InferenceSession(target).run(None, {"x": test[1:2, 3:4], "attention_mask": mask[1:2, 3:4]})[0]
    assert np.abs(alone[0, 0] - int8[1, 3]).max() <= 1e-6 * np.abs(int8).max()
    if outlier_ratio < 100:
        # ONNX Runtime's u8s8 kernel on CPUs without VNNI (AVX2 only) adds pairs of products in saturating 16-bit
        # lanes, which costs precision here (seen: 0.0104 on such a CPU); with VNNI the products are exact.
        assert relative < (0.002 if _has_vnni() else 0.02)
    else:  # the wide channel's weights, scaled up, leave the others' weights few levels
        assert relative > 0.004


def test_an_attempts_max_outliers_replaces_the_calibration_settings(tmp_path):
    random = np.random.default_rng(3)
    spread = np.ones(48, dtype=np.float32)
    spread[7] = 100.0
    source = tmp_path / "fp32.onnx"
    onnx.save(one_matmul_graph(random.normal(size=(48, 16)).astype(np.float32), np.zeros(16, np.float32)), source)
    feeds = [{"x": activations(random, 4, spread), "attention_mask": np.ones((4, 12), np.int64)} for _ in range(10)]
    calibration = {"sample_tokens": 400, "max_outliers": 2}
    statistics = collect_statistics(source, feeds, 10 * 4 * 12, CalibrationSettings.from_settings(calibration))

    def fp32_matmuls(options):
        target = tmp_path / "int8.onnx"
        _quantize(source, target, options, _node_scopes(source), statistics, calibration)
        return [node.name for node in onnx.load(target).graph.node if node.op_type == "MatMul"]

    assert len(fp32_matmuls({"scheme": "calibrated"})) == 1  # the wide channel, beside the int8 product
    assert fp32_matmuls({"scheme": "calibrated", "max_outliers": 0}) == []


def test_a_matmul_kept_fp32_is_left_alone(tmp_path):
    random = np.random.default_rng(1)
    source = tmp_path / "fp32.onnx"
    onnx.save(one_matmul_graph(random.normal(size=(8, 4)).astype(np.float32), np.zeros(4, np.float32)), source)
    feeds = [{"x": activations(random, 2, np.ones(8)), "attention_mask": np.ones((2, 12), np.int64)}]
    statistics = collect_statistics(source, feeds, 24, CalibrationSettings())
    done = quantize_calibrated(source, tmp_path / "int8.onnx", statistics, ["projection"], CalibrationSettings())
    assert done["int8_nodes"] == 0 and done["fp32_nodes"] == ["projection"]
    assert [n.op_type for n in onnx.load(tmp_path / "int8.onnx").graph.node] == ["MatMul", "Add"]


def test_a_large_embedding_table_becomes_int8_rows_each_with_its_scale(tmp_path):
    random = np.random.default_rng(2)
    big = (random.normal(size=(5000, 16)) * random.uniform(0.1, 3.0, size=(5000, 1))).astype(np.float32)
    small = random.normal(size=(10, 16)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["big", "ids"], ["token"], name="token_embedding"),
             helper.make_node("Gather", ["small", "types"], ["kind"], name="type_embedding"),
             helper.make_node("Add", ["token", "kind"], ["y"])]
    graph = helper.make_graph(
        nodes, "embeddings",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("types", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", 16])],
        [numpy_helper.from_array(big, "big"), numpy_helper.from_array(small, "small")])
    source, target = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), source)
    quantize_calibrated(source, target, {}, [], CalibrationSettings())
    tables = {init.name: numpy_helper.to_array(init) for init in onnx.load(target).graph.initializer}
    assert tables["big.int8"].dtype == np.int8 and "big" not in tables
    assert tables["small"].dtype == np.float32  # a small table is not worth it
    ids = random.integers(0, 5000, size=(3, 7))
    types = random.integers(0, 10, size=(3, 7))
    exact, = onnxruntime.InferenceSession(source).run(None, {"ids": ids, "types": types})
    int8, = onnxruntime.InferenceSession(target).run(None, {"ids": ids, "types": types})
    half_step = np.abs(big[ids]).max(axis=-1, keepdims=True) / 127 / 2
    assert (np.abs(int8 - exact) <= half_step * 1.001 + 1e-6).all()
    assert np.abs(int8 - exact).max() > 0
