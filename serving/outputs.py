"""The output side of `pcc predict`, shared by its engines: the row of each sentence, the files they go to (JSONL,
CSV or a folder of Parquet parts, by the suffix of --out), the checkpoint that `--resume` continues from, the
Markdown summary and the errors file.

`Outputs` holds a run's rows, summary and errors and saves the three atomically together, after each file once a
few seconds have passed (`CHECKPOINT_SECONDS`) and at the end or on interruption: an interrupted run leaves
valid files holding only complete files' papers.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pcc.errors import UserError
from pcc.model_input import HEADING_SEPARATOR
from pcc.records import LABELS, Paper, atomic_open, read_jsonl, write_jsonl

if TYPE_CHECKING:
    from pcc.bundle import Bundle
    from serving.classifier import AnalyzedSentence, PaperAnalysis

OUTPUT_FORMATS = (".jsonl", ".csv", ".parquet")
CHECKPOINT_SECONDS = 3.0
CSV_FIELDS = ["paper", "title", "source", "year", "index", "text", "heading_path", "lead", "is_heading", "quality",
              "label", "confidence", *(f"score_{label}" for label in LABELS)]
SUMMARY_SECTIONS = {"problem": "Problems (问题)", "cause": "Causes (原因)", "countermeasure": "Countermeasures (对策)"}


def describe_run(bundle_dir: Path, precision: str, provider: str, bundle: Bundle) -> str:
    """What the summary says classified the run: the bundle, precision, execution provider and source model."""
    batching = "" if bundle.batch_independent(precision) else ", labels may depend on batching"
    return f"`{bundle_dir}` ({precision}{batching}, {provider}; model `{bundle.source_run}`)"


def reason_of(error: Exception) -> str:
    """What the errors file says about a file or row that failed: a UserError's message, else the exception."""
    return str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"


class Outputs:
    """The rows, summary and errors of a run, saved atomically together.

    JSONL and CSV outputs are rewritten whole at each save. A Parquet output is a folder of part files: each save
    adds one part with the rows that came since the last, so a big run never rewrites what it has written.
    """

    def __init__(self, out: Path, summary_path: Path):
        self.out = out
        self.summary_path = summary_path
        self.errors_path = out.with_name(f"{out.stem}.errors.jsonl")
        self.rows: list[dict] = []
        self.errors: list[dict] = []
        self.classified_by = ""  # the bundle, precision and device of this run, for the summary
        self._saved_at = time.monotonic()
        self._save_seconds = 0.0  # how long the last save took
        self._parquet = out.suffix.lower() == ".parquet"
        self._in_parts: int | None = None  # rows already in Parquet parts; None until the folder is set up
        self._added = False  # whether this run classified anything: until then, earlier outputs stay as they are

    @property
    def done_sources(self) -> set[str]:
        return {row["source"] for row in self.rows}

    def done_papers(self, source: str) -> set[str]:
        """The papers of `source` (a table) already in the output."""
        return {row["paper"] for row in self.rows if row["source"] == source}

    @property
    def sentence_count(self) -> int:
        return len(self.rows)

    def load_previous(self) -> None:
        if self.out.exists():
            self.rows = read_rows(self.out)
            self._in_parts = len(self.rows) if self._parquet else None

    def add(self, analyses: list[PaperAnalysis]) -> None:
        """Add the papers of one file; all or none of them, even when interrupted."""
        self.add_rows(analysis_rows(analyses))

    def add_rows(self, rows: list[dict]) -> None:
        """Add finished rows (`_row`), all or none."""
        self.rows.extend(rows)  # one step: a KeyboardInterrupt cannot land halfway through
        self._added = True

    def save_every(self, seconds: float) -> None:
        # A whole-file rewrite takes longer as the output grows: waiting ten times as long as the last save took
        # keeps saving a small share of a big run.
        if time.monotonic() - self._saved_at >= max(seconds, 10 * self._save_seconds):
            self.save()

    def save(self) -> None:
        """Write the rows and summary (once this run has classified something: a run whose every file failed
        leaves the outputs of an earlier run alone) and the errors."""
        started = time.monotonic()
        if self._added:
            if self._parquet:
                self._add_part()
            else:
                write_rows(self.out, self.rows)
            with atomic_open(self.summary_path) as handle:
                handle.write(summary_markdown(self.rows, self.out, self.classified_by))
        if self.errors:
            write_jsonl(self.errors_path, self.errors)
        else:
            self.errors_path.unlink(missing_ok=True)  # a stale list from an earlier run would mislead
        self._saved_at = time.monotonic()
        self._save_seconds = self._saved_at - started

    def _add_part(self) -> None:
        if self._in_parts is None:  # the first save of a fresh run: parts of an earlier run go
            parquet_folder(self.out, clear=True)
            self._in_parts = 0
        new = self.rows[self._in_parts:]
        if new:
            _write_part(self.out, new)
            self._in_parts = len(self.rows)


def analysis_rows(analyses: list[PaperAnalysis]) -> list[dict]:
    """The output rows of classified papers, one per sentence in paper order (both engines write these)."""
    return [_row(a.paper, item) for a in analyses for item in a.sentences]


def _row(paper: Paper, item: AnalyzedSentence) -> dict:
    sentence, prediction = item.sentence, item.prediction
    return {
        "paper": paper.paper_id,
        "title": paper.title,
        "source": paper.source,
        "year": paper.year,
        "index": sentence.index,
        "text": sentence.text,
        "heading_path": sentence.heading_path,
        "lead": item.lead,
        "is_heading": sentence.is_heading,
        "quality": sentence.quality,
        "label": prediction.label if prediction else None,
        "confidence": round(prediction.confidence, 6) if prediction else None,
        "scores": {label: round(p, 6) for label, p in prediction.scores.items()} if prediction else None,
    }


def write_rows(path: Path, rows: list[dict]) -> None:
    if path.suffix.lower() == ".jsonl":
        write_jsonl(path, rows)
        return
    if path.suffix.lower() == ".parquet":
        parquet_folder(path, clear=True)
        _write_part(path, rows)
        return
    with atomic_open(path) as handle:
        handle.write("\ufeff")  # with a byte-order mark, spreadsheet programs open the Chinese text as UTF-8
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            scores = row["scores"] or {}
            writer.writerow({
                **{k: v for k, v in row.items() if k in CSV_FIELDS},
                "heading_path": HEADING_SEPARATOR.join(row["heading_path"]),
                "year": "" if row.get("year") is None else row["year"],
                "label": row["label"] or "",
                "confidence": "" if row["confidence"] is None else row["confidence"],
                **{f"score_{label}": scores.get(label, "") for label in LABELS},
            })


def read_rows(path: Path, advice: str = "choose another --out or drop --resume") -> list[dict]:
    """The rows of an earlier output (the format its suffix names), as `write_rows` wrote them; a file that is not
    one is a UserError ending with `advice`, which names the options of the command that reads it."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = list(read_jsonl(path))
    elif suffix == ".parquet":
        import pyarrow.parquet

        rows = [row for part in parquet_folder(path) for row in pyarrow.parquet.read_table(part).to_pylist()]
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    for number, row in enumerate(rows, 1):
        if "source" not in row:
            raise UserError(f"{path}: row {number} has no 'source'; it is not a `pcc predict` output: {advice}")
    return rows if suffix in (".jsonl", ".parquet") else [row_from_csv(row) for row in rows]


PART_PATTERN = "part-*.parquet"


def parquet_folder(folder: Path, clear: bool = False) -> list[Path]:
    """The part files of a Parquet output folder, in order (made when missing; emptied with `clear`)."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder}: a Parquet output is a folder of part files, and this is a file; "
                        "choose another name")
    folder.mkdir(parents=True, exist_ok=True)
    parts = sorted(folder.glob(PART_PATTERN))
    if clear:
        for part in parts:
            part.unlink()
        return []
    return parts


def _write_part(folder: Path, rows: list[dict]) -> Path:
    """The rows as the next part file of the folder, written atomically (an interrupted write leaves no part)."""
    import pyarrow as pa
    import pyarrow.parquet

    parts = sorted(folder.glob(PART_PATTERN))
    number = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
    schema = pa.schema([("paper", pa.string()), ("title", pa.string()), ("source", pa.string()),
                        ("year", pa.int64()), ("index", pa.int64()), ("text", pa.string()),
                        ("heading_path", pa.list_(pa.string())), ("lead", pa.string()),
                        ("is_heading", pa.bool_()), ("quality", pa.string()), ("label", pa.string()),
                        ("confidence", pa.float64()), ("scores", pa.struct([(label, pa.float64()) for label in LABELS]))])
    part = folder / f"part-{number:05d}.parquet"
    partial = folder / f".{part.name}.partial"
    pyarrow.parquet.write_table(pa.Table.from_pylist(rows, schema=schema), partial)
    partial.replace(part)
    return part


def row_from_csv(row: dict) -> dict:
    classified = bool(row.get("label"))
    return {
        **{k: row.get(k) for k in ("paper", "title", "source", "text", "quality")},
        "year": int(row["year"]) if row.get("year") else None,
        "index": int(row.get("index") or 0),
        "heading_path": row["heading_path"].split(HEADING_SEPARATOR) if row.get("heading_path") else [],
        "lead": row.get("lead") or None,
        "is_heading": row.get("is_heading") == "True",
        "label": row["label"] if classified else None,
        "confidence": float(row["confidence"]) if classified else None,
        "scores": {label: float(row[f"score_{label}"]) for label in LABELS} if classified else None,
    }


def summary_markdown(rows: list[dict], out: Path, classified_by: str) -> str:
    papers: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        papers.setdefault((row["source"], row["paper"]), []).append(row)
    garbled = sum(row["label"] is None for row in rows)
    lines = ["# Problems, causes and countermeasures", "",
             f"{len(papers)} papers, {len(rows)} sentences ({garbled} garbled, not classified); "
             f"every sentence is in `{out}`. This run used {classified_by}.", ""]
    for (source, paper_id), paper_rows in papers.items():
        counts = {label: sum(r["label"] == label for r in paper_rows) for label in LABELS}
        lines += [f"## {paper_rows[0]['title']}", "",
                  f"`{paper_id}` from `{source}`: {len(paper_rows)} sentences, "
                  + ", ".join(f"{n} {label}" for label, n in counts.items())
                  + f", {sum(r['label'] is None for r in paper_rows)} garbled", ""]
        for label, heading in SUMMARY_SECTIONS.items():
            found = [r for r in paper_rows if r["label"] == label]
            lines += [f"**{heading}** ({len(found)})" + ("" if found else ": none found"), ""]
            lines += [f"{n}. {r['text']} *({r['confidence']:.2f})*" for n, r in enumerate(found, 1)]
            lines += [""] if found else []
    return "\n".join(lines)

