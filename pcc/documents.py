"""From a file or a string to papers made of clean, segmented sentences.

A .txt file may hold several papers one after another (as collected from the web); each starts
with a title line, recognised by its shape and by what follows it — never by its wording.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pcc.chrome import bigrams, chrome_reason, in_list, list_heading
from pcc.cleaning import (
    SPACED_PDF,
    Line,
    cjk_count,
    clean_line,
    clean_lines,
    is_author_line,
    is_disclaimer,
    is_junk,
    is_reference_entry,
    merge_orphan_numerals,
    paragraph_garbled,
    sentence_garbled,
    spaced_share,
    table_reason,
)
from pcc.errors import UserError
from pcc.markup import unflatten_markup
from pcc.readers import read_text
from pcc.records import Paper, Sentence, normalise_text
from pcc.segmentation import (
    TERMINALS,
    Unit,
    assign_heading_paths,
    is_affiliation,
    is_heading_line,
    is_keyword_line,
    is_numbered,
    names_a_section,
    opens_sentence,
    segment_paragraph,
    starts_with_label,
)

_MIN_REPEATED_TITLES = 2  # titles repeated glued to their first sentence that make a file a collection
_MIN_TITLE_CJK = 8  # a title not confirmed by a repeat below it must be at least this long
_MAX_TITLE_PREFIX = 4  # `浅谈` / `浅析` … may precede the title where it is repeated on the next line
_NON_TERMINAL_END = "，、：,:（(“《"
_FULL_LINE = 0.8  # share of the wrap width from which an unpunctuated line is a wrapped one
_MAX_NUMBERED_HEADING = 40  # characters of a numbered line with a comma that may still be a heading
_MAX_NUMBERED_POINT = 12  # … and of its point before the comma (`1.车位不足`)


@dataclass
class LeftOut:
    """A line of the input that is not part of any paper: site chrome, a download notice, page furniture."""
    line: int  # line number in the file or text, from 1
    text: str
    reason: str


@dataclass
class PreparedPaper:
    paper: Paper
    sentences: list[Sentence]
    left_out: list[LeftOut] = field(default_factory=list)  # lines of its part of the input that it leaves out


def leave_out_furniture(raw_lines: list[str]) -> tuple[list[tuple[int, str]], list[LeftOut]]:
    """The lines (numbered from 1) that may belong to a paper, and those that do not, with the reason: Markdown
    marks come off (`pcc.markup`: a flattened page's headings each on a line of its own, with its line number);
    blank lines go silently; download-site notices, page furniture (page numbers, mastheads, symbol lines), table
    rows and captions, and site chrome (`pcc.chrome`) are left out and listed."""
    counts = Counter(pair for line in raw_lines for pair in bigrams(line))
    kept: list[tuple[int, str]] = []
    left_out: list[LeftOut] = []
    open_list = None  # "related list" or "comments" while the lines under such a heading are its items
    for number, line in ((number, line) for number, raw in enumerate(raw_lines, 1)
                         for line in (unflatten_markup(raw) if raw.strip() else [])):
        heads_list = list_heading(line)
        if open_list and (heads_list or not in_list(open_list, line)):
            open_list = None
        reason = ("download-site notice" if is_disclaimer(line) else "page furniture" if is_junk(line)
                  else table_reason(line) or (f"{open_list} item" if open_list else chrome_reason(line, counts)))
        if reason and heads_list:
            open_list = heads_list
        if reason:
            left_out.append(LeftOut(number, line.strip(), reason))
        else:
            kept.append((number, line))
    summaries = _site_summaries(kept)
    left_out += [LeftOut(number, line.strip(), "site summary repeating the text below") for number, line in summaries]
    left_out.sort(key=lambda item: item.line)
    return [pair for pair in kept if pair not in summaries], left_out


_SUMMARY_PREFIX = 40  # characters (without spaces and punctuation) a summary shares with the text it repeats
_SUMMARY_SEARCH = (30, 30)  # lines looked at from the top, and lines after one that are joined to compare


def _site_summaries(kept: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Lines near the top that a site made by running the opening of the text below into one line (a summary
    or preview): the text that follows them starts with what they start with."""
    top, following = _SUMMARY_SEARCH
    bare = [normalise_text(line) for _, line in kept[:top + following]]
    return [kept[index] for index in range(min(top, len(kept)))
            if len(bare[index]) >= _SUMMARY_PREFIX
            and "".join(bare[index + 1:index + 1 + following]).startswith(bare[index][:_SUMMARY_PREFIX])]


def looks_like_title(text: str) -> bool:
    """Shape of a title line: short, no sentence punctuation, not a numbered section heading."""
    return is_heading_line(text) and not is_numbered(text)


def _repeats_title(title: str, line: str) -> int | None:
    """Where the title ends in `line` when the line repeats it near its start (title glued to body)."""
    position = line.find(title, 0, len(title) + _MAX_TITLE_PREFIX)
    return None if position == -1 else position + len(title)


_MIN_GLUED_BODY_CJK = 4  # Chinese characters of body text after a title repeated on the next line


def _glued_repeat(title: str, line: str) -> bool:
    """Whether `line` repeats the title glued to body text. A line that only ends with the title's words (the
    cells `经营性资产` / `非经营性资产` of a flattened table) repeats nothing and starts no paper."""
    end = _repeats_title(title, line)
    return end is not None and cjk_count(line[end:]) >= _MIN_GLUED_BODY_CJK


def split_papers(raw_lines: list[str]) -> list[list[str]]:
    """Group the lines of a file (without furniture: `leave_out_furniture`) into papers; each paper starts at a
    title line.

    A title is confirmed when the next line repeats it glued to the first sentence. A file with at
    least `_MIN_REPEATED_TITLES` such titles is a collection, and in it a title-shaped line of at
    least `_MIN_TITLE_CJK` characters that PDF extraction did not break apart (spaced characters
    mark body text and running headers) starts a paper too. Otherwise — one paper whose title may
    be repeated below it — standalone headings stay headings. A title-shaped line right after a
    title is a subtitle of the same paper.
    """
    lines = merge_orphan_numerals(raw_lines)
    cleaned = [clean_line(line) for line in lines]
    candidates = [index for index, text in enumerate(cleaned) if looks_like_title(text)]
    repeated = {
        index for index in candidates
        if index + 1 < len(cleaned) and _glued_repeat(cleaned[index], cleaned[index + 1])
    }
    collection = len(repeated) >= _MIN_REPEATED_TITLES
    papers: list[list[str]] = []
    previous_was_title = False
    for index, (raw, text) in enumerate(zip(lines, cleaned)):
        is_title = False
        if index in candidates and not previous_was_title:
            unbroken = cjk_count(text) >= _MIN_TITLE_CJK and spaced_share(raw) == 0
            is_title = index == 0 or index in repeated or (collection and unbroken)
        if is_title or not papers:
            papers.append([])
        papers[-1].append(raw)
        previous_was_title = is_title or (previous_was_title and looks_like_title(text))
    return papers


def wrap_width(lines: list[Line]) -> float:
    """The length of a page's full lines, when the text is hard-wrapped; infinite when it is not.

    Hard-wrapped text has many lines of nearly one length (the 75th percentile of line lengths),
    and many of them visibly break off mid-sentence: punctuation inside, none at the end. Short
    headings or one-sentence lines of similar length do not make text wrapped.
    """
    lengths = sorted(len(line.text) for line in lines if len(line.text) > 10)
    if not lengths:
        return float("inf")
    width = lengths[int(0.75 * (len(lengths) - 1))]
    full = [line.text for line in lines if abs(len(line.text) - width) <= 0.1 * width]
    broken_off = [text for text in full if text[-1] not in TERMINALS and re.search("[，、；：,;:]", text[:-1])]
    if len(full) >= max(3, 0.25 * len(lengths)) and len(broken_off) >= max(2, 0.3 * len(full)):
        return width
    return float("inf")


# Front-matter fields that stand on their own line: `作者：…`, `指导教师：…`, `文／…`.
_FIELD_LINE = re.compile(r"^(?:作者|作者单位|单位|指导教师|导师|通讯作者|基金项目|来源|出处|编辑|责任编辑|文)\s*[:：／/]")


def _self_contained(text: str) -> bool:
    """Lines that end their paragraph without final punctuation: keyword lists, bibliography
    entries, front-matter fields, and lines wholly in brackets (an affiliation `（某某学院，南京 210031）`)."""
    return (is_keyword_line(text) or is_reference_entry(text) or bool(_FIELD_LINE.match(text))
            or (text[0] in "（(【[" and text[-1] in "）)】]"))


def _cut_by_the_page(text: str, following: str) -> bool:
    """A heading-shaped line that is really the start of a sentence a page break cut: it is not numbered and
    names no section, and the next line carries on mid-clause, with a first clause of a few characters
    (`养老护理人员的薪酬水平` / `普遍偏低，社会认可度也不高…`)."""
    if not following or is_numbered(text) or is_numbered(following) or is_heading_line(following):
        return False
    first_clause = re.split(r"[，。；：！？,;:]", following, maxsplit=1)[0]
    return not names_a_section(text) and cjk_count(first_clause) <= 6 and not opens_sentence(following)


def _numbered_heading(text: str, full: bool) -> bool:
    """A numbered line with a comma but no end, shorter than the page's full lines, whose point before the comma is
    short: a heading that states its point (`1.车位不足，老旧小区没有预留车位`), not a sentence running on."""
    first_clause = text.split("，", 1)[0]
    return (not full and is_numbered(text) and len(text) <= _MAX_NUMBERED_HEADING and "，" in text
            and len(first_clause) <= _MAX_NUMBERED_POINT and text[-1] not in _NON_TERMINAL_END)


def join_wrapped_lines(lines: list[Line]) -> list[Line]:
    """Join lines that a page layout broke mid-sentence back into paragraphs.

    A line that ends without final punctuation continues on the next one, unless it has the shape
    of a heading (short, unpunctuated) and is shorter than the page's full lines.
    """
    width = wrap_width(lines)
    paragraphs: list[Line] = []
    continues = False
    ragged = False
    for index, line in enumerate(lines):
        if continues and not is_numbered(line.text) and not starts_with_label(line.text):
            last = paragraphs[-1]
            paragraphs[-1] = Line(last.text + line.text, last.raw + " " + line.raw, last.ragged_joins + ragged)
        else:
            paragraphs.append(line)
        end = line.text.rstrip("”’」』）)")[-1:] or line.text[-1]
        full = len(line.text) >= _FULL_LINE * width
        following = lines[index + 1].text if index + 1 < len(lines) else ""
        continues = end not in TERMINALS and not _self_contained(line.text) and not _numbered_heading(line.text, full) and (
            line.text[-1] in _NON_TERMINAL_END or not is_heading_line(line.text) or full
            or _cut_by_the_page(line.text, following)
        )
        ragged = continues and not full
    return paragraphs


# A year of publication stated at the top of a paper: a labelled date (发表年份：2018, 发布时间：2021-09-14, 收稿日期：…),
# a line of its own in brackets (（2016年）, （2017年第4期）) or a journal issue (2017年第4期). A year in the title
# (2023年某市…调查报告) is what the paper is about, not when it appeared.
_YEAR = r"((?:19|20)\d{2})"
_YEAR_LINES = (
    re.compile(rf"(?:发表|出版|发布|刊发|刊出|收稿)(?:年份|时间|日期)\s*[:：]\s*{_YEAR}"),
    re.compile(rf"^[（(]\s*{_YEAR}\s*年?(?:\s*第\s*\d+\s*期)?\s*[）)]$"),
    re.compile(rf"{_YEAR}\s*年\s*第\s*\d+\s*期"),
)
_YEAR_SEARCH = 8  # lines from the top of a paper looked through


def publication_year(raw_lines: list[str]) -> int | None:
    """The year of publication that a line among a paper's first lines states, or None."""
    lines = [line.strip() for line in raw_lines if line.strip()][:_YEAR_SEARCH]
    for pattern in _YEAR_LINES:
        for line in lines:
            match = pattern.search(line)
            if match:
                return int(match.group(1))
    return None


def _title_units(lines: list[Line]) -> tuple[str, list[Unit], list[Line]]:
    """The paper's title and its front units — title, subtitle, the title repeated glued to the
    first sentence, author names — and the remaining lines."""
    rest = list(lines)
    if not rest or not (looks_like_title(rest[0].text) or _is_question_title(rest[0].text)):
        return "", [], rest
    units = [Unit(rest.pop(0).text, True, None)]
    # a second title-sized line right under the title is a subtitle (not a section heading)
    if rest and looks_like_title(rest[0].text) and cjk_count(rest[0].text) >= _MIN_TITLE_CJK:
        units.append(Unit(rest.pop(0).text, True, None))
    # a document-sharing page repeats the title or subtitle (`某某问题及对策` twice before the text)
    while rest and any(rest[0].text == unit.text for unit in units):
        units.append(Unit(rest.pop(0).text, True, None))
    if rest:
        end = _repeats_title(units[-1].text, rest[0].text)
        if end is not None and end < len(rest[0].text):
            first = rest.pop(0)
            units.append(Unit(first.text[:end], True, None))
            rest.insert(0, Line(first.text[end:], first.raw))
    while rest and (is_author_line(rest[0].raw, rest[1].raw if len(rest) > 1 else "") or _FIELD_LINE.match(rest[0].text)
                    or (len(units) > 1 and not units[-1].is_heading and is_affiliation(rest[0].text))):
        # names, their affiliations or fields (`文／刘某`) under the title: metadata, not a heading over the paper's
        # sentences
        line = rest.pop(0)
        kept_whole = _FIELD_LINE.match(line.text) or is_affiliation(line.text)
        name = line.text if kept_whole else " ".join(re.split(r"[\s,，、;；]+", line.raw.strip()))
        units.append(Unit(name, False, None))
    return units[0].text, units, rest


def _is_question_title(text: str) -> bool:
    """A first line that asks its question (`驻村第一书记如何真正“驻”下来？`), as news and WeChat articles are titled:
    a title but for its one question or exclamation mark at the end."""
    return text[-1:] in ("？", "?", "！", "!") and looks_like_title(text[:-1]) and cjk_count(text) >= _MIN_TITLE_CJK


def _smooth_garbled(flags: list[bool], paragraphs: list[Line]) -> list[bool]:
    """A weak paragraph (PDF-spaced, or ending mid-sentence) between two garbled ones is garbled too:
    column layouts garble whole stretches of a page, and short pieces in them carry too little
    evidence of their own."""
    smoothed = list(flags)
    for index, paragraph in enumerate(paragraphs):
        if flags[index]:
            continue
        weak = spaced_share(paragraph.raw) >= SPACED_PDF or paragraph.text[-1] not in TERMINALS
        before = flags[index - 1] if index > 0 else None
        after = flags[index + 1] if index + 1 < len(flags) else None
        if weak and before and after:
            smoothed[index] = True
    return smoothed


def prepare_lines(
    raw_lines: list[str], paper_id: str, source: str, ordinal: int = 1, title: str | None = None, fallback_title: str = ""
) -> PreparedPaper:
    """One paper's raw lines → the paper and its sentences. Without a given or title-shaped first
    line, the paper is called `fallback_title`."""
    lines = clean_lines(raw_lines)
    if title is None:
        title, title_units, lines = _title_units(lines)
    else:
        title_units = [Unit(title, True, None)]
        if lines and lines[0].text == title:
            lines = lines[1:]  # the given title also heads the text
    paragraphs = join_wrapped_lines(lines)
    segmented = [segment_paragraph(paragraph.text) for paragraph in paragraphs]
    flags = [
        paragraph_garbled(paragraph, is_heading=all(unit.is_heading for unit in units))
        for paragraph, units in zip(paragraphs, segmented)
    ]
    flags = _smooth_garbled(flags, paragraphs)
    units = list(title_units)
    garbled = [False] * len(title_units)
    paragraph_of = [0] * len(title_units)  # the title and the front matter under it are paragraph 0
    for number, (paragraph_units, flag) in enumerate(zip(segmented, flags), 1):
        units.extend(paragraph_units)
        garbled.extend(flag or sentence_garbled(unit.text) for unit in paragraph_units)
        paragraph_of.extend([number] * len(paragraph_units))
    title = title or fallback_title
    paper = Paper(paper_id=paper_id, title=title, source=source, ordinal=ordinal)
    # A garbled heading would put noise into the model input of every sentence under it.
    paths = assign_heading_paths([Unit(u.text, u.is_heading and not g, u.level) for u, g in zip(units, garbled)])
    sentences = [
        Sentence(
            paper_id=paper_id,
            paper_title=title,
            index=index,
            text=unit.text,
            heading_path=path,
            is_heading=unit.is_heading,
            quality="garbled" if is_garbled else "ok",
            paragraph=paragraph,
        )
        for index, (unit, path, is_garbled, paragraph) in enumerate(zip(units, paths, garbled, paragraph_of))
    ]
    return PreparedPaper(paper=paper, sentences=sentences)


def prepare_text(text: str, title: str | None = None, paper_id: str = "text") -> PreparedPaper:
    """One paper given as a string; without a title, the first line is the title when it looks like one."""
    kept, left_out = leave_out_furniture(text.splitlines())
    prepared = prepare_lines([line for _, line in kept], paper_id=paper_id, source="<text>", title=title)
    prepared.left_out = left_out
    prepared.paper.year = publication_year(([title] if title else []) + text.splitlines()[:_YEAR_SEARCH])
    return prepared


def load_document(path: str | Path) -> list[PreparedPaper]:
    """One file → its papers, cleaned and segmented, each with the lines of its part of the file that it leaves
    out. A file holding several papers gives ids `<stem>#01`, …"""
    path = Path(path)
    raw_lines = read_text(path).splitlines()
    kept, left_out = leave_out_furniture(raw_lines)
    lines = [line for _, line in kept]
    groups = split_papers(lines) if path.suffix.lower() == ".txt" else [lines]
    groups = [group for group in groups if any(line.strip() for line in group)]
    if not groups:
        raise UserError(f"{path}: no text left after cleaning")
    starts = _first_line_numbers(groups, kept)
    papers = []
    for ordinal, (group, start) in enumerate(zip(groups, starts), 1):
        paper_id = path.stem if len(groups) == 1 else f"{path.stem}#{ordinal:02d}"
        prepared = prepare_lines(group, paper_id=paper_id, source=str(path), ordinal=ordinal, fallback_title=path.stem)
        end = starts[ordinal] if ordinal < len(starts) else float("inf")
        prepared.left_out = [item for item in left_out if (ordinal == 1 or item.line >= start) and item.line < end]
        # from the raw lines, the first paper's from the top of the file: a year line is often left out as page
        # furniture or chrome, before or inside the paper
        top = 0 if ordinal == 1 else start - 1
        prepared.paper.year = publication_year(raw_lines[top:top + _YEAR_SEARCH])
        if prepared.sentences:
            papers.append(prepared)
    if not papers:
        raise UserError(f"{path}: no sentences found after cleaning")
    return papers


def _first_line_numbers(groups: list[list[str]], kept: list[tuple[int, str]]) -> list[int]:
    """The file line number where each group of lines starts (a heading numeral merged onto its line keeps the
    number of the line it was merged onto)."""
    starts, position = [], 0
    for group in groups:
        while position < len(kept) and not group[0].endswith(kept[position][1].strip()):
            position += 1
        starts.append(kept[position][0] if position < len(kept) else kept[-1][0])
    return starts
