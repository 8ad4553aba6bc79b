from pcc.segmentation import Unit, assign_heading_paths, segment_paragraph, split_heading, split_sentences


def texts(units):
    return [(unit.text, unit.is_heading) for unit in units]


def test_sentences_end_at_full_stops_question_and_exclamation_marks():
    assert split_sentences("警民关系紧张。群众不满意！怎么办？要加强沟通。") == [
        "警民关系紧张。", "群众不满意！", "怎么办？", "要加强沟通。",
    ]


def test_never_inside_quotes_or_brackets():
    assert split_sentences("他说：“我们要努力。大家一起干！”然后离开了。") == ["他说：“我们要努力。大家一起干！”", "然后离开了。"]
    assert split_sentences("“一个声音被淹没。再想忽略也就难了。”二是加强。") == ["“一个声音被淹没。再想忽略也就难了。”", "二是加强。"]
    assert split_sentences("见《警察法。释义》第三条（参见附件。）的规定。下一句。") == ["见《警察法。释义》第三条（参见附件。）的规定。", "下一句。"]
    assert split_sentences("【注意。事项】不得泄露。") == ["【注意。事项】不得泄露。"]


def test_unmatched_quotes_do_not_swallow_the_rest():
    assert split_sentences("则是”三大建设”的核心。下一句。") == ["则是”三大建设”的核心。", "下一句。"]
    assert split_sentences("他说“没完。下一句。") == ["他说“没完。", "下一句。"]


def test_semicolon_ends_a_full_clause_but_not_a_keyword_list():
    assert split_sentences("在执行警务活动时耍特权，抖威风；在接待群众时态度生硬；方法简单。") == [
        "在执行警务活动时耍特权，抖威风；", "在接待群众时态度生硬；", "方法简单。",
    ]
    assert split_sentences("【关键词】公安机关；警民关系；和谐社会") == ["【关键词】公安机关；警民关系；和谐社会"]
    assert split_sentences("关键词：网络舆情；和谐警民关系；负面影响；") == ["关键词：网络舆情；和谐警民关系；负面影响；"]
    assert split_sentences("包括甲；乙；丙三类。") == ["包括甲；乙；丙三类。"]


def test_heading_glued_to_its_first_sentence_is_split():
    assert texts(split_heading("一、当前警民关系的现实状况总体上讲，人民群众对公安机关还是认同的。")) == [
        ("一、当前警民关系的现实状况", True), ("总体上讲，人民群众对公安机关还是认同的。", False),
    ]
    assert texts(split_heading("（三）提高社会监督的效果在构建和谐关系的过程中，任何公民都可以监督。")) == [
        ("（三）提高社会监督的效果", True), ("在构建和谐关系的过程中，任何公民都可以监督。", False),
    ]
    assert texts(split_heading("二、要培养群众感情，交得上心“交心”是建设的基础，也是前提。")) == [
        ("二、要培养群众感情，交得上心", True), ("“交心”是建设的基础，也是前提。", False),
    ]


def test_nested_headings_glued_together_are_split():
    assert texts(split_heading("一、制约关系建设的因素（一）来自内部的原因1、管理不严，执法不规范。")) == [
        ("一、制约关系建设的因素", True), ("（一）来自内部的原因", True), ("1、管理不严，执法不规范。", True),
    ]


def test_heading_kinds_and_their_levels():
    cases = {
        "第一章 绪论": 0, "第二节 研究方法": 1, "一、问题的提出": 2, "（二）重打击轻教育。": 3,
        "3、媒体误导。": 4, "2.提高警察执法能力和形象。": 4, "(1)加强培训": 5,
    }
    for text, level in cases.items():
        (unit,) = segment_paragraph(text)
        assert unit.is_heading and unit.level == level, text


def test_short_heading_ending_with_full_stop_is_still_a_heading_long_items_are_sentences():
    assert texts(segment_paragraph("（一）重管理轻服务。")) == [("（一）重管理轻服务。", True)]
    item = "2. 提高培训水平：加大对公安人员的培训力度，注重实战能力的培养，提高应对复杂情况的能力和素质。"
    assert texts(segment_paragraph(item)) == [(item, False)]


def test_enumerated_items_are_sentences_not_headings():
    units = segment_paragraph("我认为要做到三到位：一是思想认识要到位。二是方式方法要到位。")
    assert texts(units) == [("我认为要做到三到位：一是思想认识要到位。", False), ("二是方式方法要到位。", False)]


def test_list_of_sections_after_a_colon_starts_a_new_unit():
    units = segment_paragraph("我们提出以下建议：一、加强队伍建设1. 完善选拔机制：建立科学的选拔机制，注重选拔政治素质高、执法能力强的人才，为队伍建设奠定基础。")
    assert texts(units)[:2] == [("我们提出以下建议：", False), ("一、加强队伍建设", True)]
    assert not units[2].is_heading and units[2].text.startswith("1. 完善选拔机制")


def test_decimals_and_enumerations_are_not_headings():
    assert texts(segment_paragraph("3.5亿网民参与了调查，比例很高。")) == [("3.5亿网民参与了调查，比例很高。", False)]


def test_short_unpunctuated_line_is_a_heading_a_lost_numeral_mark_is_dropped():
    assert texts(segment_paragraph("网络时代警民关系的现状分析")) == [("网络时代警民关系的现状分析", True)]
    (unit,) = segment_paragraph("、构建和谐警民关系的重要意义")
    assert (unit.text, unit.is_heading, unit.level) == ("构建和谐警民关系的重要意义", True, 2)


def test_heading_paths_nest_by_level():
    units = [
        Unit("论文题目", True, None),
        Unit("一、影响和谐警民关系的几个深层次问题", True, 2),
        Unit("随着社会发展，要求越来越高。"),
        Unit("（一）重管理轻服务。", True, 3),
        Unit("少数民警宗旨观念淡薄。"),
        Unit("（二）重打击轻教育。", True, 3),
        Unit("二、对策", True, 2),
        Unit("要加强沟通。"),
    ]
    paths = assign_heading_paths(units)
    assert paths[0] == [] and paths[1] == []
    assert paths[4] == ["一、影响和谐警民关系的几个深层次问题", "（一）重管理轻服务"]
    assert paths[5] == ["一、影响和谐警民关系的几个深层次问题"]
    assert paths[7] == ["二、对策"]


def test_inline_lists_and_items_with_a_lead_in_are_sentences():
    assert texts(segment_paragraph("措施包括：（1）加强培训；（2）完善制度。")) == [("措施包括：（1）加强培训；（2）完善制度。", False)]
    assert texts(segment_paragraph("2. 提高培训水平：加大对公安人员的培训力度。")) == [("2. 提高培训水平：加大对公安人员的培训力度。", False)]
    assert texts(segment_paragraph("因此，具有以下必要性：1.促进社会的和谐稳定。")) == [("因此，具有以下必要性：1.促进社会的和谐稳定。", False)]


def test_decimal_section_numbers_nest():
    units = [segment_paragraph(text)[0] for text in ("1 引言", "1.1 研究背景", "1.1.1 数据来源", "2 结论")]
    assert [unit.is_heading for unit in units] == [True] * 4
    assert assign_heading_paths(units + [Unit("正文。")])[-1] == ["2 结论"]
    assert assign_heading_paths(units[:3] + [Unit("正文。")])[-1] == ["1 引言", "1.1 研究背景", "1.1.1 数据来源"]


def test_reference_entries_stay_whole():
    entry = "[1]张三。论警民关系[J]。公安研究，2010（3）：12-15。"
    assert texts(segment_paragraph(entry)) == [(entry, False)]
    assert len(segment_paragraph("[1]和谐警民关系是在参照警民关系的基础上提出的。这是背景。")) == 2


def test_a_sub_title_glued_to_its_first_sentence_is_cut_off():
    # a page that lost its line breaks: the sub-title names a shortfall, the sentence takes up its word again
    assert [(u.text, u.is_heading) for u in segment_paragraph("经费保障不足经费保障是基层治理的基础，但投入有限。")] == [
        ("经费保障不足", True), ("经费保障是基层治理的基础，但投入有限。", False)]
    # … or opens as sentences do
    assert texts(segment_paragraph("人手紧张由于编制多年未调，窗口经常排长队。")) == [
        ("人手紧张", True), ("由于编制多年未调，窗口经常排长队。", False)]
    # a sentence whose subject is a verb phrase is no sub-title
    assert texts(segment_paragraph("构建和谐医患关系作为一项系统工程，需要各方参与。")) == [
        ("构建和谐医患关系作为一项系统工程，需要各方参与。", False)]
    # a plain sentence with a comma early on stays whole
    assert texts(segment_paragraph("近年来由于经费不足，很多工作难以开展。")) == [("近年来由于经费不足，很多工作难以开展。", False)]


def test_a_numbered_job_heading_run_into_its_section_is_cut_off_with_its_sub_title():
    units = segment_paragraph("一、存在的问题窗口服务不规范随着业务量增加，部分窗口服务流于形式。")
    assert [(u.text, u.is_heading, u.level) for u in units] == [
        ("一、存在的问题", True, 2), ("窗口服务不规范", True, 2.5), ("随着业务量增加，部分窗口服务流于形式。", False, 2)]
    assert texts(segment_paragraph("二、对策加强窗口管理窗口人员应当统一着装，规范用语，提高办事效率。")) == [
        ("二、对策", True), ("加强窗口管理", True), ("窗口人员应当统一着装，规范用语，提高办事效率。", False)]
    # a short numbered heading with a comma stays one heading
    assert texts(segment_paragraph("（二）牢固树立服务意识，是改进作风的前提。")) == [("（二）牢固树立服务意识，是改进作风的前提。", True)]
    assert texts(segment_paragraph("一、问题与对策")) == [("一、问题与对策", True)]


def test_unnumbered_aspect_sub_titles_keep_the_chapter_that_names_their_job():
    units = [Unit("基层窗口服务问题的原因分析", True), Unit("人员编制不足", True), Unit("编制多年未调。"),
             Unit("考核机制单一", True), Unit("考核只看办件数量。"), Unit("改进窗口服务的对策", True), Unit("要动态调整编制。")]
    assert assign_heading_paths(units) == [
        [], ["基层窗口服务问题的原因分析"], ["基层窗口服务问题的原因分析", "人员编制不足"], ["基层窗口服务问题的原因分析"],
        ["基层窗口服务问题的原因分析", "考核机制单一"], [], ["改进窗口服务的对策"]]
    # without a chapter that names a job, unnumbered titles stay siblings
    assert assign_heading_paths([Unit("高额回报的诱惑", True), Unit("利率动辄翻倍。"), Unit("监管存在空白", True),
                                 Unit("部门职责交叉。")]) == [[], ["高额回报的诱惑"], [], ["监管存在空白"]]


def test_an_affiliation_line_is_front_matter_not_a_heading():
    assert texts(segment_paragraph("华东某某大学公共管理学院")) == [("华东某某大学公共管理学院", False)]
    assert texts(segment_paragraph("某某大学社会学院 南京 210023")) == [("某某大学社会学院 南京 210023", False)]
    # headings that name a college or a university stay headings
    assert texts(segment_paragraph("高职学院发展对策")) == [("高职学院发展对策", True)]
    assert texts(segment_paragraph("高校学院管理问题研究")) == [("高校学院管理问题研究", True)]


def test_sub_titles_glued_inside_a_run_on_paragraph_and_job_headings_run_into_a_list_are_cut_off():
    units = segment_paragraph("一、存在的问题人手紧张由于编制多年未调，窗口经常排长队。设施配置不到位部分窗口面积狭小，群众排队无处可坐。")
    assert texts(units) == [("一、存在的问题", True), ("人手紧张", True), ("由于编制多年未调，窗口经常排长队。", False),
                            ("设施配置不到位", True), ("部分窗口面积狭小，群众排队无处可坐。", False)]
    assert texts(segment_paragraph("三、对策建议一是充实窗口力量；二是改善办事环境。")) == [
        ("三、对策建议", True), ("一是充实窗口力量；", False), ("二是改善办事环境。", False)]
    assert texts(segment_paragraph("四、结语窗口服务的改进是一项长期任务，需要久久为功。")) == [
        ("四、结语", True), ("窗口服务的改进是一项长期任务，需要久久为功。", False)]
    # `原因分析` is one heading, not `原因` and a sub-title `分析…`
    assert texts(segment_paragraph("二、原因分析编制不足由于人口增长，编制多年未调。"))[:2] == [
        ("二、原因分析", True), ("编制不足", True)]


def test_an_abstracts_outline_of_its_chapters_is_sentences_but_chapter_headings_stay_headings():
    outline = "全文共分五章。第一章为绪论，介绍研究背景、意义与方法。第二章介绍了社区警务、网格化管理等相关概念。第三章对调查结果进行了分析。"
    assert texts(segment_paragraph(outline)) == [
        ("全文共分五章。", False), ("第一章为绪论，介绍研究背景、意义与方法。", False),
        ("第二章介绍了社区警务、网格化管理等相关概念。", False), ("第三章对调查结果进行了分析。", False)]
    for heading in ("第一章 绪论", "第四章对策建议", "第二章调查结果与分析", "第二节存在的问题"):
        assert texts(segment_paragraph(heading)) == [(heading, True)]
