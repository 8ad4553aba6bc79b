import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

from pcc.model_input import heading_context
from pcc.records import LABELS, read_jsonl
from tests.conftest import DEV_GOLD
from training.exporters.first_token import FirstTokenLayer, first_token_classifier


def test_first_token_copy_gives_the_same_logits_from_a_one_position_last_layer(tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint).eval()
    trimmed = first_token_classifier(model).eval()
    texts = [row["text"] for row in read_jsonl(DEV_GOLD)][:12]
    headings = [heading_context(["一、存在的问题"]) if i % 2 else None for i in range(len(texts))]
    # Headed and bare rows mixed, so the batch is padded and carries both token types.
    batch = tokenizer(texts, [h or "" for h in headings], padding=True, return_tensors="pt")
    last_shapes = []
    trimmed.base_model.encoder.layer[-1].register_forward_hook(lambda _m, _i, output: last_shapes.append(output.shape))
    with torch.inference_mode():
        expected, actual = model(**batch).logits, trimmed(**batch).logits
    assert batch["attention_mask"].min() == 0 and batch["input_ids"].shape[1] > 1
    assert torch.allclose(actual, expected, atol=1e-5)
    assert last_shapes == [(len(texts), 1, model.config.hidden_size)]
    assert not isinstance(model.base_model.encoder.layer[-1], FirstTokenLayer)  # the original is left whole
    assert dict(trimmed.named_parameters()).keys() == dict(model.named_parameters()).keys()


def test_unsupported_architecture_is_exported_whole_with_a_warning():
    config = DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=len(LABELS))
    model = DistilBertForSequenceClassification(config)
    with pytest.warns(UserWarning, match="distilbert"):
        assert first_token_classifier(model) is model
