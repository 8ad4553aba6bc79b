"""`pcc label` end to end on the seed corpus, prepared by `pcc prepare`."""
import json

import pytest

from pcc.cli import main
from pcc.records import LABELS, read_jsonl, read_sentences
from tests.conftest import DEV_GOLD, REPO, SEED_CORPUS
from training.gold import read_gold
from training.labeling.command import gold_pairs, match_gold, pair_scores


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("label")
    assert main(["prepare", str(SEED_CORPUS), "--out-dir", str(root / "processed")]) == 0
    config = root / "label.yaml"
    config.write_text((REPO / "configs" / "label.yaml").read_text(encoding="utf-8").replace(
        "data/processed/label_model.pkl", str(root / "processed" / "label_model.pkl")), encoding="utf-8")
    assert main(["label", "--sentences", str(root / "processed" / "sentences.jsonl"), "--gold", str(DEV_GOLD),
                 "--out", str(root / "processed" / "weak_labels.jsonl"), "--report-dir", str(root / "reports"),
                 "--config", str(config)]) == 0
    return root


def test_writes_one_row_per_clean_sentence_with_labels_probs_and_votes(labelled):
    sentences = read_sentences(labelled / "processed" / "sentences.jsonl")
    rows = list(read_jsonl(labelled / "processed" / "weak_labels.jsonl"))
    assert [r["id"] for r in rows] == [s.id for s in sentences if s.quality == "ok"]
    for row in rows:
        assert {"id", "paper_id", "paper_title", "index", "text", "heading_path", "is_heading", "label", "probs",
                "votes"} <= set(row)
        assert row["label"] in LABELS and sum(row["probs"].values()) == pytest.approx(1)
        assert all(label in LABELS for label in row["votes"].values())
    assert (labelled / "processed" / "weak_labels.config.yaml").is_file()
    assert (labelled / "processed" / "label_model.pkl").is_file()


def test_dev_gold_quality_and_coverage_meet_the_bar(labelled):
    sentences = read_sentences(labelled / "processed" / "sentences.jsonl")
    weak = {r["id"]: r for r in read_jsonl(labelled / "processed" / "weak_labels.jsonl")}
    gold = match_gold(read_gold(DEV_GOLD), sentences)
    assert not gold.unmatched  # rows glued to their headings are placed at their sentence
    pairs = gold_pairs(gold, [weak[s.id]["label"] if s.id in weak else None for s in sentences])
    assert pair_scores(pairs)["macro_f1"] >= 0.75
    assert sum(bool(r["votes"]) for r in weak.values()) / len(weak) >= 0.9


def test_report_and_plot_are_written(labelled):
    report = (labelled / "reports" / "labeling.md").read_text(encoding="utf-8")
    for part in ("Coverage", "Label model vs majority vote", "`section_cause`", "Per class", "labeling_confusion.png"):
        assert part in report
    assert (labelled / "reports" / "labeling_confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_sentences_file_is_a_clear_error(tmp_path, capsys):
    assert main(["label", "--sentences", str(tmp_path / "none.jsonl"), "--config",
                 str(REPO / "configs" / "label.yaml")]) == 2
    assert "run `pcc prepare` first" in capsys.readouterr().err


def test_gold_is_placed_by_text_without_whitespace_or_punctuation_and_glued_rows_at_their_sentence():
    from pcc.records import Sentence
    sentences = [Sentence("x#01", "t", 0, "群众 对公安机关的信任度有所降低。"), Sentence("x#02", "t", 0, "二、原因分析", is_heading=True),
                 Sentence("x#02", "t", 1, "民警宗旨意识淡薄，服务群众不主动。", ["二、原因分析"])]
    gold = match_gold([{"text": "群众对公安机关的信任度有所降低", "label": "problem", "paper": "D01", "line": 1},
                       {"text": "找不到的句子", "label": "other", "line": 2},
                       {"text": "二、原因分析民警宗旨意识淡薄，服务群众不主动。", "label": "cause", "line": 3}], sentences)
    assert gold.positions == [0, None, 2] and [r["line"] for r in gold.unmatched] == [2]
    assert json.dumps(gold.rows, ensure_ascii=False)
