"""Section-heading rules: a heading announces what its section does, and its sentences do that job.

A Chinese heading names its topic last ("影响警民关系的几个深层次问题", "加强警察公共关系建设的必要性"), so
the class keyword furthest to the right decides. Inside a section the innermost heading with a keyword
decides (guideline rule 2: the section, not the connective, decides between problem and cause).
"""
from __future__ import annotations

import re

from training.labeling.candidates import CHINESE_NUMERAL, ENUMERATOR, Candidate, normalise
from training.labeling.lf import ABSTAIN, labeling_function

HEADING_KEYWORDS: dict[str, tuple[str, ...]] = {
    "problem": ("问题", "现状", "状况", "挑战", "表现", "困境", "不足", "弊端", "误区", "障碍", "缺陷", "隐患", "难点"),
    "cause": ("原因", "因素", "成因", "根源", "制约", "症结", "缘由", "诱因"),
    "countermeasure": ("对策", "措施", "建议", "途径", "方法", "路径", "如何", "策略", "思路", "举措", "办法",
                       "方略", "对此"),
    "other": ("意义", "内涵", "特点", "概述", "引言", "背景", "必要性", "重要性", "前言", "结语", "结论", "小结",
              "概念", "含义", "特征", "作用", "综述", "定义"),
}
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
_PRESCRIPTIVE = re.compile(r"(?:要|应|应当|必须|需要)[^，。；]{0,16}(?:着手|入手|做起|做到|做好|抓好|抓起|采取)"
                           r"|(?:以下|如下)[^，。；]{0,6}(?:措施|对策|建议|途径|方法)")


def heading_class(heading: str) -> str | None:
    """The class a heading announces: that of the rightmost class keyword of the heading proper (before any
    run-in sentence or list item), or None; a prescriptive list announcement is countermeasure."""
    if _PRESCRIPTIVE.search(heading):
        return "countermeasure"
    proper = _RUN_IN.split(ENUMERATOR.sub("", heading, count=1), maxsplit=1)[0]
    if _IMPORTANCE_CLAIM.search(proper):
        return None
    matches = list(_KEYWORD_PATTERN.finditer(proper))
    return _KEYWORD_CLASS[matches[-1].group(0)] if matches else None


def section_class(candidate: Candidate) -> str | None:
    """The class of the innermost enclosing heading that announces one, by its keyword or by the list it
    is an item of ("具有以下必要性：1.…" → other); failing that, countermeasure when a heading opens with an
    action verb ("一、加强队伍建设"). The paper title never counts."""
    title = normalise(candidate.sentence.paper_title)
    own = normalise(candidate.text)
    headings = [h for h in candidate.heading_path if normalise(h) not in (title, own)]
    for heading in reversed(headings):
        label = heading_class(heading)
        announced = candidate.heading_announcements.get(normalise(heading).rstrip("。"))
        if label is None and announced is not None:
            label = heading_class(announced)
        if label is not None:
            return label
    if any(prescribes_action(ENUMERATOR.sub("", h, count=1)) for h in headings):
        return "countermeasure"
    return None


def context_class(candidate: Candidate) -> str | None:
    """The job the sentence's surroundings assign: its list's announcement ("以下几点原因：") or its section."""
    if candidate.list_announcement:
        announced = heading_class(candidate.list_announcement)
        if announced is not None:
            return announced
    return section_class(candidate)


def _in_section(candidate: Candidate, label: str) -> str | None:
    if candidate.is_heading or candidate.is_title:
        return ABSTAIN
    return label if section_class(candidate) == label else ABSTAIN


@labeling_function()
def section_problem(c: Candidate):
    """A sentence under a 问题/现状/挑战/表现 heading states a problem."""
    return _in_section(c, "problem")


@labeling_function()
def section_cause(c: Candidate):
    """A sentence under a 原因/因素/成因/根源/制约 heading gives a cause."""
    return _in_section(c, "cause")


@labeling_function()
def section_countermeasure(c: Candidate):
    """A sentence under a 对策/措施/建议/途径/方法/如何 heading proposes a countermeasure."""
    return _in_section(c, "countermeasure")


@labeling_function()
def section_other(c: Candidate):
    """A sentence under a 意义/内涵/特点/背景/必要性/结语 heading is background, not argument."""
    return _in_section(c, "other")


@labeling_function()
def heading_announces(c: Candidate):
    """A heading carries the class its own keyword announces (原因 → cause, 对策 → countermeasure)."""
    if not c.is_heading or c.is_title:
        return ABSTAIN
    return heading_class(c.body)


@labeling_function()
def heading_inherits_section(c: Candidate):
    """A sub-heading without a keyword ("（一）重管理轻服务") carries its section's class."""
    if not c.is_heading or c.is_title or heading_class(c.body) is not None:
        return ABSTAIN
    return section_class(c)

