from pcc.model_card import HEADINGS, HEADINGS_AND_LEAD, ModelCard
from pcc.model_input import (LEAD_CHARS, TITLE_CONTEXT, ModelInput, given_heading_path, heading_context, lead_as_read,
                             model_inputs, paper_leads, sentence_context)
from pcc.records import Sentence

TITLE = "当前警民关系存在的问题及对策"


def sentence(index, text, heading_path=(), is_heading=False, title=TITLE, paragraph=1):
    return Sentence("p", title, index, text, list(heading_path), is_heading, paragraph=paragraph)


def test_the_heading_path_is_joined_into_one_segment():
    assert heading_context(["一、存在的问题", "（一）警力不足"]) == "一、存在的问题 > （一）警力不足"
    assert heading_context([]) is None and heading_context(None) is None


def test_the_title_gets_the_title_marker_wherever_the_paper_repeats_it_near_its_start():
    titles = [
        sentence(0, TITLE, is_heading=True),
        sentence(1, "当前警民关系 存在的问题及对策", is_heading=True),  # extracted with a space
        sentence(1, f"浅谈{TITLE}", is_heading=True),
        sentence(2, f"{TITLE}警民关系是社会关系的重要组成部分。"),  # the first sentence run into it
        sentence(1, "——以某市公安局为例", is_heading=True, paragraph=0),  # a subtitle: front matter
    ]
    for title in titles:
        assert title.is_title and sentence_context(title) == TITLE_CONTEXT, title.text


def test_other_sentences_get_their_headings_or_nothing():
    not_titles = [
        sentence(3, TITLE, is_heading=True),  # too far from the start: a heading that quotes the title
        sentence(1, f"浅谈{TITLE}"),  # contains the title, but is a sentence that does not start with it
        sentence(0, TITLE, is_heading=True, title=""),  # no title known (a sentence given alone)
        sentence(1, "一、存在的问题", is_heading=True),
    ]
    assert not any(s.is_title for s in not_titles)
    assert sentence_context(not_titles[3]) is None
    assert sentence_context(sentence(2, "警力不足。", ["一、存在的问题"])) == "一、存在的问题"


def test_a_given_heading_path_is_a_list_of_headings_one_heading_or_nothing():
    assert given_heading_path(["一、存在的问题", " （一）信任 "]) == ["一、存在的问题", "（一）信任"]
    assert given_heading_path("二、原因") == ["二、原因"]
    assert given_heading_path(None) == given_heading_path("") == given_heading_path([]) == []
    for bad in (["一、背景", 2], ["一、背景", " "], 3, {"heading": "一、背景"}):
        assert given_heading_path(bad) is None, bad


def test_a_lead_follows_the_headings_and_keeps_its_end():
    assert heading_context(["二、原因分析"], "究其原因，主要有以下几点：") == "二、原因分析 ‖ 究其原因，主要有以下几点："
    assert heading_context([], "长" * 30 + "原因如下：") == "‖ " + ("长" * 30 + "原因如下：")[-LEAD_CHARS:]
    assert heading_context(None, None) is None and heading_context([], "  ") is None


def test_each_sentence_is_led_by_its_lists_announcement_or_the_sentence_before_it_in_its_section():
    path = ["二、原因分析"]
    paper = [sentence(0, TITLE, is_heading=True), sentence(1, "二、原因分析", is_heading=True),
             sentence(2, "究其原因，主要有以下几点：", path), sentence(3, "一是警力不足。", path),
             sentence(4, "二是经费紧张。", path), sentence(5, "群众意见很大。", path, paragraph=2),
             sentence(6, "三、对策", is_heading=True), sentence(7, "要加强队伍建设。", ["三、对策"])]
    leads = paper_leads(paper[::-1])[::-1]  # any order: neighbours come from the paper's own order
    assert leads == [None, None, None, "究其原因，主要有以下几点：", "究其原因，主要有以下几点：", "二是经费紧张。", None, None]
    contexts = [item.context for item in model_inputs(ModelCard(context=HEADINGS_AND_LEAD), paper)]
    assert contexts[0] == TITLE_CONTEXT and contexts[4] == "二、原因分析 ‖ 究其原因，主要有以下几点："
    assert contexts[7] == "三、对策"
    assert model_inputs(ModelCard(context=HEADINGS), paper)[4] == ModelInput("二是经费紧张。", "二、原因分析", None, "二、原因分析")


def test_clauses_of_an_unnumbered_list_are_led_by_the_announcement_in_its_first_clause():
    def clause(index, text, paragraph=1, path=("摘要",)):
        return Sentence("p", TITLE, index, text, list(path), False, "ok", paragraph)

    first = "本文以某县为例，通过问卷调查和访谈发现，当前基层警务中存在的问题主要是：警力配置不足，一人身兼数职；"
    paper = [sentence(0, TITLE, is_heading=True),
             clause(1, first), clause(2, "非警务活动繁多；"), clause(3, "信息化水平不高。"),
             clause(4, "其原因在于：编制长期未调整；"), clause(5, "经费保障不到位。"),
             clause(6, "下一段的第一句话。", paragraph=2), clause(7, "下一段的第二句话；", paragraph=2),
             clause(8, "没有冒号的清单继续；", paragraph=2), clause(9, "到此结束。", paragraph=2)]
    leads = paper_leads(paper)
    assert leads[2] == leads[3] == first[:first.index("：") + 1]  # the whole announcement, cut to LEAD_CHARS later
    assert leads[4] == "信息化水平不高。"  # a clause that announces a new list is led by the sentence before it
    assert leads[5] == "其原因在于："
    assert leads[6] == "经费保障不到位。"  # the list ended: the sentence before, as everywhere
    assert leads[8:] == ["下一段的第二句话；", "没有冒号的清单继续；"]  # a run without an announcement: the clause before
    assert model_inputs(ModelCard(context=HEADINGS_AND_LEAD), paper)[3].context == \
        "摘要 ‖ " + first[:first.index("：") + 1][-LEAD_CHARS:]


def test_sentences_explaining_an_item_in_its_paragraph_are_led_by_the_lists_announcement():
    paper = [sentence(0, "下面从几个方面分析其成因。", paragraph=1), sentence(1, "第一，监管力量薄弱。", paragraph=1),
             sentence(2, "很多司法所只有一名专职人员。", paragraph=1), sentence(3, "第二，经费保障不足。", paragraph=1),
             sentence(4, "专项经费常被挤占。", paragraph=1), sentence(5, "矫正工作还要依靠社会力量。", paragraph=2)]
    leads = paper_leads(paper)
    assert leads[1:5] == ["下面从几个方面分析其成因。"] * 4
    assert leads[5] == "专项经费常被挤占。"  # a new paragraph ends the list


def test_the_card_decides_what_the_model_reads_of_a_sentence_placed_in_its_paper():
    path = ["二、原因分析"]
    paper = [sentence(0, TITLE, is_heading=True), sentence(1, "二、原因分析", is_heading=True),
             sentence(2, "究其原因，主要有以下几点：", path), sentence(3, "一是警力不足。", path)]
    announcement = "究其原因，主要有以下几点："
    assert model_inputs(ModelCard(context=HEADINGS_AND_LEAD), paper)[3] == \
        ModelInput("一是警力不足。", f"二、原因分析 ‖ {announcement}", announcement, "二、原因分析")
    assert model_inputs(ModelCard(context=HEADINGS), paper)[3] == ModelInput("一是警力不足。", "二、原因分析", None, "二、原因分析")
    bare = model_inputs(ModelCard(use_heading=False, context=HEADINGS_AND_LEAD), paper)
    assert bare == [ModelInput(s.text, None, None, None) for s in paper]
    # Placed among the sentences of their papers: only the sentences asked for, each with its paper's lead; a
    # lead given by id wins over the paper's (None: no lead at all).
    reader = ModelCard(context=HEADINGS_AND_LEAD)
    assert model_inputs(reader, paper[3:], papers=paper)[0].lead == announcement
    assert model_inputs(reader, paper[3:], papers=paper, given_leads={paper[3].id: "另一句话。"})[0].lead == "另一句话。"
    assert model_inputs(reader, paper[3:], papers=paper, given_leads={paper[3].id: None})[0].context == "二、原因分析"


def test_a_sentence_given_alone_reads_its_own_headings_and_lead():
    reader = ModelCard(context=HEADINGS_AND_LEAD)
    given = [Sentence("", "", 0, "警力不足。", ["一、存在的问题"]), Sentence("", "", 1, "要加强沟通。", [])]
    inputs = model_inputs(reader, given, papers=(), given_leads={given[0].id: "长" * 30 + "主要表现为：  "})
    assert inputs[0] == ModelInput("警力不足。", "一、存在的问题 ‖ " + ("长" * 30 + "主要表现为：")[-LEAD_CHARS:],
                                   ("长" * 30 + "主要表现为：")[-LEAD_CHARS:], "一、存在的问题")
    # Without headings, the reading without the lead is the bare sentence.
    alone = model_inputs(reader, given[1:], papers=(), given_leads={given[1].id: "其原因如下："})[0]
    assert (alone.context, alone.context_without_lead) == ("‖ 其原因如下：", None)
    assert alone.read_twice and inputs[0].read_twice
    assert inputs[1] == ModelInput("要加强沟通。", None, None, None)  # no neighbours: the sentence before is unrelated
    assert not inputs[1].read_twice
    assert [item.lead for item in model_inputs(ModelCard(), given, papers=(), given_leads={given[0].id: "x"})] == \
        [None, None]


def test_a_lead_read_once_reads_the_same_again():
    lead = "另一方面， " + "警" * 18 + "原因如下："  # its last LEAD_CHARS characters start with the space
    once = lead_as_read(lead)
    assert len(once) < LEAD_CHARS and not once.startswith(" ") and lead_as_read(once) == once
    assert heading_context(["二、原因"], lead) == heading_context(["二、原因"], once) == f"二、原因 ‖ {once}"
