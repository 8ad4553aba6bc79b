"""Cue-phrase rules, with negation handled and the section consulted where the guidelines say it decides."""
from __future__ import annotations

import re

from training.labeling.candidates import Candidate
from training.labeling.context import context_class
from training.labeling.heading_vocabulary import describes_the_paper
from training.labeling.lf import ABSTAIN, labeling_function

NEGATIVE_STATES = ("不足", "不够", "缺乏", "缺少", "缺失", "淡薄", "淡化", "弱化", "减弱", "下降", "降低", "紧张", "矛盾",
                   "尴尬", "时有发生", "屡见不鲜", "频发", "不信任", "不理解", "不配合", "不满", "不和谐", "挑战", "困境",
                   "疏远", "隔膜", "滞后", "薄弱", "偏低", "不高", "不强", "不严", "不力", "不到位", "不规范", "不健全",
                   "不完善", "不适应", "不公", "冲突", "对抗", "抵触", "对立", "畏难", "被动", "偏见", "误解", "负面",
                   "侵害", "损害", "恶化", "失衡", "脱节", "混乱", "漏洞", "弊端", "隐患", "危机", "质疑", "反感", "消极",
                   "腐败", "特权", "粗暴", "生硬", "冷漠", "推诿", "不作为", "乱作为", "滥用", "难以", "欠佳", "参差不齐",
                   "以偏概全", "不容乐观", "令人担忧", "突出问题", "不利", "批评", "单一", "流于形式", "不明确", "形式主义",
                   "不乐观", "短板", "缺位", "难以为继", "流失", "走过场", "欠缺", "匮乏", "不畅", "错位", "闲置", "脱管",
                   "不均衡", "差距", "困难重重", "难题", "举步维艰", "落后", "较差", "乱象", "造假", "扭曲", "恶性事件")
_NEGATIVE_STATE = re.compile("|".join(sorted(NEGATIVE_STATES, key=len, reverse=True))
                             + r"|存在[^，。；]{0,12}问题|问题[^，。；]{0,4}(?:突出|严重|较多)")
# Words that turn a negative state into something to remove or deny: "弥补…不足", "化解矛盾", "不是问题".
_NEGATOR = re.compile(r"(?:不是|并非|没有|不存在|避免|防止|解决|克服|弥补|补齐|补上|补足|消除|减少|化解|缓解|改变|扭转|杜绝|预防|应对|"
                      r"面对|针对|正视|迎接|减轻|摆脱|走出|纠正|防范|排查|监控|整治|治理|打击|缩小|破解)[^，。；]{0,8}$")
_CAUSE_CONNECTIVE = re.compile(r"由于|因为|导致|造成|源于|致使|以致|归咎|归因|原因(?:在于|是|有)|根源在于|根源是"
                               r"|归根(?:结底|到底)|并非偶然|不是偶然"
                               r"|受[^，。；]{0,15}影响|是[^，。；]{0,10}(?:结果|产物)|究其(?:根源|原因)"
                               r"|(?:重要|主要|根本|深层次?)(?:原因|因素|根源)")
_PROPOSAL = re.compile(r"(?:提出|采取|给出|探索|寻求)[^，。；]{0,12}(?:对策|措施|建议|办法|途径|方略|策略)")
# A harm that grows or draws complaint, as papers open their problem ("……问题日益凸显", "投诉……同比增长……",
# "群众反映强烈"): a problem even where figures carry it.
_WORSENING = re.compile(r"(?:日益|日趋|愈发|愈加|越来越|不断|持续|逐年|频繁)(?:凸显|突出|严重|严峻|加剧|恶化|尖锐|频发)|屡屡出现|频频出现|层出不穷|屡禁不止|暴露出|不容忽视|反映强烈|困扰"
                        r"|(?:投诉|纠纷|案件|事故|举报|受害)[^。；]{0,24}(?:增加|上升|攀升|增长|多发)")
_POSITIVE_STATE = re.compile(r"(?:比较|较为|日益|逐步|逐渐|明显|进一步)(?:和谐|好转|提升|改善|密切|融洽|增强)"
                             r"|得到[^，。；]{0,6}(?:好转|改善|提升|认可|认同|肯定|支持)|(?:成效|成绩)(?:显著|明显)")


def negative_state_mentioned(text: str) -> bool:
    """True when the text names a negative state that no negator ("弥补", "避免", "不是") turns around."""
    return any(not _NEGATOR.search(text[:match.start()]) for match in _NEGATIVE_STATE.finditer(text))


@labeling_function()
def negative_state(c: Candidate):
    """A negative state (不足, 缺乏, 淡薄) is a problem, or a cause in a causes section or list (rule 2); not in
    a background section."""
    section = context_class(c)
    if section == "other" or describes_the_paper(c.text) or not negative_state_mentioned(c.text):
        return ABSTAIN
    return "cause" if section == "cause" else "problem"


@labeling_function()
def cause_connective(c: Candidate):
    """由于/导致/造成/源于/受…影响 explain why, unless a problems section claims the sentence (rule 2)."""
    if context_class(c) in ("problem", "countermeasure", "other") or describes_the_paper(c.text):
        return ABSTAIN
    return "cause" if _CAUSE_CONNECTIVE.search(c.text) else ABSTAIN


def worsening_mentioned(text: str) -> bool:
    """True when the text reports a harm that grows or draws complaint (日益凸显, 屡屡出现, 投诉……增长)."""
    return bool(_WORSENING.search(text))


@labeling_function()
def worsening(c: Candidate):
    """A harm that grows or draws complaint ("……问题日益凸显", "纠纷数量逐年攀升") states a problem, with or
    without figures, unless a causes or countermeasures section or list claims the sentence (rule 2)."""
    if (c.is_heading or context_class(c) in ("cause", "countermeasure") or describes_the_paper(c.text)
            or not worsening_mentioned(c.text)):
        return ABSTAIN
    return "problem"


# The paper speaking of itself: "本文提出了相应的对策" announces its content, it proposes nothing.
_ABOUT_THE_PAPER = re.compile(r"本文|笔者|文章|本报告|本研究|论文")


@labeling_function()
def proposal(c: Candidate):
    """Offering 对策/措施/建议 (提出以下建议, 采取措施) is a countermeasure; the paper announcing that it offers
    them ("本文最后提出了改进的对策") is not."""
    if _ABOUT_THE_PAPER.search(c.text):
        return ABSTAIN
    return "countermeasure" if _PROPOSAL.search(c.text) else ABSTAIN


@labeling_function()
def positive_state(c: Candidate):
    """A positive state or achievement (比较和谐, 得到好转, 成效显著) is background: other."""
    if negative_state_mentioned(c.text):
        return ABSTAIN
    return "other" if _POSITIVE_STATE.search(c.text) else ABSTAIN
