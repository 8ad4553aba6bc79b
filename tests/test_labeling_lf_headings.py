from pcc.records import Sentence
from training.labeling.candidates import build_candidates
from training.labeling.lf_headings import (heading_announces, heading_inherits_section, section_cause,
                                            section_class, section_countermeasure, section_other, section_problem)

TITLE = "当前警民关系存在的问题及对策"


def candidate(text, path=(), is_heading=False, index=10, title=TITLE):
    return build_candidates([Sentence("p#01", title, index, text, list(path), is_heading)])[0]


def test_a_heading_run_into_an_earlier_sentence_makes_a_section_outside_detected_ones():
    cands = build_candidates([Sentence("p#01", TITLE, i, t) for i, t in enumerate(
        ["建立和谐警民关系的方法加强警民互动公安机关应该主动到社区去。", "同时摆脱警察形象的束缚。"])])
    assert [section_class(c) for c in cands] == ["countermeasure", "countermeasure"]


def test_the_innermost_classed_heading_is_the_section_and_the_title_never_counts():
    assert section_class(candidate("句子。", ["一、制约警民关系的因素", "（一）来自公众方面的原因", "1、媒体误导"])) == "cause"
    assert section_class(candidate("句子。", ["一、存在的问题", "（二）应对的措施"])) == "countermeasure"
    assert section_class(candidate("句子。", [TITLE])) is None
    assert section_class(candidate("句子。")) is None


def test_a_heading_that_prescribes_an_action_makes_a_countermeasure_section_unless_a_keyword_says_otherwise():
    assert section_class(candidate("句子。", ["一、加强队伍建设"])) == "countermeasure"
    assert section_class(candidate("句子。", ["一、网络时代警民关系的特点", "（三）提高社会监督的效果"])) == "other"
    assert section_class(candidate("句子。", ["（一）增强了警民交流的针对性"])) is None  # a result, not a prescription


def test_section_rules_vote_their_class_for_sentences_only():
    inside_causes = candidate("执法不规范，导致“三乱”现象时有发生。", ["二、影响警民关系的因素"])
    assert section_cause(inside_causes) == "cause"
    assert section_problem(inside_causes) is None
    assert section_problem(candidate("群众信任度降低。", ["一、当前警民关系的现状"])) == "problem"
    assert section_countermeasure(candidate("要加强队伍建设。", ["三、构建和谐警民关系的对策"])) == "countermeasure"
    assert section_other(candidate("网络拓展了交流的视野。", ["一、网络时代警民关系的特点"])) == "other"
    heading = candidate("（二）来自公众方面的原因", ["一、影响警民关系的因素"], is_heading=True)
    assert section_cause(heading) is None


def test_headings_announce_their_own_class_or_inherit_their_sections():
    own = candidate("（二）来自公众方面的原因", ["一、制约警民关系的因素"], is_heading=True)
    assert heading_announces(own) == "cause"
    assert heading_inherits_section(own) is None
    sub = candidate("（一）重管理轻服务。", ["一、影响和谐警民关系的几个深层次问题"], is_heading=True)
    assert heading_announces(sub) is None
    assert heading_inherits_section(sub) == "problem"
    assert heading_announces(candidate("一、构建和谐警民关系的重要意义", is_heading=True)) == "other"
    assert heading_announces(candidate("群众对公安机关的意见和建议很多。")) is None  # not a heading
    title = candidate(TITLE, is_heading=True, index=0)
    assert heading_announces(title) is None  # a title is other, even when it names 对策
