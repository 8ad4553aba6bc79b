from pcc.records import Sentence
from training.labeling.candidates import build_candidates
from training.labeling.lf import ABSTAIN
from training.labeling.lf_structure import (announced_list_item, announced_paragraph, enumerated_item_in_section,
                                            outside_sections, paper_title)

TITLE = "构建和谐警民关系的几点思考"


def paper(rows):
    """rows: (text, heading_path, is_heading), each a paragraph of the paper's body"""
    return build_candidates([Sentence("p#01", TITLE, i, t, list(p), h, paragraph=i + 1) for i, (t, p, h) in enumerate(rows)])


def test_enumerated_items_inherit_their_section():
    cands = paper([
        ("一、制约和谐警民关系建设的因素", [], True),
        ("一是管理职能尚不能适应新形势的需要。", ["一、制约和谐警民关系建设的因素"], False),
        ("这一点很明显。", ["一、制约和谐警民关系建设的因素"], False),
        ("1.随便一句。", [], False),
    ])
    assert enumerated_item_in_section(cands[1]) == "cause"
    assert enumerated_item_in_section(cands[2]) == ABSTAIN  # not an enumerated item
    assert enumerated_item_in_section(cands[3]) == ABSTAIN  # no classed section
    assert enumerated_item_in_section(cands[0]) == ABSTAIN  # headings have their own rules


def test_items_of_an_announced_list_carry_the_announced_class():
    cands = paper([
        ("造成这种局面的原因主要有以下几点：", [], False),
        ("一是经费保障不足。", [], False),
        ("二是考核机制不科学。", [], False),
        ("因此，加强警民关系建设，具有以下必要性：1.促进社会的和谐稳定。", [], False),
        ("2.提高警察执法能力和形象。", [], True),
        ("群众安全感有所下降。", [], False),
    ])
    assert [announced_list_item(c) for c in cands] == [ABSTAIN, "cause", "cause", "other", "other", ABSTAIN]


def test_paper_title_is_other_only_near_the_start():
    cands = paper([(TITLE, [], True), (TITLE + "构建和谐警民关系，是重大举措。", [], False), ("第三句。", [], False),
                   ("第四句。", [], False), (TITLE, [], False)])
    assert [paper_title(c) for c in cands] == ["other", "other", ABSTAIN, ABSTAIN, ABSTAIN]


def test_sentences_outside_any_section_are_background():
    cands = paper([("随着社会发展，警民关系受到关注。", [], False),
                   ("一、存在的问题", [], True),
                   ("信任度下降。", ["一、存在的问题"], False),
                   ("1.加强教育。", [], False)])
    assert [outside_sections(c) for c in cands] == ["other", ABSTAIN, ABSTAIN, ABSTAIN]


def test_a_paper_without_headings_has_no_introduction_to_call_background():
    # Only the title is a heading here: the wording of each sentence must decide.
    cands = paper([(TITLE, [], True),
                   ("网络借贷是指借贷双方通过网络平台完成借贷交易的金融模式。", [], False),
                   ("对此，高校应当将金融安全教育纳入日常教学。", [], False)])
    assert [outside_sections(c) for c in cands] == [ABSTAIN, ABSTAIN, ABSTAIN]


def test_a_paragraph_opened_by_an_announcement_does_the_announced_job():
    sentences = [Sentence("p#01", TITLE, i, t, [], False, paragraph=p) for i, (t, p) in enumerate([
        ("这些短板的形成并非偶然。", 1), ("长期以来，基层投入重硬件、轻人才；", 1), ("应急演练多是走过场。", 1),
        ("补齐这些短板，需要从以下几个方面发力。", 2), ("一要建立直报机制。", 2), ("群众满意度有所提高。", 3)])]
    cands = build_candidates(sentences)
    assert [announced_paragraph(c) for c in cands] == [ABSTAIN, "cause", "cause", ABSTAIN, "countermeasure", ABSTAIN]
