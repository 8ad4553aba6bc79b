import json

import pytest
import yaml

from pcc.errors import UserError
from pcc.records import LABELS, Sentence, read_jsonl, read_sentences, write_jsonl
from tests.conftest import DEV_GOLD, OUTSIDE_CORPUS_GOLD
from training import data
from training.labeling.apply import DEFAULT_CONFIG, load_config, settings_path, weak_label
from training.labeling.sections import HEADING_KEYWORDS, heading_class

SECTION_OF = {"problem": ["一、存在的问题"], "cause": ["二、原因分析"], "countermeasure": ["三、对策建议"], "other": []}
SEED_FILE = "police_public_relations_papers"


def write_weak_corpus(directory, papers_from_gold=("D02", "D04", "D06", "D08"), other_papers=(5, 7)):
    """Write sentences.jsonl and weak_labels.jsonl built from real dev-gold sentences.

    Gold papers named in `papers_from_gold` hold their gold sentences (so they are dev papers); each paper
    in `other_papers` holds rewritten copies that match no gold text; one garbled sentence per paper.
    Weak labels put 0.7 on the gold class; the label settings are the shipped ones, written where `pcc label`
    writes them. Returns (sentences path, weak labels path).
    """
    gold = list(read_jsonl(DEV_GOLD))
    sentences = []

    def add(paper_id, text, label, quality="ok"):
        index = sum(s[0].paper_id == paper_id for s in sentences)
        sentences.append((Sentence(paper_id, f"论文 {paper_id}", index, text, SECTION_OF[label], quality=quality), label))

    for code in papers_from_gold:
        paper_id = f"{SEED_FILE}#{int(code[1:]):02d}"
        for row in (r for r in gold if r["paper"] == code):
            add(paper_id, row["text"], row["label"])
        add(paper_id, "警 民 关 系 和 谐 公 安 机 关 构 建", "other", quality="garbled")
    for number in other_papers:
        paper_id = f"{SEED_FILE}#{number:02d}"
        for row in gold[number * 7:number * 7 + 12]:
            add(paper_id, "另外，" + row["text"] + "此外还有其他方面。", row["label"])
        add(paper_id, "公 安 机 关 构 建 警 民", "other", quality="garbled")
    sentences_path = directory / "sentences.jsonl"
    weak_path = directory / "weak_labels.jsonl"
    write_jsonl(sentences_path, [s.to_json() for s, _ in sentences])
    write_jsonl(weak_path, [
        {**{k: v for k, v in s.to_json().items() if k != "quality"}, "label": label,
         "probs": {name: 0.7 if name == label else 0.1 for name in LABELS}, "votes": {}}
        for s, label in sentences if s.quality == "ok"
    ])
    settings_path(weak_path).write_text(yaml.safe_dump(load_config(DEFAULT_CONFIG), allow_unicode=True), "utf-8")
    return sentences_path, weak_path


def test_normalise_text_ignores_spacing_and_punctuation():
    assert data.normalise_text("警 民，关系。“和谐”") == data.normalise_text("警民关系和谐")


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
    located = data.locate_gold(data.read_gold(gold_file), sentences)
    assert [g.matched for g in located] == [False, False, True]
    assert located[0].sentence.paper_id == f"{SEED_FILE}#02"  # from the paper code
    assert located[1].sentence.heading_path == ["一、背景"]
    assert (located[2].sentence.paper_id, located[2].sentence.index) == (target.paper_id, target.index)
    assert located[2].sentence.heading_path == target.heading_path


def test_a_given_heading_fills_a_missing_corpus_path_and_never_replaces_one():
    without = Sentence("seed#02", "论文", 3, "警民之间的隔膜由此可见一斑。", [])
    within = Sentence("seed#02", "论文", 5, "群众对公安工作支持的主动性减弱。", ["一、当前警民关系的现实状况"])
    rows = [{"text": s.text, "label": "problem", "heading": "（一）存在的问题", "line": n} for n, s in enumerate((without, within), 1)]
    located = data.locate_gold(rows, [without, within])
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

    rebuilt = data.gold_papers(rows, sentences)
    assert {s.paper_id for s in rebuilt} == {f"{data.REBUILT_PAPER}D02"}  # D04 is in the corpus
    assert [s.text for s in rebuilt if s.is_heading] == [texts[0], "一、警民关系存在的问题", "二、警民关系紧张的原因"]
    located = data.locate_gold(rows, sentences + rebuilt)
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
    located = data.locate_gold([glued], sentences)[0].sentence
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
    located = data.locate_gold(rows, sentences)
    assert [g.matched for g in located] == [True, True, False]
    assert [(g.sentence.index, g.sentence.heading_path) for g in located[:2]] == [(4, [section])] * 2


def test_the_outside_corpus_papers_are_rebuilt_with_their_sections():
    rows = data.read_gold(OUTSIDE_CORPUS_GOLD)
    rebuilt = data.gold_papers(rows, [])
    assert sorted({s.paper_id for s in rebuilt}) == [f"{data.REBUILT_PAPER}W{n:02d}" for n in range(1, 7)]
    located = {row["id"]: g.sentence for row, g in zip(rows, data.locate_gold(rows, rebuilt)) if g.matched}
    assert len(located) == len(rows)
    assert located["W01-10"].heading_path == ["2 社区警务工作存在的问题", "2.1 警力配置不足"]  # numbered 2 / 2.1
    assert located["W02-13"].heading_path == ["二、留守儿童教育问题的成因", "（二）农村学校教育资源匮乏"]
    assert located["W01-01"].is_title and located["W06-01"].is_title
    # W04 and W06 have no section headings: their sentences are read by their wording alone.
    assert not any(s.heading_path for key, s in located.items() if key[:3] in ("W04", "W06"))


def test_dataset_holds_out_dev_papers_and_drops_garbled(tmp_path):
    sentences_path, weak_path = write_weak_corpus(tmp_path)
    sentences = read_sentences(sentences_path)
    gold = data.locate_gold(data.read_gold(DEV_GOLD), sentences)
    folds = data.assign_folds(gold, {s.paper_id for s in sentences}, 2)
    assert set(folds) == {f"{SEED_FILE}#{n:02d}" for n in (2, 4, 6, 8)}
    assert sorted(folds.values()) == [0, 0, 1, 1]  # 24+22 vs 17+16 gold sentences: balanced greedily

    weak_rows = data.read_weak_labels(weak_path)
    garbled = {s.id for s in sentences if s.quality == "garbled"}
    # A garbled sentence that slipped into the weak labels is still kept out.
    weak_rows.append(data.WeakRow(next(s for s in sentences if s.quality == "garbled"), [0.25] * 4, "other"))
    dataset = data.build_dataset(weak_rows, gold, folds, garbled)
    assert set(dataset) == {"train", "dev", "gold"}
    assert not garbled & set(list(dataset["train"]["id"]) + list(dataset["dev"]["id"]))
    assert set(dataset["train"]["paper_id"]) == {f"{SEED_FILE}#05", f"{SEED_FILE}#07"}
    assert set(dataset["dev"]["paper_id"]) == set(folds)
    assert all(fold == folds[p] for p, fold in zip(dataset["dev"]["paper_id"], dataset["dev"]["fold"]))
    assert len(dataset["gold"]) == 138
    in_dev_papers = [f for f in dataset["gold"]["fold"] if f >= 0]
    assert len(in_dev_papers) == 24 + 22 + 17 + 16
    assert sorted(dataset["train"][0]["soft_labels"]) == pytest.approx([0.1, 0.1, 0.1, 0.7])


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
        data.read_gold(gold_file)


def test_gold_labels_may_be_written_in_chinese_or_in_any_case(tmp_path):
    gold_file = tmp_path / "gold.jsonl"
    labels = ["问题", "原因", " 对策", "其它", "Other", "COUNTERMEASURE"]
    gold_file.write_text("".join(json.dumps({"text": f"第{n}句。", "label": label}, ensure_ascii=False) + "\n"
                                 for n, label in enumerate(labels)), "utf-8")
    assert [row["label"] for row in data.read_gold(gold_file)] == [
        "problem", "cause", "countermeasure", "other", "other", "countermeasure"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])  # as spreadsheets save CSV
def test_a_csv_gold_file_is_read_by_its_column_names(tmp_path, encoding):
    gold_file = tmp_path / "gold.csv"
    gold_file.write_text("label,text,paper,heading\r\n"
                         "problem,群众对公安机关的信任度有所降低。,D01,一、存在的问题 > （一）信任\r\n"
                         "对策,\"要加强警民沟通，化解矛盾。\",D01,\r\n"
                         ",,,\r\n"
                         "other,引言,,前言\r\n", encoding=encoding)
    assert [(r["line"], r["text"], r["label"], r.get("paper"), r.get("heading")) for r in data.read_gold(gold_file)] == [
        (2, "群众对公安机关的信任度有所降低。", "problem", "D01", ["一、存在的问题", "（一）信任"]),
        (3, "要加强警民沟通，化解矛盾。", "countermeasure", "D01", None),
        (5, "引言", "other", None, ["前言"])]


def test_weak_label_row_without_probs_is_rejected(tmp_path):
    path = tmp_path / "weak.jsonl"
    path.write_text('{"paper_id": "p", "index": 0, "text": "一句话。", "probs": {"problem": 1.0}}\n', "utf-8")
    with pytest.raises(UserError, match=r"weak.jsonl:1: field 'probs'"):
        data.read_weak_labels(path)


def test_heading_variants_put_section_labelled_sentences_under_made_up_headings_of_their_class():
    def row(text, label, votes, is_heading=False):
        probs = [0.7 if name == label else 0.1 for name in LABELS]
        sentence = Sentence("p", "构建和谐警民关系的思考", 0, text, ["一、加强队伍建设"], is_heading)
        return data.WeakRow(sentence, probs, label, votes)

    section_labelled = row("要完善选拔机制。", "countermeasure",
                           {"section_countermeasure": "countermeasure", "imperative": "countermeasure"})
    rows = [
        section_labelled,
        row("警力不足。", "problem", {"negative_state": "problem"}),  # no section rule voted
        row("民警素质不高。", "problem", {"section_cause": "cause", "negative_state": "problem",
                                         "cue": "problem"}),  # the section rule lost the vote
        row("二、加强执法", "countermeasure", {"section_countermeasure": "countermeasure"}, is_heading=True),
        row("无投票的句子。", None, {}),
    ]
    out = data.with_heading_variants(rows, copies=3, seed=13)
    assert out[:len(rows)] == rows
    variants = out[len(rows):]
    assert len(variants) == 3 and len({v.sentence.heading_path[0] for v in variants}) > 1
    for variant in variants:
        (heading,) = variant.sentence.heading_path
        numeral, rest = heading.split("、", 1)
        topic, keyword = rest.rsplit("的", 1)
        assert numeral in "一二三四五六" and "构建和谐警民关系的思考".startswith(topic) and 4 <= len(topic) <= 8
        assert keyword in HEADING_KEYWORDS["countermeasure"]
        assert variant.sentence.text == section_labelled.sentence.text and variant.sentence.paper_id == "p"
        assert (variant.label, variant.probs) == ("countermeasure", section_labelled.probs)
    assert data.with_heading_variants(rows, copies=0, seed=13) == rows
    assert data.with_heading_variants(rows, copies=3, seed=13) == out  # seeded


def test_made_up_titles_name_classes_and_keep_the_real_titles_label():
    title = "构建和谐警民关系的思考"

    def row(index, text, label, is_heading=True):
        probs = [0.5 if name == label else 0.5 / 3 for name in LABELS]
        return data.WeakRow(Sentence("p", title, index, text, [], is_heading), probs, label, {"paper_title": label})

    rows = [row(0, title, "other"), row(1, title, "other"),  # the title, repeated in the text
            row(2, "一、加强队伍建设", "countermeasure"), row(3, "要完善选拔机制。", "countermeasure", False)]
    out = data.with_made_up_titles(rows, copies=4, seed=13)
    assert out[:len(rows)] == rows
    made_up = out[len(rows):]
    assert len(made_up) == 4 and len({m.sentence.text for m in made_up}) == 4  # one real title, four new ones
    keywords = {word for label in ("problem", "cause", "countermeasure") for word in HEADING_KEYWORDS[label]}
    for item in made_up:
        assert item.sentence.is_title and item.sentence.paper_id == "p"
        assert any(word in item.sentence.text for word in keywords), item.sentence.text
        assert (item.label, item.probs) == ("other", rows[0].probs)
    assert data.with_made_up_titles(rows, copies=0, seed=13) == rows
    assert data.with_made_up_titles(rows, copies=4, seed=13) == out  # seeded


def test_swapped_sections_relabel_a_problems_section_as_causes_and_back():
    title = "构建和谐警民关系的思考"
    layout = [
        ("一、存在的问题", [], True),
        ("部分民警宗旨意识淡薄。", ["一、存在的问题"], False),
        ("群众对公安机关的信任度有所降低。", ["一、存在的问题"], False),
        ("二、对策建议", [], True),
        ("要加强队伍建设。", ["二、对策建议"], False),
        ("三、影响警民关系的原因", [], True),
        ("警力严重不足。", ["三、影响警民关系的原因"], False),
    ]
    sentences = [Sentence("p", title, i, text, path, is_heading) for i, (text, path, is_heading) in enumerate(layout)]
    settings = load_config(DEFAULT_CONFIG)
    rows = [data.WeakRow(s, [w["probs"][name] for name in LABELS], w["label"], w["votes"])
            for s, w in zip(sentences, weak_label(sentences, settings))]
    assert [r.label for r in rows[1:3]] == ["problem", "problem"] and rows[6].label == "cause"

    out = data.with_swapped_sections(rows, sentences, copies=2, seed=13, label_config=settings)
    assert out[:len(rows)] == rows
    swapped = out[len(rows):]
    # Two versions of each of the two sections: its heading and its sentences; the countermeasures stay put.
    assert len(swapped) == 2 * 3 + 2 * 2
    for row in swapped:
        assert row.sentence.paper_id == "p"
        heading = row.sentence.text if row.sentence.is_heading else row.sentence.heading_path[0]
        original = layout[row.sentence.index][0] if row.sentence.is_heading else layout[row.sentence.index][1][0]
        assert heading[:2] == original[:2]  # the enumeration marker is kept
        assert heading_class(heading) == {"problem": "cause", "cause": "problem"}[heading_class(original)]
        assert row.label == heading_class(heading)  # the labeling functions follow the new section
        assert row.votes.get(f"section_{row.label}" if not row.sentence.is_heading else "heading_announces") == row.label
    assert {r.sentence.text for r in swapped if not r.sentence.is_heading} == {
        "部分民警宗旨意识淡薄。", "群众对公安机关的信任度有所降低。", "警力严重不足。"}
    assert data.with_swapped_sections(rows, sentences, copies=0, seed=13, label_config=settings) == rows
    assert data.with_swapped_sections(rows, sentences, copies=2, seed=13, label_config=settings) == out  # seeded
