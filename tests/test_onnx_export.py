import ast
import json
import re
import shutil

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import yaml
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from pcc.bundle import read_bundle
from pcc.cli import main
from pcc.errors import UserError
from pcc.model_card import ModelCard, write_model_card
from pcc.model_input import TITLE_CONTEXT, heading_context
from pcc.records import LABELS, read_jsonl
from serving.classifier import SentenceClassifier
from tests.conftest import DEV_GOLD, OUTSIDE_CORPUS_GOLD, REPO
from training.exporters.first_token import FIRST_TOKEN_MODULES
from training.exporters.onnx import (MODULE_SCOPES, _expand_attempts, _node_scopes, _quantize, export_bundle,
                                     load_settings)

CONTEXTS = [None, heading_context(["一、存在的问题"]), heading_context(["三、对策", "（二）完善机制"]),
            TITLE_CONTEXT]


def test_bundle_is_self_contained_and_records_its_checks(tiny_bundle, tiny_checkpoint):
    assert sorted(p.name for p in tiny_bundle.iterdir()) == ["bundle.json", "embedder", "model.int8.onnx", "model.onnx",
                                                            "tokenizer.json"]
    bundle = json.loads((tiny_bundle / "bundle.json").read_text(encoding="utf-8"))
    assert bundle["labels"] == list(LABELS)
    assert (bundle["max_length"], bundle["use_heading"]) == (128, True)  # tiny_checkpoint has no pcc_model.json
    assert bundle["input_names"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert bundle["source_model"] == str(tiny_checkpoint.resolve())
    assert bundle["opset"] >= 17
    checks = bundle["checks"]
    sentences = len(list(read_jsonl(DEV_GOLD)))
    outside = len(list(read_jsonl(OUTSIDE_CORPUS_GOLD)))
    assert checks["gold"] == [str(DEV_GOLD), str(OUTSIDE_CORPUS_GOLD)]
    assert checks["sentences"] == sentences + outside
    assert checks["fp32_max_abs_prob_diff"] <= 1e-4
    assert 0 <= checks["int8_label_agreement"] <= 1 and isinstance(checks["int8_passed"], bool)
    assert checks["int8_attempts"][0]["options"] == bundle["settings"]["quantization_attempts"][0]
    # The int8 checks read every sentence of each gold file bare and in its paper's context.
    assert [(s["gold"], s["view"], s["sentences"]) for s in checks["int8_sets"]] == [
        (str(DEV_GOLD), "bare", sentences), (str(DEV_GOLD), "heading", sentences),
        (str(OUTSIDE_CORPUS_GOLD), "bare", outside), (str(OUTSIDE_CORPUS_GOLD), "heading", outside)]
    assert checks["int8_label_agreement"] == min(s["label_agreement"] for s in checks["int8_sets"])
    # Calibrated int8 by default, calibrated on the prepared corpus, and measured free of batch dependence.
    assert bundle["int8_scheme"] == "calibrated" == checks["int8_options"]["scheme"]
    assert checks["calibration"]["inputs"] > 300 and checks["calibration"]["tokens"] > 10 * checks["calibration"]["inputs"]
    assert checks["int8_batch_max_abs_prob_diff"] < 1e-6


def test_graphs_have_dynamic_batch_and_sequence_axes_and_int8_is_quantised(tiny_bundle):
    for name in ("model.onnx", "model.int8.onnx"):
        graph = onnx.load(tiny_bundle / name).graph
        for graph_input in graph.input:
            dims = graph_input.type.tensor_type.shape.dim
            assert [d.dim_param for d in dims] == ["batch", "sequence"]
    int8_nodes = onnx.load(tiny_bundle / "model.int8.onnx").graph.node
    ops = [node.op_type for node in int8_nodes]
    layers = 2  # tests/tiny_model.py
    # Every projection on all tokens is int8, from fixed ranges (nothing quantised from the batch at run time);
    # only the last layer's first-token modules (query, attention output, FFN in and out) stay fp32 MatMuls.
    assert ops.count("MatMulIntegerToFloat") == 6 * layers - len(FIRST_TOKEN_MODULES)
    assert "DynamicQuantizeLinear" not in ops and "DynamicQuantizeMatMul" not in ops
    fp32_matmuls = [n for n in int8_nodes if n.op_type == "MatMul" and not n.name.endswith(".outliers")]
    assert len(fp32_matmuls) == len(FIRST_TOKEN_MODULES)


def test_fp32_graph_uses_the_fused_transformer_kernels_and_keeps_projections_quantisable(tiny_bundle):
    ops = [node.op_type for node in onnx.load(tiny_bundle / "model.onnx").graph.node]
    layers = 2  # tests/tiny_model.py
    assert ops.count("MultiHeadAttention") == layers and ops.count("BiasGelu") == layers
    assert "SkipLayerNormalization" not in ops and ops.count("LayerNormalization") == 2 * layers + 1
    assert "Attention" not in ops and "Softmax" not in ops
    assert ops.count("MatMul") == 6 * layers  # Q, K, V, attention output, FFN in, FFN out: all reach int8


def test_onnx_fp32_matches_pytorch_within_1e_4(tiny_bundle, tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint).eval()
    texts = [row["text"] for row in read_jsonl(DEV_GOLD)][:30]
    contexts = [CONTEXTS[i % len(CONTEXTS)] for i in range(len(texts))]
    with torch.inference_mode():
        expected = np.stack([
            torch.softmax(model(**tokenizer(t, c, truncation=True, max_length=128,
                                            return_tensors="pt")).logits, -1)[0].numpy()
            for t, c in zip(texts, contexts)
        ])
    classifier = SentenceClassifier(tiny_bundle, device="cpu", precision="fp32", batch_size=8)
    actual = np.array([list(p.scores.values()) for p in classifier.classify(texts, contexts)])
    assert np.abs(actual - expected).max() < 1e-4


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(UserError, match="pcc train"):
        export_bundle(tmp_path / "no-model", tmp_path / "out")
    assert main(["export", "--model", str(tmp_path / "no-model")]) == 2
    assert "no fine-tuned model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_export_without_a_prepared_corpus_says_to_run_pcc_prepare(tiny_checkpoint, tmp_path, capsys):
    with pytest.raises(UserError, match=r"missing\.jsonl: no prepared sentences to calibrate int8 on.*pcc prepare"):
        export_bundle(tiny_checkpoint, tmp_path / "out", calibration=tmp_path / "missing.jsonl")
    assert main(["export", "--model", str(tiny_checkpoint), "--out", str(tmp_path / "out"),
                 "--calibration", str(tmp_path / "missing.jsonl"), "--no-store"]) == 2
    assert "pcc prepare" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("attempt, message", [
    ({"scheme": "static"}, r"attempt \d+: scheme 'static' is not one of calibrated, dynamic"),
    ({"scheme": "calibrated", "per_channel": True}, r"attempt \d+: per_channel do\(es\) not apply to the calibrated"),
    ({"scheme": "dynamic", "max_outliers": 0}, r"attempt \d+: max_outliers is a whole number .* this attempt is dynamic"),
    ({"scheme": "calibrated", "max_outliers": -1}, r"attempt \d+: max_outliers is a whole number"),
])
def test_a_bad_quantization_attempt_is_a_clear_error(tmp_path, attempt, message):
    settings = yaml.safe_load((REPO / "configs" / "export.yaml").read_text("utf-8"))
    settings["quantization_attempts"].append(attempt)
    path = tmp_path / "export.yaml"
    path.write_text(yaml.safe_dump(settings), "utf-8")
    with pytest.raises(UserError, match=rf"export.yaml: quantization {message}"):
        load_settings(path)


def quantize(bundle, target, options):
    return _quantize(bundle / "model.onnx", target, options, _node_scopes(bundle / "model.onnx"))


def int8_matmuls(path) -> int:
    return sum(node.op_type == "MatMulInteger" for node in onnx.load(path).graph.node)


def test_excluded_modules_keep_their_matmuls_fp32(tiny_bundle, tmp_path):
    options = {"per_channel": True, "op_types_to_quantize": ["MatMul"]}
    kept = quantize(tiny_bundle, tmp_path / "all.onnx", options)
    assert kept == []
    kept = quantize(tiny_bundle, tmp_path / "some.onnx",
                    {**options, "exclude_modules": [r".*encoder\.layer\.0\.output\.dense"]})
    assert kept
    assert int8_matmuls(tmp_path / "some.onnx") == int8_matmuls(tmp_path / "all.onnx") - 1


def test_one_fp32_module_of_becomes_one_attempt_per_matching_module_in_layer_order(tiny_bundle, tiny_checkpoint,
                                                                                   tmp_path):
    attempts = [{"per_channel": True}, {"per_channel": True, "exclude_modules": ["x"],
                                        "one_fp32_module_of": r".*encoder\.layer\.\d+\.output\.dense"}]
    expanded = _expand_attempts(attempts, _node_scopes(tiny_bundle / "model.onnx"))
    layers = AutoConfig.from_pretrained(tiny_checkpoint).num_hidden_layers
    assert expanded[0] == attempts[0] and len(expanded) == 1 + layers
    for layer, options in enumerate(expanded[1:]):
        module = re.escape(f"bert.encoder.layer.{layer}.output.dense")
        assert options == {"per_channel": True, "exclude_modules": ["x", module]}
    quantize(tiny_bundle, tmp_path / "none.onnx", expanded[0])
    quantize(tiny_bundle, tmp_path / "one.onnx", expanded[1])
    assert int8_matmuls(tmp_path / "one.onnx") == int8_matmuls(tmp_path / "none.onnx") - 1


def test_a_bad_module_pattern_is_a_clear_error(tmp_path):
    settings = yaml.safe_load((REPO / "configs" / "export.yaml").read_text("utf-8"))
    settings["quantization_attempts"].append({"one_fp32_module_of": "encoder.layer.(\\d+"})
    path = tmp_path / "export.yaml"
    path.write_text(yaml.safe_dump(settings), "utf-8")
    number = len(settings["quantization_attempts"])
    with pytest.raises(UserError, match=rf"export.yaml: quantization attempt {number}: .* is not a regular expression"):
        load_settings(path)


def test_first_token_modules_stay_fp32_and_the_last_layers_keys_and_values_do_not(tiny_bundle, tiny_checkpoint,
                                                                                    tmp_path):
    options = {"per_channel": True, "op_types_to_quantize": ["MatMul"]}
    quantize(tiny_bundle, tmp_path / "all.onnx", options)
    quantize(tiny_bundle, tmp_path / "kept.onnx", {**options, "keep_first_token_fp32": True})

    def fp32_matmul_modules(path):
        modules = set()
        for node in onnx.load(path).graph.node:
            if node.op_type == "MatMul":
                scopes = next((ast.literal_eval(p.value) for p in node.metadata_props if p.key == MODULE_SCOPES), [])
                modules.add(next((scope for scope in reversed(scopes) if scope.startswith("bert.")), None))
        return modules

    last = AutoConfig.from_pretrained(tiny_checkpoint).num_hidden_layers - 1
    added = fp32_matmul_modules(tmp_path / "kept.onnx") - fp32_matmul_modules(tmp_path / "all.onnx")
    assert added == {f"bert.encoder.layer.{last}.{name}" for name in FIRST_TOKEN_MODULES}


def test_last_layer_feed_forward_runs_on_the_first_position_only(tiny_bundle, tmp_path):
    graph = onnx.load(tiny_bundle / "model.onnx")
    gelu_outputs = [node.output[0] for node in graph.graph.node if node.op_type == "BiasGelu"]
    graph.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in gelu_outputs)
    onnx.save(graph, tmp_path / "probe.onnx")
    session = onnxruntime.InferenceSession(tmp_path / "probe.onnx", providers=["CPUExecutionProvider"])
    tokens = np.array([[2, 10, 11, 12, 13, 3]], dtype=np.int64)
    inputs = {"input_ids": tokens, "attention_mask": np.ones_like(tokens), "token_type_ids": np.zeros_like(tokens)}
    first_layer, last_layer = session.run(gelu_outputs, inputs)
    assert first_layer.shape[:2] == (1, 6) and last_layer.shape[:2] == (1, 1)


def test_the_bundle_carries_the_model_cards_offsets_for_sentences_given_alone(tiny_checkpoint, seed_sentences,
                                                                              tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, model)
    write_model_card(model, ModelCard(bare_offsets={"problem": -0.5, "cause": 0.7}))
    bundle = export_bundle(model, tmp_path / "onnx", gold=None, calibration=seed_sentences)
    assert read_bundle(bundle).card.bare_offsets == {"problem": -0.5, "cause": 0.7}
