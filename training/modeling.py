"""The classifier: loading it, presenting a sentence to it, the soft-label loss, batch prediction and
calibrating its confidence.

A sentence is segment A of the input; its context (`pcc.model_input`: the title marker, or the heading path and
the lead) is segment B when the heading is used and exists. Export and serving build the same pairs from the
same functions.
"""
from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

from pcc.model_card import ModelCard
from pcc.records import LABELS


def load_model(path: str, freeze_embeddings: bool = False, frozen_layers: int = 0):
    """Tokenizer and a 4-way sequence classifier from a local checkpoint (hub ids only with network access).

    Freezing the (large-vocabulary) embeddings and the lowest encoder layers saves most of the backward
    pass and optimizer work on a CPU; the upper layers and the head still adapt.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)}, ignore_mismatched_sizes=True,
    )
    if freeze_embeddings:
        model.base_model.embeddings.requires_grad_(False)
    for layer in model.base_model.encoder.layer[:frozen_layers]:
        layer.requires_grad_(False)
    return tokenizer, model


def encode(tokenizer, pairs: list[tuple[str, str | None]], max_length: int) -> dict[str, torch.Tensor]:
    """Tokenise sentence/heading pairs (a bare sentence where B is None), right-padded to the longest."""
    with_heading = [i for i, (_, heading) in enumerate(pairs) if heading]
    bare = [i for i, (_, heading) in enumerate(pairs) if not heading]
    rows: list[dict] = [{}] * len(pairs)
    if with_heading:
        encoded = tokenizer([pairs[i][0] for i in with_heading], [pairs[i][1] for i in with_heading],
                            truncation="longest_first", max_length=max_length)
        for n, i in enumerate(with_heading):
            rows[i] = {key: values[n] for key, values in encoded.items()}
    if bare:
        encoded = tokenizer([pairs[i][0] for i in bare], truncation=True, max_length=max_length)
        for n, i in enumerate(bare):
            rows[i] = {key: values[n] for key, values in encoded.items()}
    width = max(len(row["input_ids"]) for row in rows)
    pad_values = {"input_ids": tokenizer.pad_token_id}
    return {
        key: torch.tensor([row[key] + [pad_values.get(key, 0)] * (width - len(row[key])) for row in rows])
        for key in rows[0]
    }


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Noise-aware cross-entropy: the label model's probabilities are the target distribution.

    Each class term is scaled by its weight, so rare classes count as much as frequent ones; the batch mean
    keeps the scale independent of batch size.
    """
    log_probs = F.log_softmax(logits.float(), dim=-1)
    terms = -targets.float() * log_probs
    if class_weights is not None:
        terms = terms * class_weights.to(terms.device)
    return terms.sum(dim=-1).mean()


def class_weights(soft_labels: np.ndarray, power: float) -> torch.Tensor:
    """(mean mass / class mass) ** power, from the soft labels; power 0 = no weighting, 1 = fully balanced."""
    mass = np.asarray(soft_labels, dtype=np.float64).sum(axis=0) + 1e-6
    return torch.tensor((mass.mean() / mass) ** power, dtype=torch.float32)


class SoftLabelCollator:
    """Turns dataset rows into a padded batch with soft targets, showing each sentence in one of its views.

    Dropping the whole context (probability `heading_drop`) teaches the model to classify a bare sentence, as it
    gets when a caller has no headings; showing it as it would stand on a page without headings (`headless_drop`,
    for a model that reads leads: its lead alone, under the label the rules give it there) teaches it the
    openings, abstracts and heading-less pages of real text; dropping only the lead (`lead_drop`, of the rest)
    teaches it to work from headings alone. Its own seeded generator keeps runs reproducible.
    """

    def __init__(self, tokenizer, card: ModelCard, heading_drop: float, seed: int, lead_drop: float = 0.0,
                 headless_drop: float = 0.0):
        self.tokenizer = tokenizer
        self.max_length = card.max_length
        self.use_heading = card.use_heading
        self.heading_drop = heading_drop
        self.headless_drop = headless_drop if card.reads_leads else 0.0
        self.lead_drop = lead_drop if card.reads_leads else 0.0
        self.random = random.Random(seed)

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        views = [self._view(row) for row in rows]
        batch = encode(self.tokenizer, [(row["text"], context) for row, (context, _) in zip(rows, views)],
                       self.max_length)
        batch["labels"] = torch.tensor([labels for _, labels in views], dtype=torch.float32)
        return batch

    def _view(self, row: dict) -> tuple[str | None, list[float]]:
        """The context the row is shown with and its soft labels in that view."""
        draw = self.random.random()
        if not self.use_heading or draw < self.heading_drop:
            return None, row["soft_labels"]
        if draw < self.heading_drop + self.headless_drop:
            return row["headless_context"], row["headless_labels"]
        if self.lead_drop and self.random.random() < self.lead_drop:
            return row["headings"], row["soft_labels"]
        return row["context"], row["soft_labels"]


# Candidate temperatures, evenly spaced in log scale: fitting by grid search is deterministic and needs no solver.
# A soup of briefly trained members has flat logits (mean confidence 0.28): its temperature can lie below 0.05.
TEMPERATURES = np.exp(np.linspace(np.log(0.005), np.log(20.0), 1000))


def with_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T), from the probabilities softmax(logits): their logs differ from the logits by a
    constant per row, which softmax ignores."""
    scaled = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    scaled = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def predict_in_context(model, tokenizer, texts: list[str], contexts: list[str | None],
                       lead_free_contexts: list[str | None], card: ModelCard) -> np.ndarray:
    """`predict_proba` with each sentence's context, as the classifier reads it: where leaving out the lead changes
    the context (`lead_free_contexts[i]` differs from `contexts[i]`) and the card mixes a second reading in, the
    sentence is read without its lead too and the two are mixed (`ModelCard.with_lead_free_view`)."""
    probs = predict_proba(model, tokenizer, texts, contexts, card.max_length)
    twice = [i for i, (context, lead_free) in enumerate(zip(contexts, lead_free_contexts)) if context != lead_free]
    if twice and card.lead_free_weight:
        without_lead = predict_proba(model, tokenizer, [texts[i] for i in twice],
                                     [lead_free_contexts[i] for i in twice], card.max_length)
        probs[twice] = card.with_lead_free_view(probs[twice], without_lead)
    return probs


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature whose rescaled probabilities give the gold labels the lowest negative log-likelihood.

    Trained on soft labels, the model spreads its probability the way the label model does, so a label it
    gets right 85 % of the time comes with about 0.5 confidence; one temperature fixes that scale without
    changing any label.
    """
    rows = np.arange(len(labels))
    losses = [-np.log(np.clip(with_temperature(probs, t)[rows, labels], 1e-12, None)).mean() for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def fit_prior_offsets(probs: np.ndarray, target: np.ndarray, iterations: int = 500,
                      tolerance: float = 1e-6) -> np.ndarray:
    """Per-class offsets to the log-probabilities `probs` (rows × classes) after which their mean over the rows is
    `target`: a shift of the class prior, fitted with no labels (the EM prior adjustment of Saerens et al., 2002).
    Centred on zero, since softmax ignores a common shift."""
    log_probs = np.log(np.clip(probs, 1e-12, 1.0))
    offsets = np.zeros(probs.shape[1])
    for _ in range(iterations):
        shifted = np.exp(log_probs + offsets - (log_probs + offsets).max(axis=1, keepdims=True))
        shifted /= shifted.sum(axis=1, keepdims=True)
        step = np.log(np.clip(target, 1e-12, None) / np.clip(shifted.mean(axis=0), 1e-12, None))
        offsets += step
        if np.abs(step).max() < tolerance:
            break
    return offsets - offsets.mean()


def scale_logits(model, temperature: float) -> None:
    """Divide the output layer by the temperature, so the saved weights, and every export and service built
    from them, give calibrated probabilities with no extra step."""
    head = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == model.config.num_labels][-1]
    with torch.no_grad():
        head.weight /= temperature
        if head.bias is not None:
            head.bias /= temperature


@torch.inference_mode()
def predict_proba(model, tokenizer, texts: list[str], contexts: list[str | None], max_length: int,
                  batch_size: int = 32) -> np.ndarray:
    """Class probabilities (rows in input order, columns in LABELS order); a None context is a bare sentence."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pairs = list(zip(texts, contexts))
    # Sorting by length keeps padding, hence work, small; the result is put back in input order.
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1] or ""))
    probs = np.zeros((len(pairs), len(LABELS)), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = {k: v.to(device) for k, v in encode(tokenizer, [pairs[i] for i in chunk], max_length).items()}
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = model(**batch).logits
        probs[chunk] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    model.train(was_training)
    return probs
