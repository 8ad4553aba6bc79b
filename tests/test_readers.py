import re
import time

import pytest
from pypdf import PdfReader, PdfWriter

from pcc import readers
from pcc.errors import TooLarge, UserError
from pcc.readers import decode_text, papers_in_folder, read_text
from tests.fixtures.papers import TITLE, write_docx, write_docx_bomb, write_pdf

CHINESE = "构建和谐警民关系，是公安机关的重要任务。"


def test_utf8_with_and_without_bom(tmp_path):
    plain, bom = tmp_path / "a.txt", tmp_path / "b.txt"
    plain.write_bytes(CHINESE.encode("utf-8"))
    bom.write_bytes(b"\xef\xbb\xbf" + CHINESE.encode("utf-8"))
    assert read_text(plain) == CHINESE
    assert read_text(bom) == CHINESE


def test_gbk_text_is_detected_and_decoded(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(CHINESE.encode("gbk"))
    assert read_text(path) == CHINESE


def test_binary_junk_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UserError, match="junk.txt"):
        read_text(path)
    with pytest.raises(UserError):
        decode_text(b"\x00\x01\x02abc")
    random_high_bytes = bytes((i * 37 + 129) % 126 + 129 for i in range(3000))  # no NUL, decodes as GB18030
    with pytest.raises(UserError, match="noise.txt"):
        decode_text(random_high_bytes, "noise.txt")


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "utf16.txt"
    path.write_bytes(CHINESE.encode("utf-16"))
    assert read_text(path) == CHINESE


def test_empty_and_unsupported_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty.txt.*empty"):
        read_text(empty)
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\n ", encoding="utf-8")
    with pytest.raises(UserError, match="blank.txt"):
        read_text(blank)
    odd = tmp_path / "paper.xyz"
    odd.write_text("x")
    with pytest.raises(UserError, match="paper.xyz.*unsupported"):
        read_text(odd)
    with pytest.raises(UserError, match="missing.txt"):
        read_text(tmp_path / "missing.txt")


def test_pdf_text_layer_gives_the_chinese_back(tmp_path):
    text = read_text(write_pdf(tmp_path / "paper.pdf"))
    assert text.splitlines()[0] == TITLE
    assert "（一）沟通不畅。" in text


def test_corrupt_and_encrypted_pdfs_are_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    with pytest.raises(UserError, match="corrupt.pdf"):
        read_text(corrupt)
    writer = PdfWriter(clone_from=PdfReader(write_pdf(tmp_path / "open.pdf")))
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(UserError, match="locked.pdf.*encrypted"):
        read_text(locked)


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    table = [["问题", "对策"], ["沟通不畅", "加强沟通"], ["民警与群众沟通不畅。", "要建立定期走访制度。"]]
    lines = read_text(write_docx(tmp_path / "paper.docx", table=table)).splitlines()
    assert lines[0] == TITLE
    # a row of data is one line of tab-separated cells; cells that hold sentences are paragraphs of their own
    assert lines[-4:] == ["问题\t对策", "沟通不畅\t加强沟通", "民警与群众沟通不畅。", "要建立定期走访制度。"]
    assert lines.index("（一）沟通不畅。") < lines.index("沟通不畅\t加强沟通")


def test_docx_content_controls_text_boxes_and_tracked_changes(tmp_path):
    import docx
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    path = write_docx(tmp_path / "paper.docx", paragraphs=["正文第一段。"])
    document = docx.Document(str(path))
    body = document.element.body
    blocks = [
        # a template's abstract in a content control
        f'<w:sdt {w}><w:sdtPr><w:alias w:val="摘要"/></w:sdtPr><w:sdtContent>'
        '<w:p><w:r><w:t>摘要：警民沟通渠道不畅。</w:t></w:r></w:p></w:sdtContent></w:sdt>',
        # tracked changes: the insertion is read, the deletion is not; a line break and a page break
        f'<w:p {w}><w:r><w:t>群众</w:t></w:r><w:ins w:id="1" w:author="a"><w:r><w:t>对警方</w:t></w:r></w:ins>'
        '<w:del w:id="2" w:author="a"><w:r><w:delText>不再</w:delText></w:r></w:del>'
        '<w:r><w:t>信任度下降。</w:t><w:br/><w:t>第二行。</w:t><w:br w:type="page"/></w:r></w:p>',
        # a text box, written by Word twice (drawing and its legacy fallback): read once, after its paragraph
        f'<w:p {w} {mc}><w:r><w:t>锚定段落。</w:t></w:r><w:r><mc:AlternateContent>'
        '<mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>框内文字。</w:t></w:r></w:p>'
        '</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r>'
        '<w:t>框内文字。</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>',
    ]
    for xml in blocks:
        body.insert(len(body) - 1, parse_xml(xml))  # before the section properties
    document.save(str(path))
    lines = read_text(path).splitlines()
    assert lines[-6:] == ["正文第一段。", "摘要：警民沟通渠道不畅。", "群众对警方信任度下降。", "第二行。",
                          "锚定段落。", "框内文字。"]


def test_docx_that_is_not_a_zip_package(tmp_path):
    path = tmp_path / "fake.docx"
    path.write_text("这不是一个文档", encoding="utf-8")
    with pytest.raises(UserError, match="fake.docx.*zip"):
        read_text(path)


def test_a_docx_zip_bomb_is_refused_from_its_central_directory_before_anything_is_parsed(docx_bomb):
    started = time.monotonic()
    with pytest.raises(TooLarge) as refused:
        read_text(docx_bomb)
    assert time.monotonic() - started < 1  # parsing it takes seconds and a gigabyte; its directory, microseconds
    assert str(refused.value).startswith(f"{docx_bomb}: part word/document.xml expands 1,0")
    assert "times, to 100 MB (at most 100 times for a part over 1 MB): it looks like a zip bomb" in str(refused.value)


@pytest.mark.parametrize("limit, value, message", [
    ("MAX_PARTS", 5, "the package holds 1"),
    ("MAX_XML_BYTES", 1000, "its XML parts expand to"),
    ("MAX_EXPANDED_BYTES", 1000, "its parts expand to"),
])
def test_a_docx_past_any_expansion_limit_is_refused(tmp_path, monkeypatch, limit, value, message):
    path = write_docx(tmp_path / "paper.docx")
    assert TITLE in read_text(path)
    monkeypatch.setattr(readers, limit, value)
    with pytest.raises(TooLarge, match=f"paper.docx: {message}"):
        read_text(path)


def test_a_docx_part_whose_header_understates_it_expands_no_further(tmp_path):
    """zipfile stops at the size the central directory declares (which the check above reads) and then checks the
    part's CRC: a bomb that lies about its size is a damaged file, found after reading the declared 4 KB."""
    path = write_docx_bomb(tmp_path / "lying.docx", expanded_mb=100, declared_bytes=4096)
    started = time.monotonic()
    with pytest.raises(UserError, match="lying.docx: not a readable .docx file .Bad CRC-32 for file 'word/document.xml'"):
        read_text(path)
    assert time.monotonic() - started < 5


def test_a_document_named_as_another_kind_says_what_it_is(tmp_path):
    pdf_named_docx, docx_named_pdf, doc_named_docx = tmp_path / "a.docx", tmp_path / "b.pdf", tmp_path / "c.docx"
    pdf_named_docx.write_bytes(write_pdf(tmp_path / "paper.pdf").read_bytes())
    docx_named_pdf.write_bytes(write_docx(tmp_path / "paper.docx").read_bytes())
    doc_named_docx.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    for path, message in ((pdf_named_docx, "a.docx: named .docx but it is a PDF; rename it to .pdf"),
                          (docx_named_pdf, "b.pdf: named .pdf but it is a zip package such as a .docx; rename it"),
                          (doc_named_docx, "c.docx: named .docx but it is an old-style Office file")):
        with pytest.raises(UserError, match=re.escape(message)):
            read_text(path)


def test_formats_to_convert_first_say_how(tmp_path):
    for name, advice in (("old.doc", "save it as .docx"), ("report.WPS", "save it as .docx"), ("cnki.caj", "PDF")):
        (tmp_path / name).write_bytes(b"\xd0\xcf\x11\xe0 not read")
        with pytest.raises(UserError, match=rf"{re.escape(name)}: \.\w+ files are not read; .*{advice}"):
            read_text(tmp_path / name)


def test_papers_in_folder_finds_readable_and_convertible_files_only(tmp_path):
    for name in ("a.txt", "sub/b.PDF", "sub/c.docx", "old.doc", "cnki.caj", "notes.md", "image.png",
                 ".hidden.txt", "sub/~$c.docx"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [path.relative_to(tmp_path).as_posix() for path in papers_in_folder(tmp_path)]
    assert found == ["a.txt", "cnki.caj", "old.doc", "sub/b.PDF", "sub/c.docx"]


def test_running_headers_and_footers_of_a_two_page_pdf_are_left_out(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    from pcc.documents import load_document

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pages = [[TITLE, "一、存在的问题", "基层派出所警力长期不足，一名社区民警往往要负责数千户居民。繁重的"],
             ["非警务活动挤占了大量时间，民警难以深入群众。", "二、对策", "要科学核定基层警力编制。"]]
    pdf = canvas.Canvas(str(tmp_path / "two.pdf"), pagesize=A4)
    for number, lines in enumerate(pages, 1):
        pdf.setFont("STSong-Light", 9)
        pdf.drawString(60, A4[1] - 40, "警察学研究 2023年第5期")
        pdf.drawCentredString(A4[0] / 2, 30, f"第 {number} 页")
        pdf.setFont("STSong-Light", 11)
        for row, line in enumerate(lines):
            pdf.drawString(60, A4[1] - 80 - 20 * row, line)
        pdf.showPage()
    pdf.save()
    text = read_text(tmp_path / "two.pdf")
    assert "警察学研究" not in text and "第 2 页" not in text
    (paper,) = load_document(tmp_path / "two.pdf")
    assert paper.paper.title == TITLE
    assert "繁重的非警务活动挤占了大量时间，民警难以深入群众。" in [s.text for s in paper.sentences]


def test_a_title_running_at_the_top_of_later_pages_stays_on_the_first(tmp_path):
    from pcc.readers import _without_running_lines

    pages = [f"{TITLE}\n第一段。\n第二段。", f"{TITLE}\n第三段。\n第四段。", f"{TITLE}\n第五段。\n第六段。"]
    assert _without_running_lines(pages) == [f"{TITLE}\n第一段。\n第二段。", "第三段。\n第四段。", "第五段。\n第六段。"]
