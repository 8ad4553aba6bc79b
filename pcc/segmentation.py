"""Cut cleaned paragraphs into sentences and headings, and give each its enclosing headings.

Sentences end at 。！？ (and at ； when it closes a full clause), never inside quotes or brackets.
Numbered section headings (`一、` `（一）` `1、` `1.` `（1）` `第一章` `第一节`) are split off the
sentence they are glued to; short unpunctuated lines are headings too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pcc.cleaning import CHINESE_NUMERALS, INSTITUTION, cjk_count, is_cjk, is_reference_entry
from pcc.structure import announces_sections

TERMINALS = "。！？"
_CLOSERS_AFTER_TERMINAL = "”’」』》）)】\"'"
_PAIRS = {"“": "”", "‘": "’", "「": "」", "『": "』", "《": "》", "（": "）", "【": "】", "(": ")", "[": "]"}
_KEYWORD_LABEL = re.compile(r"^[【\[［(（]?\s*(关键词|关键字|主题词|key\s*words?)", re.IGNORECASE)
_FRONT_LABEL = re.compile(r"^[【\[［(（]?\s*(摘\s*要|内容提要|关键词|关键字|主题词|abstract|key\s*words?)\s*[】\]］)）:：]", re.IGNORECASE)
# A clause must be this long before a ； may end it: shorter runs are list items (keywords, names).
_MIN_CLAUSE_FOR_SEMICOLON = 6

_N = CHINESE_NUMERALS
# A chapter named in an abstract's outline of the paper ("第二章介绍了……、……", "第一章为绪论，介绍……") is a
# sentence about the paper, not the chapter's heading.
_SAYS_WHAT_IT_DOES = (r"(?:[^，。、\s]{0,4}(?:介绍|阐述|分析|论述|探讨|提出|总结|梳理|界定|回顾|概述|考察|讨论|说明|描述|研究)了"
                      r"|为|是|主要|首先|通过|结合|从|对[^策])")
# (level, pattern) — outermost first. Level decides nesting in heading paths.
_MARKERS: list[tuple[int, re.Pattern]] = [
    (0, re.compile(f"^第[{_N}0-9]+[章篇](?!{_SAYS_WHAT_IT_DOES})")),
    (1, re.compile(f"^第[{_N}0-9]+节(?!{_SAYS_WHAT_IT_DOES})")),
    (2, re.compile(f"^[{_N}]{{1,3}}[、．.](?![0-9])|^、")),  # a bare 、 is a heading whose numeral was lost
    (3, re.compile(f"^[（(][{_N}]{{0,3}}[)）]")),  # （） with its numeral lost still marks a heading
    (4, re.compile(r"^[0-9]{1,2}(?:[、．]|\.(?![0-9]))")),
    (5, re.compile(r"^[（(][0-9]{1,2}[)）]|^[①-⑳]")),
]
UNNUMBERED_LEVEL = 2
# An unnumbered sub-title under a section that names its job (`……的原因分析` / `人员编制不足`): between the chapters
# (`一、`, unnumbered titles) and their numbered sections (`（一）`).
SUBTITLE_LEVEL = 2.5
_DOTTED_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})+(?=\s+\D)")  # cleaning keeps the space after it
_SPACED_NUMBER = re.compile(r"^\d{1,2}\s+(?=[\u4e00-\u9fff])")  # `3 对策建议`: a chapter number and a space
_DOTTED_BASE_LEVEL = 5  # `1.1` is level 6, `1.1.1` level 7: below every other kind of numeral
_SECTION_LEVEL = 3  # markers up to （一） open sections; 1. and （1） may also number items in a sentence
_ITEM_LEVEL = 5  # （1） and ①: with a comma inside they number the items of a list, not sections
_MAX_SHORT_HEADING = 25  # characters after the numeral: a numbered unit this short is all heading
_MAX_STANDALONE_HEADING = 40  # … and a numbered paragraph of one sentence this short
_MAX_HEADING = 40  # a heading glued to a sentence is looked for within this many characters

# Nouns that typically close a section heading, and words that typically open a sentence.
# Both are general Chinese academic-writing vocabulary.
_HEADING_NOUNS = (
    "问题", "原因", "成因", "根源", "因素", "对策", "措施", "建议", "意义", "作用", "现状", "状况", "特点",
    "特征", "途径", "路径", "方法", "方式", "挑战", "机遇", "效果", "基础", "前提", "关键", "核心", "内涵",
    "概述", "背景", "目标", "原则", "思路", "必要性", "重要性", "可行性", "表现", "分析", "思考", "要求",
    "价值", "内容", "策略", "困境", "不足", "经验", "启示", "结论", "引言", "前言", "结语", "展望", "影响",
    "手段", "环节", "保障", "机制", "体系", "优势", "局限", "误区",
)
_STRONG_HEADING_NOUNS = (
    "问题", "原因", "成因", "根源", "因素", "对策", "措施", "建议", "意义", "现状", "状况", "特点", "特征",
    "途径", "路径", "挑战", "机遇", "基础", "前提", "内涵", "概述", "必要性", "重要性", "策略", "困境",
)
_OPENERS = (
    "总体上", "总的来说", "总体来说", "总体而言", "总之", "随着", "当前", "目前", "近年来", "近些年", "如今",
    "现阶段", "由于", "因为", "所谓", "首先", "其次", "再次", "最后", "我们", "我国", "笔者", "本文", "在",
    "从", "对于", "为了", "通过", "作为", "它", "这", "该", "根据", "据", "针对", "面对", "一方面", "众所周知",
    "长期以来", "同时", "此外", "但是", "然而", "虽然", "尽管", "如果", "只有", "要", "应当", "必须", "一是",
    "第一", "其中", "可见", "因此", "所以",
)


def names_a_section(text: str) -> bool:
    """Whether a heading-shaped text ends with a noun that closes section headings (…的原因, …的对策)."""
    return text.rstrip("。．.").endswith(_HEADING_NOUNS)


def opens_sentence(text: str) -> bool:
    """Whether a text starts with a word that typically opens a sentence (随着, 近年来, 由于, 我们 …)."""
    return text.startswith(_OPENERS)


@dataclass
class Unit:
    """A sentence or heading, as cut from a paragraph. A title has is_heading and level None:
    it heads the whole paper, so it is in no heading path."""

    text: str
    is_heading: bool = False
    level: float | None = UNNUMBERED_LEVEL  # nesting depth; SUBTITLE_LEVEL sits between two numbered levels


def _heading(text: str, level: float | None) -> Unit:
    # A bare leading 、 only marked the lost numeral; it is not part of the heading's text.
    return Unit(text.lstrip("、").strip(), True, level)


def _matching_closers(text: str) -> dict[int, int]:
    """Opening bracket/quote index → its closing index; unmatched openers (broken text) are ignored."""
    pairs: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    closers = {close: open_ for open_, close in _PAIRS.items()}
    for i, char in enumerate(text):
        if char in _PAIRS:
            stack.append((char, i))
        elif char in closers:
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == closers[char]:
                    pairs[stack[depth][1]] = i
                    del stack[depth:]
                    break
    return pairs


def split_sentences(paragraph: str) -> list[str]:
    """Cut at 。！？ (with any closing quote after them) and at clause-ending ；, outside quotes and brackets."""
    closers = _matching_closers(paragraph)
    is_keyword_list = is_keyword_line(paragraph)
    sentences: list[str] = []
    start = clause_start = 0
    i = 0
    while i < len(paragraph):
        char = paragraph[i]
        cut = None
        if i in closers:
            close = closers[i]
            opens_sentence = not paragraph[start:i].strip() or paragraph[i - 1] in "：:"
            if char in "“‘「『" and paragraph[close - 1] in TERMINALS and opens_sentence:
                cut = close + 1  # a quoted sentence (`“…难了。”`, `他说：“…。”`) ends where its quote closes
            else:
                i = close + 1
                continue
        elif char in TERMINALS:
            cut = i + 1
        elif char in "；;" and not is_keyword_list:
            if cjk_count(paragraph[clause_start:i]) >= _MIN_CLAUSE_FOR_SEMICOLON:
                cut = i + 1
            clause_start = i + 1
        elif char in "：:" and i + 1 - start > 1 and _starts_section(paragraph[i + 1 :].lstrip()):
            cut = i + 1  # `…如下：一、加强队伍建设` — a list of sections starts here
        elif char in "：:":
            clause_start = i + 1  # `措施包括：（1）加强培训；…` — the items after a colon are the clauses
        if cut is not None:
            while cut < len(paragraph) and (paragraph[cut] in TERMINALS or paragraph[cut] in _CLOSERS_AFTER_TERMINAL):
                cut += 1
            sentences.append(paragraph[start:cut].strip())
            start = clause_start = cut
            i = cut
            continue
        i += 1
    if paragraph[start:].strip():
        sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


def _starts_section(text: str) -> bool:
    """A section numeral (`一、` `（一）` `第一章`), not a list item (`1.` `（1）`) that may stay in its sentence."""
    marker = heading_marker(text)
    return marker is not None and marker[0] <= _SECTION_LEVEL


def starts_with_label(text: str) -> bool:
    """`【摘要】…` / `摘要：…` / `关键词：…`: a front-matter part that never continues the line before it."""
    return bool(_FRONT_LABEL.match(text))


def is_keyword_line(text: str) -> bool:
    """`【关键词】…` / `关键词：…`: a list that is one unit and ends its paragraph."""
    return bool(_KEYWORD_LABEL.match(text))


def is_numbered(text: str) -> bool:
    """Whether text opens with a section number of any kind: `一、` `（二）` `3.` `①` `2.3.1 ` `3 `."""
    return heading_marker(text) is not None or bool(_DOTTED_NUMBER.match(text) or _SPACED_NUMBER.match(text))


def heading_marker(text: str) -> tuple[int, int] | None:
    """(level, length of the marker) when text starts with a heading numeral."""
    for level, pattern in _MARKERS:
        match = pattern.match(text)
        if match and len(text) > match.end():
            return level, match.end()
    return None


def _nested_marker_at(body: str, level: int) -> int | None:
    """Where a deeper numbered heading starts inside a heading's text (`…重要意义（一）构建…`)."""
    for pos in range(2, min(len(body), _MAX_HEADING)):
        before = body[pos - 1]
        if not is_cjk(before) or before == "第":
            continue
        found = heading_marker(body[pos:])
        if found and found[0] > level:
            after = body[pos + found[1] : pos + found[1] + 1]
            if after == " " or is_cjk(after) or after in "“《":
                return pos
    return None


def _glued_boundary(body: str) -> int | None:
    """Where a heading glued to its first sentence ends (`当前警民关系的现实状况|总体上讲，…`)."""
    window = re.split(r"[。：；！？:;]", body[:_MAX_HEADING], maxsplit=1)[0]
    fallback = None
    for pos in range(4, len(window)):
        head, rest = window[:pos], body[pos:]
        if not is_cjk(head[-1]):
            continue
        noun = head.endswith(_HEADING_NOUNS)
        if rest.startswith("“") and (noun or (fallback is None and len(head) <= 16)):
            return pos
        if not is_cjk(rest[0]) or "，" in head:
            continue
        if noun and rest.startswith(_OPENERS) and not rest.startswith(("在于", "这一", "这种")):
            return pos
        if fallback is None and len(head) >= 6 and head.endswith(_STRONG_HEADING_NOUNS):
            fallback = pos
    if fallback is not None and len(body) > _MAX_SHORT_HEADING:
        return fallback
    return None


# Words that close a sub-title naming a shortfall ("经费保障不足", "窗口排队现象严重"): general Chinese vocabulary of
# states, as aspect-named sub-sections of problems and causes sections are titled.
_STATE_ENDINGS = (
    "不足", "不够", "严重", "过多", "过少", "过重", "过高", "过低", "过大", "淡薄", "薄弱", "滞后", "不及时", "不高",
    "不强", "不严", "缺失", "缺位", "缺乏", "不健全", "不完善", "不规范", "不到位", "不畅", "困难", "突出", "混乱", "单一",
    "不均衡", "失衡", "乏力", "偏低", "偏高", "不清", "不明", "脱节", "割裂", "低下", "落后", "分散", "紧张", "老化",
    "乏人", "萎缩", "下降", "减少", "流失", "短缺", "匮乏", "偏差", "模糊", "不力", "欠缺", "不畅通", "不充分", "缺口",
    "扩大", "攀升", "不止", "增多", "泛滥", "严峻", "普遍", "反弹",
)
# Verbs that open a countermeasure's sub-title ("加强窗口管理"), a few of the commonest.
_ACTION_OPENINGS = ("加强", "建立", "健全", "完善", "提高", "提升", "推进", "强化", "加大", "优化", "规范", "创新",
                    "构建", "落实", "推动", "深化", "引导", "发挥", "拓宽", "改善", "改进", "严格", "明确", "促进")
# Words that carry a sentence on from the job noun before them ("问题意识", "问题的…", "对策是…"): no heading ends there.
_CONTINUATIONS = ("的", "是", "和", "与", "及", "在", "上", "中", "等", "有", "为", "意识", "导向", "化", "性", "主要",
                  "方面", "较", "也", "都", "已", "日益", "越来越", "分析", "探析", "剖析", "研究", "探讨", "思考", "建议",
                  "对策", "措施", "下")
# What a bare job heading ends with: a job noun (`存在的问题`, `对策建议`, `原因分析`) or a section word (`结语`).
_JOB_HEADING_ENDINGS = _STRONG_HEADING_NOUNS + ("表现", "分析", "探析", "结语", "结论", "引言", "前言", "小结", "总结")
_MAX_JOB_HEADING = 12  # characters of a bare job heading run into its text (`基层负担的主要表现`)
# Multi-character sentence openers that may follow a glued sub-title directly.
SUBTITLE_FOLLOWERS = tuple(o for o in _OPENERS if len(o) >= 2 and o not in ("我们", "一是", "第一", "要")) + (
    "一些", "部分", "许多", "很多", "有些", "不少", "个别", "据", "近两年", "近三年", "近五年", "近十年", "近几年")


def job_heading_end(body: str) -> int | None:
    """Where a bare job heading glued to its section's text ends, after a numeral: `存在的问题|窗口服务不规范…`,
    `对策|加强窗口管理…` (a short heading that ends with a job noun, followed by new text rather than a compound)."""
    for pos in range(2, min(_MAX_JOB_HEADING + 1, len(body) - 8)):
        head, rest = body[:pos], body[pos:]
        if (all(is_cjk(c) for c in head) and head.endswith(_JOB_HEADING_ENDINGS) and is_cjk(rest[0])
                and not rest.startswith(_CONTINUATIONS) and cjk_count(re.split(r"[，。；：！？]", rest)[0]) >= 6):
            return pos
    return None


def subtitle_end(text: str) -> int | None:
    """Where a sub-title glued to the sentence after it ends, when a page lost the line breaks around it:
    `经费保障不足|经费保障是…`, `人手紧张|由于编制…`, `加强窗口管理|窗口人员应当…`.

    The sub-title is a short run of Chinese characters that names a shortfall (`…不足`, `…严重`), and the sentence
    after it opens with a sentence opener (`由于`, `随着`, `一些`) or takes up a word of the sub-title again
    (`经费保障`); or a short plain one that opens with an action verb (`加强…`), taken up again. A sentence does
    not run on from a clause like that without a comma.
    """
    def shaped(pos: int) -> bool:
        head = text[:pos]
        return head.endswith(_STATE_ENDINGS) and not head.startswith(_OPENERS) and "，" in text[pos:pos + 40] + "，"

    def prescribes(pos: int) -> bool:
        # `构建和谐警民关系作为…` is a sentence whose subject is a verb phrase: an action sub-title is short, plain
        # (no 的) and taken up again by the sentence.
        head = text[:pos]
        return head.startswith(_ACTION_OPENINGS) and "的" not in head and pos <= 10

    def repeated(pos: int, offset: int) -> bool:
        word = text[pos + offset:pos + offset + 2]
        return len(word) == 2 and all(is_cjk(c) for c in word) and word in text[:pos]

    ends = []
    for pos in range(4, min(17, len(text) - 6)):
        if not all(is_cjk(c) or c in "“”" or c.isascii() and c.isalpha() for c in text[:pos]):
            break
        if is_cjk(text[pos]):
            ends.append(pos)
    # The sentence takes up the sub-title's word at once (`经费保障不足|经费保障是`) or opens as sentences do; failing
    # that, a short sub-title's word comes back within its first words (`服务意识淡薄|窗口服务的…`).
    for pos in ends:
        if (shaped(pos) and (repeated(pos, 0) or text[pos:].startswith(SUBTITLE_FOLLOWERS))
                or prescribes(pos) and repeated(pos, 0)):
            return pos
    for pos in ends:
        if pos <= 10 and (shaped(pos) or prescribes(pos)) and (repeated(pos, 1) or repeated(pos, 2)):
            return pos
    return None


def split_heading(unit: str, standalone: bool = False) -> list[Unit]:
    """A numbered unit → its heading(s) and the sentence glued after them, if any.

    `standalone`: the unit is a whole paragraph, so a longer one-sentence heading is allowed.
    """
    marker = heading_marker(unit)
    if marker is None:
        return [Unit(unit)]
    level, marker_end = marker
    body = unit[marker_end:]
    if unit.rstrip().endswith(("；", ";")):
        job = job_heading_end(body) if level <= _SECTION_LEVEL else None
        if job is None:
            return [Unit(unit)]  # an item of a list (`①执法不规范，给了网民口实；`)
        # `三、对策建议一是落实……；`: a section's heading run into its first item
        return [_heading(unit[: marker_end + job], level), Unit(body[job:].strip())]
    if level == _ITEM_LEVEL and "，" in unit:
        return [Unit(unit)]  # an item of a list (`（1）执法不规范，给了网民口实。`)
    nested = _nested_marker_at(body, level)
    if nested is not None:
        return [_heading(unit[: marker_end + nested], level)] + split_heading(body[nested:].strip())
    if _lists_siblings(body, level):
        return [Unit(unit)]  # `（1）加强培训；（2）完善制度。` is a list in one sentence
    if _has_lead_in(body):
        return [Unit(unit)]  # `2. 提高培训水平：加大培训力度。` is an item with a lead-in, not a heading
    # A unit this short is all heading, commas and all (`一、加强培训，提高素质`), unless it ends as a sentence and a
    # bare job heading or a sub-title is glued in front of it (`一、存在的问题窗口服务不规范随着…，…。`).
    short = len(body.strip()) <= (_MAX_STANDALONE_HEADING if standalone else _MAX_SHORT_HEADING)
    if short and not (body.rstrip().endswith(tuple(TERMINALS)) and "，" in body):
        return [_heading(unit, level)]
    job = job_heading_end(body) if level <= _SECTION_LEVEL else None
    if job is not None:
        return [_heading(unit[: marker_end + job], level), *split_subtitle(body[job:].strip())]
    subtitle = subtitle_end(body)
    if short and subtitle is None:
        return [_heading(unit, level)]
    boundary = subtitle if subtitle is not None else _glued_boundary(body)
    if boundary is None:
        return [Unit(unit)]  # a numbered paragraph, not a heading
    return [_heading(unit[: marker_end + boundary], level), Unit(body[boundary:].strip())]


def split_subtitle(text: str) -> list[Unit]:
    """A sentence, or the sub-title glued in front of it (`subtitle_end`) and the sentence."""
    end = subtitle_end(text)
    if end is None:
        return [Unit(text)]
    return [Unit(text[:end], True, SUBTITLE_LEVEL), Unit(text[end:])]


def _has_lead_in(body: str) -> bool:
    """A colon followed by a full clause."""
    parts = re.split("[：:]", body, maxsplit=1)
    return len(parts) == 2 and cjk_count(parts[1]) >= _MIN_CLAUSE_FOR_SEMICOLON


def _lists_siblings(body: str, level: int) -> bool:
    """Whether another numeral of the same level follows a punctuation mark inside the text."""
    for match in re.finditer(r"[，、；：,;:]\s*", body):
        found = heading_marker(body[match.end() :])
        if found and found[0] == level:
            return True
    return False


def is_heading_line(text: str) -> bool:
    """A short line with no sentence punctuation inside or at its end: a title or section heading."""
    return (
        2 <= cjk_count(text) <= 30
        and len(text) <= 40
        and not re.search(r"[，。；：！？,;:!?]", text)
    )


# An author's affiliation on a line of its own (`华东某某大学公共管理学院`, `某省委党校 210000`): front matter, not a
# heading over the paper's text.
_AFFILIATION = re.compile(rf"^[^，。；\s]{{2,20}}?(?:{INSTITUTION}|党校)"
                          r"(?:[^，。；\s]{0,12}?(?:学院|系|所|中心|研究院|部))?"
                          r"(?:[，,\s]+[^，。；\s]{2,6}){0,2}(?:[，,\s]*\d{6})?$")


# Several affiliations in brackets (`（某某学院 a.法学系；b.公共管理系，江苏 南京 210031）`): an institution or a
# postcode inside.
_BRACKETED_AFFILIATION = re.compile(rf"^[（(][^（()）]*(?:{INSTITUTION}|学校|党校|编辑部|\d{{6}})[^（()）]*[）)]$")
_MAX_BRACKETED_AFFILIATION = 80


def is_affiliation(text: str) -> bool:
    """Whether a short line names an institution (and perhaps its city and postcode) and nothing else, or holds
    affiliations in brackets."""
    if len(text) <= _MAX_BRACKETED_AFFILIATION and _BRACKETED_AFFILIATION.match(text):
        return True
    return len(text) <= 40 and not is_numbered(text) and bool(_AFFILIATION.search(text)) and not names_a_section(text)


def segment_paragraph(paragraph: str) -> list[Unit]:
    """One cleaned paragraph → its sentences and headings, in order."""
    if is_reference_entry(paragraph) or is_affiliation(paragraph):
        return [Unit(paragraph)]
    if is_heading_line(paragraph):
        marker = heading_marker(paragraph)
        dotted = _DOTTED_NUMBER.match(paragraph)
        if marker is None and dotted:
            # `1.1 研究背景` / `2.3.1 数据来源`: decimal section numbers nest one level per dot
            return [_heading(paragraph, _DOTTED_BASE_LEVEL + dotted.group(0).count("."))]
        if marker is None:
            return [_heading(paragraph, UNNUMBERED_LEVEL)]
        if _nested_marker_at(paragraph[marker[1] :], marker[0]) is None:
            return [_heading(paragraph, marker[0])]
    units: list[Unit] = []
    sentences = split_sentences(paragraph)
    for index, sentence in enumerate(sentences):
        if index and sentences[index - 1][-1] in "；;":
            units.append(Unit(sentence))  # the next item of a list, not a heading
        elif not is_numbered(sentence):
            # `经费保障不足经费保障是…`: a page lost the line break before (and after) a sub-title
            units.extend(split_subtitle(sentence))
        else:
            units.extend(split_heading(sentence, standalone=len(sentences) == 1))
    return [unit for unit in units if re.search(r"\w", unit.text)]  # drop leftovers like a lone `@`


def heading_label(text: str) -> str:
    """A heading as it appears in heading paths: without its closing 。."""
    return text.rstrip("。．.").strip()


# The heading path's stand-in for a section heading an excerpt left out, naming the next section of the same level.
MISSING_SECTION = "（原文缺此节标题，下一节为“{next}”）"
_CHAPTER_LEVEL = 2  # 一、 and unnumbered headings: chapters, whose neighbours usually do another job


def missing_parent(units: list[Unit]) -> tuple[int, int, str] | None:
    """(first unit, level, heading) of the section an excerpt starts inside, when the text shows where it ends.

    An excerpt that starts at `3.2.4` lacks `3.2`; when a later `3.3 群众方面的原因` closes it, `3.2` was a
    section of the same part, so it stands in the path of everything from `3.2.4` up to `3.3`, named after its
    next section. Chapters (`三、`, `3 `) are not inferred from their neighbours, which usually do another job.
    """
    headings = [(i, u) for i, u in enumerate(units) if u.is_heading and u.level is not None]
    if not headings:
        return None
    first, first_unit = headings[0]
    closing = next(((i, u) for i, u in headings[1:] if u.level < first_unit.level), None)
    if closing is None or closing[1].level <= _CHAPTER_LEVEL or closing[1].level != first_unit.level - 1:
        return None
    parent, following = _DOTTED_NUMBER.match(first_unit.text), _DOTTED_NUMBER.match(closing[1].text)
    if (parent is None) != (following is None):
        return None
    number = ""
    if parent is not None:
        number = parent.group(0).rsplit(".", 1)[0]  # 3.2.4 → 3.2, which 3.3 must follow
        if following.group(0).rsplit(".", 1)[0] != number.rsplit(".", 1)[0]:
            return None
    next_name = re.sub(r"^\S*\d\S*\s+", "", closing[1].text) if following else closing[1].text[heading_marker(closing[1].text)[1]:]
    return first, closing[1].level, number + MISSING_SECTION.format(next=heading_label(next_name))


# Nouns that say what job a section does; a heading ending in one (`……问题的原因分析`, `二、存在的问题`) is the parent
# of the unnumbered sub-titles under it that name an aspect instead (`人员编制不足`).
_JOB_NOUNS = ("问题", "原因", "成因", "根源", "因素", "对策", "措施", "建议", "途径", "路径", "策略", "现状", "困境",
              "挑战", "分析", "思考", "危害", "表现", "办法", "方案", "举措")


def names_a_job(text: str) -> bool:
    """Whether a heading says what its section does (`…的原因分析`, `存在的问题`), not which aspect it treats."""
    return heading_label(text).endswith(_JOB_NOUNS)


def nest_subtitles(units: list[Unit]) -> list[Unit]:
    """Unnumbered sub-titles that name an aspect, under a chapter that names a job, become its sub-sections.

    Unnumbered headings are chapters by default; after `……问题的原因分析` (or `二、存在的问题`) a title line such as
    `人员编制不足` is an aspect of that chapter, not the next chapter, so it keeps its parent in the heading path.
    The next heading that names a job, or a numbered chapter, closes the run.
    """
    nested, under_job = [], False
    for unit in units:
        if unit.is_heading and unit.level is not None and unit.level <= UNNUMBERED_LEVEL:
            numbered = is_numbered(unit.text)
            if not numbered and under_job and not names_a_job(unit.text):
                unit = Unit(unit.text, True, SUBTITLE_LEVEL)
            else:
                under_job = names_a_job(unit.text)
        nested.append(unit)
    return nested


def announced_parent(units: list[Unit]) -> tuple[int, int, str] | None:
    """(first unit, end, announcement) when an excerpt without a title announces the sections it then gives.

    An excerpt that starts inside a part of a paper often opens with the sentence that announced that part's
    sections ("……的成因复杂多样，既有……也有……。", "……为何屡禁不止？") and then gives them under headings that name
    an aspect ("1.父母外出导致家庭教育缺位"); the part's own heading was left out. The last such sentence before the
    first heading stands in the path of that heading and of its sibling sections (the same level and kind of
    numbering, two at least), up to `end`. A titled paper's, and chapters' (`一、`, `第一章`), parent is the paper itself.
    """
    if any(unit.is_heading and unit.level is None for unit in units):
        return None
    first = next((i for i, unit in enumerate(units) if unit.is_heading), None)
    if first is None:
        return None
    level, numbered = units[first].level, is_numbered(units[first].text)
    if numbered and level <= _CHAPTER_LEVEL:
        return None
    announcing = [unit.text for unit in units[:first] if announces_sections(unit.text)]
    if not announcing:
        return None
    end = next((i for i in range(first + 1, len(units)) if units[i].is_heading
                and (units[i].level < level or (units[i].level == level and is_numbered(units[i].text) != numbered))),
               len(units))
    if sum(unit.is_heading and unit.level == level for unit in units[first:end]) < 2:
        return None  # one heading is no run of sections (a byline in brackets, a lone sub-title)
    return first, end, heading_label(announcing[-1])


def assign_heading_paths(units: list[Unit]) -> list[list[str]]:
    """Each unit's enclosing headings, outermost first; a heading's own path is its parents. An excerpt's
    section whose heading it left out is named after its next section (`missing_parent`), or after the sentence
    that announced it (`announced_parent`); unnumbered aspect sub-titles stay under the chapter that names their
    job (`nest_subtitles`)."""
    stack: list[tuple[int, str]] = []
    paths: list[list[str]] = []
    units = nest_subtitles(units)
    missing = missing_parent(units)
    announced = announced_parent(units)
    for index, unit in enumerate(units):
        if missing is not None and index == missing[0]:
            stack.append(missing[1:])
        if unit.is_heading and unit.level is None:
            paths.append([])
        elif unit.is_heading:
            while stack and stack[-1][0] >= unit.level:
                stack.pop()
            paths.append([text for _, text in stack])
            stack.append((unit.level, heading_label(unit.text)))
        else:
            paths.append([text for _, text in stack])
    if announced is not None:
        first, end, announcement = announced
        paths[first:end] = [[announcement, *path] for path in paths[first:end]]
    return paths
