"""`pcc predict`: classify every sentence of papers (or of a one-sentence-per-line file) with the ONNX bundle.

Reads paper files, folders and glob patterns, and tables of papers (`--table`, `serving.tables`). Writes one row
per sentence (JSONL, CSV or Parquet, chosen by the suffix of --out), a Markdown summary per paper and
`<out stem>.errors.jsonl` for files and rows that could not be read. All three are saved atomically after each
file once a few seconds have passed, and at the end or on interruption: an interrupted run leaves valid files
holding only complete files' papers, and `--resume` continues from them.

Two engines classify: `local` (this module, the default: one process) and `ray` (`serving.ray_predict`, a Ray
Data pipeline over the cores and GPUs of one machine or a cluster, imported only when asked for). Both give the
same rows, through the same row format and `Outputs`.
"""
from __future__ import annotations

import argparse
import csv
import signal
import sys
import time
from pathlib import Path

from tqdm import tqdm

from pcc.cleaning import sentence_garbled
from pcc.documents import load_document
from pcc.errors import UserError
from pcc.model_input import HEADING_SEPARATOR, HEADINGS_AND_LEAD, given_heading_path, heading_context, lead_as_read
from pcc.paths import PREDICTIONS
from pcc.records import (LABELS, Paper, Sentence, atomic_open, read_input_text, read_jsonl, read_numbered_jsonl,
                         write_jsonl)
from pcc.readers import find_papers
from serving.classifier import (DEVICES, MODEL_FILES, AnalyzedSentence, PaperAnalysis,
                                SentenceClassifier, batch_independent, default_bundle_dir)
from serving.tables import DONE, REPEAT, RowChecker, check_table, prepare_row, read_table

OUTPUT_FORMATS = (".jsonl", ".csv", ".parquet")
ENGINES = ("local", "ray")
RAY_OPTIONS = ("address", "workers", "gpus_per_worker", "cpus_per_worker")
CHECKPOINT_SECONDS = 3.0
SENTENCE_CHUNK = 512  # sentences per progress step in --sentences mode
CSV_FIELDS = ["paper", "title", "source", "year", "index", "text", "heading_path", "lead", "is_heading", "quality",
              "label", "confidence", *(f"score_{label}" for label in LABELS)]
SUMMARY_SECTIONS = {"problem": "Problems (问题)", "cause": "Causes (原因)", "countermeasure": "Countermeasures (对策)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="paper files, folders (searched recursively) or glob patterns (.txt, .pdf, .docx)")
    parser.add_argument("--table", type=Path, action="append", default=[], metavar="FILE",
                        help="a table of papers, one per row: .parquet (a file or a folder of them) or .jsonl with "
                             "the columns paper_id, text and optional title and year; may be repeated")
    parser.add_argument("--sentences", type=Path, metavar="FILE",
                        help="classify sentences instead of papers: each line of FILE alone, or in a .jsonl FILE "
                             "each object's `text` with its optional `heading_path` and `lead`")
    parser.add_argument("--out", type=Path, default=PREDICTIONS,
                        help="per-sentence output: .jsonl, .csv, or .parquet (a folder of part files, written as "
                             "results come, for big runs) (default: %(default)s)")
    parser.add_argument("--summary", type=Path, help="per-paper Markdown summary (default: <out stem>.md next to --out)")
    parser.add_argument("--bundle", type=Path, help="ONNX bundle from `pcc export` (default: $PCC_BUNDLE or models/latest/onnx)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: %(default)s")
    parser.add_argument("--precision", choices=tuple(MODEL_FILES),
                        help="default: int8 where the bundle's int8 model is calibrated (its labels, like fp32's, never "
                             "depend on how sentences are batched) and passed the export checks, else fp32")
    parser.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows already in --out and skip their files and table papers")
    engine = parser.add_argument_group("engine", "where the work runs (see docs/export-and-batch.md, Scaling out)")
    engine.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: this process (default); ray: a Ray Data pipeline (pip install -e '.[ray]')")
    engine.add_argument("--address", metavar="ADDR",
                        help="ray: join the Ray cluster at ADDR (host:port of its head, or auto); without it Ray "
                             "starts on this machine and stops at the end")
    engine.add_argument("--workers", type=int, metavar="N", help="ray: classifying workers, each loads the model "
                                                                 "once (default: 2)")
    engine.add_argument("--gpus-per-worker", type=float, metavar="G",
                        help="ray: GPUs per worker (default: 0); with G > 0 workers run on CUDA")
    engine.add_argument("--cpus-per-worker", type=float, metavar="C",
                        help="ray: CPUs per worker, also its ONNX Runtime threads (default: 1)")


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    outputs = Outputs(args.out, args.summary or args.out.with_suffix(".md"))
    if args.resume:
        outputs.load_previous()
    tables: list[Path] = []
    if args.sentences:
        jobs, missing = [args.sentences], []
        if not args.sentences.is_file():
            raise UserError(f"--sentences {args.sentences}: no such file")
        listed_paper = Paper(paper_id=args.sentences.stem, title=args.sentences.name, source=str(args.sentences))
        listed = _read_sentence_file(args.sentences, listed_paper)  # a bad file fails before the model loads
    else:
        jobs, missing = find_papers(args.paths)
        if args.paths and not jobs and not missing:
            raise UserError(f"no .txt, .pdf or .docx files found in {' '.join(args.paths)}")
    outputs.errors = [{"path": path, "reason": "no such file or folder"} for path in missing]
    for table in args.table:  # a bad table fails before the model loads
        if check_table(table):
            tables.append(table)
        else:
            outputs.errors.append({"path": str(table), "reason": "the table holds no rows"})
    todo = [path for path in jobs if str(path) not in outputs.done_sources]
    if len(todo) < len(jobs):
        print(f"resuming: {len(jobs) - len(todo)} file(s) already in {args.out} are skipped", file=sys.stderr)

    if args.engine == "ray":
        from serving.ray_predict import RayEngine  # Ray is imported only here

        engine = RayEngine(args, outputs)  # checks the bundle and the cluster before anything is written
    else:
        engine = LocalEngine(args, outputs)
    started = time.monotonic()
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.sentences:
            processed, skipped = (engine.run_listed(listed_paper, listed) if todo else 0), 0
        else:
            processed, skipped = engine.run(todo, tables)
    finally:
        try:
            outputs.save()
        finally:
            engine.close()
            signal.signal(signal.SIGTERM, previous_sigterm)

    if skipped:
        print(f"resuming: {skipped} table paper(s) already in {args.out} were skipped", file=sys.stderr)
    for error in outputs.errors:
        reason = error["reason"]
        print(f"pcc predict: skipped: {reason if reason.startswith(error['path']) else error['path'] + ': ' + reason}",
              file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"{processed} file(s) and table paper(s), {outputs.sentence_count} sentences in {args.out} "
          f"({elapsed:.1f} s); summary {outputs.summary_path}"
          + (f"; {len(outputs.errors)} error(s) in {outputs.errors_path}" if outputs.errors else ""))
    nothing_done = processed == 0 and skipped == 0 and len(todo) == len(jobs)
    if nothing_done and todo:
        print(f"pcc predict: no file could be read; {args.out} was left as it was", file=sys.stderr)
    return 1 if nothing_done else 0


def _check_arguments(args: argparse.Namespace) -> None:
    if bool(args.paths or args.table) == bool(args.sentences):
        raise UserError("give paper PATHs and/or --table FILEs, or --sentences FILE")
    if args.out.suffix.lower() not in OUTPUT_FORMATS:
        raise UserError(f"--out {args.out}: use a .jsonl, .csv or .parquet name")
    if args.out.suffix.lower() == ".parquet" and args.out.is_file():
        _parquet_folder(args.out)  # says what is wrong, before any work
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.engine == "local":
        given = [name for name in RAY_OPTIONS if getattr(args, name, None) is not None]
        if given:
            raise UserError(f"--{given[0].replace('_', '-')} is an option of the Ray engine; add --engine ray")
    elif args.sentences:
        raise UserError("--sentences runs on the local engine (a list of sentences is one job); drop --engine ray")


def describe_run(bundle_dir: Path, precision: str, provider: str, bundle: dict) -> str:
    """What the summary says classified the run: the bundle, precision, execution provider and source model."""
    return (f"`{bundle_dir}` ({precision}"
            + ("" if batch_independent(precision, bundle) else ", labels may depend on batching")
            + f", {provider}; model `{Path(bundle.get('source_model', 'unknown')).name}`)")


class LocalEngine:
    """Classifies in this process: file by file, then table row by table row (`--engine local`)."""

    def __init__(self, args: argparse.Namespace, outputs: "Outputs"):
        self.classifier = SentenceClassifier(args.bundle or default_bundle_dir(), args.device, args.precision,
                                             args.batch_size)
        self.outputs = outputs
        outputs.classified_by = describe_run(self.classifier.bundle_dir, self.classifier.precision,
                                             self.classifier.providers[0], self.classifier.bundle)

    def run(self, files: list[Path], tables: list[Path]) -> tuple[int, int]:
        """(files and table papers classified, table papers skipped as already in the output)."""
        classifier, outputs = self.classifier, self.outputs
        processed = skipped = 0
        for path in tqdm(files, desc="papers", unit="file", disable=None):
            try:
                papers = load_document(path)
            except Exception as error:  # one unreadable file must not stop the batch
                outputs.errors.append({"path": str(path), "reason": reason_of(error)})
                continue
            outputs.add(classifier.classify_papers(papers))
            processed += 1
            outputs.save_every(CHECKPOINT_SECONDS)
        for table in tables:
            checker = RowChecker(str(table), done=outputs.done_papers(str(table)))
            for row in tqdm(read_table(table), desc=table.name, unit="paper", disable=None):
                verdict = checker.verdict(row)
                if verdict in (DONE, REPEAT):
                    skipped += verdict == DONE
                    continue
                try:
                    if verdict:
                        raise UserError(verdict)
                    prepared = prepare_row(row, str(table))
                except Exception as error:  # one bad row must not stop the batch
                    outputs.errors.append({"path": str(table), "reason": reason_of(error)})
                    continue
                outputs.add(classifier.classify_papers([prepared]))
                processed += 1
                outputs.save_every(CHECKPOINT_SECONDS)
        return processed, skipped

    def run_listed(self, paper: Paper, listed: list[tuple[Sentence, str | None]]) -> int:
        self.outputs.add([_classify_lines(self.classifier, paper, listed)])
        return 1

    def close(self) -> None:
        pass


def _read_sentence_file(path: Path, paper: Paper) -> list[tuple[Sentence, str | None]]:
    """Listed sentences, each with its lead. A `.jsonl` file: one object per line, `text`, an optional
    `heading_path` (a list, or one heading) and an optional `lead` (the sentence announcing its list, or the one
    before it); any other file: one sentence per line, read alone. A sentence's index is its line number - 1, so
    a row points back at its line."""
    items = []
    if path.suffix.lower() == ".jsonl":
        for number, row in read_numbered_jsonl(path):
            text, headings, lead = row.get("text"), given_heading_path(row.get("heading_path")), row.get("lead")
            if not isinstance(text, str) or not text.strip():
                raise UserError(f"{path}:{number}: field 'text' must be a non-empty string")
            if headings is None:
                raise UserError(f"{path}:{number}: field 'heading_path' must be a list of headings "
                                "(outermost first), one heading, or absent")
            if lead is not None and not isinstance(lead, str):
                raise UserError(f"{path}:{number}: field 'lead' must be a string (the sentence before) or absent")
            items.append((number - 1, text.strip(), headings, lead))
    else:
        lines = read_input_text(path).splitlines()
        items = [(index, line.strip(), [], None) for index, line in enumerate(lines) if line.strip()]
    return [(Sentence(paper.paper_id, paper.title, index, text, headings,
                      quality="garbled" if sentence_garbled(text) else "ok"), lead)
            for index, text, headings, lead in items]


def _classify_lines(classifier: SentenceClassifier, paper: Paper, listed: list[tuple[Sentence, str | None]]
                    ) -> PaperAnalysis:
    """Each listed sentence in the context it was given (never its neighbours in the list: they are unrelated)."""
    reads_leads = classifier.context_scheme == HEADINGS_AND_LEAD
    listed = [(s, lead_as_read(lead) if reads_leads else None) for s, lead in listed]
    analyzed = []
    with tqdm(total=len(listed), desc="sentences", unit="sentence", disable=None) as progress:
        for start in range(0, len(listed), SENTENCE_CHUNK):
            chunk = listed[start:start + SENTENCE_CHUNK]
            readable = [(s, lead) for s, lead in chunk if s.quality == "ok"]
            predictions = iter(classifier.classify(
                [s.text for s, _ in readable], [heading_context(s.heading_path, lead) for s, lead in readable]))
            analyzed += [AnalyzedSentence(s, next(predictions) if s.quality == "ok" else None, lead)
                         for s, lead in chunk]
            progress.update(len(chunk))
    return PaperAnalysis(paper, analyzed)


def reason_of(error: Exception) -> str:
    """What the errors file says about a file or row that failed: a UserError's message, else the exception."""
    return str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


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
            _parquet_folder(self.out, clear=True)
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
        _parquet_folder(path, clear=True)
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


def read_rows(path: Path) -> list[dict]:
    """The rows of an earlier output (the format its suffix names), as `write_rows` wrote them."""
    if path.suffix.lower() == ".jsonl":
        rows = list(read_jsonl(path))
    elif path.suffix.lower() == ".parquet":
        import pyarrow.parquet

        rows = [row for part in _parquet_folder(path) for row in pyarrow.parquet.read_table(part).to_pylist()]
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = [row_from_csv(row) for row in csv.DictReader(handle)]
    for number, row in enumerate(rows, 1):
        if "source" not in row:
            raise UserError(f"{path}: row {number} has no 'source'; it is not a `pcc predict` output. "
                            "Choose another --out or drop --resume")
    return rows


PART_PATTERN = "part-*.parquet"


def _parquet_folder(folder: Path, clear: bool = False) -> list[Path]:
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

