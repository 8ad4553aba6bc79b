"""The vocabulary of headings: enumeration markers, the class keywords a heading announces, action verbs.

A Chinese heading names its topic last ("影响警民关系的几个深层次问题", "加强警察公共关系建设的必要性"), so
the class keyword furthest to the right decides.
"""
from __future__ import annotations

import re

from pcc.structure import CHINESE_NUMERAL, announcement

# Enumeration markers that open headings and list items: 一、 （一） (一) （） 1、 1. 1） 一是 第一， 首先 …
ENUMERATOR = re.compile(
    rf"^\s*(?:[{CHINESE_NUMERAL}]+\s*[、.．]"
    rf"|[（(]\s*[{CHINESE_NUMERAL}\d]*\s*[）)]"
    r"|\d{1,2}\s*(?:[、．)）]|\.(?!\d))"
    rf"|[{CHINESE_NUMERAL}]+是"
    rf"|第[{CHINESE_NUMERAL}]+[，,、：:]?"
    r"|首先|其次|再次|最后|另外)\s*"
)
HEADING_KEYWORDS: dict[str, tuple[str, ...]] = {
    "problem": ("问题", "现状", "状况", "挑战", "表现", "困境", "不足", "弊端", "误区", "障碍", "缺陷", "隐患", "难点",
                "危害"),
    "cause": ("原因", "因素", "成因", "根源", "制约", "症结", "缘由", "诱因"),
    "countermeasure": ("对策", "措施", "建议", "途径", "方法", "路径", "如何", "策略", "思路", "举措", "办法",
                       "方略", "对此", "启示", "原则", "方案"),
    "other": ("意义", "内涵", "特点", "概述", "引言", "背景", "必要性", "重要性", "前言", "结语", "结论", "小结",
              "概念", "含义", "特征", "作用", "综述", "定义", "成效", "成就", "做法", "经验", "基本情况", "概况"),
}
# The scaffolding of an academic paper names no job even when it contains a keyword ("问题的提出" is the
# introduction, "研究方法" the method).
_SCAFFOLD = re.compile(r"问题的提出|提出问题|研究(?:方法|设计|思路|背景|现状|综述)|数据(?:来源|与方法)|理论基础|文献")
_KEYWORD_PATTERN = re.compile("|".join(
    sorted((word for words in HEADING_KEYWORDS.values() for word in words), key=len, reverse=True)))
# Verbs of doing something about a situation: the stock of Chinese policy prose, not of one paper.
ACTION_VERBS = ("加强", "建立", "健全", "完善", "提高", "推进", "推动", "坚持", "树立", "落实", "强化", "注重", "加大",
                "转变", "创新", "规范", "改进", "深化", "增强", "优化", "构建", "培养", "营造", "引导", "发挥", "拓宽",
                "拓展", "重视", "做好", "提升", "严格", "加快", "实行", "实施", "开展", "畅通", "搭建", "打造", "整合",
                "改革", "端正", "切实", "积极", "主动", "努力", "大力", "充分", "进一步", "不断", "始终")
# An action verb opening the text (or the part after a short "标题：" label), not a finished one ("增强了").
_ACTION_OPENING = re.compile(rf"^(?:[^，。：:]{{1,12}}[:：]\s*)?(?:{'|'.join(ACTION_VERBS)})(?!了)")
_KEYWORD_CLASS = {word: label for label, words in HEADING_KEYWORDS.items() for word in words}


def prescribes_action(text: str) -> bool:
    """True when the text opens with an action verb, as a prescription does ("加强队伍建设")."""
    return _ACTION_OPENING.match(text.strip()) is not None


# Where a heading stops and run-in text begins: "一、客观认识三个主要问题一是少数民警…" → "一、客观认识三个主要问题".
_RUN_IN = re.compile(rf"(?<=.{{4}})(?:[。；;]|[{CHINESE_NUMERAL}]是|[（(][{CHINESE_NUMERAL}\d]*[）)]|\d[、.．](?!\d))")
# A heading that claims importance ("构建和谐警民关系是…的重要途径") names no job of its own (guideline rule 1).
_IMPORTANCE_CLAIM = re.compile(r"是[^，。；]{0,30}(?:重要|基础|前提|关键|保障|根本|核心|必然|有效)")
# A list announced as what to do: "应从以下几个核心问题着手：", "要做好以下几点：".
_PRESCRIPTIVE = re.compile(r"(?:要|应|应当|必须|需要)[^，。；]{0,16}(?:着手|入手|做起|做到|做好|抓好|抓起|采取|发力|着力)"
                           r"|(?:以下|如下)[^，。；]{0,6}(?:措施|对策|建议|途径|方法)")


def heading_class(heading: str) -> str | None:
    """The class a heading announces: that of the rightmost class keyword of the heading proper (before any
    run-in sentence or list item), or None; a prescriptive list announcement is countermeasure."""
    if _PRESCRIPTIVE.search(heading):
        return "countermeasure"
    proper = _RUN_IN.split(ENUMERATOR.sub("", heading, count=1), maxsplit=1)[0]
    if _SCAFFOLD.search(proper):
        return "other"
    if _IMPORTANCE_CLAIM.search(proper):
        return None
    matches = list(_KEYWORD_PATTERN.finditer(proper))
    return _KEYWORD_CLASS[matches[-1].group(0)] if matches else None


# A heading run into its first sentence, which segmentation could not split: "背景随着社会的发展…",
# "加强警察公共关系建设的必要性警察是…". Either a bare section word opens the sentence, or "…的<keyword>" does.
_RUN_IN_HEADING = re.compile(
    r"^(?:(?P<bare>背景|引言|前言|结语|结论|小结|概述|总结)|(?P<topic>[^，。；：:“”\s]{4,24}?的(?:"
    + "|".join(sorted((w for words in HEADING_KEYWORDS.values() for w in words), key=len, reverse=True))
    # …followed by new text, not by the rest of a clause ("造成这些问题的原因主要有…" is no heading).
    + r")))(?=[^，。；：:、\s])(?!主要|是|有|在|包括|如下|为|可|能|就|也|都|还|与|及|之|则)")


def run_in_heading(text: str) -> str | None:
    """The heading a sentence opens with when segmentation left the two joined, if it announces a class."""
    match = _RUN_IN_HEADING.match(text.strip())
    if match is None:
        return None
    heading = match.group(0)
    return heading if heading_class(heading) is not None else None


# Sentences that announce what the next ones explain: "这些短板的形成并非偶然。", "究其原因，…", "原因是多方面的。"
_CAUSE_ANNOUNCEMENT = re.compile(r"并非偶然|不是偶然|绝非偶然|原因(?:是|也是)?多方面的|究其(?:原因|根源)|归根(?:结底|到底)"
                                 r"|(?:原因|根源)(?:主要)?(?:有|在于)")


def announced_class(text: str) -> str | None:
    """The job a sentence announces for the sentences it introduces: cause for "…并非偶然" or "究其原因", else
    the class its list opening names ("存在以下问题：" → problem, "需要从以下几个方面发力" → countermeasure)."""
    if _CAUSE_ANNOUNCEMENT.search(text):
        return "cause"
    opening = announcement(text)
    return heading_class(opening) if opening else None


# The paper describing its own plan ("本文将从……的原因入手", "第三章阐述了……的现状"): its problem, cause and
# measure words name the paper's content, not a claim.
_PAPER_PLAN = re.compile(rf"(?:本文|本报告|本研究|论文|文章|本章|第[{CHINESE_NUMERAL}]+章)[^。，；]{{0,8}}?"
                         r"(?:将|旨在|拟|首先|基于|从|通过|试图|力求|分析|阐述|探讨|梳理|介绍|剖析|论述)")


def describes_the_paper(text: str) -> bool:
    """True when the sentence is the paper announcing what it does."""
    return bool(_PAPER_PLAN.search(text))
