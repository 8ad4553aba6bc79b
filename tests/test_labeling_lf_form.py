import pytest

from pcc.records import Sentence
from training.labeling.candidates import build_candidates
from training.labeling.lf import ABSTAIN
from training.labeling.lf_form import (action_opening, copula_description, definition, good_practice, imperative,
                                        meta_text, metadata, only_then, significance, statistic)


def candidate(text, path=(), is_heading=False):
    return build_candidates([Sentence("p#01", "论题", 10, text, list(path), is_heading)])[0]


@pytest.mark.parametrize("text", ["要加强队伍建设。", "警察部门应加强服务理念建设，提高服务水平。",
                                  "各级公安机关必须坚持执法为民。", "这就要求我们在工作理念方面不断改革创新。",
                                  "警察部门可以组织多种形式的警民互动活动。", "要选优配强村党组织书记。",
                                  "对此，高校应当将金融安全教育纳入日常教学。"])
def test_imperatives_are_countermeasures(text):
    assert imperative(candidate(text)) == "countermeasure"


@pytest.mark.parametrize("text", ["构建和谐警民关系是维护社会稳定的重要途径，要高度重视。",  # importance (rule 1)
                                  "公安机关提高应对突发事件的能力。",  # 应对 is a verb, not a modal
                                  "如何加强建设，是当前需要思考的问题。",  # 需要 without anything to do
                                  "良好的公共关系建设，可以帮助警察更好地理解社会需求。",  # no actor told what to do
                                  "主要表现在执法不规范。",
                                  "本文分析了当前的困境，并提出了相应的对策。",  # 相应 is no modal
                                  "群众要的是公平正义。"])
def test_non_imperatives_abstain(text):
    assert imperative(candidate(text)) == ABSTAIN


def test_action_openings_prescribe_unless_the_section_has_another_job():
    assert action_opening(candidate("2. 提高培训水平：加大对公安人员的培训力度。")) == "countermeasure"
    assert action_opening(candidate("激励机制改革：建立激励机制，注重精神激励。")) == "countermeasure"
    assert action_opening(candidate("（一）增强了警民交流的针对性")) == ABSTAIN  # done already, not advice
    assert action_opening(candidate("加强警察公共关系建设的必要性")) == ABSTAIN
    assert action_opening(candidate("（三）提高社会监督的效果", ["一、网络时代警民关系的特点"], True)) == ABSTAIN
    assert action_opening(candidate("群众提高了警惕。")) == ABSTAIN


def test_only_then_is_a_requirement():
    assert only_then(candidate("只有通过不断地加强队伍建设，才能更好地履行使命。")) == "countermeasure"
    assert only_then(candidate("民警只是执行者。")) == ABSTAIN


def test_definitions_statistics_metadata_significance_meta_text_and_practice_are_other():
    assert definition(candidate("警民关系是指公安机关与社会民众之间的关系。")) == "other"
    assert definition(candidate("警民关系十分紧张。")) == ABSTAIN
    assert statistic(candidate("截至2010年6月，网民规模达到4.2亿。")) == "other"
    assert statistic(candidate("据中国互联网信息中心报告显示，网民继续增长。")) == "other"
    assert statistic(candidate("群众意见很大。")) == ABSTAIN
    assert metadata(candidate("关键词：网络舆情；和谐警民关系")) == "other"
    assert metadata(candidate("基金项目：江苏省高校青蓝工程项目")) == "other"
    assert metadata(candidate("中图分类号：D631")) == "other"
    assert metadata(candidate("群众的关键诉求没有得到回应。")) == ABSTAIN
    assert metadata(candidate("【摘要】")) == "other"
    # an abstract's sentence does the job its content does
    assert metadata(candidate("摘要：近年来农村空巢老人的照护压力持续加大。")) == ABSTAIN
    assert significance(candidate("和谐的警民关系有利于增强社会安全感。")) == "other"
    assert significance(candidate("执法不公损害了警察形象。")) == ABSTAIN
    assert meta_text(candidate("笔者结合工作实际，就如何构建和谐警民关系作一些初步探讨。")) == "other"
    assert meta_text(candidate("群众对民警不信任。")) == ABSTAIN
    assert meta_text(candidate("本报告在入户走访的基础上梳理了调解工作的短板。")) == "other"
    assert meta_text(candidate("第四章讨论了完善考核办法的具体做法。")) == "other"
    assert good_practice(candidate("近年来，某县公安局组织开展了一系列爱民实践活动。")) == "other"
    assert good_practice(candidate("要积极深入到群众当中。")) == ABSTAIN


def test_copula_descriptions_are_other_but_not_negative_or_prescriptive_ones():
    assert copula_description(candidate("执法水平是队伍素质和执法能力的综合反映。")) == "other"
    assert copula_description(candidate("这种状况是不能令人满意的结果。")) == ABSTAIN
    assert copula_description(candidate("民警应是群众的贴心人。")) == ABSTAIN


def test_figures_of_a_growing_harm_are_left_to_the_problem_rules():
    assert statistic(candidate("据民政部门统计，全市共有养老机构120家。")) == "other"
    assert statistic(candidate("去年消费者投诉达一万余件，同比增长35%。")) == ABSTAIN


def test_a_directive_reported_from_elsewhere_is_not_the_authors_proposal():
    assert imperative(candidate("推进会强调要压实属地责任，按期完成整改。")) == ABSTAIN
    assert imperative(candidate("通知明确提出：要规范窗口收费行为。")) == ABSTAIN
    assert imperative(candidate("笔者认为，需要构建政府监管与行业自律并重的格局。")) == "countermeasure"
