"""Site chrome: the lines a web page or a document-sharing site puts around and between a paper's paragraphs.

Breadcrumbs (`首页 > 资料库 > 论文详情`), hashtag lines (`#法律咨询#`), app and download prompts, "read more" and
"part of the text shown" notices, upload dates, view counts, page navigation, share and report buttons, end
marks, a document template's blanks (`姓名：______`) and code (`编号：AB-12`), a short label in brackets
(`（消防常识）`), and lines in another language (an English caption or slogan: the model reads Chinese). Each is
recognised by general evidence about its form, never by a particular site's wording, and comes with the reason, so
that `pcc prepare` can list what it left out.
"""
from __future__ import annotations

import re
from collections import Counter

from pcc.cleaning import CJK, cjk_count, is_reference_entry
from pcc.structure import enumeration

# Words of a site's own interface. The first kind never occurs in a paper's text; the second does (a paper on
# online opinion speaks of 评论 and 转载), so a line holding only those must also share little with the paper.
INTERFACE_WORDS = (
    "APP", "App", "客户端", "小程序", "扫码", "二维码", "阅读全文", "展开全文", "展开剩余", "查看全文", "查看更多",
    "全文阅读", "相关推荐", "相关文档", "相关阅读", "相关文章", "猜你喜欢", "上一页", "下一页", "上一篇", "下一篇",
    "当前第", "温馨提示", "免责声明", "仅代表", "返回顶部", "文档页数", "阅读模式", "字号", "VIP", "登录",
    "注册", "部分内容", "仅显示", "试读", "往期推荐", "往期回顾", "责任编辑", "版权归", "仅供学习", "写留言",
)
SITE_WORDS = ("下载", "点击", "预览", "收藏", "分享", "举报", "点赞", "评论", "关注", "上传", "浏览", "阅读", "打开",
              "转载", "原创", "发布于", "发表于", "目录", "热门", "删除", "页数", "会员", "积分", "侵权", "订阅", "编辑")
_INTERFACE_WORD = re.compile("|".join(sorted(map(re.escape, INTERFACE_WORDS), key=len, reverse=True)))
_SITE_WORD = re.compile("|".join(sorted(map(re.escape, SITE_WORDS + INTERFACE_WORDS), key=len, reverse=True)))
# Separators of breadcrumbs and of rows of page fields (`上传时间：… | 浏览：…`).
_SEPARATOR = re.compile(r"\s*(?:>|›|»|＞|\||｜|/|／|\s-\s|\s—\s|_)\s*")
# Wide gaps between the fields of a byline (`2022-11-08 10:15　来源：…　作者：…`); a thesis's own front matter
# is laid out the same way (`作者：…　　指导教师：…`), so a byline also needs a date or a site word.
_WIDE_GAP = re.compile(r"\u3000+|\s{2,}")
_HASHTAG = re.compile(r"#[^#\s]{1,20}#")
_DATE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?")
_COUNT = re.compile(r"\d+(?:\.\d+)?\s*[万千kKwW]?")
# A table of contents row: a heading, dot leaders (or a wide gap) and its page number.
_CONTENTS_ROW = re.compile(r"(?:\.{4,}|…{2,}|·{4,}|-{4,}|\s{4,})\s*\d{1,3}\s*$")
_FILE_NAME = re.compile(r"\.(?:pdf|docx?|txt|caj|kdh|nh|wps)\s*$", re.IGNORECASE)
_END_MARK = re.compile(r"^[（(【\[]?\s*(?:完|全文完|本文完|未完待续|待续|END|end)\s*[）)】\]]?$")
_SITE_NAME = re.compile(r"(?:网|网站|文库|论坛|平台|公众号|百科|贴吧|头条|号)$")
_SENTENCE_END = re.compile(r"[。！？!?]\s*$")
_LAST_SENTENCE_END = re.compile(r".*[。！？!?]", re.DOTALL)
_FIELD = re.compile(rf"^[{CJK}A-Za-z]{{1,6}}\s*[:：]")  # `上传者：…`, `阅读：…`
SHORT_LINE = 25  # Chinese characters: a line this short with one site word is chrome when unrelated to the paper
# A form's fields left blank for the user (`单位：________　日期：________`), and a template's code field
# (`编号：JX-AQ-0217`: letters and digits, no words).
_BLANK_FIELDS = re.compile(rf"^(?:\s*[{CJK}]{{1,8}}\s*[:：]\s*_{{3,}})+\s*$")
_CODE_FIELD = re.compile(rf"^[{CJK}]{{1,6}}\s*[:：]\s*(?=[A-Za-z0-9\-_/.]*[A-Za-z])(?=[A-Za-z0-9\-_/.]*\d)[A-Za-z0-9\-_/.]{{4,}}$")
# A few words alone in brackets (`（消防常识）`, `（王　某）`): a template's category tag or a byline; numbered
# headings (`（一）`) and sentences in brackets have a marker or punctuation.
_BRACKETED_LABEL = re.compile(rf"^[（(【\[]\s*(?:[{CJK}]\s*){{2,8}}[）)】\]]$")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_LATIN_LINE_WORDS = 4  # Latin words of a line without Chinese characters that make it text in another language


# A journal's name and issue, as a running header prints them: `某某研究 2024年第3期`, `学报 2021年4期`, `Vol.12 No.3`.
_ISSUE_HEADER = re.compile(r"\d{4}年(?:第)?\d{1,2}期|\d{4}年(?:第)?[一二三四五六七八九十]{1,2}期|Vol\.?\d+,?No\.?\d+", re.IGNORECASE)


def chrome_reason(line: str, text_bigrams: Counter | None = None) -> str | None:
    """Why a raw line is site chrome, or None when it may be the paper's own text.

    `text_bigrams`: how often each character pair occurs in the whole input, this line included; a short line
    that shares few of its pairs with the other lines and holds a site word belongs to the page, not to the paper.
    """
    text = line.strip()
    if not text:
        return None
    compact = re.sub(r"\s+", "", text)
    if _END_MARK.match(compact):
        return "end mark"
    if _CONTENTS_ROW.search(text) or compact in ("目录", "目次"):
        return "table of contents"
    file_name = _FILE_NAME.search(text)
    if file_name and not _SENTENCE_END.search(text[:file_name.start()]):
        return "file name"
    if _BLANK_FIELDS.match(text) or _CODE_FIELD.match(compact):
        return "form fields"
    if not cjk_count(text) and len(_LATIN_WORD.findall(text)) >= _LATIN_LINE_WORDS:
        return "not Chinese text"
    if _BRACKETED_LABEL.match(text) and enumeration(compact[1:]) is None:
        return "label in brackets"
    hashtags = _HASHTAG.findall(compact)
    if hashtags and len("".join(hashtags)) >= 0.7 * len(compact):
        return "hashtag line"
    complete = _up_to_last_sentence_end(text)
    if cjk_count(complete) > SHORT_LINE or (complete and cjk_count(text) > 2 * SHORT_LINE):
        # Full sentences of some length: the paper's, whatever words they use, also where the excerpt then stops
        # mid-sentence (a long paragraph cut at its end).
        return None
    if _ISSUE_HEADER.search(compact) and len(compact) <= 32 and not re.search(r"[，。；：！？]", compact):
        return "journal running header"  # on a one-page PDF it repeats on no other page, so nothing else takes it out
    if is_reference_entry(text):
        return None
    parts = [part for part in _SEPARATOR.split(text) if part.strip()]
    site_words = set(_SITE_WORD.findall(text))
    if len(parts) >= 3 and all(len(part) <= 18 for part in parts) and not _SENTENCE_END.search(text):
        return "breadcrumb or page fields"
    if len(parts) >= 2 and (site_words or any(_FIELD.match(p) for p in parts) or _SITE_NAME.search(parts[-1])):
        if all(len(part) <= 24 for part in parts):
            return "page title or page fields"
    gapped = [part for part in _WIDE_GAP.split(text) if part.strip()]
    if (len(gapped) >= 2 and all(len(part) <= 24 for part in gapped) and (site_words or _DATE.search(text))
            and not _SENTENCE_END.search(text)):
        return "page fields"
    if _INTERFACE_WORD.search(text):
        return "site notice"
    date = _DATE.search(text)
    if date and cjk_count(text.replace(date.group(0), "")) <= 8:
        return "date or time line"
    # A numbered line is the paper's heading ("3.社会对……缺少实质性关注") unless more than one site word says otherwise.
    numbered = enumeration(text) is not None
    if (site_words and (len(site_words) >= 2 or (cjk_count(text) <= SHORT_LINE and not numbered))
            and _shares_little(compact, text_bigrams)):
        return "site notice"
    if not cjk_count(text) and _COUNT.fullmatch(compact):
        return "number alone"
    return None


def _up_to_last_sentence_end(text: str) -> str:
    found = _LAST_SENTENCE_END.match(text)
    return found.group(0) if found else ""


def bigrams(text: str) -> set[str]:
    """The pairs of adjacent Chinese characters of a text."""
    chars = re.sub(f"[^{CJK}]", "", text)
    return {chars[i:i + 2] for i in range(len(chars) - 1)}


def _shares_little(text: str, text_bigrams: Counter | None) -> bool:
    """Whether fewer than half of the line's character pairs occur elsewhere in the input."""
    own = Counter(bigrams(text))
    elsewhere = sum(1 for pair, count in own.items() if (text_bigrams or {}).get(pair, 0) > count)
    return not own or elsewhere < 0.5 * len(own)


# A page's lists of other articles and its comments: their heading is site chrome, and so are the lines under it
# for as long as they read as list items (titles without a sentence end, bulleted lines) or comments
# (`网友“老李”：…`, `张三 回复 李四：…`).
_RELATED_LIST = re.compile(r"相关文档|相关推荐|相关阅读|相关文章|猜你喜欢|往期推荐|往期回顾|热门文章|推荐阅读|延伸阅读")
_COMMENTS = re.compile(r"全部评论|热门评论|网友评论|精彩评论|最新评论|评论区|\d+\s*条评论")
_LIST_ITEM = re.compile(r"^\s*(?:[丨|▶►•·●○■□◆\-—>]|\d{1,2}[.、．)）]\s*\S)")
_COMMENT = re.compile(r"^\s*[^，。；！？\s]{1,16}?(?:\s*回复\s*[^，。；！？\s]{1,16})?\s*[：:]")


def list_heading(line: str) -> str | None:
    """"related list" or "comments" when a line heads a page's list of other articles or its comments."""
    compact = re.sub(r"\s+", "", line)
    if len(compact) > SHORT_LINE:
        return None
    return "related list" if _RELATED_LIST.search(compact) else "comments" if _COMMENTS.search(compact) else None


def in_list(kind: str, line: str) -> bool:
    """Whether a line under a `list_heading` of this kind is still one of its items."""
    text = line.strip()
    if kind == "comments":
        return bool(_COMMENT.match(text)) or (len(text) <= SHORT_LINE and bool(_SITE_WORD.search(text)))
    # An unmarked title must show a count or date (`…调查报告 12页`): the paper's own title may follow a list
    # heading that a page's sidebar put above it.
    return bool(_LIST_ITEM.match(text)) or (len(text) <= 40 and not _SENTENCE_END.search(text)
                                            and bool(re.search(r"\d", text)))
