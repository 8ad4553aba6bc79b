from pcc.cleaning import (
    Line,
    broken_word_share,
    clean_line,
    clean_lines,
    despace,
    is_disclaimer,
    is_junk,
    merge_orphan_numerals,
    normalize_punctuation,
    paragraph_garbled,
    sentence_garbled,
    strip_metadata_fields,
)
from pcc.documents import join_wrapped_lines


def test_spaces_between_chinese_characters_are_removed_latin_and_numbers_kept():
    assert despace("网络 时代 拓 宽 了和 谐 警 民关 系") == "网络时代拓宽了和谐警民关系"
    assert despace("使用 Deep Learning 方法 ， 准确率 达到 95 %") == "使用Deep Learning方法，准确率达到95 %"
    assert despace("版本 3 000 条") == "版本3 000条"


def test_ascii_punctuation_becomes_full_width_inside_chinese():
    assert normalize_punctuation("构建和谐警民关系,是重大举措;意义:深远?是!") == "构建和谐警民关系，是重大举措；意义：深远？是！"
    assert normalize_punctuation("(完整版)当前问题") == "（完整版）当前问题"
    assert normalize_punctuation("增长了3.5个百分点.") == "增长了3.5个百分点。"
    assert normalize_punctuation("2.提高培训水平") == "2.提高培训水平"
    assert normalize_punctuation("时间:9:00-18:30,共1,000人") == "时间：9:00-18:30，共1,000人"
    assert normalize_punctuation('所谓"和谐"就是') == "所谓“和谐”就是"
    assert normalize_punctuation("see Smith (2010), p. 5") == "see Smith (2010), p. 5"


def test_clean_line_combines_despacing_and_punctuation():
    assert clean_line("在网络产生之前 , 人们的 内心世界是一 个相对封闭的领域.") == "在网络产生之前，人们的内心世界是一个相对封闭的领域。"


def test_download_site_disclaimers_are_recognised():
    assert is_disclaimer("- 1、下载文档前请自行甄别文档内容的完整性，平台不提供额外的编辑服务。")
    assert is_disclaimer("- 3、如文档侵犯您的权益，请联系客服反馈，我们会尽快为您处理")
    assert not is_disclaimer("网友通过网络平台举报违法行为，公安机关及时下载并核实了相关文档。")


def test_mastheads_and_symbol_lines_are_junk_text_is_not():
    assert is_junk("J O cR卜 I 札 0 【 , 墨 oNl z0 A DMl NI ∽ AT 0R")
    assert is_junk("PEI XUN KE TANG")
    assert is_junk("{ I 榛 怅")
    assert is_junk("0 2 4")
    assert not is_junk("6 . 6 8 亿 ,互 联 网普及 率为 4 8 . 8 % 。")
    assert not is_junk("This paper studies police public relations in China and their recent changes.")
    assert not is_junk("题。")


def test_heading_numerals_on_lines_of_their_own_join_the_next_line():
    assert merge_orphan_numerals(["一", "、", "网络时代的特点", "正文。"]) == ["一、网络时代的特点", "正文。"]
    assert merge_orphan_numerals(["、", "现状分析"]) == ["、现状分析"]
    assert merge_orphan_numerals(["正文。", "三", "下一段。"]) == ["正文。", "下一段。"]


def test_journal_metadata_fields_break_the_line():
    text = "【关键词】公安机关；警民关系【中图分类号】D631【文献标识码】A 【文章编号】1673―2391(2013)01―0031―03和谐警民关系是指"
    pieces = [piece for piece in strip_metadata_fields(text).split("\n") if piece.strip()]
    assert pieces == ["【关键词】公安机关；警民关系", "和谐警民关系是指"]
    glued = "冯荣，李克建（四川警察学院治安系，四川泸州646000）【摘要】警民关系直接体现了内在联系。【关键词】公安机关"
    assert strip_metadata_fields(glued).split("\n") == [
        "冯荣，李克建（四川警察学院治安系，四川泸州646000）", "【摘要】警民关系直接体现了内在联系。", "【关键词】公安机关",
    ]


def test_clean_lines_cleans_and_keeps_raw_for_evidence():
    lines = clean_lines(["标题", "正 文 内容 。", "  "])
    assert [line.text for line in lines] == ["标题", "正文内容。"]
    assert lines[1].raw == "正 文 内容 。"


CLEAN = (
    "随着社会的发展，警民关系面临新的挑战。部分群众对公安工作缺乏了解，民警与群众之间沟通不畅。"
    "公安机关要加强沟通，建立警民联系制度，提高执法水平，做到严格、公正、文明执法。"
)
SECOND = (
    "网络时代的到来改变了信息传播的方式。公安机关可以通过政务微博发布警情通报，回应群众关切。"
    "群众也可以通过网络平台反映问题，监督民警执法，推动警务公开不断深入。"
)


def _pdf_spacing(text: str, every: int) -> str:
    """Spaces where PDF extraction leaves them: after every `every` characters, ignoring words."""
    return " ".join(text[i : i + every] for i in range(0, len(text), every))


def _pieces(text: str, sizes: list[int]) -> str:
    """`text` cut into space-separated pieces of the given sizes, cycling through them."""
    pieces, start, turn = [], 0, 0
    while start < len(text):
        size = sizes[turn % len(sizes)]
        pieces.append(text[start : start + size])
        start, turn = start + size, turn + 1
    return " ".join(pieces)


def test_words_broken_by_spacing_are_garbled_even_letter_spacing_is_not():
    broken = Line(text=CLEAN, raw=_pieces(CLEAN, [1, 3, 1, 2]))  # `民关 系` / `国公 安`
    letter_spaced = Line(text=CLEAN, raw=" ".join(CLEAN))
    word_spaced = Line(text=CLEAN, raw=_pdf_spacing(CLEAN, 7))
    assert broken_word_share(broken.raw) > 0.3
    assert paragraph_garbled(broken)
    assert not paragraph_garbled(letter_spaced)
    assert not paragraph_garbled(word_spaced)


def test_columns_read_across_are_garbled_the_same_text_in_order_is_not():
    # Two columns of 11 characters per line, read across: each extracted line holds a line of each
    # column, so lines break off mid-sentence at no particular width.
    width = 11
    left = [CLEAN[i : i + width] for i in range(0, len(CLEAN), width)]
    right = [SECOND[i : i + width] for i in range(0, len(SECOND), width)]
    rows = [_pdf_spacing(a, 5) + " " + _pdf_spacing(b, 4) for a, b in zip(left, right)]
    ragged = [" ".join(rows[i : i + n]) for i, n in zip((0, 1, 3, 6), (1, 2, 3, 2))]
    read_across = join_wrapped_lines([Line(text=clean_line(raw), raw=raw) for raw in ragged])
    assert len(read_across) == 1 and paragraph_garbled(read_across[0])
    in_order = join_wrapped_lines([Line(text=CLEAN, raw=_pdf_spacing(CLEAN, 6)), Line(text=SECOND, raw=_pdf_spacing(SECOND, 6))])
    assert len(in_order) == 2 and not any(paragraph_garbled(paragraph) for paragraph in in_order)


def test_stray_letters_and_symbols_in_a_sentence():
    assert sentence_garbled("网络是群众对公安机关l常交流，促进了警民关系和谐。")
    assert sentence_garbled("J O cR卜 I 札墨oNl ∽ AT")
    assert not sentence_garbled("建立微博、微信群、QQ群等警民互动交流新平台。")
    assert not sentence_garbled("1．健全警力保障机制。")
    assert not sentence_garbled("比例超过1:5000，约占5%～8%（见表1）。")
    assert not sentence_garbled("截至2015年6月，我国网民规模达6.68亿，互联网普及率为48.8%。")


def test_brackets_change_as_a_pair_and_full_width_digits_become_ascii():
    assert normalize_punctuation("(1)加强培训") == "（1）加强培训"
    assert normalize_punctuation("1673―2391(2013)01") == "1673―2391(2013)01"
    assert clean_line("截至２０１５年６月，网民达６.６８亿") == "截至2015年6月，网民达6.68亿"
    assert clean_line("1.1 研究背景") == "1.1 研究背景"


def test_page_labels_and_running_headers_are_dropped():
    page = ["公安研究 2015年第3期", "第一段内容。", "第 1 页 共 3 页", "公安研究 2015年第3期", "第二段内容。", "- 2 -",
            "公安研究 2015年第3期", "第三段内容。", "3 / 3"]
    assert [line.text for line in clean_lines(page)] == ["第一段内容。", "第二段内容。", "第三段内容。"]


def test_emoji_are_taken_out_so_a_short_sentence_is_not_read_as_noise():
    assert clean_line("💡警力与辖区人口严重不匹配。") == "警力与辖区人口严重不匹配。"
    assert clean_line("✅非警务活动占用大量时间。👨‍👩‍👧") == "非警务活动占用大量时间。"
    assert not sentence_garbled(clean_line("👍但调研中我们也发现了一些问题。"))
    assert not sentence_garbled("✅非警务活动占用大量时间。👨‍👩‍👧")  # a listed sentence keeps its emoji
    assert clean_line("①执法不规范；②宣传不到位。") == "①执法不规范；②宣传不到位。"  # circled numbers are numbering


def test_a_page_footer_glued_into_a_sentence_is_taken_out():
    assert clean_line("第三，社会参与不够。第1页共3页社会组织参与的渠道有限。") == "第三，社会参与不够。社会组织参与的渠道有限。"
    assert clean_line("共享空间第 2 页 / 共 5 页不足。") == "共享空间不足。"
