from collections import Counter

import pytest

from pcc.chrome import bigrams, chrome_reason

PAPER = ["网络时代如何重建警民信任", "当前网络空间中的警民关系并不乐观，一些涉警视频在评论区引发大量转发。",
         "要加强网络评论引导，规范转载行为。"]


def paper_bigrams(*extra: str) -> Counter:
    return Counter(pair for line in [*PAPER, *extra] for pair in bigrams(line))


@pytest.mark.parametrize("line, reason", [
    ("首页 > 论文中心 > 法学论文 > 公安学", "breadcrumb or page fields"),
    ("举报 | 收藏 | 分享", "breadcrumb or page fields"),
    ("上传时间: 2022-09-18 | 浏览: 1203 | 下载: 87", "breadcrumb or page fields"),
    ("作者：一线民警说法 | 发布于 2022-06-14 09:32 | 阅读 3.6万", "page title or page fields"),
    ("环境保护论文 - 学术论文网", "page title or page fields"),
    ("#社会治理# #警民关系#", "hashtag line"),
    ("下载APP，阅读全文更方便", "site notice"),
    ("温馨提示：当前页面仅展示论文的部分内容", "site notice"),
    ("↓ 点击展开剩余65% ↓", "site notice"),
    ("本文共4页 当前第2页 [上一页] [下一页]", "site notice"),
    ("（本文仅代表作者个人观点）", "site notice"),
    ("热门评论（12）", "site notice"),
    ("2023年5月12日", "date or time line"),
    ("（完）", "end mark"),
    ("2022-11-08 10:15\u3000来源：某某日报理论版\u3000作者：孙某", "page fields"),
    ("目\u3000录", "table of contents"),
    ("2.2 存在的问题 ......................... 11", "table of contents"),
    ("第三章 村级集体经济发展困境的成因 ……………… 17", "table of contents"),
    ("“双减”政策背景下课后服务的实施困境与改进策略.pdf", "file name"),
    ("……（本文共58页，当前仅显示前3页）", "site notice"),
    ("本文档版权归原作者所有，仅供学习交流使用。", "site notice"),
    ("往期推荐", "site notice"),
    ("（责任编辑：李某）", "site notice"),
    ("单位：________", "form fields"),
    ("姓名：__________　日期：__________", "form fields"),
    ("编号：JX-AQ-0217", "form fields"),
    ("Learn the basic rules of road safety, and keep them in mind at work.", "not Chinese text"),
    ("Table 2. Cases handled by the station, 2019-2023", "not Chinese text"),
    ("（ 消防常识 ）", "label in brackets"),
    ("（王　某）", "label in brackets"),
    ("公众订阅号", "site notice"),
    ("值班编辑", "site notice"),
])
def test_site_chrome_is_recognised_with_its_reason(line, reason):
    assert chrome_reason(line, paper_bigrams(line)) == reason


@pytest.mark.parametrize("line", [
    *PAPER,
    "加强网络评论与转载的规范管理",  # a heading about comments: its words are the paper's
    "2.3.2 经费保障不足",
    "3.基层组织对独居老人缺少持续关注",  # a numbered heading that happens to hold one site word
    "文／刘某",
    "作者：王某某　　指导教师：张某某 教授",
    "陈某某（某某大学法学院，江苏 南京 210000）",
    "[1]刘某.基层派出所警务保障问题探讨[J].公安研究,2018(6):33-38.",
    "[2]王某.网络舆情研究[EB/OL].http://www.example.cn/a/b.html,2020-05-01.",
    "截至2020年底，我国60岁及以上人口已超过2.6亿。",
    "一、  加强队伍建设",  # a wide gap after the numbering, without a date or a site word
    "根据《条例》第12条规定，应当在30日内办结。",
    "（一）加强队伍建设",
    "（二）",
    "（三）警务公开",
    "（见表1）",  # Chinese words: the paper's own aside
    "关键词：警民关系；网络舆情",
    "Abstract",
])
def test_the_papers_own_lines_are_not_chrome(line):
    assert chrome_reason(line, paper_bigrams(line)) is None


def test_a_paragraph_cut_mid_sentence_keeps_its_sentences_whatever_words_they_use():
    # excerpts end about 700 characters in, often mid-sentence; a site word in the text does not make it chrome
    cut = "近年来，社区推行垃圾分类积分兑换，居民参与明显增多。但是，部分小区的积分规则不透明，热门奖品常常被少数人换走，导致部分居民觉得"
    assert chrome_reason(cut, paper_bigrams(cut)) is None
    legal = "个人信息泄露案件逐年增加，侵权人往往隐匿在境外。受害人维权成本高、取证难，很多人最终放弃追究侵权责任，"
    assert chrome_reason(legal, paper_bigrams(legal)) is None
    heading = "推行积分兑换规则公开"  # a heading of the paper on sorting waste: its words recur in the text
    assert chrome_reason(heading, paper_bigrams(heading, cut)) is None
    assert chrome_reason("如有侵权请联系删除", paper_bigrams("如有侵权请联系删除")) == "site notice"


def test_a_journal_running_header_is_chrome_but_a_sentence_citing_an_issue_is_not():
    assert chrome_reason("警察学研究  2024年第3期") == "journal running header"
    assert chrome_reason("某某学院学报 2019年第2期") == "journal running header"
    assert chrome_reason("2024年第3期的数据显示，辖区警情数量有所增加。") is None
