"""benchmarks/engine_options.py: the graph with encoder layers dropped computes what the PyTorch model without those
layers computes, and the default option reads a sentence exactly as `pcc predict` does."""
import importlib.util
import sys

import numpy as np

from tests.conftest import REPO, SEED_CORPUS


def load_script():
    spec = importlib.util.spec_from_file_location("engine_options", REPO / "benchmarks" / "engine_options.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_dropping_a_layer_matches_pytorch_without_it(tmp_path, tiny_checkpoint, tiny_bundle):
    import onnx
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from serving.classifier import SentenceClassifier

    script = load_script()
    for name in ("bundle.json", "tokenizer.json"):
        (tmp_path / name).symlink_to(tiny_bundle / name)
    script.drop_layers(tiny_bundle / "model.onnx", tmp_path / "model.onnx", [0])
    texts, contexts = ["民警宗旨意识淡薄，服务意识不强。", "加强警民沟通。"], ["一、存在的问题", None]
    dropped = np.array([list(p.scores.values()) for p in
                        SentenceClassifier(tmp_path, device="cpu", precision="fp32").classify(texts, contexts)])

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)

    def torch_probabilities(model) -> np.ndarray:
        with torch.inference_mode():
            return np.array([torch.softmax(model(**tokenizer(text, context, return_tensors="pt")).logits, -1)[0].numpy()
                             for text, context in zip(texts, contexts)])

    full = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint).eval()
    without_first = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint).eval()
    without_first.bert.encoder.layer = without_first.bert.encoder.layer[1:]
    error = np.abs(dropped - torch_probabilities(without_first)).max()
    # The random tiny model's probabilities are all near 1/4, so a layer moves them little; but far more than that.
    assert error < 1e-6
    assert np.abs(dropped - torch_probabilities(full)).max() > 100 * error
    assert sorted(script.layer_outputs(onnx.load(tmp_path / "model.onnx").graph)) == [-1, 1]  # embeddings, layer 1


def test_options_build_the_context_pcc_predict_builds_or_a_shorter_one():
    from pcc.documents import load_document
    from pcc.model_card import HEADINGS_AND_LEAD, ModelCard
    from pcc.model_input import HEADING_SEPARATOR, LEAD_SEPARATOR, model_inputs

    script = load_script()
    sentences = [s for paper in load_document(SEED_CORPUS) for s in paper.sentences]
    inputs = model_inputs(ModelCard(context=HEADINGS_AND_LEAD), sentences)
    items = [script.Item(i.text, tuple(s.heading_path), i.lead, s.is_title) for s, i in zip(sentences, inputs)]
    contexts = {name: script.inputs(items, script.OPTIONS[name])[1] for name in ("default", "no lead", "innermost heading")}
    assert contexts["default"] == [i.context for i in inputs]
    assert any(LEAD_SEPARATOR in c for c in contexts["default"] if c)
    assert any(HEADING_SEPARATOR in c for c in contexts["default"] if c)
    assert not any(LEAD_SEPARATOR in c for c in contexts["no lead"] if c)
    assert not any(HEADING_SEPARATOR in c.partition(LEAD_SEPARATOR)[0] for c in contexts["innermost heading"] if c)
    assert sum(c is None for c in contexts["innermost heading"]) == sum(c is None for c in contexts["default"])
