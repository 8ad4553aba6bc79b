"""Read a paper file (.txt, .pdf, .docx) into plain text, one paragraph or extracted line per line."""
from __future__ import annotations

import zipfile
from pathlib import Path

from pcc.errors import UserError

SUPPORTED_SUFFIXES = (".txt", ".pdf", ".docx")
# Share of control characters above which a .txt is binary data, not text.
_MAX_CONTROL_SHARE = 0.01


def read_text(path: str | Path) -> str:
    """The text of one file; a UserError naming the file when it cannot be read or holds no text."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UserError(f"{path}: unsupported file type '{suffix or '(none)'}'; give a .txt, .pdf or .docx file")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    reader = {".txt": read_txt, ".pdf": read_pdf, ".docx": read_docx}[suffix]
    text = reader(path)
    if not text.strip():
        raise UserError(f"{path}: no text found (a scanned PDF needs OCR first)")
    return text


def decode_text(data: bytes, name: str = "<text>") -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312); binary data is refused."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break
        return text
    raise UserError(f"{name}: not a text file in UTF-8 or GBK/GB18030; convert it to UTF-8 text")


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\n\r\t\f")
    return controls > _MAX_CONTROL_SHARE * max(len(text), 1)


def read_txt(path: Path) -> str:
    return decode_text(path.read_bytes(), str(path))


def read_pdf(path: Path) -> str:
    """The text layer of every page, in page order."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

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
    return "\n".join(pages)


def read_docx(path: Path) -> str:
    """Paragraphs and table cells in document order."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a valid .docx file (it is not a zip package); re-save it from Word")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise UserError(f"{path}: not a readable .docx file ({error}); re-save it from Word") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            for row in block.rows:
                for cell in row.cells:
                    lines.extend(paragraph.text for paragraph in cell.paragraphs)
        else:
            lines.append(block.text)
    return "\n".join(lines)
