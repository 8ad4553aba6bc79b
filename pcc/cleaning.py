"""Line-level cleaning of extracted paper text, and detection of text too broken to classify.

PDF extraction of Chinese papers leaves spaces between characters, ASCII punctuation, page
furniture (mastheads, page numbers, download-site notices) and, for multi-column layouts, lines
read across the columns. Everything here works on general features of the text, never on
phrases of particular papers.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
FULL_WIDTH_PUNCT = "，。、；：？！“”‘’「」『』《》〈〉（）【】—…·～"
_COMMON_PUNCT = FULL_WIDTH_PUNCT + "%+=<>~％＋＝＜＞～"  # with every Unicode punctuation mark…
_NOISE_MARKS = "{}|｜\\^`"  # … but these, which Chinese prose does not use
_LATIN_RUN = re.compile(r"[A-Za-z]+")
_MIXED_CASE = re.compile(r"[a-z][A-Z]")
_CJK_CHAR = re.compile(f"[{CJK}]")
_CJKISH = f"{CJK}{FULL_WIDTH_PUNCT}"

# Whitespace is dropped where either neighbour is Chinese or full-width punctuation.
_SPACE_NEAR_CJK = re.compile(f"(?<=[{_CJKISH}])[ \t\u3000\u00a0]+|[ \t\u3000\u00a0]+(?=[{_CJKISH}])")
_LEADING_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*[.．]?)[ \t\u3000]+(?=\S)")
_MULTISPACE = re.compile(r"[ \t\u3000\u00a0]{2,}")

# Notices that document-sharing sites add to downloads: a line is one when it holds three of these.
_DISCLAIMER_WORDS = ("下载", "文档", "客服", "预览", "侵犯您", "退款", "甄别", "本站", "上传者")
_DISCLAIMER_MIN_HITS = 3

# Journal metadata fields that end up glued between the keywords and the body.
_METADATA_FIELD = re.compile(
    r"[【\[［]?\s*(?:中图分类号|中图法分类号|文献标识码|文献标志码|文章编号|DOI|doi)\s*[】\]］]?\s*[：:]?"
    r"\s*[A-Za-z0-9.\-‐―—–/()（）:：]*"
)
_SECTION_LABEL = re.compile(r"(?<=\S)(?=[【\[［]\s*(?:摘\s*要|关键词|关键字|Abstract|Key\s*words)\s*[】\]］])", re.IGNORECASE)
# The words that end an institution's name (`某某大学`, `某某研究中心`), which every kind of affiliation line holds;
# each pattern of one adds the words of its own kind.
INSTITUTION = "大学|学院|研究院|研究所|研究中心"
# What confirms a lone name under the title as its author: an affiliation in brackets
# (`（某某大学法学院，北京100038）`) or the abstract's label.
_AFTER_LONE_AUTHOR = re.compile(
    rf"\s*[（(][^）)]*(?:{INSTITUTION}|学校|公安|警察|分局|派出所|\d{{6}})|\s*[【\[［]?\s*(?:摘\s*要|内容提要|abstract)",
    re.IGNORECASE,
)
_BACK_MATTER_LABEL = re.compile(r"^((?:主要)?参考文献|注释|References)\s*[:：]$", re.IGNORECASE)
# Mojibake of site watermarks (UTF-8 Chinese decoded as Cyrillic) and other runs of Cyrillic.
_CYRILLIC_RUN = re.compile(r"[\u0400-\u04ff]+(?:\s+[\u0400-\u04ff]+)*")

# Emoji (WeChat articles open sentences with 💡 ✅ 👇): pictures, not words, so they are taken out before the
# text is read; left in, the several code points of one emoji count as OCR noise against a short sentence.
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0E\uFE0F\u200D\u20E3]+")

# Full-width digits and Latin letters (２０１５, ＡＢＣ) → ASCII; full-width punctuation stays.
_FULL_WIDTH_ALNUM = {code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}
# Page labels: `第 3 页`, `第3页 共10页`, `3 / 10`, `- 3 -`.
_PAGE_LABEL = re.compile(r"^[-—\s]*(第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+|\d+)[-—\s]*$")
_RUNNING_HEADER_MAX = 40  # a line this short repeated on several pages is a running header or footer
_RUNNING_HEADER_REPEATS = 3
_MAX_NOISE_IN_TEXT_LINE = 0.4  # share of OCR noise above which a line is masthead or symbol junk

_REFERENCE_NUMBER = re.compile(r"^\s*[\[［【]\d{1,3}[\]］】]|^\s*\d{1,3}[.、．]\s*\S")
_REFERENCE_TYPE = re.compile(r"[\[［](?:J|M|C|D|N|R|S|P|Z|EB/OL|J/OL|M/OL|A|G)[\]］]")

CHINESE_NUMERALS = "一二三四五六七八九十百零〇"
# What a chapter heading holds that no name does: `第一章`, `第2节`, `绪论`.
_CHAPTER = re.compile(rf"^第[\d{CHINESE_NUMERALS}]+[章节篇部]")
_SECTION_WORDS = {"绪论", "引言", "前言", "导论", "结语", "结论", "小结", "总结", "摘要", "附录", "致谢", "后记"}
_ORPHAN_NUMERAL = re.compile(f"^[{CHINESE_NUMERALS}]{{1,3}}$")
_ORPHAN_COMMA = re.compile(r"^[、,，]$")


@dataclass
class Line:
    """One cleaned line or paragraph, with the raw text it came from (its spacing is evidence of PDF
    origin) and the number of places where it was joined from lines that broke off mid-sentence
    at irregular lengths (evidence of pieces of columns put together)."""

    text: str
    raw: str
    ragged_joins: int = 0


def is_cjk(char: str) -> bool:
    return bool(_CJK_CHAR.match(char))


def cjk_count(text: str) -> int:
    return len(_CJK_CHAR.findall(text))


def is_disclaimer(line: str) -> bool:
    """A download-site notice (`- 1、下载文档前请自行甄别…`)."""
    hits = sum(word in line for word in _DISCLAIMER_WORDS)
    return hits >= _DISCLAIMER_MIN_HITS


def is_junk(line: str) -> bool:
    """Page furniture: masthead letters, page numbers, symbol runs — lines with no Chinese to speak of.

    A line of real Latin prose (an English abstract) is kept: it has several lower-case words.
    Numbers and punctuation are neutral: `6.68亿，互联网普及率为48.8%。` is text.
    """
    line = _CYRILLIC_RUN.sub("", line)
    compact = re.sub(r"\s+", "", line)
    if not compact or _PAGE_LABEL.match(line):
        return True
    if _ORPHAN_NUMERAL.match(compact) or _ORPHAN_COMMA.match(compact):
        return False  # a heading numeral split off its heading; merge_orphan_numerals decides
    if len(re.findall(r"\b[a-z]{3,}\b", line)) >= 3:
        return False
    chinese = cjk_count(compact)
    if chinese == 0 or (chinese == 1 and compact[-1] not in "。！？!?"):
        return True
    return noise_count(line) / len(compact) > _MAX_NOISE_IN_TEXT_LINE


# A table or figure caption (`表1 某市基层派出所警力情况`, `图 2-1 …`): it names a table, it says nothing itself.
_CAPTION = re.compile(r"^\s*[表图]\s*\d+(?:[-.．]\d+)*[\s:：.．]*[^。！？!?]{2,40}$")


def table_reason(line: str) -> str | None:
    """Why a line is part of a table rather than of the text: a row of cells (separated by tabs, as the .docx
    reader gives a table's rows, or as a spreadsheet pastes them) none of which is a sentence, or a caption."""
    cells = [cell.strip() for cell in line.strip().split("\t") if cell.strip()]
    if len(cells) >= 2 and not any(re.search(r"[。！？!?]$", cell) for cell in cells):
        return "table row"
    return "table or figure caption" if _CAPTION.match(line) else None


def noise_count(text: str) -> int:
    """Characters of OCR noise: symbols that are neither Chinese, digits, punctuation nor common signs, and
    Latin letters standing alone or in runs of mixed-up case (`J O cR卜 oNl`). Words and
    abbreviations (`QQ群`, `ONNX`, `Deep`) are not noise."""
    symbols = sum(
        1 for char in text
        if not (is_cjk(char) or char.isdigit() or char.isspace() or char.isascii() and char.isalpha())
        and char not in _COMMON_PUNCT and (char in _NOISE_MARKS or not unicodedata.category(char).startswith("P"))
    )
    letters = sum(len(run) for run in _LATIN_RUN.findall(text) if len(run) == 1 or _MIXED_CASE.search(run))
    return symbols + letters


def merge_orphan_numerals(lines: list[str]) -> list[str]:
    """Re-attach heading numerals that extraction put on lines of their own.

    `一` + `、` + `网络时代…` → `一、网络时代…`; a lone `、` goes to the front of the next line
    (its numeral was lost; segmentation reads it as a numbered heading). A lone numeral not
    followed by `、` is dropped: it is a page or column number.
    """
    merged: list[str] = []
    pending = ""
    for line in lines:
        compact = re.sub(r"\s+", "", line)
        if _ORPHAN_NUMERAL.match(compact):
            pending = compact
            continue
        if _ORPHAN_COMMA.match(compact):
            pending = pending + "、"
            continue
        if pending.endswith("、"):
            merged.append(pending + line.lstrip())
        else:
            merged.append(line)
        pending = ""
    return merged


def despace(text: str) -> str:
    """Drop spaces next to Chinese characters or full-width punctuation; keep them in Latin text and
    numbers, and the one after a leading section number (`1.1 研究背景`, `2. 提高`)."""
    text = text.strip()
    number = _LEADING_NUMBER.match(text)
    head, text = (number.group(1) + " ", text[number.end() :]) if number else ("", text)
    text = _SPACE_NEAR_CJK.sub("", text)
    return head + _MULTISPACE.sub(" ", text).strip()


def _neighbour(text: str, index: int, step: int) -> str:
    index += step
    while 0 <= index < len(text) and text[index] == " ":
        index += step
    return text[index] if 0 <= index < len(text) else ""


def _in_chinese(text: str, index: int) -> bool:
    before, after = _neighbour(text, index, -1), _neighbour(text, index, 1)
    return any(c and (is_cjk(c) or c in FULL_WIDTH_PUNCT) for c in (before, after))


_ASCII_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}


def normalize_punctuation(text: str) -> str:
    """ASCII punctuation inside Chinese text → full-width; a '.' ending a Chinese sentence → 。.

    Decimals (3.5), times (9:00), thousands (1,000) and enumerations (`2.提高`) keep their ASCII
    characters because a digit sits on the left of the mark. Brackets change as a pair.
    """
    chars = list(text)
    quote_open = True
    for i, char in enumerate(chars):
        before, after = _neighbour(text, i, -1), _neighbour(text, i, 1)
        if char in ",;:?!":
            if not (before.isdigit() and after.isdigit()) and _in_chinese(text, i):
                chars[i] = _ASCII_TO_FULL[char]
        elif char in ".．" and before and is_cjk(before) and (not after or is_cjk(after) or after in "“”\"'）)"):
            chars[i] = "。"
        elif char == '"' and _in_chinese(text, i):
            chars[i] = "“" if quote_open else "”"
            quote_open = not quote_open
    for start, end in _paren_pairs(text):
        if cjk_count(text[start + 1 : end]) or _in_chinese(text, start) or _in_chinese(text, end):
            chars[start], chars[end] = "（", "）"
    return "".join(chars)


def _paren_pairs(text: str) -> list[tuple[int, int]]:
    """Index pairs of matching ASCII parentheses."""
    pairs, stack = [], []
    for i, char in enumerate(text):
        if char == "(":
            stack.append(i)
        elif char == ")" and stack:
            pairs.append((stack.pop(), i))
    return pairs


def strip_metadata_fields(text: str) -> str:
    """Journal classification fields (`【中图分类号】D631【文献标识码】A…`) become a line break, and a
    bracketed section label (`【摘要】`, `【关键词】`) glued after other text starts a new line."""
    return _SECTION_LABEL.sub("\n", _METADATA_FIELD.sub("\n", text))


def is_author_line(raw: str, next_raw: str = "") -> bool:
    """`张三 李四` / `张三1，李四2` / `张三 1　李四 2`: two to eight names of two to four characters (each with its
    affiliation's number), nothing else. A lone name (`张三`) only when an affiliation or the abstract follows it,
    or when it is two or three characters opening with a common surname and holds no word of a section heading:
    a two-character heading (`引言`) would pass for a name."""
    # A two-character name is often typeset with a space between its characters (`苏　丽`).
    joined = _SPACED_NAME.sub(r"\1\2", raw.strip())
    names = [name for name in re.split(r"[\s,，、;；]+", joined) if name and not re.fullmatch(r"[0-9*＊]+", name)]
    if _CHAPTER.match(names[0] if names else "") or any(name in _SECTION_WORDS for name in names):
        return False  # `第一章 绪论`
    if not 1 <= len(names) <= 8 or not all(re.fullmatch(f"[{CJK}·]{{2,4}}[0-9*＊]*", name) for name in names):
        return False
    return len(names) > 1 or bool(_AFTER_LONE_AUTHOR.match(next_raw)) or _looks_like_a_name(names[0])


_SPACED_NAME = re.compile(rf"(?<![{CJK}])([{CJK}])[ \u3000]+([{CJK}])(?![{CJK}])")


# The commonest surnames, which between them cover most of the population; a heading rarely opens with one.
_SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏魏吕丁任"
                "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付白邹孟熊秦邱尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴莫孔汤")
_HEADING_WORDS = re.compile(r"问题|对策|原因|建议|措施|现状|分析|结论|方法|思考|启示|路径|意义|背景|概述|展望|困境|成因")


def _looks_like_a_name(text: str) -> bool:
    return 2 <= len(text) <= 3 and text[0] in _SURNAMES and not _HEADING_WORDS.search(text)


def is_reference_entry(text: str) -> bool:
    """A bibliography entry (`[1] 张三. 论警民关系[J]. 公安研究, 2010(3).`): one unit, never cut,
    its punctuation left as the citation style has it."""
    return bool(_REFERENCE_NUMBER.match(text) and _REFERENCE_TYPE.search(text))


# A page footer a page break glued into the text (`……有限。第1页共3页社会组织……`): never part of a sentence.
_GLUED_PAGE_LABEL = re.compile(r"第\s*\d+\s*页\s*[,，/]?\s*共\s*\d+\s*页")


def clean_line(raw: str) -> str:
    text = _EMOJI.sub("", _CYRILLIC_RUN.sub(" ", raw)).translate(_FULL_WIDTH_ALNUM)
    text = _GLUED_PAGE_LABEL.sub("", text)
    text = despace(text)
    if is_reference_entry(text):
        return text
    text = normalize_punctuation(text)
    text = despace(text)  # full-width marks made by normalisation may now sit next to spaces
    # `参考文献：` heads the bibliography; with its colon it would be read as a line running on
    return _BACK_MATTER_LABEL.sub(r"\1", text)


def clean_lines(raw_lines: list[str]) -> list[Line]:
    """Cleaned lines of one paper (whose page furniture `pcc.documents.leave_out_furniture` already took out):
    running headers (short lines repeated on several pages) and lines that cleaning leaves empty removed, orphan
    numerals re-attached."""
    repeats = Counter(line.strip() for line in raw_lines if len(line.strip()) <= _RUNNING_HEADER_MAX)
    kept = [line for line in raw_lines if line.strip() and repeats[line.strip()] < _RUNNING_HEADER_REPEATS]
    cleaned: list[Line] = []
    for raw in merge_orphan_numerals(kept):
        for piece in strip_metadata_fields(raw).split("\n"):
            text = clean_line(piece)
            if text and not is_junk(text):
                cleaned.append(Line(text=text, raw=piece))
    return cleaned


_SPACED_PAIR = re.compile(f"[{CJK}][ \t\u3000]+(?=[{CJK}])")
# One lower-case letter alone between Chinese characters: a column rule or speck read as a letter.
_STRAY_LETTER = re.compile(f"(?<=[{CJK}，。、；：])[a-z](?=[{CJK}，。、；：])")
# Thresholds of the layout evidence, set on the seed corpus and on synthetic paragraphs (tests).
_BROKEN_WORDS_GARBLED = 0.3  # share of one-character pieces among the pieces of a raw paragraph
_BROKEN_WORDS_GARBLED_HEADING = 0.5  # headings are short: stronger evidence needed
_NOISE_GARBLED = 0.05  # share of stray letters and symbols in a sentence
SPACED_PDF = 0.08  # spaces between Chinese characters per Chinese character: text from a PDF
_RAGGED_JOINS_GARBLED = 2  # joins of lines broken off mid-sentence at irregular lengths


def spaced_share(raw: str) -> float:
    """Spaces between two Chinese characters per Chinese character: high in PDF extractions."""
    return len(_SPACED_PAIR.findall(raw)) / max(cjk_count(raw), 1)


def broken_word_share(raw: str) -> float:
    """Among the space-separated pieces of a raw line holding Chinese, the share that are one character.

    PDF extraction of a column layout leaves words broken (`民关 系`, `国公 安`); evenly
    letter-spaced text (every piece one character) is not broken and scores 0.
    """
    pieces = [piece for piece in raw.split() if cjk_count(piece)]
    if len(pieces) < 6:
        return 0.0
    single = sum(1 for piece in pieces if cjk_count(piece) == 1)
    share = single / len(pieces)
    return 0.0 if share > 0.9 else share


def paragraph_garbled(paragraph: Line, is_heading: bool = False) -> bool:
    """Layout evidence that a paragraph was read across columns.

    Words broken by spaces, or a PDF-extracted paragraph stitched together from several lines that
    each broke off mid-sentence at no particular width — the pieces of columns read across.
    """
    broken = broken_word_share(paragraph.raw)
    if broken > (_BROKEN_WORDS_GARBLED_HEADING if is_heading else _BROKEN_WORDS_GARBLED):
        return True
    return paragraph.ragged_joins >= _RAGGED_JOINS_GARBLED and spaced_share(paragraph.raw) >= SPACED_PDF


def sentence_garbled(text: str) -> bool:
    """Stray OCR letters and symbols inside a sentence (`…公安机关l常交流…`); emoji are no evidence (a sentence
    given as it is, to `pcc predict --sentences`, keeps them)."""
    text = _EMOJI.sub("", text)
    compact = re.sub(r"\s+", "", text)
    if not compact or _STRAY_LETTER.search(compact):
        return True
    return noise_count(text) / len(compact) > _NOISE_GARBLED
