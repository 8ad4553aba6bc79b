from training.labeling.heading_vocabulary import heading_class, prescribes_action, run_in_heading


def test_the_rightmost_keyword_of_a_heading_decides():
    assert heading_class("影响和谐警民关系的几个深层次问题") == "problem"
    assert heading_class("制约和谐警民关系建设的因素") == "cause"
    assert heading_class("加强警察公共关系建设的必要性") == "other"
    assert heading_class("加强警察公共关系建设的方法") == "countermeasure"
    assert heading_class("（一）重管理轻服务。") is None


def test_only_the_heading_proper_counts_and_claims_of_importance_or_prescribed_lists_are_recognised():
    assert heading_class("一、客观认识三个主要问题一是少数民警做群众工作方法滞后。") == "problem"  # run-in item cut off
    assert heading_class("（一）构建和谐警民关系是适应新时期公安工作的重要途径") is None  # a claim, not a topic
    assert heading_class("要想真正做到警民关系和谐，应从以下几个核心问题着手：") == "countermeasure"
    assert heading_class("原因主要有以下几点：") == "cause"


def test_paper_scaffolding_headings_are_other_despite_their_keywords():
    assert heading_class("一、问题的提出") == "other"
    assert heading_class("二、研究方法与数据来源") == "other"
    assert heading_class("三、主要问题") == "problem"


def test_action_openings_are_prescriptions_but_finished_actions_are_not():
    assert prescribes_action("加强队伍建设")
    assert prescribes_action("激励机制改革：建立激励机制")
    assert not prescribes_action("增强了警民交流的针对性")
    assert not prescribes_action("群众提高了警惕")


def test_run_in_headings_are_found_at_the_start_of_a_sentence_only():
    assert run_in_heading("背景随着社会的发展，对公共安全的需求日益增加。") == "背景"
    assert run_in_heading("加强警察公共关系建设的必要性警察是法律的执行者。") == "加强警察公共关系建设的必要性"
    assert run_in_heading("和谐警民关系的内涵和谐的警民关系就是…的社会关系。") == "和谐警民关系的内涵"
    assert run_in_heading("当前警民关系存在的问题，主要是信任度下降。") is None  # punctuation follows: a clause
    assert run_in_heading("群众对公安机关的信任度有所降低。") is None
    assert run_in_heading("造成这些问题的原因主要有以下几点：") is None  # the clause goes on


def test_plans_harms_and_overviews_announce_their_class():
    assert heading_class("三、解决方案") == "countermeasure"
    assert heading_class("二、网络谣言的危害") == "problem"
    assert heading_class("一、基本情况") == "other"
