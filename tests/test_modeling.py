import math

import numpy as np
import pytest
import torch

from pcc.model_card import HEADINGS_AND_LEAD, ModelCard
from pcc.model_input import heading_context
from pcc.records import LABELS
from training.modeling import (SoftLabelCollator, class_weights, encode, fit_prior_offsets, fit_temperature, load_model,
                               predict_proba, scale_logits, soft_cross_entropy, with_temperature)


def test_soft_cross_entropy_equals_hard_cross_entropy_on_one_hot_targets():
    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0], [0.0, 0.0, 3.0, 1.0]])
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 2]), 4).float()
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
    assert soft_cross_entropy(logits, one_hot).item() == pytest.approx(expected.item())


def test_soft_cross_entropy_follows_the_target_distribution_and_class_weights():
    logits = torch.zeros(1, 4)  # uniform prediction: every class has log-probability -log 4
    soft = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert soft_cross_entropy(logits, soft).item() == pytest.approx(math.log(4))
    weights = torch.tensor([2.0, 0.0, 1.0, 1.0])
    assert soft_cross_entropy(logits, soft, weights).item() == pytest.approx(math.log(4))  # 0.5*2 + 0.5*0
    # The loss is smallest where the prediction matches the soft target.
    matched = torch.log(torch.tensor([[0.5, 0.5, 1e-6, 1e-6]]))
    assert soft_cross_entropy(matched, soft) < soft_cross_entropy(logits, soft)


def test_class_weights_favour_rare_classes():
    soft = np.array([[0.9, 0.1, 0.0, 0.0]] * 8 + [[0.0, 0.0, 0.2, 0.8]] * 2)
    balanced = class_weights(soft, 1.0)
    assert balanced.argmax().item() == LABELS.index("countermeasure")  # least probability mass (0.4)
    assert balanced.argmin().item() == LABELS.index("problem")  # most (7.2)
    assert torch.allclose(class_weights(soft, 0.0), torch.ones(4))
    assert torch.allclose(class_weights(soft, 0.5), balanced.sqrt())


def test_encode_puts_the_heading_path_in_the_second_segment(tiny_checkpoint):
    tokenizer, _ = load_model(str(tiny_checkpoint))
    heading = ["二、原因分析", "（一）体制原因"]
    batch = encode(tokenizer, [("警力不足。", heading_context(heading)), ("警力不足。", None)], max_length=64)
    direct = tokenizer("警力不足。", heading_context(heading))["input_ids"]
    assert batch["input_ids"][0].tolist() == direct
    bare = tokenizer("警力不足。")["input_ids"]
    assert batch["input_ids"][1].tolist()[:len(bare)] == bare
    assert batch["attention_mask"][1].sum().item() == len(bare)  # the rest is padding
    long = encode(tokenizer, [("很长" * 100, "标题" * 100)], max_length=32)
    assert long["input_ids"].shape == (1, 32)


def test_collator_drops_the_context_and_the_lead_at_the_configured_rates(tiny_checkpoint):
    tokenizer, _ = load_model(str(tiny_checkpoint))
    rows = [{"text": "要加强队伍建设。", "context": "三、对策 ‖ 为此提出以下建议：", "headings": "三、对策",
             "soft_labels": [0.1, 0.1, 0.7, 0.1]}] * 400

    def tokens(context: str | None) -> int:
        return len(tokenizer("要加强队伍建设。", context)["input_ids"] if context else tokenizer("要加强队伍建设。")["input_ids"])

    names = {tokens(None): "bare", tokens("三、对策"): "headings", tokens(rows[0]["context"]): "lead"}
    assert len(names) == 3

    def shares(batch) -> dict[str, float]:
        shown = [names[n] for n in batch["attention_mask"].sum(1).tolist()]
        return {name: shown.count(name) / len(shown) for name in ("bare", "headings", "lead")}

    batch = SoftLabelCollator(tokenizer, ModelCard(max_length=64), heading_drop=0.3, seed=0, lead_drop=0.5)(rows)
    assert 0.22 < shares(batch)["bare"] < 0.38 and shares(batch)["headings"] == 0  # its card reads no lead to drop
    assert batch["labels"].shape == (400, 4)
    again = SoftLabelCollator(tokenizer, ModelCard(max_length=64), heading_drop=0.3, seed=0, lead_drop=0.5)(rows)
    assert torch.equal(again["input_ids"], batch["input_ids"])  # seeded
    reader = ModelCard(max_length=64, context=HEADINGS_AND_LEAD)
    with_leads = shares(SoftLabelCollator(tokenizer, reader, heading_drop=0.3, seed=0, lead_drop=0.5)(rows))
    assert 0.22 < with_leads["bare"] < 0.38 and 0.25 < with_leads["headings"] < 0.45 and with_leads["lead"] > 0.25
    never = SoftLabelCollator(tokenizer, ModelCard(max_length=64, use_heading=False), heading_drop=0.0, seed=0)
    assert shares(never(rows[:5]))["bare"] == 1


def test_collator_shows_the_headless_view_with_its_own_labels(tiny_checkpoint):
    tokenizer, _ = load_model(str(tiny_checkpoint))
    in_section, headless = [0.1, 0.7, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1]
    rows = [{"text": "社区民警人手严重不足。", "context": "一、原因 ‖ 工作量逐年增加。", "headings": "一、原因",
             "headless_context": "‖ 工作量逐年增加。", "soft_labels": in_section, "headless_labels": headless}] * 600

    def tokens(context: str | None) -> int:
        return len(tokenizer(rows[0]["text"], context)["input_ids"] if context else tokenizer(rows[0]["text"])["input_ids"])

    names = {tokens(None): "bare", tokens("一、原因"): "headings", tokens(rows[0]["context"]): "lead",
             tokens(rows[0]["headless_context"]): "headless"}
    assert len(names) == 4
    reader = ModelCard(max_length=64, context=HEADINGS_AND_LEAD)
    batch = SoftLabelCollator(tokenizer, reader, heading_drop=0.15, seed=0, lead_drop=0.2, headless_drop=0.2)(rows)
    shown = [names[n] for n in batch["attention_mask"].sum(1).tolist()]
    assert 0.15 < shown.count("headless") / len(shown) < 0.25 and 0.1 < shown.count("bare") / len(shown) < 0.2
    for view, labels in zip(shown, batch["labels"].tolist()):
        assert labels == pytest.approx(headless if view == "headless" else in_section)
    # A model that reads no leads has no headless view: the page's heading-less form is its lead.
    no_leads = SoftLabelCollator(tokenizer, ModelCard(max_length=64), heading_drop=0.15, seed=0, headless_drop=0.2)
    assert "headless" not in [names.get(n) for n in no_leads(rows)["attention_mask"].sum(1).tolist()]


def test_predict_proba_keeps_input_order(tiny_checkpoint):
    tokenizer, model = load_model(str(tiny_checkpoint))
    texts = ["短句。", "这是一个明显更长一些的句子，用来打乱长度排序。", "中等长度的句子。"]
    contexts = [heading_context(["一、问题"]), None, heading_context(["二、原因", "（一）"])]
    probs = predict_proba(model, tokenizer, texts, contexts, 64, batch_size=2)
    assert probs.shape == (3, 4) and np.allclose(probs.sum(1), 1, atol=1e-5)
    one_by_one = np.vstack([predict_proba(model, tokenizer, [t], [c], 64) for t, c in zip(texts, contexts)])
    assert np.allclose(probs, one_by_one, atol=1e-5)


def test_prior_offsets_recover_the_shift_that_made_the_target_means():
    generator = np.random.default_rng(1)
    logits = generator.normal(size=(500, 4)) * 2
    true_offsets = np.array([-0.5, 0.7, 0.0, -0.2])

    def softmax(values):
        values = np.exp(values - values.max(1, keepdims=True))
        return values / values.sum(1, keepdims=True)

    probs, target = softmax(logits), softmax(logits + true_offsets).mean(0)
    offsets = fit_prior_offsets(probs, target)
    assert np.allclose(offsets, true_offsets - true_offsets.mean(), atol=1e-3) and abs(offsets.sum()) < 1e-9
    assert np.allclose(softmax(np.log(probs) + offsets).mean(0), target, atol=1e-5)
    assert np.allclose(fit_prior_offsets(probs, probs.mean(0)), 0.0, atol=1e-9)  # means already equal: no shift


@pytest.mark.parametrize("spread, temperature", [(2.0, 0.4), (0.05, 0.02)])  # 0.02: a soup's flat logits
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(spread, temperature):
    generator = np.random.default_rng(0)
    logits = generator.normal(size=(4000, 4)) * spread
    sharp = np.exp(logits / temperature)
    labels = np.array([generator.choice(4, p=row / row.sum()) for row in sharp])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert fit_temperature(probs, labels) == pytest.approx(temperature, rel=0.08)
    rescaled = with_temperature(probs, temperature)
    assert np.allclose(rescaled, sharp / sharp.sum(1, keepdims=True), atol=1e-6)
    assert (rescaled.argmax(1) == probs.argmax(1)).all()


def test_scale_logits_divides_the_model_output_by_the_temperature(tiny_checkpoint):
    tokenizer, model = load_model(str(tiny_checkpoint))
    model.eval()
    batch = encode(tokenizer, [("警民关系紧张。", heading_context(["一、问题"])), ("要加强沟通。", None)], 64)
    with torch.no_grad():
        before = model(**batch).logits
        scale_logits(model, 0.25)
        after = model(**batch).logits
    assert torch.allclose(after, before / 0.25, atol=1e-5)
