"""Lines of a page saved with its Markdown marks, or with them flattened onto one line.

Web pages copied as Markdown keep `## 现状`, `**摘要：**` and `- ` bullets; a page that lost its line breaks runs
them together (`## 现状 ### 1. 规模扩大据……调查`). Here each heading mark starts a line of its own, the heading is
cut from a sentence run into it, and emphasis and bullet marks go, so that the reader sees headings and sentences
as in any other paper.
"""
from __future__ import annotations

import re

from pcc.segmentation import SUBTITLE_FOLLOWERS, is_heading_line, subtitle_end

_HEADING_MARK = re.compile(r"(?:^|(?<=\s))#{1,6}[ \t\u3000]+")
_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_BULLET = re.compile(r"^[ \t\u3000]*[-*•·▪]+(?:[ \t\u3000]+|$)")
_TRAILING_BULLET = re.compile(r"[ \t\u3000]+[-*•·▪]$")
# A bullet run into the line before it, after the end of a sentence: `…复杂度。 - 数据孤岛…`.
_INLINE_BULLET = re.compile(r"(?<=[。！？；])[ \t\u3000]+[-*•·▪][ \t\u3000]+(?=\S)")
_NUMBER = re.compile(r"^\d+(?:\.\d+)*[.．、]?\s*")  # `1. `, `2.3 `: a heading's number and the space after it
_MAX_HEADING = 24  # characters of a Markdown heading looked through for the sentence run into it


def _heading_and_rest(text: str) -> list[str]:
    """A Markdown heading's text, cut from the sentence a flattened page ran into it: at the first space, at a
    sub-title's end (`subtitle_end`), or where a sentence opener follows (`规模扩大|据…调查`)."""
    text = text.strip()
    if not text or is_heading_line(text):
        return [text] if text else []
    number = _NUMBER.match(text)
    start = number.end() if number else 0
    space = re.search(r"[ \t\u3000]+", text[:_MAX_HEADING + 8])
    if space and space.start() >= 2 and space.start() >= start:  # the space after a heading's number is no boundary
        return [text[:space.start()], text[space.end():]]
    end = subtitle_end(text[start:])
    # A heading holds no punctuation: the sentence starts within its first clause.
    clause = min(len(re.split(r"[，。；：！？,;:!?]", text[start:], maxsplit=1)[0]), _MAX_HEADING)
    if end is None:
        end = next((pos for pos in range(2, clause) if text[start + pos:].startswith(SUBTITLE_FOLLOWERS)), None)
    if end is None:  # `2. 年龄结构老化60岁以上的……`: figures open the sentence
        digits = re.search(r"(?<=[\u4e00-\u9fff])\d", text[start:start + clause])
        end = digits.start() if digits and digits.start() >= 2 else None
    if end is None:
        return [text]
    return [text[:start + end], text[start + end:]]


def unflatten_markup(line: str) -> list[str]:
    """One input line as the lines it stands for: without emphasis marks and bullets, a line per Markdown heading,
    each heading apart from the sentence run into it."""
    line = _EMPHASIS.sub(lambda match: match.group(1) or match.group(2), line)
    line = _TRAILING_BULLET.sub("", _INLINE_BULLET.sub("\n", line))
    lines: list[str] = []
    for part in line.split("\n"):
        pieces = _HEADING_MARK.split(part)
        if pieces[0].strip():
            lines.append(pieces[0])
        for heading in pieces[1:]:
            lines.extend(_heading_and_rest(heading))
    return [_BULLET.sub("", piece) for piece in lines if _BULLET.sub("", piece).strip()]
