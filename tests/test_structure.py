from pcc.records import Sentence
from pcc.structure import announcement, enumeration, list_announcements


def test_enumeration_markers_are_read_with_style_and_number():
    assert enumeration("一、加强队伍建设") == ("chinese", 1)
    assert enumeration("（三）重破大案轻管小事。") == ("parenthesised", 3)
    assert enumeration("2. 提高培训水平：加大力度。") == ("arabic", 2)
    assert enumeration("二是执法不规范。") == ("ordinal", 2)
    assert enumeration("三要明确统一指挥主体。") == ("ordinal", 3)
    assert enumeration("第三，应当积极引入社会力量。") == ("di", 3)
    assert enumeration("其次，经费保障不到位。") == ("sequence", 2)
    assert enumeration("2.5亿网民上网。") is None
    assert enumeration("群众对公安工作支持的主动性减弱。") is None


def test_announcement_needs_a_list_opening():
    assert announcement("原因主要有以下几点：") == "原因主要有以下几点："
    assert announcement("我们提出如下建议：1.加强教育。") == "我们提出如下建议"
    assert announcement("群众对公安机关的信任度有所降低。") is None
    assert announcement("当前基层调解工作存在诸多问题。") == "当前基层调解工作存在诸多问题。"
    # a concrete problem stated with 等, not a list to come
    assert announcement("部分乡镇卫生院存在设备陈旧和人员流失等问题。") is None


def test_items_numbered_by_ordinals_with_yao_share_their_announcement():
    sentences = [Sentence("p", "论题", i, t) for i, t in enumerate(
        ["补齐这些短板，需要从以下几个方面发力。", "一要建立监测直报机制。", "二要按照服务人口配置应急物资。"])]
    assert list_announcements(sentences) == [None, sentences[0].text, sentences[0].text]
