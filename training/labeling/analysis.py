"""Analysis of a vote matrix (rows = sentences, columns = labeling functions, -1 = abstain) and of labels
against gold: per-rule polarity, coverage, overlaps, conflicts and empirical accuracy; per-class scores;
a confusion-matrix plot. Nothing here knows about sentences or rules, only arrays."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pcc.records import LABELS

ABSTAIN_VOTE = -1


def polarity(votes: np.ndarray) -> list[list[int]]:
    """The labels each labeling function ever votes."""
    return [sorted(int(v) for v in np.unique(column) if v != ABSTAIN_VOTE) for column in votes.T]


def coverage(votes: np.ndarray) -> np.ndarray:
    """Fraction of rows on which each labeling function votes."""
    return (votes != ABSTAIN_VOTE).mean(axis=0) if len(votes) else np.zeros(votes.shape[1])


def total_coverage(votes: np.ndarray) -> float:
    """Fraction of rows on which at least one labeling function votes."""
    return float((votes != ABSTAIN_VOTE).any(axis=1).mean()) if len(votes) else 0.0


def overlaps(votes: np.ndarray) -> np.ndarray:
    """Fraction of rows on which each labeling function votes and at least one other votes too."""
    voted = votes != ABSTAIN_VOTE
    others = voted.sum(axis=1, keepdims=True) - voted
    return (voted & (others > 0)).mean(axis=0) if len(votes) else np.zeros(votes.shape[1])


def conflicts(votes: np.ndarray) -> np.ndarray:
    """Fraction of rows on which each labeling function votes and another votes a different label."""
    result = np.zeros(votes.shape[1])
    if not len(votes):
        return result
    for j in range(votes.shape[1]):
        mine = votes[:, j]
        other_votes = np.delete(votes, j, axis=1)
        disagree = ((other_votes != ABSTAIN_VOTE) & (other_votes != mine[:, None])).any(axis=1)
        result[j] = ((mine != ABSTAIN_VOTE) & disagree).mean()
    return result


def empirical_accuracy(votes: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per labeling function: accuracy on the gold rows it votes on (nan when none) and how many those are.

    `gold` holds a LABELS index per row, or -1 where the row has no gold label.
    """
    known = gold != ABSTAIN_VOTE
    voted = (votes != ABSTAIN_VOTE) & known[:, None]
    counts = voted.sum(axis=0)
    correct = ((votes == gold[:, None]) & voted).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(counts > 0, correct / np.maximum(counts, 1), np.nan)
    return accuracy, counts


def lf_summary(votes: np.ndarray, names: list[str], gold: np.ndarray | None = None) -> list[dict]:
    """One row per labeling function: polarity (label names), coverage, overlaps, conflicts[, accuracy]."""
    rows = []
    accuracy, counts = empirical_accuracy(votes, gold) if gold is not None else (None, None)
    for j, (name, labels) in enumerate(zip(names, polarity(votes))):
        row = {"name": name, "polarity": [LABELS[i] for i in labels], "coverage": float(coverage(votes)[j]),
               "overlaps": float(overlaps(votes)[j]), "conflicts": float(conflicts(votes)[j])}
        if gold is not None:
            row["accuracy"] = float(accuracy[j])
            row["gold_votes"] = int(counts[j])
        rows.append(row)
    return rows


def confusion_matrix(gold: list[str], predicted: list[str | None]) -> np.ndarray:
    """Counts[gold label, predicted label] over LABELS; unlabelled predictions are left out."""
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for truth, guess in zip(gold, predicted):
        if guess is not None:
            matrix[LABELS.index(truth), LABELS.index(guess)] += 1
    return matrix


def class_scores(gold: list[str], predicted: list[str | None]) -> dict:
    """Per-class precision/recall/F1/support and macro-F1; an unlabelled prediction counts as a miss."""
    scores = {}
    for label in LABELS:
        true_positive = sum(g == label and p == label for g, p in zip(gold, predicted))
        predicted_count = sum(p == label for p in predicted)
        support = sum(g == label for g in gold)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    present = [label for label in LABELS if scores[label]["support"]]
    scores["macro_f1"] = float(np.mean([scores[label]["f1"] for label in present])) if present else 0.0
    scores["accuracy"] = sum(g == p for g, p in zip(gold, predicted)) / len(gold) if gold else 0.0
    return scores


def plot_confusion(matrix: np.ndarray, path: str | Path, title: str) -> None:
    """Write the confusion matrix (rows gold, columns predicted) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4.2))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(LABELS)), LABELS, rotation=30)
    axes.set_yticks(range(len(LABELS)), LABELS)
    axes.set_xlabel("weak label")
    axes.set_ylabel("gold label")
    axes.set_title(title)
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            axes.text(j, i, str(matrix[i, j]), ha="center", va="center",
                      color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
