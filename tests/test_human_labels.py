"""Human labels (`pcc train --human-labels`): placed in the corpus, replacing weak labels; check sets refused."""
import json

import pytest
import yaml

from pcc.errors import UserError
from pcc.records import read_sentences, write_jsonl
from tests.conftest import DEV_GOLD, REPO
from tests.weak_corpus import SEED_FILE, write_weak_corpus
from training.human_labels import merge_human_labels, read_human_labels
from training.labeling.weak_labels import read_weak_labels

NEW_PAPER = [  # a paper the corpus lacks, in reading order, headings included
    {"paper": "upload-7", "text": "乡村治理研究", "label": "other"},
    {"paper": "upload-7", "text": "一、存在的问题", "label": "problem"},
    {"paper": "upload-7", "text": "村民参与村务管理的渠道不畅，议事会议流于形式。", "label": "problem"},
    {"paper": "upload-7", "text": "二、对策", "label": "countermeasure", "heading": ["二、对策"]},
    {"paper": "upload-7", "text": "应当健全村民议事制度，定期公开村务。", "label": "countermeasure"},
]


def corpus(tmp_path):
    sentences_path, weak_path = write_weak_corpus(tmp_path)
    return read_sentences(sentences_path), read_weak_labels(weak_path)


def test_human_labels_replace_weak_labels_and_add_papers_the_corpus_lacks(tmp_path):
    sentences, weak_rows = corpus(tmp_path)
    in_corpus = next(w for w in weak_rows if w.sentence.id == f"{SEED_FILE}#05/0004")
    assert in_corpus.label == "countermeasure"
    first = tmp_path / "corrections.jsonl"
    write_jsonl(first, [
        {"paper": f"{SEED_FILE}#05", "text": in_corpus.sentence.text, "label": "problem"},
        # the garbled sentence of a dev paper, read by a person: trained on despite extraction's verdict
        {"paper": f"{SEED_FILE}#02", "text": "警民关系和谐公安机关构建", "label": "other", "heading": []},
        *NEW_PAPER])
    second = tmp_path / "later.csv"
    second.write_text(f"text,label,paper,heading\n{in_corpus.sentence.text},其他,{SEED_FILE}#05,\n"
                      "一句没有标注的话。,,x,\n", "utf-8")

    human = merge_human_labels(weak_rows, sentences, [first, second], 4.0, DEV_GOLD)
    by_id = {w.sentence.id: w for w in human.weak_rows}
    assert by_id[in_corpus.sentence.id].label == "other"  # the later file wins
    assert by_id[in_corpus.sentence.id].probs == [0.0, 0.0, 0.0, 4.0]
    assert by_id[in_corpus.sentence.id].votes == {}  # so no made-up heading variants of it
    assert len(human.weak_rows) == len(weak_rows) + 1 + len(NEW_PAPER)
    garbled = by_id[f"{SEED_FILE}#02/0022"]
    assert garbled.sentence.quality == "ok" and garbled.label == "other"
    rebuilt = [w for w in human.weak_rows if w.sentence.paper_id == "rebuilt:upload-7"]
    assert [w.label for w in rebuilt] == [row["label"] for row in NEW_PAPER]
    item = next(w for w in rebuilt if w.sentence.text.startswith("村民参与"))
    assert item.sentence.heading_path == ["一、存在的问题"]  # its place in the rebuilt paper
    assert {s.paper_id for s in human.rebuilt} == {"rebuilt:upload-7"}
    assert f"{SEED_FILE}#02/0022" in human.ids
    assert human.record == {"files": [str(first), str(second)], "rows": 8, "sentences": 7,
                            "replaced_weak_labels": 1, "added": 6, "rebuilt_papers": 1, "weight": 4.0}


def test_check_sets_are_refused(tmp_path):
    sentences, weak_rows = corpus(tmp_path)
    with pytest.raises(UserError, match=r"wild.jsonl: this is the check set .*never trained on"):
        merge_human_labels(weak_rows, sentences, [REPO / "data" / "gold" / "wild.jsonl"], 1.0, DEV_GOLD)
    dev = [json.loads(line) for line in DEV_GOLD.read_text("utf-8").splitlines()]
    wild = [json.loads(line) for line in (REPO / "data/gold/wild.jsonl").read_text("utf-8").splitlines()]
    copied = tmp_path / "my_labels.jsonl"
    write_jsonl(copied, [NEW_PAPER[2], {**dev[5], "text": " " + dev[5]["text"] + " "}, wild[37]])
    with pytest.raises(UserError, match=r"my_labels.jsonl: 2 row\(s\) are sentences of a check set: line 2 is "
                                        r".*dev.jsonl:6 .*; line 3 is .*wild.jsonl:38 .*remove those rows"):
        merge_human_labels(weak_rows, sentences, [copied], 1.0, DEV_GOLD)
    # A stock heading that a check set also holds is no overlap.
    write_jsonl(copied, [{"text": "三、对策建议", "label": "countermeasure"}])
    merge_human_labels(weak_rows, sentences, [copied], 1.0, DEV_GOLD)


def test_bad_human_label_files(tmp_path):
    with pytest.raises(UserError, match="--human-labels .*none.jsonl: no such file"):
        read_human_labels(tmp_path / "none.jsonl")
    (tmp_path / "notes.txt").write_text("民警态度生硬。", "utf-8")
    with pytest.raises(UserError, match=r"notes.txt: unsupported file type '.txt'; give a .jsonl or .csv"):
        read_human_labels(tmp_path / "notes.txt")
    (tmp_path / "bad.jsonl").write_text('{"text": "民警态度生硬。", "label": "maybe"}\n', "utf-8")
    with pytest.raises(UserError, match=r"bad.jsonl:1: field 'label' is 'maybe'"):
        read_human_labels(tmp_path / "bad.jsonl")
    (tmp_path / "blank.csv").write_text("text,label\n民警态度生硬。,\n", "utf-8")
    with pytest.raises(UserError, match="blank.csv: holds no labelled rows; fill in the label column"):
        read_human_labels(tmp_path / "blank.csv")


def test_training_with_human_labels_on_the_tiny_model(tmp_path, tiny_checkpoint):
    from tests.test_trainer import tiny_config
    from training.trainer import train

    labels = tmp_path / "corrections.jsonl"
    write_jsonl(labels, [*NEW_PAPER, {"paper": f"{SEED_FILE}#02", "text": "警民关系和谐公安机关构建", "label": "other"}])
    config = tiny_config(tmp_path, tiny_checkpoint, epochs=1, human_labels=[str(labels)], human_label_weight=3.0)
    run_dir = train(config)

    metrics = json.loads((run_dir / "metrics.json").read_text("utf-8"))
    assert metrics["human_labels"] == {"files": [str(labels)], "rows": 6, "sentences": 6, "replaced_weak_labels": 0,
                                       "added": 6, "rebuilt_papers": 1, "weight": 3.0}
    assert metrics["heldout"]["sentences"] == 24 + 22 + 17 + 16  # cross-fitting over the dev papers still works
    settings = yaml.safe_load((run_dir / "config.yaml").read_text("utf-8"))
    assert settings["human_labels"] == [str(labels)] and settings["human_label_weight"] == 3.0
    card = json.loads((run_dir / "pcc_model.json").read_text("utf-8"))
    assert "rebuilt:upload-7" in card["trained_papers"]


def test_sentences_of_a_rebuilt_paper_train_with_the_lead_their_row_gives(tmp_path):
    from pcc.model_input import LEAD_SEPARATOR
    from tests.test_trainer import tiny_config
    from training.trainer import _training_data

    # Corrections of two sentences far apart in an uploaded paper: the row before is not the sentence before.
    labels = tmp_path / "corrections.jsonl"
    write_jsonl(labels, [
        {"paper": "upload-9", "heading": ["二、原因"], "text": "经费保障不足，民警下社区缺少交通工具。", "label": "cause",
         "lead": "造成这一局面的原因主要有以下几点："},
        {"paper": "upload-9", "heading": ["三、对策"], "text": "要加大基层经费投入，保障社区警务运转。",
         "label": "countermeasure", "lead": None}])
    dataset = _training_data(tiny_config(tmp_path, tmp_path / "no-model", folds=0, human_labels=[str(labels)]))[0]
    contexts = {row["text"]: row["context"] for row in dataset["train"]}
    assert contexts["经费保障不足，民警下社区缺少交通工具。"] == f"二、原因{LEAD_SEPARATOR}造成这一局面的原因主要有以下几点："
    assert contexts["要加大基层经费投入，保障社区警务运转。"] == "三、对策"  # it read none: not the row before
