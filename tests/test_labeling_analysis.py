import numpy as np
import pytest

from training.labeling import analysis

# 4 sentences × 3 rules; -1 = ABSTAIN; labels are LABELS indices (0 problem, 1 cause, 2 countermeasure, 3 other).
VOTES = np.array([
    [0, 0, -1],
    [0, 1, -1],
    [-1, -1, 3],
    [-1, 2, -1],
])


def test_polarity_coverage_overlaps_conflicts_by_hand():
    assert analysis.polarity(VOTES) == [[0], [0, 1, 2], [3]]
    assert analysis.coverage(VOTES).tolist() == [0.5, 0.75, 0.25]
    assert analysis.total_coverage(VOTES) == 1.0
    assert analysis.overlaps(VOTES).tolist() == [0.5, 0.5, 0.0]
    assert analysis.conflicts(VOTES).tolist() == [0.25, 0.25, 0.0]


def test_empirical_accuracy_uses_only_rows_with_gold():
    gold = np.array([0, 1, -1, 3])
    accuracy, counts = analysis.empirical_accuracy(VOTES, gold)
    assert counts.tolist() == [2, 3, 0]
    assert accuracy[0] == 0.5 and accuracy[1] == pytest.approx(2 / 3) and np.isnan(accuracy[2])
    rows = analysis.lf_summary(VOTES, ["a", "b", "c"], gold)
    assert rows[1]["polarity"] == ["problem", "cause", "countermeasure"] and rows[1]["gold_votes"] == 3

