from pcc.records import Sentence
from training.labeling.candidates import build_candidates
from training.labeling.context import section_class

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
