"""What the map reads: the rows `pcc predict` writes (JSONL, CSV or a Parquet folder, from either engine), with
each paper's year where its text or its table gave one.

Only sentences classified as a problem, cause or countermeasure are mapped; the others count in the summary.
A file that is not a `pcc predict` output is refused with the file, line (or row) and field that show it.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from pcc.errors import UserError
from pcc.records import LABELS, read_input_text, read_numbered_jsonl
from serving.outputs import PART_PATTERN, row_from_csv

CATEGORIES = ("problem", "cause", "countermeasure")
FORMATS = (".jsonl", ".csv", ".parquet")
REQUIRED = ("paper", "source", "index", "text", "label")
_WHAT = ("it is not the output of `pcc predict` (one row per sentence with paper, source, index, text and label); "
         "run `pcc predict` on the papers and map the file it writes")


@dataclass
class Paper:
    key: str  # how the report names it: the paper id, with its source where two sources share an id
    paper: str
    title: str
    source: str
    year: int | None = None


@dataclass
class MapSentence:
    paper: int  # position in `MapInput.papers`
    index: int  # position in its paper, as `pcc prepare` numbers it
    text: str
    category: str

    def id(self, papers: list[Paper]) -> str:
        """The sentence id `pcc prepare` gives (`<paper id>/<index>`)."""
        return f"{papers[self.paper].paper}/{self.index:04d}"


@dataclass
class MapInput:
    papers: list[Paper]
    sentences: list[MapSentence]  # the problem, cause and countermeasure sentences, in input order
    rows: int  # every row read
    unclassified: int  # garbled rows, which carry no label
    files: list[str] = field(default_factory=list)


def read_predictions(paths: list[Path]) -> MapInput:
    """The classified sentences of `pcc predict` outputs."""
    if not paths:
        raise UserError("give one or more files written by `pcc predict` (.jsonl, .csv or a .parquet folder)")
    papers: dict[tuple[str, str], int] = {}
    listed: list[Paper] = []
    sentences: list[MapSentence] = []
    rows = unclassified = 0
    for path in paths:
        count = 0
        for where, row in _rows(Path(path)):
            count += 1
            label = _checked(row, where)
            key = (str(row["source"]), str(row["paper"]))
            if key not in papers:
                papers[key] = len(listed)
                year = row.get("year")
                listed.append(Paper(key[1], key[1], str(row.get("title") or key[1]), key[0],
                                    year if isinstance(year, int) and not isinstance(year, bool) else None))
            if label is None:
                unclassified += 1
            elif label in CATEGORIES:
                sentences.append(MapSentence(papers[key], int(row["index"]), row["text"], label))
        if count == 0:
            raise UserError(f"{path}: no rows; run `pcc predict` on the papers first (an empty output means no "
                            "paper could be read: see its .errors.jsonl)")
        rows += count
    _unique_keys(listed)
    if not sentences:
        raise UserError(f"{', '.join(map(str, paths))}: {rows} sentences, none classified as a problem, cause or "
                        "countermeasure; there is nothing to map")
    return MapInput(listed, sentences, rows, unclassified, [str(p) for p in paths])


def _rows(path: Path):
    """(where, row) of a predictions file: `file:line` for JSONL, `file row N` for CSV and Parquet."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{path}: use a .jsonl, .csv or .parquet file written by `pcc predict`")
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if suffix == ".jsonl":
        for number, row in read_numbered_jsonl(path):
            yield f"{path}:{number}", row
        return
    if suffix == ".csv":
        lines = read_input_text(path).lstrip("\ufeff").splitlines()
        reader = csv.DictReader(lines)
        missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
        if lines and missing:
            raise UserError(f"{path}: no column(s) {', '.join(missing)}; {_WHAT}")
        for number, row in enumerate(reader, 1):
            try:
                yield f"{path} row {number}", row_from_csv(row)
            except (KeyError, ValueError) as error:
                raise UserError(f"{path} row {number}: unreadable value ({error}); {_WHAT}") from None
        return
    import pyarrow.parquet

    number = 0
    for part in sorted(path.glob(PART_PATTERN)) if path.is_dir() else [path]:
        try:
            part_rows = pyarrow.parquet.read_table(part).to_pylist()
        except Exception as error:  # pyarrow raises several types on files that are not Parquet
            raise UserError(f"{part}: not a readable Parquet file ({error}); {_WHAT}") from None
        for row in part_rows:
            number += 1
            yield f"{path} row {number}", row


def _checked(row: dict, where: str) -> str | None:
    """The row's label (None for a garbled sentence), after checking the fields the map reads."""
    missing = [name for name in REQUIRED if name not in row]
    if missing:
        raise UserError(f"{where}: no field(s) {', '.join(missing)}; {_WHAT}")
    if not isinstance(row["text"], str):
        raise UserError(f"{where}: field 'text' must be a string; {_WHAT}")
    if not isinstance(row["index"], int) or isinstance(row["index"], bool):
        raise UserError(f"{where}: field 'index' must be a whole number; {_WHAT}")
    label = row["label"]
    if label is not None and label not in LABELS:
        raise UserError(f"{where}: label {label!r} is not one of {', '.join(LABELS)} (or null for a garbled "
                        f"sentence); {_WHAT}")
    return label


def _unique_keys(papers: list[Paper]) -> None:
    """A paper id used by two sources gets its source in its key."""
    seen: dict[str, int] = {}
    for paper in papers:
        seen[paper.paper] = seen.get(paper.paper, 0) + 1
    for paper in papers:
        if seen[paper.paper] > 1:
            paper.key = f"{paper.source}:{paper.paper}"


def from_analyses(analyses: list) -> MapInput:
    """The map's input from papers classified in this process (`SentenceClassifier.classify_papers`), as the
    service maps uploaded papers; a UserError when none of their sentences is a problem, cause or countermeasure."""
    papers = [Paper(a.paper.paper_id, a.paper.paper_id, a.paper.title, a.paper.source, a.paper.year)
              for a in analyses]
    _unique_keys(papers)
    sentences = [MapSentence(position, item.sentence.index, item.sentence.text, item.prediction.label)
                 for position, analysis in enumerate(analyses) for item in analysis.sentences
                 if item.prediction is not None and item.prediction.label in CATEGORIES]
    rows = sum(len(a.sentences) for a in analyses)
    if not sentences:
        raise UserError(f"{len(analyses)} papers, {rows} sentences, none classified as a problem, cause or "
                        "countermeasure; there is nothing to map")
    return MapInput(papers, sentences, rows, sum(item.prediction is None for a in analyses for item in a.sentences),
                    sorted({a.paper.source for a in analyses}))
