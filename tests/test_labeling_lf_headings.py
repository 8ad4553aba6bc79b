from pcc.records import Sentence
from training.labeling.candidates import build_candidates
from training.labeling.lf import ABSTAIN
from training.labeling.lf_headings import (heading_announces, heading_inherits_section, section_cause,
                                           section_countermeasure, section_other, section_problem)

TITLE = "当前警民关系存在的问题及对策"


def candidate(text, path=(), is_heading=False, index=10, title=TITLE):
    return build_candidates([Sentence("p#01", title, index, text, list(path), is_heading)])[0]


def test_section_rules_vote_their_class_for_sentences_only():
    inside_causes = candidate("执法不规范，导致“三乱”现象时有发生。", ["二、影响警民关系的因素"])
    assert section_cause(inside_causes) == "cause"
    assert section_problem(inside_causes) == ABSTAIN
    assert section_problem(candidate("群众信任度降低。", ["一、当前警民关系的现状"])) == "problem"
    assert section_problem(candidate("本章首先介绍调查的方法。", ["一、当前警民关系的现状"])) == ABSTAIN
    assert section_countermeasure(candidate("要加强队伍建设。", ["三、构建和谐警民关系的对策"])) == "countermeasure"
    assert section_other(candidate("网络拓展了交流的视野。", ["一、网络时代警民关系的特点"])) == "other"
    heading = candidate("（二）来自公众方面的原因", ["一、影响警民关系的因素"], is_heading=True)
    assert section_cause(heading) == ABSTAIN


def test_headings_announce_their_own_class_or_inherit_their_sections():
    own = candidate("（二）来自公众方面的原因", ["一、制约警民关系的因素"], is_heading=True)
    assert heading_announces(own) == "cause"
    assert heading_inherits_section(own) == ABSTAIN
    sub = candidate("（一）重管理轻服务。", ["一、影响和谐警民关系的几个深层次问题"], is_heading=True)
    assert heading_announces(sub) == ABSTAIN
    assert heading_inherits_section(sub) == "problem"
    assert heading_announces(candidate("一、构建和谐警民关系的重要意义", is_heading=True)) == "other"
    assert heading_announces(candidate("群众对公安机关的意见和建议很多。")) == ABSTAIN  # not a heading
    title = candidate(TITLE, is_heading=True, index=0)
    assert heading_announces(title) == ABSTAIN  # a title is other, even when it names 对策


def test_a_shortfall_named_in_a_sub_section_of_a_causes_section_is_a_cause():
    path = ["二、窗口排长队的原因", "1. 基层人手不足"]
    assert section_cause(candidate("一名民警要负责三个社区。", path)) == "cause"
    assert section_problem(candidate("一名民警要负责三个社区。", path)) == ABSTAIN
    assert heading_announces(candidate("1. 基层人手不足", path[:1], is_heading=True)) == "cause"
    # in a problems section the same shortfall stays a problem
    assert section_problem(candidate("一名民警要负责三个社区。", ["一、存在的问题", "1. 基层人手不足"])) == "problem"
    assert heading_announces(candidate("1. 基层人手不足", ["一、存在的问题"], is_heading=True)) == "problem"
