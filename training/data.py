"""Weak labels + located gold sentences → the `datasets.DatasetDict` that fine-tuning and evaluation share.

Splits: `train` (clean sentences of papers without gold sentences), `dev` (clean sentences of the dev
papers, i.e. papers holding a gold sentence, each tagged with its cross-fitting fold) and `gold` (the gold
sentences with their corpus context and fold). Dev papers are never trained on while settings are chosen
on their gold sentences; a fold's model trains on `train` plus the other folds' `dev` rows.
"""
from __future__ import annotations

from typing import Mapping

from pcc.model_card import ModelCard
from pcc.model_input import model_inputs
from pcc.records import LABELS, Sentence
from training.augment import HeadlessView
from training.gold import GoldSentence
from training.labeling.weak_labels import WeakRow


def assign_folds(gold: list[GoldSentence], paper_ids: set[str], n_folds: int) -> dict[str, int]:
    """Dev paper → fold: papers with the most gold sentences first, each to the fold with fewest so far."""
    counts: dict[str, int] = {}
    for item in gold:
        if item.sentence.paper_id in paper_ids:
            counts[item.sentence.paper_id] = counts.get(item.sentence.paper_id, 0) + 1
    load = [0] * n_folds
    folds = {}
    for paper_id in sorted(counts, key=lambda p: (-counts[p], p)):
        fold = min(range(n_folds), key=lambda f: (load[f], f))
        folds[paper_id] = fold
        load[fold] += counts[paper_id]
    return folds


def build_dataset(weak_rows: list[WeakRow], gold: list[GoldSentence], folds: dict[str, int], card: ModelCard,
                  papers: list[Sentence], given_leads: Mapping[str, str | None] | None = None,
                  garbled_ids: set[str] = frozenset(), drop_abstained: bool = True,
                  headless: Mapping[str, HeadlessView] | None = None):
    """The DatasetDict {train, dev, gold}: garbled (and, if asked, all-abstained) sentences left out.

    A row's `context` is what the model of `card` reads of its sentence (`pcc.model_input.model_inputs`: its leads
    come from `papers`, the sentences of the papers the rows sit in, and from `given_leads`), and `headings` that
    context without the lead, as `lead_drop` shows it. `headless_context` and `headless_labels` are its view on a
    page without headings (`headless`, by sentence id; `headless_drop` shows it), or else its own context and
    labels: a heading, a made-up abstract's sentence and a sentence without a view read as they are."""
    from datasets import DatasetDict

    def sentence_columns(sentences: list[Sentence]) -> list[dict]:
        return [{"id": s.id, "paper_id": s.paper_id, "text": s.text, "context": read.context,
                 "headings": read.context_without_lead}
                for s, read in zip(sentences, model_inputs(card, sentences, papers, given_leads))]

    def weak_split(keep):
        kept = [w for w in weak_rows
                if keep(w.sentence.paper_id) and w.sentence.quality == "ok" and w.sentence.id not in garbled_ids
                and not (drop_abstained and w.label is None)]
        rows = [{**columns, "soft_labels": w.probs, "fold": folds.get(w.sentence.paper_id, -1),
                 **_headless_columns((headless or {}).get(w.sentence.id), columns["context"], w.probs)}
                for w, columns in zip(kept, sentence_columns([w.sentence for w in kept]))]
        return _dataset(rows, _weak_features())

    gold_rows = [{**columns, "label": LABELS.index(g.label), "line": g.line, "fold": folds.get(g.sentence.paper_id, -1)}
                 for g, columns in zip(gold, sentence_columns([g.sentence for g in gold]))]
    return DatasetDict({
        "train": weak_split(lambda paper_id: paper_id not in folds),
        "dev": weak_split(lambda paper_id: paper_id in folds),
        "gold": _dataset(gold_rows, _gold_features()),
    })


def _headless_columns(view: HeadlessView | None, context: str | None, probs: list[float]) -> dict:
    if view is None:
        return {"headless_context": context, "headless_labels": probs}
    return {"headless_context": view.context, "headless_labels": view.probs}


def concat(*parts):
    """One dataset of the rows of several (same columns)."""
    from datasets import concatenate_datasets
    return concatenate_datasets(list(parts))


def _dataset(rows: list[dict], features):
    from datasets import Dataset
    # Built by columns so that an empty split (no dev papers) still has its columns.
    return Dataset.from_dict({name: [row[name] for row in rows] for name in features}, features=features)


def _weak_features():
    from datasets import Features, List, Value
    return Features({"id": Value("string"), "paper_id": Value("string"), "text": Value("string"),
                     "context": Value("string"), "headings": Value("string"), "soft_labels": List(Value("float32")),
                     "headless_context": Value("string"), "headless_labels": List(Value("float32")),
                     "fold": Value("int32")})


def _gold_features():
    from datasets import Features, Value
    return Features({"id": Value("string"), "paper_id": Value("string"), "text": Value("string"),
                     "context": Value("string"), "headings": Value("string"), "label": Value("int32"), "line": Value("int32"),
                     "fold": Value("int32")})
