from pcc.records import Sentence
from training.labeling.candidates import build_candidates
from training.labeling.lf import ABSTAIN
from training.labeling.lf_cues import (cause_connective, negative_state, negative_state_mentioned, positive_state, proposal,
                                      worsening)


def candidate(text, path=()):
    return build_candidates([Sentence("p#01", "论题", 10, text, list(path))])[0]


def test_negative_states_are_found_and_negated_ones_are_not():
    assert negative_state_mentioned("少数民警宗旨观念淡薄。")
    assert negative_state_mentioned("办公经费不足。")
    assert not negative_state_mentioned("办公经费充足。")
    assert not negative_state_mentioned("这不是问题。")
    assert not negative_state_mentioned("为弥补办公经费不足，多方筹措。")
    assert not negative_state_mentioned("要及时化解警民矛盾。")
    assert negative_state_mentioned("为弥补经费不足，动辄罚款，群众不满。")  # a second, un-negated state


def test_negative_state_is_problem_or_in_a_causes_section_cause_and_silent_in_background_sections():
    text = "群众法制观念淡薄、警民配合欠佳。"
    assert negative_state(candidate(text)) == "problem"
    assert negative_state(candidate(text, ["一、当前警民关系存在的问题"])) == "problem"
    assert negative_state(candidate(text, ["二、影响警民关系的因素"])) == "cause"
    assert negative_state(candidate(text, ["三、构建和谐警民关系的对策"])) == "problem"
    assert negative_state(candidate("要及时化解警民矛盾。", ["三、构建和谐警民关系的对策"])) == ABSTAIN
    assert negative_state(candidate(text, ["一、警民关系的特点"])) == ABSTAIN
    assert negative_state(candidate("群众对公安工作比较满意。")) == ABSTAIN


def test_cause_connectives_are_causes_unless_a_problems_section_claims_the_sentence():
    text = "由于社会转型，治安形势复杂，导致群众安全感缺乏。"
    assert cause_connective(candidate(text)) == "cause"
    assert cause_connective(candidate(text, ["二、影响警民关系的因素"])) == "cause"
    assert cause_connective(candidate(text, ["一、当前警民关系存在的问题"])) == ABSTAIN  # guideline rule 2
    assert cause_connective(candidate("群众对公安机关的信任度有所降低。")) == ABSTAIN
    # Naming the source: "究其根源", "是…的重要因素".
    assert cause_connective(candidate("究其根源，在于民警缺乏系统的媒体素养培训。")) == "cause"
    assert cause_connective(candidate("执法不规范是损害公安机关形象的重要因素。")) == "cause"
    assert cause_connective(candidate("要重视影响警民关系的各种因素。")) == ABSTAIN


def test_proposals_and_positive_states():
    assert proposal(candidate("为此，我们提出以下意见和建议：")) == "countermeasure"
    assert proposal(candidate("这些建议很有价值。")) == ABSTAIN
    assert positive_state(candidate("警民关系进一步得到了好转，群众满意率逐步提升。")) == "other"
    assert positive_state(candidate("警民关系比较和谐，但信任度下降。")) == ABSTAIN  # also names a negative state


def test_the_paper_announcing_its_proposals_proposes_nothing():
    assert proposal(candidate("本文最后提出了改进的对策。")) == ABSTAIN
    assert proposal(candidate("笔者就此提出相应的治理策略。")) == ABSTAIN


def test_the_paper_describing_its_plan_states_no_problem_or_cause():
    plan = "本文将从考核制度的缺陷入手，分析基层减负难以落实的原因。"
    assert negative_state(candidate(plan)) == ABSTAIN
    assert cause_connective(candidate("本文通过问卷调查，分析了执法不规范导致投诉增多的情况。")) == ABSTAIN
    assert worsening(candidate("第二章梳理了近年来纠纷数量逐年攀升的情况。")) == ABSTAIN
    assert negative_state(candidate("基层减负难以落实。")) == "problem"


def test_a_growing_harm_is_a_problem_with_or_without_figures_unless_a_section_claims_it():
    assert worsening(candidate("随着网购普及，退货纠纷日益凸显。")) == "problem"
    assert worsening(candidate("去年消费者投诉达一万余件，同比增长三成。")) == "problem"
    assert worsening(candidate("群众对此反映强烈。")) == "problem"
    assert worsening(candidate("退货纠纷日益凸显。", ["二、原因分析"])) == ABSTAIN
    assert worsening(candidate("群众对公共服务的需求日益增加。")) == ABSTAIN  # a need that grows is no harm


def test_gaps_and_hard_problems_are_negative_states_unless_closed():
    assert negative_state_mentioned("城乡学校之间的差距进一步拉大。")
    assert negative_state_mentioned("退卡难成为消费者面临的一大难题。")
    assert not negative_state_mentioned("要努力缩小城乡差距。")
    assert not negative_state_mentioned("各地积极破解这一难题。")
