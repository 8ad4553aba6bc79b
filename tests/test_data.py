import pytest

from pcc.model_card import HEADINGS_AND_LEAD, ModelCard
from pcc.records import read_sentences
from tests.conftest import DEV_GOLD
from tests.weak_corpus import SEED_FILE, write_weak_corpus
from training import data
from training.augment import HeadlessView
from training.gold import locate_gold, read_gold
from training.labeling.weak_labels import WeakRow, read_weak_labels


def test_dataset_holds_out_dev_papers_and_drops_garbled(tmp_path):
    sentences_path, weak_path = write_weak_corpus(tmp_path)
    sentences = read_sentences(sentences_path)
    gold = locate_gold(read_gold(DEV_GOLD), sentences)
    folds = data.assign_folds(gold, {s.paper_id for s in sentences}, 2)
    assert set(folds) == {f"{SEED_FILE}#{n:02d}" for n in (2, 4, 6, 8)}
    assert sorted(folds.values()) == [0, 0, 1, 1]  # 24+22 vs 17+16 gold sentences: balanced greedily

    weak_rows = read_weak_labels(weak_path)
    garbled = {s.id for s in sentences if s.quality == "garbled"}
    # A garbled sentence that slipped into the weak labels is still kept out.
    weak_rows.append(WeakRow(next(s for s in sentences if s.quality == "garbled"), [0.25] * 4, "other"))
    dataset = data.build_dataset(weak_rows, gold, folds, ModelCard(), sentences, garbled_ids=garbled)
    assert set(dataset) == {"train", "dev", "gold"}
    assert not garbled & set(list(dataset["train"]["id"]) + list(dataset["dev"]["id"]))
    assert set(dataset["train"]["paper_id"]) == {f"{SEED_FILE}#05", f"{SEED_FILE}#07"}
    assert set(dataset["dev"]["paper_id"]) == set(folds)
    assert all(fold == folds[p] for p, fold in zip(dataset["dev"]["paper_id"], dataset["dev"]["fold"]))
    assert len(dataset["gold"]) == 138
    in_dev_papers = [f for f in dataset["gold"]["fold"] if f >= 0]
    assert len(in_dev_papers) == 24 + 22 + 17 + 16
    assert sorted(dataset["train"][0]["soft_labels"]) == pytest.approx([0.1, 0.1, 0.1, 0.7])


def test_rows_carry_their_headless_view_or_else_their_own_context(tmp_path):
    sentences_path, weak_path = write_weak_corpus(tmp_path)
    sentences = read_sentences(sentences_path)
    weak_rows = [row for row in read_weak_labels(weak_path) if row.label is not None and not row.sentence.is_heading]
    chosen = weak_rows[3].sentence.id
    view = HeadlessView("‖ 前一句。", [0.7, 0.1, 0.1, 0.1])
    train = data.build_dataset(weak_rows, [], {}, ModelCard(context=HEADINGS_AND_LEAD), sentences,
                               headless={chosen: view})["train"]
    for row in train:
        if row["id"] == chosen:
            assert (row["headless_context"], row["headless_labels"]) == (view.context, pytest.approx(view.probs))
        else:
            assert (row["headless_context"], row["headless_labels"]) == (row["context"], row["soft_labels"])
    assert chosen in train["id"]
