"""Analysis of a vote matrix (rows = sentences, columns = labeling functions, `ABSTAIN` where a rule abstains):
per-rule polarity, coverage, overlaps, conflicts and empirical accuracy against gold. Nothing here knows about
sentences or rules, only arrays; scores of labels against gold are `training.metrics`."""
from __future__ import annotations

import numpy as np

from pcc.records import LABELS
from training.labeling.lf import ABSTAIN


def polarity(votes: np.ndarray) -> list[list[int]]:
    """The labels each labeling function ever votes."""
    return [sorted(int(v) for v in np.unique(column) if v != ABSTAIN) for column in votes.T]


def coverage(votes: np.ndarray) -> np.ndarray:
    """Fraction of rows on which each labeling function votes."""
    return (votes != ABSTAIN).mean(axis=0) if len(votes) else np.zeros(votes.shape[1])


def total_coverage(votes: np.ndarray) -> float:
    """Fraction of rows on which at least one labeling function votes."""
    return float((votes != ABSTAIN).any(axis=1).mean()) if len(votes) else 0.0


def overlaps(votes: np.ndarray) -> np.ndarray:
    """Fraction of rows on which each labeling function votes and at least one other votes too."""
    voted = votes != ABSTAIN
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
        disagree = ((other_votes != ABSTAIN) & (other_votes != mine[:, None])).any(axis=1)
        result[j] = ((mine != ABSTAIN) & disagree).mean()
    return result


def empirical_accuracy(votes: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per labeling function: accuracy on the gold rows it votes on (nan when none) and how many those are.

    `gold` holds a LABELS index per row, or -1 where the row has no gold label.
    """
    known = gold >= 0
    voted = (votes != ABSTAIN) & known[:, None]
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

