"""Reading an uploaded paper file: the readers of `pcc prepare` in a child process within a time and memory limit,
and a status code with a message for each refusal. (Over HTTP, through the real service: tests/test_service.py.)"""
import asyncio
import time
from pathlib import Path

import psutil
import pytest
from pypdf import PdfReader, PdfWriter

from serving.uploads import ReadLimits, Refused, _safe_name, read_papers, read_upload
from tests.conftest import SEED_CORPUS
from tests.fixtures.papers import COLLECTED, COLLECTED_TITLES, TITLE, write_docx, write_pdf
from tests.test_service import PAPER

LIMITS = ReadLimits(seconds=60, memory_mb=1024)


def read_paper(name: str, content: bytes, max_chars: int = 200_000, limits: ReadLimits = LIMITS, disconnected=None):
    return asyncio.run(read_upload(name, content, max_chars, limits, disconnected))


def readers_running() -> list[psutil.Process]:
    """The upload readers this process has started and not yet reaped."""
    return [child for child in psutil.Process().children(recursive=True)
            if "serving.uploads" in " ".join(child.cmdline())]


def slow_text() -> bytes:
    """About 1 MB of papers (the seed corpus, many times over): several seconds to read."""
    return SEED_CORPUS.read_bytes() * 24


def scanned_pdf(path: Path) -> Path:
    """A page with a drawing and no text layer, as a scanner makes it."""
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(str(path))
    page.rect(100, 100, 300, 400, fill=1)
    page.save()
    return path


def encrypted_pdf(path: Path, tmp_path: Path) -> Path:
    writer = PdfWriter(clone_from=PdfReader(write_pdf(tmp_path / "open.pdf")))
    writer.encrypt("secret")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def refusal(name: str, content: bytes, max_chars: int = 200_000, limits: ReadLimits = LIMITS,
            disconnected=None) -> Refused:
    with pytest.raises(Refused) as refused:
        read_paper(name, content, max_chars, limits, disconnected)
    return refused.value


def test_pdf_docx_and_txt_are_read_as_pcc_prepare_reads_them(tmp_path):
    for path in (write_pdf(tmp_path / "基层治理.pdf"), write_docx(tmp_path / "基层治理.docx")):
        [paper] = read_paper(path.name, path.read_bytes(), 200_000)
        assert paper.paper.paper_id == "基层治理" and paper.paper.title == TITLE
        assert "（一）沟通不畅。" in [s.text for s in paper.sentences]
    # A .txt may hold several papers (as collected from the web); site chrome is left out and listed.
    papers = read_paper("collected.txt", COLLECTED.encode("gb18030"), 200_000)
    assert [(p.paper.paper_id, p.paper.title) for p in papers] == [
        ("collected#01", COLLECTED_TITLES[0]), ("collected#02", COLLECTED_TITLES[1])]
    assert [line.text for p in papers for line in p.left_out] == ["首页 > 学术论文 > 正文", "分享到：微信 微博 QQ空间"]


def test_unreadable_files_are_refused_naming_the_file(tmp_path):
    cases = {
        "empty.pdf": (b"", "empty.pdf: the file is empty"),
        "broken.pdf": (b"%PDF-1.4\n" + bytes(range(256)) * 4, "broken.pdf: not a readable PDF"),
        "locked.pdf": (encrypted_pdf(tmp_path / "locked.pdf", tmp_path).read_bytes(),
                       "locked.pdf: the PDF is encrypted; save an unprotected copy"),
        "scan.pdf": (scanned_pdf(tmp_path / "scan.pdf").read_bytes(), "scan.pdf: no text found; a scanned PDF needs OCR"),
        "fake.docx": ("这不是一个文档".encode(), "fake.docx: not a valid .docx file"),
        "binary.txt": (bytes(range(256)) * 8, "binary.txt: not a text file in UTF-8 or GBK/GB18030"),
    }
    for name, (content, message) in cases.items():
        refused = refusal(name, content)
        assert refused.status == 422 and refused.message.startswith(message), refused.message
        assert "pcc-upload-" not in refused.message  # the temporary folder is never shown


def test_a_paper_too_long_for_one_request_is_refused():
    refused = refusal("long.txt", PAPER.encode(), max_chars=100)
    assert refused.status == 413 and "long.txt: its text is" in refused.message and "split the document" in refused.message


def test_file_names_lose_their_folders():
    assert _safe_name("C:\\Users\\me\\论文.pdf") == "论文.pdf"
    assert _safe_name("../../etc/paper.txt") == "paper.txt"
    assert _safe_name("长" * 300 + ".docx") == "长" * 65 + ".docx"  # 200 bytes of UTF-8 in all


def test_a_long_chinese_file_name_is_cut_so_that_it_can_be_written():
    name = _safe_name("新时代基层警民关系存在的问题原因及对策研究" * 5 + ".txt")  # 100 characters, 304 bytes
    papers = read_paper(name, PAPER.encode(), max_chars=200_000)
    assert papers and len(name.encode()) <= 200 and name.endswith(".txt")
    with pytest.raises(Refused, match="has no name"):
        _safe_name("..")


def test_a_docx_zip_bomb_is_refused_before_it_is_parsed(docx_bomb):
    started = time.monotonic()
    refused = refusal("bomb.docx", docx_bomb.read_bytes())
    assert time.monotonic() - started < 5  # mostly starting the reader
    assert refused.status == 413 and refused.message.startswith("bomb.docx: part word/document.xml expands")
    assert "it looks like a zip bomb" in refused.message


def test_a_file_that_takes_too_long_to_read_is_refused_and_its_reader_killed():
    started = time.monotonic()
    refused = refusal("long.txt", slow_text(), limits=ReadLimits(seconds=1, memory_mb=1024))
    assert time.monotonic() - started < 4
    assert refused.status == 413 and "long.txt: reading it takes longer than the 1 s and 1,024 MB" in refused.message
    assert not readers_running()


def test_several_files_share_one_reading_time():
    # Each file alone reads well within the limit; twenty of them, each in its own reader process, cannot.
    files = [(f"{n}.txt", PAPER.encode("utf-8")) for n in range(20)]
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        asyncio.run(read_papers(files, 200_000, ReadLimits(seconds=1, memory_mb=1024)))
    assert refused.value.status == 413 and "longer than the 1 s they may take in all" in refused.value.message
    assert time.monotonic() - started < 4 and not readers_running()
    papers, skipped = asyncio.run(read_papers(files[:2], 200_000, LIMITS))
    assert len(papers) == 2 and not skipped


def test_a_file_that_needs_too_much_memory_to_read_is_refused():
    refused = refusal("long.txt", slow_text(), limits=ReadLimits(seconds=60, memory_mb=20))
    assert refused.status == 413 and "long.txt: reading it needed more than the 60 s and 20 MB" in refused.message
    assert not readers_running()


def test_the_reader_is_killed_when_the_client_goes_away():
    asked = []

    async def disconnected():
        asked.append(time.monotonic())
        return len(asked) > 5

    started = time.monotonic()
    refused = refusal("long.txt", slow_text(), disconnected=disconnected)
    assert refused.status == 499 and "the client closed the connection" in refused.message
    assert time.monotonic() - started < 3 and not readers_running()
