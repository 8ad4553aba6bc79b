"""Paper files sent over HTTP (`POST /analyze_file` one, `POST /map_files` several or a .zip of them): received
within size limits and each read by the readers of `pcc prepare` in a process of its own, within a time and memory
limit. Whatever is wrong is a `Refused` (status code and a message naming the file and what to do): 400 no file in
the form, 413 too large or too many (the request, the files, an archive's expansion, the text, or the time or
memory reading a file took), 415 a type that is not read, 422 a file that cannot be read (encrypted, scanned
without a text layer, damaged, not text).

BentoML's own file inputs read the whole upload into memory before the service sees it, and fetch a URL
given in place of the file; hence plain Starlette routes (`serving.service.analyze_file`, `map_files`) with
this module.

The readers run in a child process (`python -m serving.uploads`), not in a thread of the worker: a thread cannot
be stopped, so a file that takes minutes to read (a zip bomb the archive check lets through, a huge text) would
go on using the worker's CPU and memory after its request has timed out. The child limits its own address space
(RLIMIT_AS) and CPU time (RLIMIT_CPU, a backstop should the worker die), and the worker kills it when the reading
time is up or the client goes away. Starting it adds about 0.3 s to a file (Python and the readers load).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Awaitable, Callable, Optional

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse

from pcc.documents import PreparedPaper, load_document
from pcc.errors import TooLarge, UserError
from pcc.readers import CONVERT_FIRST, SUPPORTED_SUFFIXES

FILE_FIELD = "file"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # where `python -m serving.uploads` finds the project
_POLL_SECONDS = 0.1  # how often the worker looks whether the reading is done or its client has gone
_MAX_NAME_BYTES = 200  # of UTF-8: file systems allow 255 bytes for a name, and a Chinese character takes 3
logger = logging.getLogger(__name__)


class Refused(Exception):
    """A request the service answers with `status` and `{"error": message}`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status)


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"


def limited(request: Request, max_bytes: int, advice: str = "send a smaller file (split a long document, or save "
                                                             "a PDF without its images)") -> Request:
    """The request, refused (413) as soon as its body is known to exceed `max_bytes`: from its Content-Length
    before anything is read, or while it arrives."""
    too_large = Refused(413, f"the request is larger than {_megabytes(max_bytes)}; {advice}")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > max_bytes:
            raise too_large
        return message

    return Request(request.scope, receive)


async def receive_paper(request: Request, max_bytes: int) -> tuple[str, bytes]:
    """The name (without folders) and content of the paper file in the multipart field `file`."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Refused(415, f"send the paper as multipart/form-data, the file in the field '{FILE_FIELD}' "
                           f"(curl -F {FILE_FIELD}=@paper.pdf URL/analyze_file)")
    try:
        form = await limited(request, max_bytes).form(max_files=1, max_fields=8)
    except (HTTPException, MultiPartException) as error:
        raise Refused(400, f"not a readable multipart form ({getattr(error, 'detail', error)}); send one file in "
                           f"the field '{FILE_FIELD}'") from None
    try:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise Refused(400, f"no file in the form field '{FILE_FIELD}'; send the paper as "
                               f"-F {FILE_FIELD}=@paper.pdf (a .pdf, .docx or .txt file)")
        name = _safe_name(upload.filename or "")
        suffix = Path(name).suffix.lower()
        if suffix in CONVERT_FIRST:
            raise Refused(415, f"{name}: {suffix} files are not read; {CONVERT_FIRST[suffix]}")
        if suffix not in SUPPORTED_SUFFIXES:
            raise Refused(415, f"{name}: unsupported file type '{suffix or '(none)'}'; give a .pdf, .docx or .txt file")
        return name, await upload.read()
    finally:
        await form.close()


def _safe_name(filename: str) -> str:
    """The file's own name, without any folder a browser or client put before it, and not too long to write."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        raise Refused(400, "the uploaded file has no name; send it with its file name (e.g. paper.pdf)")
    if len(name.encode()) <= _MAX_NAME_BYTES:
        return name
    path = Path(name)
    suffix = path.suffix[:10]
    stem = path.stem.encode()[:_MAX_NAME_BYTES - len(suffix.encode())].decode(errors="ignore")
    return stem + suffix


@dataclass(frozen=True)
class ReadLimits:
    """What reading one upload may take: wall-clock seconds and memory (beyond what the reader needs loaded)."""
    seconds: float
    memory_mb: int

    def describe(self) -> str:
        return f"{self.seconds:g} s and {self.memory_mb:,} MB of memory"


async def read_upload(name: str, content: bytes, max_chars: int, limits: ReadLimits,
                      disconnected: Optional[Callable[[], Awaitable[bool]]] = None) -> list[PreparedPaper]:
    """The papers of an uploaded file, read as `pcc prepare` reads them (`pcc.documents.load_document`) in a child
    process within `limits`, from a temporary copy under the file's own name, so that messages name it as its owner
    does. The child is killed when the time is up (a Refused 413), when `disconnected()` turns true (a Refused 499,
    which no one reads) or when the awaiting task is cancelled (BentoML's request timeout)."""
    with tempfile.TemporaryDirectory(prefix="pcc-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "serving.uploads", str(path), str(max_chars), str(limits.seconds),
            str(limits.memory_mb), cwd=PACKAGE_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        finished = asyncio.ensure_future(child.communicate())
        try:
            deadline = asyncio.get_running_loop().time() + limits.seconds
            while not finished.done():
                if disconnected is not None and await disconnected():
                    raise Refused(499, f"{name}: the client closed the connection before the file was read")
                if asyncio.get_running_loop().time() > deadline:
                    raise Refused(413, f"{name}: reading it takes longer than the {limits.describe()} an upload may "
                                       "use; split the document and send the parts")
                await asyncio.wait([finished], timeout=_POLL_SECONDS)
            answer, errors = finished.result()
        finally:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):  # it may end on its own meanwhile
                    child.kill()
            finished.cancel()
            await child.wait()
    if errors:  # the reader's warnings and tracebacks, for the server log
        logger.warning("reading the upload %s (exit status %s): %s", name, child.returncode,
                       errors.decode(errors="replace")[-4000:])
    if not answer:
        raise Refused(413, f"{name}: reading it needed more than the {limits.describe()} an upload may use; split "
                           "the document and send the parts")
    kind, *result = pickle.loads(answer)
    if kind == "refused":
        raise Refused(*result)
    return result[0]


def _read_in_child(path: Path, max_chars: int, limits: ReadLimits) -> tuple:
    """What `read_upload` receives: ("papers", papers) or ("refused", status, message)."""
    name = path.name
    _limit_this_process(limits)
    try:
        papers = load_document(path)
    except TooLarge as error:
        return "refused", 413, str(error).replace(str(path), name)
    except UserError as error:
        return "refused", 422, str(error).replace(str(path), name)
    except MemoryError:
        return "refused", 413, (f"{name}: reading it needed more than the {limits.describe()} an upload may use; "
                                "split the document and send the parts")
    except Exception as error:  # the PDF and Word libraries raise many types on damaged files
        logger.warning("reading the upload %s failed", name, exc_info=True)
        return "refused", 422, (f"{name}: not readable ({type(error).__name__}: {error}); check that the file is "
                                "complete, or save it again")
    chars = sum(len(s.text) for paper in papers for s in paper.sentences)
    if chars > max_chars:
        return "refused", 413, (f"{name}: its text is {chars:,} characters, more than the {max_chars:,} one request "
                                "may hold; split the document and send the parts")
    return "papers", papers


FILES_FIELD = "files"  # the multipart field of `POST /map_files`, once per file
ARCHIVE = ".zip"


async def receive_papers(request: Request, max_bytes: int, max_files: int,
                         max_unpacked: int) -> list[tuple[str, bytes]]:
    """The (name, content) of each file sent in the multipart field `files`, a .zip archive standing for the
    paper files inside it (`open_archive`, at most `max_unpacked` bytes unpacked); at most `max_files` in all."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Refused(415, f"send the papers as multipart/form-data, each file in the field '{FILES_FIELD}' "
                           f"(curl -F {FILES_FIELD}=@a.pdf -F {FILES_FIELD}=@b.docx URL/map_files)")
    try:
        form = await limited(request, max_bytes, "send fewer or smaller files").form(max_files=max_files,
                                                                                     max_fields=8)
    except (HTTPException, MultiPartException) as error:
        detail = str(getattr(error, "detail", error))
        if "Too many files" in detail:
            raise Refused(413, f"more than {max_files} files in one request; map at most {max_files} papers at a "
                               "time, or run `pcc predict` and `pcc map` on them") from None
        raise Refused(400, f"not a readable multipart form ({detail}); send the papers in the field "
                           f"'{FILES_FIELD}'") from None
    try:
        uploads = [item for item in form.getlist(FILES_FIELD) if isinstance(item, UploadFile)]
        if not uploads:
            raise Refused(400, f"no file in the form field '{FILES_FIELD}'; send the papers as "
                               f"-F {FILES_FIELD}=@a.pdf -F {FILES_FIELD}=@b.docx (.pdf, .docx or .txt files, "
                               "or a .zip of them)")
        files = []
        for upload in uploads:
            name = _safe_name(upload.filename or "")
            suffix = Path(name).suffix.lower()
            if suffix in CONVERT_FIRST:
                raise Refused(415, f"{name}: {suffix} files are not read; {CONVERT_FIRST[suffix]}")
            if suffix not in (*SUPPORTED_SUFFIXES, ARCHIVE):
                raise Refused(415, f"{name}: unsupported file type '{suffix or '(none)'}'; give .pdf, .docx or "
                                   ".txt files, or a .zip of them")
            content = await upload.read()
            files += open_archive(name, content, max_unpacked, max_files) if suffix == ARCHIVE else [(name, content)]
        if len(files) > max_files:
            raise Refused(413, f"{len(files)} papers in one request (a .zip counted by the papers inside); map at "
                               f"most {max_files} papers at a time, or run `pcc predict` and `pcc map` on them")
        return files
    finally:
        await form.close()


def open_archive(name: str, content: bytes, max_bytes: int, max_files: int) -> list[tuple[str, bytes]]:
    """The paper files of a .zip archive, named `<archive>/<path inside>`: folders, hidden files and files of
    other types are passed over; unpacked, the archive may hold at most `max_bytes` and `max_files` papers."""
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = [entry for entry in archive.infolist() if not entry.is_dir()]
    except (zipfile.BadZipFile, ValueError) as error:
        raise Refused(422, f"{name}: not a readable .zip archive ({error}); zip the papers again") from None
    papers = []
    for entry in entries:
        inside = _entry_name(entry)
        parts = inside.split("/")
        hidden = parts[0] == "__MACOSX" or parts[-1].startswith(".")
        if hidden or Path(inside).suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        papers.append((entry, inside))
    if not papers:
        raise Refused(422, f"{name}: no .pdf, .docx or .txt file inside; put the papers in the archive")
    if len(papers) > max_files:
        raise Refused(413, f"{name}: {len(papers)} papers inside; map at most {max_files} papers at a time, or run "
                           "`pcc predict` and `pcc map` on them")
    if sum(entry.file_size for entry, _ in papers) > max_bytes:
        raise Refused(413, f"{name}: its papers unpack to more than {_megabytes(max_bytes)}; send fewer papers")
    files = []
    for entry, inside in papers:
        try:
            files.append((f"{Path(name).stem}/{inside}", archive.read(entry)))
        except (RuntimeError, zipfile.BadZipFile, NotImplementedError) as error:  # encrypted, damaged, unknown method
            raise Refused(422, f"{name}: {inside} cannot be unpacked ({error}); zip the papers again without a "
                               "password") from None
    return files


def _entry_name(entry) -> str:
    """An archive member's path. Archivers on Chinese Windows write GBK names without the UTF-8 flag, which
    Python reads as code page 437."""
    if entry.flag_bits & 0x800:
        return entry.filename
    try:
        return entry.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return entry.filename


async def read_papers(files: list[tuple[str, bytes]], max_chars: int, limits: ReadLimits,
                      disconnected: Optional[Callable[[], Awaitable[bool]]] = None
                      ) -> tuple[list[PreparedPaper], list[dict]]:
    """The papers of several uploaded files, each read by `read_upload` within `limits`, and {file, reason} for each
    that could not be read (the others are still read); a Refused when none could be, when their text exceeds
    `max_chars` in all, when reading them all takes longer than `limits.seconds` (the time one upload may take,
    so that the request keeps the rest of its time for classifying and mapping), or when the client goes away."""
    papers, skipped = [], []
    deadline = time.monotonic() + limits.seconds
    out_of_time = Refused(413, f"reading the files takes longer than the {limits.seconds:g} s they may take in all; "
                               "send fewer or smaller papers, or run `pcc predict` and `pcc map` on them")
    for name, content in files:
        left = deadline - time.monotonic()
        if left <= 0:
            raise out_of_time
        try:
            found = await read_upload(Path(name).name, content, max_chars, replace(limits, seconds=left), disconnected)
        except Refused as refused:
            if refused.status == 499:  # the client is gone: reading the other files is of no use to anyone
                raise
            if time.monotonic() >= deadline:
                raise out_of_time from None
            skipped.append({"file": name, "reason": refused.message})
            continue
        for prepared in found:
            prepared.paper.source = name
        papers += found
    if not papers:
        raise Refused(422, "none of the files could be read: " + "; ".join(item["reason"] for item in skipped))
    chars = sum(len(s.text) for paper in papers for s in paper.sentences)
    if chars > max_chars:
        raise Refused(413, f"the papers hold {chars:,} characters of text, more than the {max_chars:,} one map "
                           "request may; send fewer papers, or run `pcc predict` and `pcc map` on them")
    return papers, skipped


def _limit_this_process(limits: ReadLimits) -> None:
    """Cap the address space at what is mapped now (Python and the readers, loaded) plus `limits.memory_mb`, and
    the CPU time at the reading time, rounded up, plus a second, past which the kernel stops the process."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    memory = mapped + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    seconds = math.ceil(limits.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def _main(argv: list[str]) -> None:
    """`python -m serving.uploads PATH MAX_CHARS SECONDS MEMORY_MB`: the child of `read_upload`; writes its answer,
    pickled, to stdout."""
    import docx  # noqa: F401  the readers import these when they first read: load them before the memory cap
    import pypdf  # noqa: F401

    path, max_chars, seconds, memory_mb = Path(argv[0]), int(argv[1]), float(argv[2]), int(argv[3])
    answer = _read_in_child(path, max_chars, ReadLimits(seconds, memory_mb))
    sys.stdout.buffer.write(pickle.dumps(answer))


if __name__ == "__main__":
    _main(sys.argv[1:])
