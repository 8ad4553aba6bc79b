"""The records that flow between stages, and their JSON Lines files.

papers → sentences (this module's `Sentence`) → weak labels → dataset → model → predictions.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import yaml

from pcc.errors import UserError
from pcc.readers import decode_text

LABELS: tuple[str, ...] = ("problem", "cause", "countermeasure", "other")
CHINESE_LABELS = {"problem": "问题", "cause": "原因", "countermeasure": "对策", "other": "其他"}  # the guidelines' names
QUALITIES: tuple[str, ...] = ("ok", "garbled")


@dataclass
class Paper:
    paper_id: str  # "<file stem>" or "<file stem>#NN" when one file holds several papers
    title: str
    source: str  # path of the file it was read from
    ordinal: int = 1  # position of the paper inside its file, from 1
    year: int | None = None  # of publication, where a line at its top gives it (`pcc.documents.publication_year`)


# How far down a paper its front matter's headings (title, subtitle, repeats) may sit.
FRONT_MATTER_UNITS = 6


@dataclass
class Sentence:
    paper_id: str
    paper_title: str
    index: int  # position in the paper, from 0
    text: str
    heading_path: list[str] = field(default_factory=list)  # enclosing headings, outermost first
    is_heading: bool = False
    quality: str = "ok"  # one of QUALITIES
    paragraph: int = 0  # paragraph of the paper it belongs to, from 1 (0: the title and front matter)

    @property
    def id(self) -> str:
        return f"{self.paper_id}/{self.index:04d}"

    @property
    def is_title(self) -> bool:
        """The paper's title: a heading of its front matter (paragraph 0: the title, a subtitle, their repeats),
        or among its first three sentences, repeated, prefixed (浅谈…) in a heading, or with the first sentence
        run into it."""
        title, text = without_space(self.paper_title), without_space(self.text)
        if not title or self.index < 0:
            return False
        if self.is_heading and self.paragraph == 0 and self.index < FRONT_MATTER_UNITS:
            return True
        return self.index <= 2 and (text.startswith(title) or (self.is_heading and title in text))

    def to_json(self) -> dict:
        return {"id": self.id, **asdict(self)}

    @classmethod
    def from_json(cls, row: dict) -> "Sentence":
        return cls(**{k: v for k, v in row.items() if k != "id"})


def without_space(text: str) -> str:
    """Text without whitespace, for comparing extracted text with titles and headings."""
    return re.sub(r"\s+", "", text)


def normalise_text(text: str) -> str:
    """Text without whitespace or punctuation, so that a hand-cleaned or re-laid copy matches the extracted text."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if not c.isspace() and not unicodedata.category(c).startswith("P"))


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """Yield the objects of a JSON Lines file; a malformed line is a UserError naming file and line."""
    return (row for _, row in read_numbered_jsonl(path))


def read_input_text(path: Path) -> str:
    """The text of a file that is not a paper (JSON Lines, settings, a gold or sentence list): UTF-8, or, as
    editors save hand-made files in GBK as readily, whatever `decode_text` reads. Plain UTF-8, the files this
    project writes, skips `decode_text`'s character-by-character check."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return decode_text(data, str(path))


def read_numbered_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """`read_jsonl` with each object's line number, for messages about its fields (blank lines are skipped)."""
    path = Path(path)
    if not path.exists() or path.is_dir():  # not is_file(): /dev/stdin and pipes are read too
        raise UserError(f"{path}: no such file")
    for number, line in enumerate(read_input_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}:{number}: not valid JSON ({error.msg}); fix or remove the line") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        yield number, row


def read_settings(path: str | Path, missing_hint: str) -> dict:
    """A YAML settings file as a mapping; a missing file or bad YAML is a UserError naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such settings file; {missing_hint}")
    try:
        settings = yaml.safe_load(read_input_text(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise UserError(f"{where}: not valid YAML ({getattr(error, 'problem', None) or error}); fix that line") from None
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise UserError(f"{path}: expected settings as `name: value` lines, got {type(settings).__name__}")
    return settings


@contextmanager
def atomic_open(path: str | Path) -> Iterator[TextIO]:
    """A text file to write (UTF-8) that replaces `path` only once it is complete: readers see the old file or
    the whole new one, never half of it, even when the writer is interrupted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write rows atomically (`atomic_open`); returns how many."""
    count = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_json(path: str | Path, data: dict) -> None:
    """Write one JSON document, indented for people to read, atomically (`atomic_open`)."""
    with atomic_open(path) as handle:
        handle.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def read_sentences(path: str | Path) -> list[Sentence]:
    return [Sentence.from_json(row) for row in read_jsonl(path)]


def label_named(value) -> str | None:
    """The label a person wrote: an English name in any case, or the guidelines' Chinese one (其它 for 其他 too);
    None for anything else."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    if name in LABELS:
        return name
    return {chinese: label for label, chinese in CHINESE_LABELS.items()}.get(name.replace("其它", "其他"))
