import pytest
import yaml

from pcc.errors import UserError
from pcc.records import LABELS, Sentence
from training.labeling.apply import load_config, weak_label
from tests.conftest import REPO

TITLE = "当前警民关系存在的问题及对策"
PAPER = [  # (text, heading_path, is_heading, quality)
    (TITLE, [], True, "ok"),
    ("构建和谐警民关系，是公安工作的本质要求。", [], False, "ok"),
    ("一、影响和谐警民关系的几个深层次问题", [], True, "ok"),
    ("少数民警宗旨观念淡薄、为民服务意识不强。", ["一、影响和谐警民关系的几个深层次问题"], False, "ok"),
    ("烦问题，极大的满足了，的不信任。", ["一、影响和谐警民关系的几个深层次问题"], False, "garbled"),
    ("二、制约警民关系的因素", [], True, "ok"),
    ("由于警力不足，民警疲于应付。", ["二、制约警民关系的因素"], False, "ok"),
    ("三、构建和谐警民关系的对策", [], True, "ok"),
    ("要加强队伍建设，提高执法水平。", ["三、构建和谐警民关系的对策"], False, "ok"),
]


def sentences():
    # the title is front matter (paragraph 0), every other line a paragraph of its own
    return [Sentence("p#01", TITLE, i, t, p, h, q, paragraph=i) for i, (t, p, h, q) in enumerate(PAPER)]


def test_weak_label_labels_a_small_paper_with_the_project_config():
    config = load_config(REPO / "configs" / "label.yaml")
    results = weak_label(sentences(), config)
    assert [r.label for r in results] == ["other", "other", "problem", "problem", None, "cause", "cause",
                                          "countermeasure", "countermeasure"]
    assert [r.sentence for r in results] == sentences()
    for result in results:
        assert len(result.probs) == len(LABELS) and sum(result.probs) == pytest.approx(1)
    assert results[4].votes == {}  # garbled: never labelled
    assert results[3].votes["section_problem"] == "problem"
    assert all(vote in LABELS for r in results for vote in r.votes.values())


def test_weak_label_keeps_the_given_order_and_finds_neighbours_itself():
    config = load_config(REPO / "configs" / "label.yaml")
    in_order = weak_label(sentences(), config)
    reversed_results = weak_label(sentences()[::-1], config)
    assert reversed_results[::-1] == in_order


def test_sentences_without_votes_follow_the_config(tmp_path):
    config = load_config(REPO / "configs" / "label.yaml")
    lone = [Sentence("p#02", "题目", 7, "这是一个没有任何线索的句子。", ["某某"])]
    assert weak_label(lone, config)[0].label == max(config["abstained_fallback"], key=config["abstained_fallback"].get)
    assert weak_label(lone, {**config, "label_abstained": False})[0].label is None


def test_bad_configs_are_user_errors_naming_the_setting(tmp_path):
    config = yaml.safe_load((REPO / "configs" / "label.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "label.yaml"
    path.write_text(yaml.safe_dump({**config, "abstained_fallback": {"other": 0.5}}), encoding="utf-8")
    with pytest.raises(UserError, match="abstained_fallback"):
        load_config(path)
    path.write_text(yaml.safe_dump({**config, "model": "snorkel"}), encoding="utf-8")
    with pytest.raises(UserError, match="model"):
        load_config(path)
    del config["label_abstained"]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(UserError, match="label_abstained"):
        load_config(path)
    with pytest.raises(UserError, match="no such settings file"):
        load_config(tmp_path / "missing.yaml")
    path.write_text("model: [majority_vote\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"label.yaml:2: not valid YAML"):
        load_config(path)
