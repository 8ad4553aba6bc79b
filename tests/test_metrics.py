import numpy as np
import pytest

from pcc.records import LABELS
from training import metrics


def test_class_scores_count_a_missing_label_as_a_miss():
    gold = ["problem", "problem", "cause", "other"]
    predicted = ["problem", "cause", "cause", None]
    scores = metrics.classification_scores(gold, predicted)
    per_class = scores["per_class"]
    assert per_class["problem"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert per_class["cause"]["precision"] == 0.5 and per_class["cause"]["recall"] == 1.0
    assert per_class["other"]["f1"] == 0.0  # unlabelled counts as a miss
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)  # countermeasure has no support
    assert scores["accuracy"] == 0.5


def test_labels_may_be_names_or_indices():
    names = ["problem", "cause", "countermeasure", "other", "cause"]
    indices = [LABELS.index(name) for name in names]
    assert metrics.classification_scores(names, names[::-1]) == metrics.classification_scores(indices, indices[::-1])
    assert metrics.macro_f1(names, names) == 1.0


def test_confusion_matrix_leaves_out_missing_labels():
    matrix = metrics.confusion_matrix(["problem", "problem", "cause", "other"], ["problem", "cause", "cause", None])
    assert matrix.sum() == 3 and matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[1, 1] == 1


def test_calibration_of_a_perfectly_calibrated_and_an_overconfident_model():
    labels = np.array([0, 0, 1, 1])
    calibrated = np.array([[0.5, 0.5, 0, 0]] * 4)  # right half the time, at confidence 0.5
    assert metrics.calibration_scores(calibrated, labels)["calibration_error"] == pytest.approx(0.0)
    overconfident = np.array([[1.0, 0, 0, 0]] * 4)
    scores = metrics.calibration_scores(overconfident, labels)
    assert scores == {"accuracy": 0.5, "mean_confidence": 1.0, "calibration_error": pytest.approx(0.5)}


def test_confusion_plots_are_one_png(tmp_path):
    path = tmp_path / "confusion.png"
    metrics.plot_confusions({"a": np.eye(4, dtype=int), "b": np.ones((4, 4), dtype=int)}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_class_scores_from_label_indices():
    scores = metrics.classification_scores([0, 0, 1, 2, 3, 3], [0, 1, 1, 2, 3, 0])
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["per_class"]["problem"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert scores["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 1 + 2 / 3) / 4)
