"""Tables of papers for `pcc predict --table`: corpora already in a data lake, one paper per row.

A table is a Parquet file (or a folder of Parquet files) or a JSON Lines file with the columns `paper_id`
(text or a whole number, unique in the table), `text` (the paper) and, optionally, `title` and `year` (of
publication; without it, a year stated at the top of the text is used). A row's text goes
through `pcc.documents.prepare_text` with its title, as a pasted paper does; its rows in the output have the
table as `source` and `paper_id` as `paper`. Both engines read tables through this module (the Ray engine
reads the rows with Ray Data and prepares each with `prepare_row`), so a row gives the same sentences in both.
"""
from __future__ import annotations

import hashlib
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pcc.documents import PreparedPaper, prepare_text
from pcc.errors import UserError
from pcc.records import read_numbered_jsonl

TABLE_SUFFIXES = (".parquet", ".jsonl")
REQUIRED_COLUMNS = ("paper_id", "text")
OPTIONAL_COLUMNS = ("title", "year")
DONE, REPEAT = "done", "repeat"
_NEEDS = "a table of papers needs the columns paper_id and text (title and year are optional)"


def table_format(path: Path) -> str:
    """"parquet" or "jsonl" by the suffix (a folder: of Parquet files); a UserError for anything else."""
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".parquet":
        return "parquet"
    if suffix == ".jsonl":
        return "jsonl"
    raise UserError(f"--table {path}: use a .parquet file, a folder of .parquet files or a .jsonl file")


def check_table(path: Path) -> bool:
    """Fail early on what would fail every row: a missing file, another format, a missing column. False when the
    table holds no rows (nothing to do, which is not an error of the run)."""
    return table_columns(path) is not None


def table_columns(path: Path) -> list[str] | None:
    """The columns a paper uses that the table has (`check_table`'s checks); None when it holds no rows."""
    if not path.exists():
        raise UserError(f"--table {path}: no such file or folder")
    kind = table_format(path)
    if kind == "parquet":
        import pyarrow.dataset

        try:
            dataset = pyarrow.dataset.dataset(str(path), format="parquet")
            columns, rows = dataset.schema.names, dataset.count_rows()
        except Exception as error:  # pyarrow raises ArrowInvalid, OSError, … on files that are not Parquet
            raise UserError(f"--table {path}: not a readable Parquet table ({error}); check the file") from None
    else:
        first = next(iter(read_numbered_jsonl(path)), None)
        columns, rows = (list(first[1]) if first else []), int(first is not None)
    if not rows:
        return None
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        where = "its first row has" if kind == "jsonl" else "it has"
        raise UserError(f"--table {path}: no column {', '.join(repr(m) for m in missing)} ({where} "
                        f"{', '.join(map(repr, columns)) or 'none'}); {_NEEDS}")
    return [name for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if name in columns]


def read_table(path: Path) -> Iterator[dict]:
    """The rows of a table, in order, with only the columns a paper uses (the local engine's reader)."""
    wanted = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    if table_format(path) == "jsonl":
        for _, row in read_numbered_jsonl(path):
            yield {name: row.get(name) for name in wanted}
        return
    import pyarrow.dataset

    dataset = pyarrow.dataset.dataset(str(path), format="parquet")
    columns = [name for name in wanted if name in dataset.schema.names]
    for batch in dataset.to_batches(columns=columns, batch_size=256):
        for row in batch.to_pylist():
            yield {name: row.get(name) for name in wanted}


def paper_key(row: dict) -> str | None:
    """The row's `paper_id` as text, or None when it is missing or not text or a whole number."""
    value = row.get("paper_id")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def text_digest(row: dict) -> str:
    """Tells a repeated row (the same paper again) from another paper under the same id."""
    text = row.get("text") if isinstance(row.get("text"), str) else ""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def prepare_row(row: dict, source: str) -> PreparedPaper:
    """One row → its paper, cleaned and segmented, with the table as its source; a UserError naming the row's
    paper_id and field when the row cannot be a paper."""
    paper_id = paper_key(row)
    if paper_id is None:
        raise UserError(f"{source}: a row has no usable paper_id ({row.get('paper_id')!r}); give every row a "
                        "non-empty text or whole-number paper_id")
    text, title = row.get("text"), row.get("title")
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{source}: paper_id {paper_id!r}: field 'text' must be non-empty text")
    if title is not None and not isinstance(title, str):
        raise UserError(f"{source}: paper_id {paper_id!r}: field 'title' must be text or absent")
    year = row.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, numbers.Integral)
                             or not 1000 <= year <= 2999):
        raise UserError(f"{source}: paper_id {paper_id!r}: field 'year' must be a year (a whole number, e.g. 2019) "
                        "or absent")
    prepared = prepare_text(text, title=(title or "").strip() or None, paper_id=paper_id)
    if not prepared.sentences:
        raise UserError(f"{source}: paper_id {paper_id!r}: no sentences found after cleaning")
    prepared.paper.source = source
    if year is not None:  # the table's year over one read from the text
        prepared.paper.year = int(year)
    return prepared


@dataclass
class RowChecker:
    """Which rows of a table to classify: each paper_id once (a row repeating an earlier one word for word is
    dropped; another text under a used id is an error), and none already in the output (`--resume`)."""
    source: str
    done: set[str] = field(default_factory=set)  # paper_ids of this table already in the output
    seen: dict[str, str] = field(default_factory=dict)  # paper_id -> digest of its text

    def verdict(self, row: dict) -> str | None:
        """None: classify the row; DONE: already in the output; REPEAT: a repeat of an earlier row; otherwise the
        error to report."""
        key = paper_key(row)
        if key is None:
            return None  # prepare_row names the problem
        if key in self.done:
            return DONE
        return self.first_time(key, text_digest(row))

    def first_time(self, key: str, digest: str) -> str | None:
        """None the first time a paper_id comes; REPEAT or an error after that."""
        if key in self.seen:
            return REPEAT if self.seen[key] == digest else (
                f"{self.source}: paper_id {key!r} appears more than once with different text; only the first "
                "row is used, give the others their own paper_id")
        self.seen[key] = digest
        return None
