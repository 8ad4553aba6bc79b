"""The scaffolding of an argument inside a paper: enumerated list items and the sentences that announce them.

"原因主要有以下几点：" announces a list, "一是…" "二是…" are its items; an item does the job its announcement
names. The labeling functions and the model input (`pcc.model_input`) read lists the same way, from here.
"""
from __future__ import annotations

import re
from typing import Sequence

from pcc.records import Sentence

CHINESE_NUMERAL = "一二三四五六七八九十"
_ENUMERATOR_STYLES = (
    ("chinese", re.compile(rf"^\s*([{CHINESE_NUMERAL}]+)\s*[、.．]")),
    ("parenthesised", re.compile(rf"^\s*[（(]\s*([{CHINESE_NUMERAL}\d]*)\s*[）)]")),
    ("arabic", re.compile(r"^\s*(\d{1,2})\s*(?:[、．)）]|\.(?!\d))")),
    ("ordinal", re.compile(rf"^\s*([{CHINESE_NUMERAL}]+)(?:是|要|则)")),
    ("di", re.compile(rf"^\s*第([{CHINESE_NUMERAL}]+)(?:[，,、：:]|是)")),
    ("sequence", re.compile(r"^\s*(首先|其次|再次|最后)")),
    ("circled", re.compile(r"^\s*([①-⑳])")),
)
_SEQUENCE = {"首先": 1, "其次": 2, "再次": 3}
# A list announced inside a sentence: "具有以下必要性：1.促进社会的和谐稳定。" → lead "具有以下必要性"; a short
# lead may end with a comma: "究其原因，一是警力不足；" → lead "究其原因".
_INLINE_LIST_START = re.compile(r"^(?:(?P<lead>.{4,}?)[:：]|(?P<short_lead>[^，,：:。]{2,10})[，,])\s*"
                                r"(?=(?:(?:1|一|[（(]\s*[1一]\s*[）)])\s*[、.．）)是]|第一|首先|其一))")
# Words that point at what comes next: a list's announcement and a sections' announcement both use them.
_WHAT_FOLLOWS = r"以下|如下|几点|几个方面|主要有"
_ANNOUNCEMENT = re.compile(rf"{_WHAT_FOLLOWS}|表现在|具体包括|存在[^。等]{{0,12}}(?:问题|不足|困境)|[:：]\s*$")


# What a sentence says to announce the sections that follow it: a list to come ("主要有以下几个方面", "既有……也有……",
# "成因复杂多样") or a question the sections answer ("……为何屡禁不止？").
_SECTIONS_ANNOUNCED = re.compile(rf"{_WHAT_FOLLOWS}|多方面|复杂多样|错综复杂|既有.{{1,30}}也有|[？?]\s*$")


def announces_sections(text: str) -> bool:
    """Whether a sentence announces the sections after it ("……的成因复杂多样，既有……也有……。", "……为何屡禁不止？")."""
    return bool(_SECTIONS_ANNOUNCED.search(text))


def enumeration(text: str) -> tuple[str, int | None] | None:
    """(style, number) of the marker a text opens with: ("chinese", 2) for "二、"; number None if unreadable."""
    for style, pattern in _ENUMERATOR_STYLES:
        match = pattern.match(text)
        if match:
            return style, _number(match.group(1))
    return None


def without_enumeration(text: str) -> str:
    """The text without the list marker it opens with ("（二）重打击轻教育。" → "重打击轻教育。"), so that what two
    items say is compared, not their numbering."""
    for _, pattern in _ENUMERATOR_STYLES:
        match = pattern.match(text)
        if match:
            return text[match.end():].lstrip(" \u3000，,：:、") or text
    return text


def _number(numeral: str) -> int | None:
    if numeral in _SEQUENCE or numeral == "最后":
        return _SEQUENCE.get(numeral)
    if "①" <= numeral <= "⑳":
        return ord(numeral) - ord("①") + 1
    if numeral.isdigit():
        return int(numeral)
    digits = {c: i for i, c in enumerate(CHINESE_NUMERAL, 1)}
    if numeral in ("十",):
        return 10
    if len(numeral) == 1 and numeral in digits:
        return digits[numeral]
    if len(numeral) == 2 and numeral[0] == "十":
        return 10 + digits.get(numeral[1], 0)
    return None


def announcement(text: str) -> str | None:
    """The announcing part of a sentence that opens a list ("原因有以下几点：", "…如下：1.…"), if it is one."""
    inline = _INLINE_LIST_START.match(text)
    if inline:
        return inline.group("lead") or inline.group("short_lead")
    return text if _ANNOUNCEMENT.search(text) else None


def list_announcements(ordered: Sequence[Sentence]) -> list[str | None]:
    """Per sentence of one paper: the announcement of the enumerated list it is an item of.

    A list starts at item 1 of a marker style, announced by the text before "：1." in the same sentence or
    by the sentence just before; later items of that style inherit it until the style restarts at 1. The
    sentences after an item in its paragraph explain it, and inherit its announcement too.
    """
    current: dict[str, str | None] = {}
    result: list[str | None] = []
    run: tuple[int, str] | None = None  # (paragraph, announcement) of the item whose explanation may follow
    for position, sentence in enumerate(ordered):
        inline = _INLINE_LIST_START.match(sentence.text)
        marker = enumeration(sentence.text)
        if inline:
            lead = inline.group("lead") or inline.group("short_lead")
            style = enumeration(sentence.text[inline.end():])
            if style is not None:
                current[style[0]] = lead
            result.append(lead)
            run = (sentence.paragraph, lead)
            continue
        if marker is None:
            # "第一，监管力量薄弱。很多司法所只有一名专职人员。第二，……": the sentences that explain an item, in its
            # paragraph, belong to the list too; a heading or a new paragraph ends the item.
            explains = run is not None and not sentence.is_heading and sentence.paragraph == run[0]
            result.append(run[1] if explains else None)
            if not explains:
                run = None
            continue
        style, number = marker
        if number == 1 or style not in current:
            previous = ordered[position - 1].text if position > 0 else ""
            current[style] = announcement(previous) if number == 1 else None
        result.append(current[style])
        run = (sentence.paragraph, current[style]) if current[style] and not sentence.is_heading else None
    return result
