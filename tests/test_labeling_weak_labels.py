import json

import pytest

from pcc.errors import UserError
from pcc.records import LABELS, Sentence
from training.labeling.weak_labels import WeakRow, read_weak_labels, settings_path


def test_weak_label_row_without_probs_is_rejected(tmp_path):
    path = tmp_path / "weak.jsonl"
    path.write_text('{"paper_id": "p", "index": 0, "text": "一句话。", "probs": {"problem": 1.0}}\n', "utf-8")
    with pytest.raises(UserError, match=r"weak.jsonl:1: field 'probs'"):
        read_weak_labels(path)


def test_a_weak_row_written_reads_back_the_same(tmp_path):
    row = WeakRow(Sentence("p#01", "题目", 3, "警力不足。", ["二、原因"], quality="ok"), [0.1, 0.7, 0.1, 0.1], "cause",
                  {"section_cause": "cause"})
    path = tmp_path / "weak_labels.jsonl"
    path.write_text(json.dumps(row.to_json(), ensure_ascii=False) + "\n", "utf-8")
    assert read_weak_labels(path) == [row]
    assert list(row.to_json()["probs"]) == list(LABELS)
    assert settings_path(path).name == "weak_labels.config.yaml"
