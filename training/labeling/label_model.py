"""Label models: turn a vote matrix (sentences × labeling functions; -1 = abstain, else a LABELS index) into
probabilities over LABELS. `MajorityVote` counts votes; `LearnedLabelModel` is Snorkel's `LabelModel`, which
estimates each rule's accuracy from how the rules agree and disagree, without gold labels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pcc.errors import UserError
from pcc.records import LABELS
from training.labeling.lf import ABSTAIN

N_CLASSES = len(LABELS)


def covered(votes: np.ndarray) -> np.ndarray:
    """Rows where at least one labeling function voted."""
    return (votes != ABSTAIN).any(axis=1)


def vote_counts(votes: np.ndarray) -> np.ndarray:
    counts = np.zeros((votes.shape[0], N_CLASSES))
    for label in range(N_CLASSES):
        counts[:, label] = (votes == label).sum(axis=1)
    return counts


class MajorityVote:
    """Each non-abstaining vote counts once; a tie goes to the label listed first in `tie_order`.

    Probabilities are vote shares smoothed by `smoothing` pseudo-votes per label, so one vote is not
    certainty: with 0.5, a lone vote gives its label 0.5 and four agreeing votes give it 0.75.
    """

    name = "majority_vote"

    def __init__(self, tie_order: list[str] = LABELS, smoothing: float = 0.5):
        unknown = set(tie_order) - set(LABELS) or set(LABELS) - set(tie_order)
        if unknown:
            raise UserError(f"majority_vote.tie_order must list each of {', '.join(LABELS)} once")
        if smoothing < 0:
            raise UserError("majority_vote.smoothing must be 0 or more")
        self.smoothing = smoothing
        # Tiny bonuses that only matter between equal counts.
        self.bonus = np.array([1e-3 * (len(LABELS) - tie_order.index(label)) for label in LABELS])

    def fit(self, votes: np.ndarray) -> "MajorityVote":
        return self

    def predict_proba(self, votes: np.ndarray) -> np.ndarray:
        scores = vote_counts(votes) + self.smoothing + self.bonus
        return scores / scores.sum(axis=1, keepdims=True)


def majority_class_balance(votes: np.ndarray, floor: float = 0.02) -> list[float]:
    """Class shares of the majority-vote labels of voted rows. Snorkel otherwise assumes balanced classes,
    which on skewed data (half the sentences are other) costs it more than its accuracy weighting gains."""
    counts = vote_counts(votes)
    voted = counts.sum(axis=1) > 0
    shares = np.bincount(counts[voted].argmax(axis=1), minlength=N_CLASSES) / max(int(voted.sum()), 1)
    shares = np.maximum(shares, floor)
    return (shares / shares.sum()).tolist()


class LearnedLabelModel:
    """Snorkel 0.10's `LabelModel` (matrix-completion estimate of rule accuracies), fitted with a fixed seed."""

    name = "label_model"

    def __init__(self, epochs: int = 500, learning_rate: float = 0.01, l2: float = 0.0, seed: int = 0):
        self.epochs, self.learning_rate, self.l2, self.seed = epochs, learning_rate, l2, seed
        self.model = None

    def fit(self, votes: np.ndarray) -> "LearnedLabelModel":
        from snorkel.labeling.model import LabelModel

        self.model = LabelModel(cardinality=N_CLASSES, verbose=False)
        self.model.fit(votes, n_epochs=self.epochs, lr=self.learning_rate, l2=self.l2, seed=self.seed,
                       class_balance=majority_class_balance(votes), progress_bar=False)
        return self

    def predict_proba(self, votes: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("fit or load the label model before predicting")
        return self.model.predict_proba(votes)

    def accuracies(self) -> np.ndarray:
        """The estimated accuracy of each labeling function (a rule that never votes has none: ~0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.model.get_weights()

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.model.save(str(path))

    @classmethod
    def load(cls, path: str | Path) -> "LearnedLabelModel":
        from snorkel.labeling.model import LabelModel

        if not Path(path).is_file():
            raise UserError(f"{path}: no fitted label model; run `pcc label` first")
        instance = cls()
        instance.model = LabelModel(cardinality=N_CLASSES, verbose=False)
        instance.model.load(str(path))
        return instance


def resolve_abstained(probs: np.ndarray, votes: np.ndarray, fallback: dict[str, float], label_them: bool
                      ) -> tuple[np.ndarray, list[str | None]]:
    """Labels and probabilities, where rows without any vote get the fallback distribution and either its
    top label (`label_them`) or no label."""
    probs = probs.copy()
    labels: list[str | None] = [LABELS[i] for i in probs.argmax(axis=1)]
    for row in np.flatnonzero(~covered(votes)):
        probs[row] = [fallback[label] for label in LABELS]
        labels[row] = max(fallback, key=fallback.get) if label_them else None
    return probs, labels
