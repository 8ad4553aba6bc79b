import json

import pytest

from pcc.errors import UserError
from pcc.records import Sentence, read_jsonl, read_sentences
from tests.conftest import DEV_GOLD, OUTSIDE_CORPUS_GOLD
from tests.weak_corpus import SEED_FILE, write_weak_corpus
from training import gold


def test_normalise_text_ignores_spacing_and_punctuation():
    assert gold.normalise_text("警 民，关系。“和谐”") == gold.normalise_text("警民关系和谐")


def test_locate_gold_finds_corpus_context_and_stands_unmatched_alone(tmp_path):
    sentences_path, _ = write_weak_corpus(tmp_path)
    sentences = read_sentences(sentences_path)
    gold_file = tmp_path / "gold.jsonl"
    gold_file.write_text(
        json.dumps({"text": "本句不在任何论文里，只为测试。", "label": "problem", "paper": "D02"}, ensure_ascii=False) + "\n"
        + json.dumps({"text": "这句话不在语料里。", "label": "other", "heading": "一、背景"}, ensure_ascii=False) + "\n",
        "utf-8")
    target = next(s for s in sentences if s.paper_id.endswith("#04"))
    gold_file.write_text(gold_file.read_text("utf-8") + json.dumps(
        {"text": target.text.replace("，", " "), "label": "cause"}, ensure_ascii=False) + "\n", "utf-8")
    located = gold.locate_gold(gold.read_gold(gold_file), sentences)
    assert [g.matched for g in located] == [False, False, True]
    assert located[0].sentence.paper_id == f"{SEED_FILE}#02"  # from the paper code
    assert located[1].sentence.heading_path == ["一、背景"]
    assert (located[2].sentence.paper_id, located[2].sentence.index) == (target.paper_id, target.index)
    assert located[2].sentence.heading_path == target.heading_path


def test_a_given_heading_fills_a_missing_corpus_path_and_never_replaces_one():
    without = Sentence("seed#02", "论文", 3, "警民之间的隔膜由此可见一斑。", [])
    within = Sentence("seed#02", "论文", 5, "群众对公安工作支持的主动性减弱。", ["一、当前警民关系的现实状况"])
    rows = [{"text": s.text, "label": "problem", "heading": "（一）存在的问题", "line": n} for n, s in enumerate((without, within), 1)]
    located = gold.locate_gold(rows, [without, within])
    assert [g.sentence.heading_path for g in located] == [["（一）存在的问题"], ["一、当前警民关系的现实状况"]]


def test_a_paper_the_corpus_lacks_is_rebuilt_from_its_gold_rows(tmp_path):
    sentences = read_sentences(write_weak_corpus(tmp_path)[0])
    held = next(r for r in read_jsonl(DEV_GOLD) if r["paper"] == "D04" and len(r["text"]) > 20)
    texts = [
        "新时期和谐警民关系建设研究",
        "一、警民关系存在的问题当前，部分群众对公安机关和公安民警的信任度有所下降，警民之间的隔阂时有显现。",
        "执法不规范的现象时有发生。",
        "二、警民关系紧张的原因由于警力严重不足，基层民警难以及时回应群众的各类诉求，群众因此产生不满情绪。",
        "部分民警宗旨意识淡薄。",
    ]
    # "D02" is also a corpus paper's code: the new paper is recognised by its text, not by its code.
    rows = [{"text": text, "label": "other", "paper": "D02", "line": n} for n, text in enumerate(texts, 1)]
    rows[4]["heading"] = "（一）民警方面的原因"
    rows.append({"text": held["text"], "label": held["label"], "paper": "D04", "line": 6})

    rebuilt = gold.gold_papers(rows, sentences)
    assert {s.paper_id for s in rebuilt} == {f"{gold.REBUILT_PAPER}D02"}  # D04 is in the corpus
    assert [s.text for s in rebuilt if s.is_heading] == [texts[0], "一、警民关系存在的问题", "二、警民关系紧张的原因"]
    located = gold.locate_gold(rows, sentences + rebuilt)
    assert all(g.matched for g in located)
    assert [g.sentence.heading_path for g in located[1:5]] == [
        ["一、警民关系存在的问题"], ["一、警民关系存在的问题"], ["二、警民关系紧张的原因"], ["（一）民警方面的原因"]]
    assert located[5].sentence.paper_id == next(s.paper_id for s in sentences if s.text == held["text"])


def test_a_gold_row_gluing_title_headings_and_sentence_is_placed_at_the_sentence():
    paper = "seed#13"
    units = [("浅析制约和谐警民关系建设的因素及对策", []),
             ("一、制约和谐警民关系建设的因素", []),
             ("（一）来自公安机关内部的原因", ["一、制约和谐警民关系建设的因素"]),
             ("1、管理不严，执法不规范。", ["一、制约和谐警民关系建设的因素", "（一）来自公安机关内部的原因"])]
    sentences = [Sentence(paper, units[0][0], index, text, path, is_heading=index < 3)
                 for index, (text, path) in enumerate(units)]
    glued = {"text": "".join(text for text, _ in units), "label": "cause", "line": 1}
    located = gold.locate_gold([glued], sentences)[0].sentence
    assert (located.index, located.heading_path) == (3, units[3][1])
    assert located.text == glued["text"]


def test_a_gold_row_with_a_garble_fixed_still_finds_its_sentence_but_a_different_heading_does_not():
    section = "二、影响警民关系和谐的现实因素"
    garbled = "执法水平是公一安机关队伍素质、执法能力、执法方式方法、执法过程以及执法效果的综合反映。"
    sentences = [Sentence("seed#05", "论文", 3, section, [], is_heading=True),
                 Sentence("seed#05", "论文", 4, garbled, [section]),
                 Sentence("seed#05", "论文", 9, "构建和谐警民关系的对策", [], is_heading=True)]
    fixed = garbled.replace("公一安", "公安")
    rows = [{"text": fixed, "label": "other", "line": 1},
            {"text": section + fixed, "label": "other", "line": 2},
            # Two characters in eleven differ: another heading, not a misspelling of this one.
            {"text": "构建和谐警民关系的途径", "label": "other", "line": 3}]
    located = gold.locate_gold(rows, sentences)
    assert [g.matched for g in located] == [True, True, False]
    assert [(g.sentence.index, g.sentence.heading_path) for g in located[:2]] == [(4, [section])] * 2


def test_a_gold_text_of_a_few_characters_is_found_inside_a_unit_only_at_its_start():
    sentences = [Sentence("web#01", "论文", 0, "全区共有社区警务室26个，其中达标的有21个。", []),
                 Sentence("web#01", "论文", 1, "姓名：", []),
                 Sentence("web#01", "论文", 2, "摘要：本文分析了社区警务室建设中的问题。", []),
                 Sentence("web#01", "论文", 3, "2、警务室人员配备不足", [], is_heading=True)]
    rows = [{"text": "2", "label": "other", "line": 1},  # a page number the reader left out
            {"text": "姓名：____", "label": "other", "line": 2},
            {"text": "摘要：", "label": "other", "line": 3},  # glued in front of its sentence
            {"text": "社区警务室26个", "label": "other", "line": 4}]
    located = gold.locate_gold(rows, sentences)
    assert [g.matched for g in located] == [False, True, True, True]
    assert [g.sentence.index for g in located[1:]] == [1, 2, 0]


def test_the_outside_corpus_papers_are_rebuilt_with_their_sections():
    rows = gold.read_gold(OUTSIDE_CORPUS_GOLD)
    rebuilt = gold.gold_papers(rows, [])
    assert sorted({s.paper_id for s in rebuilt}) == [f"{gold.REBUILT_PAPER}W{n:02d}" for n in range(1, 7)]
    located = {row["id"]: g.sentence for row, g in zip(rows, gold.locate_gold(rows, rebuilt)) if g.matched}
    assert len(located) == len(rows)
    assert located["W01-10"].heading_path == ["2 社区警务工作存在的问题", "2.1 警力配置不足"]  # numbered 2 / 2.1
    assert located["W02-13"].heading_path == ["二、留守儿童教育问题的成因", "（二）农村学校教育资源匮乏"]
    assert located["W01-01"].is_title and located["W06-01"].is_title
    # W04 and W06 have no section headings: their sentences are read by their wording alone.
    assert not any(s.heading_path for key, s in located.items() if key[:3] in ("W04", "W06"))


@pytest.mark.parametrize("name, content, message", [
    ("gold.jsonl", '{"text": "一句话。", "label": "other"}\n{"text": "两句话。", "label": "solution"}\n',
     r"gold.jsonl:2: field 'label' is 'solution'; expected one of .* \(or 问题, 原因, 对策, 其他\)"),
    ("gold.jsonl", '{"text": "  ", "label": "other"}\n', r"gold.jsonl:1: field 'text'"),
    ("gold.jsonl", '{"text": "一句话。", "label": "other", "heading": ["一、背景", 2]}\n', r"gold.jsonl:1: field 'heading'"),
    ("gold.jsonl", "\n", r"gold.jsonl: holds no gold rows"),
    ("gold.csv", "text,label\n一句话。,other\n两句话。,solution\n", r"gold.csv:3: field 'label' is 'solution'"),
    ("gold.csv", "sentence,label\n一句话。,other\n", r"gold.csv:1: the header row lacks the column\(s\) text"),
])
def test_a_bad_gold_file_names_file_line_and_field(tmp_path, name, content, message):
    gold_file = tmp_path / name
    gold_file.write_text(content, "utf-8")
    with pytest.raises(UserError, match=message):
        gold.read_gold(gold_file)


def test_gold_labels_may_be_written_in_chinese_or_in_any_case(tmp_path):
    gold_file = tmp_path / "gold.jsonl"
    labels = ["问题", "原因", " 对策", "其它", "Other", "COUNTERMEASURE"]
    gold_file.write_text("".join(json.dumps({"text": f"第{n}句。", "label": label}, ensure_ascii=False) + "\n"
                                 for n, label in enumerate(labels)), "utf-8")
    assert [row["label"] for row in gold.read_gold(gold_file)] == [
        "problem", "cause", "countermeasure", "other", "other", "countermeasure"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])  # as spreadsheets save CSV
def test_a_csv_gold_file_is_read_by_its_column_names(tmp_path, encoding):
    gold_file = tmp_path / "gold.csv"
    gold_file.write_text("label,text,paper,heading\r\n"
                         "problem,群众对公安机关的信任度有所降低。,D01,一、存在的问题 > （一）信任\r\n"
                         "对策,\"要加强警民沟通，化解矛盾。\",D01,\r\n"
                         ",,,\r\n"
                         "other,引言,,前言\r\n", encoding=encoding)
    assert [(r["line"], r["text"], r["label"], r.get("paper"), r.get("heading")) for r in gold.read_gold(gold_file)] == [
        (2, "群众对公安机关的信任度有所降低。", "problem", "D01", ["一、存在的问题", "（一）信任"]),
        (3, "要加强警民沟通，化解矛盾。", "countermeasure", "D01", None),
        (5, "引言", "other", None, ["前言"])]
