import numpy as np
import pytest

from pcc.errors import UserError
from training.labeling.label_model import (LearnedLabelModel, MajorityVote, covered, majority_class_balance,
                                           resolve_abstained)


def synthetic_votes(seed=0, n=3000):
    """Votes of rules with known accuracies on a known answer: (votes, truth, accuracies)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(4, size=n, p=[0.2, 0.15, 0.15, 0.5])
    accuracies = np.array([0.9, 0.85, 0.75, 0.65, 0.8, 0.7])
    coverages = [0.6, 0.5, 0.7, 0.6, 0.4, 0.5]
    votes = np.full((n, len(accuracies)), -1)
    for j, (accuracy, coverage) in enumerate(zip(accuracies, coverages)):
        voting = rng.random(n) < coverage
        correct = rng.random(n) < accuracy
        wrong = (truth + rng.integers(1, 4, size=n)) % 4
        votes[voting, j] = np.where(correct, truth, wrong)[voting]
    return votes, truth, accuracies


def test_majority_vote_counts_votes_and_breaks_ties_by_order():
    votes = np.array([[0, 0, 3], [1, 3, -1], [-1, -1, -1]])
    model = MajorityVote(tie_order=["cause", "problem", "countermeasure", "other"], smoothing=0.0)
    probs = model.fit(votes).predict_proba(votes)
    assert probs.argmax(axis=1)[:2].tolist() == [0, 1]
    assert probs[0, 0] == pytest.approx(2 / 3, abs=0.01)
    smoothed = MajorityVote(smoothing=0.5).predict_proba(np.array([[2, -1], [2, 2]]))
    assert smoothed[0, 2] == pytest.approx(0.5, abs=0.01) and smoothed[1, 2] == pytest.approx(2.5 / 4, abs=0.01)
    assert np.allclose(probs.sum(axis=1), 1)
    assert MajorityVote(tie_order=["other", "cause", "problem", "countermeasure"]).predict_proba(votes)[1].argmax() == 3
    with pytest.raises(UserError, match="tie_order"):
        MajorityVote(tie_order=["cause", "problem"])


def test_majority_vote_recovers_the_synthetic_answer():
    votes, truth, _ = synthetic_votes()
    mask = covered(votes)
    predicted = MajorityVote().predict_proba(votes).argmax(axis=1)
    assert (predicted[mask] == truth[mask]).mean() > 0.85


def test_learned_label_model_recovers_accuracies_and_the_answer_and_round_trips(tmp_path):
    votes, truth, accuracies = synthetic_votes()
    model = LearnedLabelModel(epochs=300, seed=0).fit(votes)
    assert np.abs(model.accuracies() - accuracies).max() < 0.08
    mask = covered(votes)
    probs = model.predict_proba(votes)
    assert np.allclose(probs.sum(axis=1), 1)
    assert (probs.argmax(axis=1)[mask] == truth[mask]).mean() > 0.88
    model.save(tmp_path / "lm.pkl")
    assert np.allclose(LearnedLabelModel.load(tmp_path / "lm.pkl").predict_proba(votes), probs)
    with pytest.raises(UserError, match="pcc label"):
        LearnedLabelModel.load(tmp_path / "missing.pkl")


def test_abstained_rows_get_the_fallback_with_or_without_its_label():
    votes = np.array([[2, -1], [-1, -1]])
    probs = np.array([[0.1, 0.1, 0.7, 0.1], [0.25, 0.25, 0.25, 0.25]])
    fallback = {"problem": 0.1, "cause": 0.1, "countermeasure": 0.1, "other": 0.7}
    new, labels = resolve_abstained(probs, votes, fallback, label_them=True)
    assert labels == ["countermeasure", "other"] and new[1].tolist() == [0.1, 0.1, 0.1, 0.7]
    _, labels = resolve_abstained(probs, votes, fallback, label_them=False)
    assert labels == ["countermeasure", None]


def test_class_balance_comes_from_majority_votes_with_a_floor():
    votes = np.array([[3, 3], [3, -1], [0, -1], [-1, -1]])
    balance = majority_class_balance(votes, floor=0.05)
    assert sum(balance) == pytest.approx(1)
    assert balance[3] > balance[0] > balance[1] > 0  # other twice as common as problem; cause only the floor
