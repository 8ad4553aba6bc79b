"""The view a labeling function sees: a sentence with its paper neighbours and enumeration marker."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from pcc.records import Sentence, without_space
from training.labeling.heading_vocabulary import CHINESE_NUMERAL, ENUMERATOR, run_in_heading

_ENUMERATOR_STYLES = (
    ("chinese", re.compile(rf"^\s*([{CHINESE_NUMERAL}]+)\s*[、.．]")),
    ("parenthesised", re.compile(rf"^\s*[（(]\s*([{CHINESE_NUMERAL}\d]*)\s*[）)]")),
    ("arabic", re.compile(r"^\s*(\d{1,2})\s*(?:[、．)）]|\.(?!\d))")),
    ("ordinal", re.compile(rf"^\s*([{CHINESE_NUMERAL}]+)是")),
    ("di", re.compile(rf"^\s*第([{CHINESE_NUMERAL}]+)(?:[，,、：:]|是)")),
    ("sequence", re.compile(r"^\s*(首先|其次|再次|最后)")),
)
_SEQUENCE = {"首先": 1, "其次": 2, "再次": 3}
# A list announced inside a sentence: "具有以下必要性：1.促进社会的和谐稳定。" → lead "具有以下必要性".
_INLINE_LIST_START = re.compile(r"^(?P<lead>.{4,}?)[:：]\s*(?=(?:(?:1|一|[（(]\s*[1一]\s*[）)])\s*[、.．）)是]|第一|首先))")
_ANNOUNCEMENT = re.compile(r"以下|如下|几点|几个方面|主要有|表现在|具体包括|存在[^。]{0,12}(?:问题|不足|困境)|[:：]\s*$")
# Largest gap between list positions that still counts as "next to each other" (a garbled line may sit between).
NEIGHBOUR_MAX_GAP = 2


def enumeration(text: str) -> tuple[str, int | None] | None:
    """(style, number) of the marker a text opens with: ("chinese", 2) for "二、"; number None if unreadable."""
    for style, pattern in _ENUMERATOR_STYLES:
        match = pattern.match(text)
        if match:
            return style, _number(match.group(1))
    return None


def _number(numeral: str) -> int | None:
    if numeral in _SEQUENCE or numeral == "最后":
        return _SEQUENCE.get(numeral)
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
        return inline.group("lead")
    return text if _ANNOUNCEMENT.search(text) else None


@dataclass(frozen=True)
class Candidate:
    sentence: Sentence
    previous: Sentence | None  # the paper's preceding sentence, when it is close by
    next: Sentence | None
    # The sentence that announced the enumerated list this sentence is an item of ("…以下几点："), if any.
    list_announcement: str | None = None
    # Announcements of the paper's enumerated headings, by heading text without whitespace.
    heading_announcements: dict[str, str] = field(default_factory=dict)
    # Outside any detected section: the heading run into this or an earlier sentence ("背景随着…"), if any.
    run_in_section: str | None = None
    # False in a paper with no detected heading at all, whose argument is carried by the wording alone.
    paper_has_headings: bool = True

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def heading_path(self) -> list[str]:
        return self.sentence.heading_path

    @property
    def is_heading(self) -> bool:
        return self.sentence.is_heading

    @cached_property
    def enumerator(self) -> str | None:
        """The enumeration marker the sentence opens with ("一、", "（二）", "2.", "三是"), if any."""
        match = ENUMERATOR.match(self.text)
        return match.group(0).strip() if match else None

    @cached_property
    def body(self) -> str:
        """The text without its enumeration marker and surrounding whitespace."""
        match = ENUMERATOR.match(self.text)
        return (self.text[match.end():] if match else self.text).strip()

    @property
    def is_title(self) -> bool:
        return self.sentence.is_title


def build_candidates(sentences: list[Sentence]) -> list[Candidate]:
    """One candidate per sentence, in the given order; neighbours come from the same paper by index."""
    by_paper: dict[str, list[int]] = {}
    for number, sentence in enumerate(sentences):
        by_paper.setdefault(sentence.paper_id, []).append(number)
    candidates: list[Candidate | None] = [None] * len(sentences)
    for numbers in by_paper.values():
        numbers.sort(key=lambda n: sentences[n].index)
        ordered = [sentences[n] for n in numbers]
        announcements = _list_announcements(ordered)
        run_in_sections = _run_in_sections(ordered)
        heading_announcements = {without_space(s.text).rstrip("。"): a for s, a in zip(ordered, announcements)
                                 if s.is_heading and a is not None}
        has_headings = any((s.is_heading and not s.is_title) or s.heading_path for s in ordered)
        for position, number in enumerate(numbers):
            sentence = sentences[number]
            previous = ordered[position - 1] if position > 0 else None
            following = ordered[position + 1] if position + 1 < len(ordered) else None
            if previous is not None and sentence.index - previous.index > NEIGHBOUR_MAX_GAP:
                previous = None
            if following is not None and following.index - sentence.index > NEIGHBOUR_MAX_GAP:
                following = None
            candidates[number] = Candidate(sentence, previous, following, announcements[position],
                                           heading_announcements, run_in_sections[position], has_headings)
    return candidates


def _run_in_sections(ordered: list[Sentence]) -> list[str | None]:
    """Per sentence of one paper: the latest run-in heading, for sentences outside any detected section.

    A detected heading or section ends it; the paper title never starts one.
    """
    title = without_space(ordered[0].paper_title) if ordered else ""
    current: str | None = None
    result: list[str | None] = []
    for sentence in ordered:
        if sentence.is_heading or sentence.heading_path:
            current = None
        elif not (title and without_space(sentence.text).startswith(title)):
            current = run_in_heading(sentence.text) or current
        result.append(current)
    return result


def _list_announcements(ordered: list[Sentence]) -> list[str | None]:
    """Per sentence of one paper: the announcement of the enumerated list it is an item of.

    A list starts at item 1 of a marker style, announced by the text before "：1." in the same sentence or
    by the sentence just before; later items of that style inherit it until the style restarts at 1.
    """
    current: dict[str, str | None] = {}
    result: list[str | None] = []
    for position, sentence in enumerate(ordered):
        inline = _INLINE_LIST_START.match(sentence.text)
        marker = enumeration(sentence.text)
        if inline:
            style = enumeration(sentence.text[inline.end():])
            if style is not None:
                current[style[0]] = inline.group("lead")
            result.append(inline.group("lead"))
            continue
        if marker is None:
            result.append(None)
            continue
        style, number = marker
        if number == 1 or style not in current:
            previous = ordered[position - 1].text if position > 0 else ""
            current[style] = announcement(previous) if number == 1 else None
        result.append(current[style])
    return result
