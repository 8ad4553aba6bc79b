"""Read a paper file (.txt, .pdf, .docx) into plain text, one paragraph or extracted line per line."""
from __future__ import annotations

import glob
import logging
import re
import zipfile
from collections import Counter
from pathlib import Path

from pcc.errors import TooLarge, UserError

SUPPORTED_SUFFIXES = (".txt", ".pdf", ".docx")
# Formats papers often come in that are not read: a folder scan still picks them up, so each is reported
# with how to convert it instead of being passed over in silence.
_SAVE_AS_DOCX = "save it as .docx (Word or WPS: Save As; or `libreoffice --headless --convert-to docx FILE`)"
_CNKI_TO_PDF = "download the paper as PDF from CNKI, or print it to PDF from CAJViewer"
CONVERT_FIRST = {".doc": _SAVE_AS_DOCX, ".wps": _SAVE_AS_DOCX, ".rtf": _SAVE_AS_DOCX, ".odt": _SAVE_AS_DOCX,
                 ".caj": _CNKI_TO_PDF, ".kdh": _CNKI_TO_PDF, ".nh": _CNKI_TO_PDF}
# A .txt is binary data, not text, above this share of control characters or below this share of
# characters from the common blocks (ASCII, CJK ideographs and punctuation, general punctuation).
_MAX_CONTROL_SHARE = 0.01
_MIN_COMMON_SHARE = 0.8
# Random bytes decoded as GB18030 look like Chinese but are mostly rare characters.
_MIN_HANZI_FOR_FREQUENCY_TEST = 20
_MIN_FREQUENT_HANZI_SHARE = 0.7
_COMMON_CHARS = re.compile("[\u0020-\u007e\u00a0-\u00ff\u2000-\u206f\u2100-\u22ff\u2460-\u24ff\u2500-\u25ff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def read_text(path: str | Path) -> str:
    """The text of one file; a UserError naming the file when it cannot be read or holds no text."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CONVERT_FIRST:
        raise UserError(f"{path}: {suffix} files are not read; {CONVERT_FIRST[suffix]}")
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserError(f"{path}: unsupported file type '{suffix or '(none)'}'; give a .txt, .pdf or .docx file")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    reader = {".txt": read_txt, ".pdf": read_pdf, ".docx": read_docx}[suffix]
    text = reader(path)
    if not text.strip():
        hint = "; a scanned PDF needs OCR first" if suffix == ".pdf" else ""
        raise UserError(f"{path}: no text found{hint}")
    return text


def papers_in_folder(folder: Path) -> list[Path]:
    """Paper files under `folder`, recursively and sorted: readable ones and those in `CONVERT_FIRST`.

    Hidden files and Office lock files (`~$name.docx`) are left out.
    """
    wanted = set(SUPPORTED_SUFFIXES) | set(CONVERT_FIRST)
    return sorted(path for path in folder.rglob("*")
                  if path.is_file() and path.suffix.lower() in wanted and not path.name.startswith((".", "~$")))


def find_papers(patterns: list[str]) -> tuple[list[Path], list[str]]:
    """Files named by the arguments (files, folders searched with `papers_in_folder`, glob patterns), in a
    stable order and each once, and the arguments that matched nothing."""
    found: list[Path] = []
    missing: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        matches = [Path(m) for m in matches if Path(m).exists()]
        if not matches:
            missing.append(pattern)
        for match in matches:
            found.extend(papers_in_folder(match) if match.is_dir() else [match])
    return list(dict.fromkeys(found)), missing


def decode_text(data: bytes, name: str = "<text>") -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030 (a superset of GBK and GB2312).

    Bytes that decode but do not read as text (control characters, or mostly characters outside
    the common Chinese, Latin and punctuation blocks) are refused.
    """
    encodings = ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text, guessed=encoding == "gb18030"):
            return text
        break
    raise UserError(f"{name}: not a text file in UTF-8 or GBK/GB18030; convert it to UTF-8 text")


def _looks_like_text(text: str, guessed: bool) -> bool:
    """`guessed`: GB18030 was tried because UTF-8 failed, and almost any bytes decode as GB18030,
    so the characters must also be the frequent ones (simplified Chinese in GBK files)."""
    visible = [char for char in text if not char.isspace()]
    if not visible:
        return True  # blank: read_text reports the file as holding no text
    if "\x00" in text:
        return False
    controls = sum(1 for char in visible if ord(char) < 32)
    common = sum(1 for char in visible if _COMMON_CHARS.match(char))
    if controls > _MAX_CONTROL_SHARE * len(visible) or common < _MIN_COMMON_SHARE * len(visible):
        return False
    hanzi = [char for char in visible if "\u4e00" <= char <= "\u9fff"]
    if not guessed or len(hanzi) < _MIN_HANZI_FOR_FREQUENCY_TEST:
        return True
    frequent = sum(1 for char in hanzi if _is_frequent_hanzi(char))
    return frequent >= _MIN_FREQUENT_HANZI_SHARE * len(hanzi)


def _is_frequent_hanzi(char: str) -> bool:
    """In GB2312's first level: the 3755 most used characters, which make up most of any Chinese text."""
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return 0xB0 <= encoded[0] <= 0xD7


def read_txt(path: Path) -> str:
    return decode_text(path.read_bytes(), str(path))


def read_pdf(path: Path) -> str:
    """The text layer of every page, in page order."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf logs its repair attempts on damaged files; the error below already says what is wrong.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    _check_not_other_kind(path, ".pdf")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UserError(f"{path}: the PDF is encrypted; save an unprotected copy and try again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UserError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise UserError(f"{path}: not a readable PDF ({error}); check that the file is complete") from None
    except Exception as error:  # pypdf raises many internal types on damaged files
        if "encrypt" in str(error).lower() or "crypt" in type(error).__name__.lower():
            raise UserError(f"{path}: the PDF is encrypted; save an unprotected copy and try again") from None
        raise UserError(f"{path}: not a readable PDF ({type(error).__name__}: {error})") from None
    return "\n".join(_without_running_lines(pages))


_PAGE_EDGE_LINES = 2  # lines at the top and at the bottom of a page where running headers and footers sit
_RUNNING_LINE_MAX = 40


def _without_running_lines(pages: list[str]) -> list[str]:
    """The pages without their running headers and footers: lines at the top or bottom of two or more pages that
    are the same but for their numbers (`警察学研究 2023年第5期`, `第 2 页`). Left in, a header becomes the
    paper's title and splits the paragraph that runs on over the page break. On the first page such a line is
    kept unless it holds a number: a paper's title often runs at the top of the pages after it, a journal's
    name and issue on every page."""
    def key(line: str) -> str:
        return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))

    def edge_keys(lines: list[str]) -> dict[int, str]:
        filled = [i for i, line in enumerate(lines) if line.strip()]
        return {i: key(lines[i]) for i in filled[:_PAGE_EDGE_LINES] + filled[-_PAGE_EDGE_LINES:]}

    split = [page.splitlines() for page in pages]
    edges = [edge_keys(lines) for lines in split]
    seen = Counter(found for page_edges in edges for found in set(page_edges.values())
                   if len(found) <= _RUNNING_LINE_MAX)
    running = {found for found, pages_with_it in seen.items() if pages_with_it >= 2}
    if not running:
        return pages
    cleaned = []
    for number, (lines, page_edges) in enumerate(zip(split, edges)):
        dropped = {i for i, found in page_edges.items() if found in running and (number > 0 or "#" in found)}
        cleaned.append("\n".join(line for i, line in enumerate(lines) if i not in dropped))
    return cleaned


def read_docx(path: Path) -> str:
    """Paragraphs and table cells in document order, with what Word shows but python-docx's paragraph and table
    lists leave out: content controls (journal and thesis templates put titles and abstracts in them), text boxes
    (after the paragraph that anchors them) and tracked insertions (deletions are left out)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    _check_not_other_kind(path, ".docx")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a valid .docx file (it is not a zip package); re-save it from Word")
    check_package_expansion(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise UserError(f"{path}: not a readable .docx file ({error}); re-save it from Word") from None
    return "\n".join(_block_lines(document.element.body, document._body))


# What the parts of a .docx package may expand to, read from the zip's central directory before any part is
# decompressed (python-docx holds every part in memory and parses its XML parts into trees, ~9x their size). A
# header that understates a part cannot expand it further: zipfile stops at the declared size, and the part then
# fails its CRC check.
MAX_PARTS = 10_000
MAX_XML_BYTES = 64 * 1024 * 1024  # the XML parts together; a 200,000-character paper needs a few MB
MAX_EXPANDED_BYTES = 512 * 1024 * 1024  # all parts together (pictures are stored as they are)
MAX_RATIO = 100  # expanded size / compressed size of any part over 1 MB: XML compresses 3-30x, a bomb ~1000x
_RATIO_FROM_BYTES = 1024 * 1024
_XML_PARTS = (".xml", ".rels")


def check_package_expansion(path: Path) -> None:
    """Refuse a zip package (a .docx) that would expand past the limits above, from its central directory alone:
    a TooLarge naming the file, the part and the limit."""
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable .docx file ({error}); re-save it from Word") from None
    advice = "a Word paper expands to far less; save it again from Word, or split it"
    if len(parts) > MAX_PARTS:
        raise TooLarge(f"{path}: the package holds {len(parts):,} parts, more than {MAX_PARTS:,}; {advice}")
    for part in parts:
        if part.file_size > _RATIO_FROM_BYTES and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise TooLarge(f"{path}: part {part.filename} expands {part.file_size / max(part.compress_size, 1):,.0f} "
                           f"times, to {_megabytes(part.file_size)} (at most {MAX_RATIO} times for a part over "
                           f"{_megabytes(_RATIO_FROM_BYTES)}): it looks like a zip bomb; {advice}")
    expanded = sum(part.file_size for part in parts)
    xml = sum(part.file_size for part in parts if part.filename.lower().endswith(_XML_PARTS))
    if xml > MAX_XML_BYTES:
        raise TooLarge(f"{path}: its XML parts expand to {_megabytes(xml)}, more than {_megabytes(MAX_XML_BYTES)}; {advice}")
    if expanded > MAX_EXPANDED_BYTES:
        raise TooLarge(f"{path}: its parts expand to {_megabytes(expanded)}, more than "
                       f"{_megabytes(MAX_EXPANDED_BYTES)}; {advice}")


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB" if size >= 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Not the text a reader sees: deleted or moved-away text, properties, content-control settings, ruby (pinyin)
# annotations, and the legacy copy of a drawing that Word writes beside the modern one.
_UNSEEN = {_MC_FALLBACK, *(_W + name for name in ("del", "moveFrom", "pPr", "rPr", "sectPr", "sdtPr", "tblPr", "tcPr",
                                                   "trPr", "rt"))}


def _block_lines(container, parent) -> list[str]:
    """The lines of the paragraphs and tables in `container` (the body, a table cell, a text box), in order;
    content controls, custom XML and tracked insertions around them are opened."""
    from docx.table import Table

    lines: list[str] = []
    for child in container:
        if child.tag == _W + "p":
            lines.extend(_paragraph_lines(child, parent))
        elif child.tag == _W + "tbl":
            for row in Table(child, parent).rows:
                lines.extend(_table_row_lines(row, parent))
        elif child.tag not in _UNSEEN:
            lines.extend(_block_lines(child, parent))
    return lines


def _paragraph_lines(paragraph, parent) -> list[str]:
    """A paragraph's text (line breaks and tabs kept), then the lines of the text boxes anchored in it."""
    parts: list[str] = []
    boxes: list = []

    def walk(node):
        for child in node:
            if child.tag == _W + "t":
                parts.append(child.text or "")
            elif child.tag == _W + "tab":
                parts.append("\t")
            elif child.tag in (_W + "br", _W + "cr") and child.get(_W + "type") in (None, "textWrapping"):
                parts.append("\n")
            elif child.tag == _W + "noBreakHyphen":
                parts.append("-")
            elif child.tag == _W + "txbxContent":
                boxes.append(child)
            elif child.tag not in _UNSEEN:
                walk(child)

    walk(paragraph)
    return ["".join(parts)] + [line for box in boxes for line in _block_lines(box, parent)]


def _table_row_lines(row, parent) -> list[str]:
    """A table row as text: a cell that holds sentences gives its paragraphs, as the text around the table does;
    a row of data (labels, figures) gives one line, its cells separated by tabs, which `pcc prepare` leaves out as
    a table row (`pcc.cleaning.table_reason`) instead of reading each short cell as a heading."""
    cells = []
    for cell in row.cells:  # a merged cell comes once for each column it spans
        if not cells or cell._tc is not cells[-1]._tc:
            cells.append(cell)
    cell_lines = [_block_lines(cell._tc, parent) for cell in cells]
    texts = ["\n".join(lines).strip() for lines in cell_lines]
    if any(re.search(r"[。！？；]", text) for text in texts):
        return [line for lines in cell_lines for line in lines]
    return ["\t".join(text.replace("\n", " ") for text in texts)]


# What a file's first bytes say it is, whatever its name says: (signature, the suffix it belongs to, what it is,
# what to do).
_SIGNATURES = (
    (b"%PDF", ".pdf", "a PDF", "rename it to .pdf"),
    (b"PK\x03\x04", ".docx", "a zip package such as a .docx", "rename it to .docx if Word made it"),
    (b"\xd0\xcf\x11\xe0", ".doc", "an old-style Office file (a .doc, or a password-protected .docx)",
     "open it in Word and save it as an unprotected .docx"),
)


def _check_not_other_kind(path: Path, expected: str) -> None:
    """Refuse a file whose content is another kind of document than its name says, saying which and what to do."""
    with path.open("rb") as handle:
        head = handle.read(8)
    for signature, suffix, kind, advice in _SIGNATURES:
        if head.startswith(signature) and suffix != expected:
            raise UserError(f"{path}: named {expected} but it is {kind}; {advice}")
