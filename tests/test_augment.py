from pcc.model_card import HEADINGS_AND_LEAD, ModelCard
from pcc.model_input import heading_context
from pcc.records import LABELS, Sentence
from training import augment
from training.labeling.apply import load_config, weak_label
from training.labeling.heading_vocabulary import HEADING_KEYWORDS, heading_class
from training.labeling.weak_labels import WeakRow


def test_heading_variants_put_section_labelled_sentences_under_made_up_headings_of_their_class():
    def row(text, label, votes, is_heading=False):
        probs = [0.7 if name == label else 0.1 for name in LABELS]
        sentence = Sentence("p", "构建和谐警民关系的思考", 0, text, ["一、加强队伍建设"], is_heading)
        return WeakRow(sentence, probs, label, votes)

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
    out = augment.with_heading_variants(rows, copies=3, seed=13)
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
    assert augment.with_heading_variants(rows, copies=0, seed=13) == rows
    assert augment.with_heading_variants(rows, copies=3, seed=13) == out  # seeded


def test_made_up_titles_name_classes_and_keep_the_real_titles_label():
    title = "构建和谐警民关系的思考"

    def row(index, text, label, is_heading=True):
        probs = [0.5 if name == label else 0.5 / 3 for name in LABELS]
        return WeakRow(Sentence("p", title, index, text, [], is_heading), probs, label, {"paper_title": label})

    rows = [row(0, title, "other"), row(1, title, "other"),  # the title, repeated in the text
            row(2, "一、加强队伍建设", "countermeasure"), row(3, "要完善选拔机制。", "countermeasure", False)]
    out = augment.with_made_up_titles(rows, copies=4, seed=13)
    assert out[:len(rows)] == rows
    made_up = out[len(rows):]
    assert len(made_up) == 4 and len({m.sentence.text for m in made_up}) == 4  # one real title, four new ones
    keywords = {word for label in ("problem", "cause", "countermeasure") for word in HEADING_KEYWORDS[label]}
    for item in made_up:
        assert item.sentence.is_title and item.sentence.paper_id == "p"
        assert any(word in item.sentence.text for word in keywords), item.sentence.text
        assert (item.label, item.probs) == ("other", rows[0].probs)
    assert augment.with_made_up_titles(rows, copies=0, seed=13) == rows
    assert augment.with_made_up_titles(rows, copies=4, seed=13) == out  # seeded


def _paper(title: str, layout: list[tuple[str, list[str], bool]]) -> list[Sentence]:
    """Paper "p" with one sentence per (text, heading path, is heading) of `layout`, each its own paragraph."""
    return [Sentence("p", title, i, text, path, is_heading, paragraph=i + 1)
            for i, (text, path, is_heading) in enumerate(layout)]


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
    sentences = _paper(title, layout)
    settings = load_config()
    rows = weak_label(sentences, settings)
    assert [r.label for r in rows[1:3]] == ["problem", "problem"] and rows[6].label == "cause"

    out = augment.with_swapped_sections(rows, sentences, copies=2, seed=13, label_config=settings)
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
    assert augment.with_swapped_sections(rows, sentences, copies=0, seed=13, label_config=settings) == rows
    assert augment.with_swapped_sections(rows, sentences, copies=2, seed=13, label_config=settings) == out  # seeded


def test_made_up_abstracts_list_a_papers_classes_after_announcements_each_item_labelled_as_its_source():
    def row(index, text, label, confidence=0.8, heading=("二、存在的问题",)):
        probs = [confidence if name == label else (1 - confidence) / 3 for name in LABELS]
        return WeakRow(Sentence("p", "基层派出所警务工作的困境与出路", index, text, list(heading)), probs, label, {})

    rows = [row(1, "基层派出所是公安机关的最基层单位。", "other", heading=()),
            row(2, "一是警力配置不足，一人身兼数职。", "problem"), row(3, "（二）非警务活动繁多。", "problem"),
            row(4, "首先，编制长期没有调整。", "cause"), row(5, "经费保障不到位。", "cause"),
            row(6, "要建立警力动态调整机制。", "countermeasure"),  # one countermeasure: no list of them
            row(7, "警力分布不均。", "problem", confidence=0.4),  # unsure: never an item
            row(8, "究其原因，主要有以下几点：", "cause")]  # announces by itself: never an item
    abstract = augment.made_up_abstracts(rows, copies=1, seed=13)
    texts = [r.sentence.text for r in abstract]
    assert [r.label for r in abstract] == ["other", "problem", "problem", "cause", "cause"]
    assert texts[0].endswith("基层派出所是公安机关的最基层单位。")
    assert texts[1].endswith("：警力配置不足，一人身兼数职；") or texts[1].endswith("：非警务活动繁多；")
    assert texts[2] in ("警力配置不足，一人身兼数职。", "非警务活动繁多。")
    assert any(texts[3].startswith(a) for a in augment._ABSTRACT_ANNOUNCEMENTS["cause"]) and texts[3].endswith("；")
    assert all(r.probs == rows[{"other": 0}.get(r.label, 1)].probs for r in abstract[:3])
    assert {r.sentence.paper_id for r in abstract} == {"p"} and len({r.sentence.id for r in abstract}) == 5
    assert all(r.sentence.index >= augment.ABSTRACT_INDEX and not r.sentence.is_title for r in abstract)
    paths = {tuple(r.sentence.heading_path) for r in abstract}
    assert len(paths) == 1 and (paths.pop() != () or texts[0][:1] in "摘【[内")  # under a heading or run in
    assert augment.made_up_abstracts(rows, copies=1, seed=13) == abstract  # seeded
    assert augment.made_up_abstracts(rows, copies=0, seed=13) == []
    assert len(augment.made_up_abstracts(rows, copies=2, seed=13)) == 10


def test_headless_views_read_each_sentence_as_a_page_without_headings_would():
    title = "社区警务工作的思考"
    layout = [
        ("一、影响警民关系的原因", [], True),
        ("基层派出所的工作量逐年增加。", ["一、影响警民关系的原因"], False),
        ("社区民警人手严重不足。", ["一、影响警民关系的原因"], False),
        ("二、对策建议", [], True),
        ("要充实社区警力。", ["二、对策建议"], False),
    ]
    sentences = _paper(title, layout)
    settings = load_config()
    in_sections = weak_label(sentences, settings)
    assert in_sections[2].label == "cause"  # the causes section decides (guideline rule 2)

    card = ModelCard(context=HEADINGS_AND_LEAD)
    views = augment.headless_views(sentences, card, settings)
    # Headings get no view; nor does a sentence on which no rule votes once its section is gone.
    assert set(views) == {"p/0002", "p/0004"}

    def label(probs):
        return LABELS[max(range(len(LABELS)), key=probs.__getitem__)]

    # Alone on the page, a shortfall states a problem; its lead is the sentence before it, the heading is gone.
    assert label(views["p/0002"].probs) == "problem"
    assert views["p/0002"].context == heading_context([], "基层派出所的工作量逐年增加。")
    # Across a lost heading, a proposal's lead is the last sentence of the section before, and it stays a proposal.
    assert label(views["p/0004"].probs) == "countermeasure"
    assert views["p/0004"].context == heading_context([], "社区民警人手严重不足。")
