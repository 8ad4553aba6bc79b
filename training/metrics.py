"""Every score the project reports, in one place: per-class precision / recall / F1 and macro-F1, the
calibration of a model's confidence, and confusion-matrix plots. Used by `pcc label`'s report, `pcc train`'s
model selection, `pcc evaluate`, the export checks and the benchmarks."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pcc.records import LABELS

NO_LABEL = -1  # a prediction that gives no label (a garbled sentence): counted as a miss


def label_indices(labels: Sequence) -> np.ndarray:
    """LABELS indices of labels given as names, as indices, or as None for no label (`NO_LABEL`)."""
    return np.array([NO_LABEL if label is None else LABELS.index(label) if isinstance(label, str) else int(label)
                     for label in labels], dtype=int)


def classification_scores(gold: Sequence, predicted: Sequence) -> dict:
    """Macro-F1, accuracy and per-class precision / recall / F1 / support.

    Labels are names or LABELS indices; a predicted None is a miss. Macro-F1 averages the classes the gold
    labels hold, so a small check set without one class is not scored on it.
    """
    from sklearn.metrics import precision_recall_fscore_support

    gold, predicted = label_indices(gold), label_indices(predicted)
    every = list(range(len(LABELS)))
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=every, zero_division=0)
    present = [i for i in every if support[i]]
    return {
        "macro_f1": float(np.mean(f1[present])) if present else 0.0,
        "accuracy": float((gold == predicted).mean()) if len(gold) else 0.0,
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i, name in enumerate(LABELS)},
    }


def macro_f1(gold: Sequence, predicted: Sequence) -> float:
    return classification_scores(gold, predicted)["macro_f1"]


def calibration_scores(probs: np.ndarray, labels: Sequence, bins: int = 10) -> dict:
    """Accuracy, mean confidence, and the expected calibration error: over equal-width confidence bins, the
    gap between accuracy and mean confidence, weighted by the bin's share of sentences."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == label_indices(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
                for b in range(bins) if (which == b).any())
    return {"accuracy": float(correct.mean()), "mean_confidence": float(confidence.mean()),
            "calibration_error": float(error)}


def confusion_matrix(gold: Sequence, predicted: Sequence) -> np.ndarray:
    """Counts[gold label, predicted label] over LABELS; predictions without a label are left out."""
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for truth, guess in zip(label_indices(gold), label_indices(predicted)):
        if guess != NO_LABEL:
            matrix[truth, guess] += 1
    return matrix


def plot_confusions(matrices: dict[str, np.ndarray], path: str | Path, predicted_by: str = "predicted") -> None:
    """One confusion matrix per panel (title → matrix; rows gold, columns `predicted_by`), side by side, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, len(matrices), figsize=(5 * len(matrices), 4.4), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        ax.imshow(matrix, cmap="Blues")
        for (row, col), count in np.ndenumerate(matrix):
            ax.text(col, row, str(count), ha="center", va="center",
                    color="white" if count > matrix.max() / 2 else "black")
        ax.set_xticks(range(len(LABELS)), LABELS, rotation=30)
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel(predicted_by)
        ax.set_ylabel("gold label")
        ax.set_title(title)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
