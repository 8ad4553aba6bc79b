"""`pcc predict`: classify every sentence of papers (or of a one-sentence-per-line file) with the ONNX bundle.

Reads paper files, folders and glob patterns, and tables of papers (`--table`, `serving.tables`). Writes one row
per sentence (JSONL, CSV or Parquet, chosen by the suffix of --out), a Markdown summary per paper and
`<out stem>.errors.jsonl` for files and rows that could not be read, saved as it goes so that `--resume`
continues an interrupted run (`serving.outputs`).

Two engines classify: `local` (this module, the default: one process) and `ray` (`serving.ray_predict`, a Ray
Data pipeline over the cores and GPUs of one machine or a cluster, imported only when asked for). Both give the
same rows, through the same row format and `Outputs`.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from tqdm import tqdm

from pcc.bundle import PRECISIONS, default_bundle_dir
from pcc.cleaning import sentence_garbled
from pcc.documents import load_document
from pcc.errors import UserError
from pcc.model_input import given_heading_path, model_inputs
from pcc.paths import PREDICTIONS
from pcc.records import Paper, Sentence, read_input_text, read_numbered_jsonl
from pcc.readers import find_papers
from serving.classifier import DEVICES, AnalyzedSentence, PaperAnalysis, SentenceClassifier
from serving.outputs import (CHECKPOINT_SECONDS, OUTPUT_FORMATS, Outputs, describe_run, parquet_folder,
                             reason_of)
from serving.tables import DONE, REPEAT, RowChecker, check_table, prepare_row, read_table

ENGINES = ("local", "ray")
RAY_OPTIONS = ("address", "workers", "gpus_per_worker", "cpus_per_worker")
SENTENCE_CHUNK = 512  # sentences per progress step in --sentences mode


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
    parser.add_argument("--precision", choices=PRECISIONS,
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
        # Not is_file(): /dev/stdin, a pipe or a process substitution are read as well.
        if not args.sentences.exists() or args.sentences.is_dir():
            raise UserError(f"--sentences {args.sentences}: no such file")
        listed_paper = Paper(paper_id=args.sentences.stem, title=args.sentences.name, source=str(args.sentences))
        listed = _read_sentence_file(args.sentences, listed_paper)  # a bad file fails before the model loads
        if not listed:
            raise UserError(f"no sentences in {args.sentences} (--sentences); give one sentence per line, or a .jsonl "
                            "file with a 'text' field on each line")
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
        parquet_folder(args.out)  # says what is wrong, before any work
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.engine == "local":
        given = [name for name in RAY_OPTIONS if getattr(args, name, None) is not None]
        if given:
            raise UserError(f"--{given[0].replace('_', '-')} is an option of the Ray engine; add --engine ray")
    elif args.sentences:
        raise UserError("--sentences runs on the local engine (a list of sentences is one job); drop --engine ray")


class LocalEngine:
    """Classifies in this process: file by file, then table row by table row (`--engine local`)."""

    def __init__(self, args: argparse.Namespace, outputs: Outputs):
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
    # A listed sentence is given alone: no paper title of its own, so none reads as a title.
    return [(Sentence(paper.paper_id, "", index, text, headings, quality="garbled" if sentence_garbled(text) else "ok"),
             lead) for index, text, headings, lead in items]


def _classify_lines(classifier: SentenceClassifier, paper: Paper, listed: list[tuple[Sentence, str | None]]
                    ) -> PaperAnalysis:
    """Each listed sentence in the context it was given (never its neighbours in the list: they are unrelated)."""
    sentences = [s for s, _ in listed]
    inputs = model_inputs(classifier.card, sentences, papers=(), given_leads={s.id: lead for s, lead in listed})
    pairs = list(zip(sentences, inputs))
    analyzed = []
    with tqdm(total=len(listed), desc="sentences", unit="sentence", disable=None) as progress:
        for start in range(0, len(listed), SENTENCE_CHUNK):
            chunk = pairs[start:start + SENTENCE_CHUNK]
            predictions = iter(classifier.classify_inputs([item for s, item in chunk if s.quality == "ok"],
                                                          given_alone=True))
            analyzed += [AnalyzedSentence(s, next(predictions) if s.quality == "ok" else None, item.lead)
                         for s, item in chunk]
            progress.update(len(chunk))
    return PaperAnalysis(paper, analyzed)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


