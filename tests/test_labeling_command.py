"""`pcc label` end to end on the seed corpus, prepared by `pcc prepare`."""
import json
from pathlib import Path

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
    for empty in ("/dev/null", tmp_path / "empty.jsonl"):
        Path(tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
        assert main(["label", "--sentences", str(empty), "--config", str(REPO / "configs" / "label.yaml")]) == 2
        error = capsys.readouterr().err
        assert f"no sentences in {empty} (--sentences)" in error and "no such file" not in error


def test_gold_is_placed_by_text_without_whitespace_or_punctuation_and_glued_rows_at_their_sentence():
    from pcc.records import Sentence
    sentences = [Sentence("x#01", "t", 0, "群众 对公安机关的信任度有所降低。"), Sentence("x#02", "t", 0, "二、原因分析", is_heading=True),
                 Sentence("x#02", "t", 1, "民警宗旨意识淡薄，服务群众不主动。", ["二、原因分析"])]
    gold = match_gold([{"text": "群众对公安机关的信任度有所降低", "label": "problem", "paper": "D01", "line": 1},
                       {"text": "找不到的句子", "label": "other", "line": 2},
                       {"text": "二、原因分析民警宗旨意识淡薄，服务群众不主动。", "label": "cause", "line": 3}], sentences)
    assert gold.positions == [0, None, 2] and [r["line"] for r in gold.unmatched] == [2]
    assert json.dumps(gold.rows, ensure_ascii=False)


# A paper on another topic than the seed corpus: none of its sentences is in the dev gold.
OWN_PAPER = ["农村生活垃圾治理的困境与出路", "一、主要困境", "部分村庄垃圾收运设施不足，垃圾随意堆放现象较多。",
             "二、成因分析", "村级财力有限，保洁经费长期缺乏保障。",
             "三、对策建议", "应当建立县乡村三级垃圾收运体系，落实保洁经费。"]


@pytest.fixture(scope="module")
def own_corpus(tmp_path_factory):
    """A corpus of one's own, prepared; and a label config that fits the label model quickly."""
    root = tmp_path_factory.mktemp("own")
    (root / "papers").mkdir()
    (root / "papers" / "mine.txt").write_text("\n".join(OWN_PAPER), encoding="utf-8")
    assert main(["prepare", str(root / "papers"), "--out-dir", str(root / "prepared")]) == 0
    config = root / "label.yaml"
    config.write_text((REPO / "configs" / "label.yaml").read_text(encoding="utf-8").replace("epochs: 500", "epochs: 5"),
                      encoding="utf-8")
    return root


def test_a_corpus_the_gold_does_not_cover_is_labelled_and_reported_beside_its_output(own_corpus, capsys):
    project_report = (REPO / "reports" / "labeling.md").read_bytes()
    project_model = REPO / "data" / "processed" / "label_model.pkl"
    model_before = project_model.stat().st_mtime_ns if project_model.exists() else None
    out = own_corpus / "labels" / "weak.jsonl"
    assert main(["label", "--sentences", str(own_corpus / "prepared" / "sentences.jsonl"), "--gold", str(DEV_GOLD),
                 "--out", str(out), "--config", str(own_corpus / "label.yaml")]) == 0
    printed = capsys.readouterr().out
    assert f"none of the 138 rows of {DEV_GOLD} is among these sentences: nothing scored" in printed
    assert [row["text"] for row in read_jsonl(out)] == OWN_PAPER
    report = (out.parent / "labeling.md").read_text(encoding="utf-8")
    assert "none of its 138 rows is among these sentences" in report and "## Labeling functions" in report
    assert "macro-F1" not in report and not (out.parent / "labeling_confusion.png").exists()
    # The fitted label model goes beside the output too, and the settings written there point at it.
    assert (out.parent / "label_model.pkl").is_file()
    assert str(out.parent / "label_model.pkl") in (out.parent / "weak.config.yaml").read_text(encoding="utf-8")
    assert (REPO / "reports" / "labeling.md").read_bytes() == project_report
    assert (project_model.stat().st_mtime_ns if project_model.exists() else None) == model_before


def test_a_partly_covered_corpus_is_scored_on_the_gold_rows_it_holds(own_corpus, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in [
        {"text": OWN_PAPER[2], "label": "problem"}, {"text": OWN_PAPER[4], "label": "cause"},
        {"text": "这一句不在这个语料里。", "label": "other"}]) + "\n", encoding="utf-8")
    out = tmp_path / "weak.jsonl"
    assert main(["label", "--sentences", str(own_corpus / "prepared" / "sentences.jsonl"), "--gold", str(gold),
                 "--out", str(out), "--report-dir", str(tmp_path / "elsewhere"),
                 "--config", str(own_corpus / "label.yaml")]) == 0
    assert f"on the 2 of the 3 rows of {gold} found among these sentences" in capsys.readouterr().out
    report = (tmp_path / "elsewhere" / "labeling.md").read_text(encoding="utf-8")
    assert "1 not among these sentences (listed at the end), so the figures below score the labels on the other 2" in report
    assert "## Gold rows not among these sentences (1)" in report and "这一句不在这个语料里" in report
    assert (tmp_path / "elsewhere" / "labeling_confusion.png").is_file() and not (tmp_path / "labeling.md").exists()


def test_the_projects_own_run_writes_the_projects_report(own_corpus, tmp_path, monkeypatch):
    """`make run`'s `pcc label`, with the default paths, in a folder laid out as the project is."""
    processed = tmp_path / "data" / "processed"
    processed.mkdir(parents=True)
    (processed / "sentences.jsonl").write_bytes((own_corpus / "prepared" / "sentences.jsonl").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["label", "--gold", str(DEV_GOLD), "--config", str(own_corpus / "label.yaml")]) == 0
    assert (tmp_path / "reports" / "labeling.md").is_file() and not (processed / "labeling.md").exists()
    assert (processed / "weak_labels.jsonl").is_file() and (processed / "label_model.pkl").is_file()
