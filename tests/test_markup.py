from pcc.documents import prepare_text
from pcc.markup import unflatten_markup


def test_a_flattened_markdown_page_gets_a_line_per_heading_and_its_sentence_apart():
    assert unflatten_markup("## 现状 ### 1. 规模扩大据民政部门调查，全市已有三百余家机构。 ### 2. 人手紧张") == [
        "现状", "1. 规模扩大", "据民政部门调查，全市已有三百余家机构。", "2. 人手紧张"]
    assert unflatten_markup("# 社区养老服务的困境与出路") == ["社区养老服务的困境与出路"]


def test_emphasis_and_bullet_marks_come_off_and_empty_bullets_go():
    assert unflatten_markup("**摘要：**本文讨论社区养老。") == ["摘要：本文讨论社区养老。"]
    assert unflatten_markup("- 资金保障不足：很多机构运营困难。") == ["资金保障不足：很多机构运营困难。"]
    assert unflatten_markup("设施落后。 - 人员缺乏：护理人员流失严重。 -") == ["设施落后。", "人员缺乏：护理人员流失严重。"]
    assert unflatten_markup("-") == []
    # a dash inside text is no bullet
    assert unflatten_markup("气温降至-5℃，第3-5页") == ["气温降至-5℃，第3-5页"]


def test_a_markdown_page_reads_as_a_paper_with_nested_headings():
    page = "# 社区养老服务的困境与出路 ## 存在的问题 ### 1. 人手紧张据调查，护理人员缺口较大。 ## 对策 - 要提高护理人员待遇。"
    sentences = prepare_text(page).sentences
    assert sentences[0].is_title and sentences[0].text == "社区养老服务的困境与出路"
    by_text = {s.text: s.heading_path for s in sentences}
    assert by_text["据调查，护理人员缺口较大。"] == ["存在的问题", "1. 人手紧张"]
    assert by_text["要提高护理人员待遇。"] == ["对策"]


def test_a_flattened_heading_is_cut_where_figures_or_an_opener_start_its_sentence_never_past_a_comma():
    assert unflatten_markup("### 2. 年龄结构老化60岁以上的村医占比超过四成，不少人仍在坚守。") == [
        "2. 年龄结构老化", "60岁以上的村医占比超过四成，不少人仍在坚守。"]
    assert unflatten_markup("### 3. 后继乏人近五年新进入的年轻人不足20人。") == ["3. 后继乏人", "近五年新进入的年轻人不足20人。"]
