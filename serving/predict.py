"""`pcc predict`: classify every sentence of papers (or of a one-sentence-per-line file) with the ONNX bundle.

Writes one row per sentence (JSONL or CSV, chosen by the suffix of --out), a Markdown summary per paper
and `<out stem>.errors.jsonl` for files that could not be read. All three are rewritten atomically after
each file once a few seconds have passed, and at the end or on interruption: an interrupted run leaves
valid files holding only complete files' papers, and `--resume` continues from them.
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
from pcc.model_input import HEADING_SEPARATOR, HEADINGS_AND_LEAD, given_heading_path, heading_context
from pcc.paths import PREDICTIONS
from pcc.records import (LABELS, Paper, Sentence, atomic_open, read_input_text, read_jsonl, read_numbered_jsonl,
                         write_jsonl)
from pcc.readers import find_papers
from serving.classifier import (DEFAULT_PRECISION, DEVICES, MODEL_FILES, AnalyzedSentence, PaperAnalysis,
                                SentenceClassifier, default_bundle_dir)

OUTPUT_FORMATS = (".jsonl", ".csv")
CHECKPOINT_SECONDS = 3.0
SENTENCE_CHUNK = 512  # sentences per progress step in --sentences mode
CSV_FIELDS = ["paper", "title", "source", "index", "text", "heading_path", "is_heading", "quality", "label",
              "confidence", *(f"score_{label}" for label in LABELS)]
SUMMARY_SECTIONS = {"problem": "Problems (问题)", "cause": "Causes (原因)", "countermeasure": "Countermeasures (对策)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="paper files, folders (searched recursively) or glob patterns (.txt, .pdf, .docx)")
    parser.add_argument("--sentences", type=Path, metavar="FILE",
                        help="classify sentences instead of papers: each line of FILE alone, or in a .jsonl FILE "
                             "each object's `text` with its optional `heading_path` and `lead`")
    parser.add_argument("--out", type=Path, default=PREDICTIONS,
                        help="per-sentence output, .jsonl or .csv (default: %(default)s)")
    parser.add_argument("--summary", type=Path, help="per-paper Markdown summary (default: <out stem>.md next to --out)")
    parser.add_argument("--bundle", type=Path, help="ONNX bundle from `pcc export` (default: $PCC_BUNDLE or models/latest/onnx)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: %(default)s")
    parser.add_argument("--precision", choices=tuple(MODEL_FILES), default=DEFAULT_PRECISION,
                        help="default: %(default)s. int8 is several times faster on a CPU; in a bundle exported with "
                             "calibrated int8 (bundle.json int8_scheme), its labels, like fp32's, never depend on "
                             "how sentences are batched")
    parser.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    parser.add_argument("--resume", action="store_true", help="keep the rows already in --out and skip their files")


def run(args: argparse.Namespace) -> int:
    if bool(args.paths) == bool(args.sentences):
        raise UserError("give paper PATHs or --sentences FILE (one of the two)")
    if args.out.suffix.lower() not in OUTPUT_FORMATS:
        raise UserError(f"--out {args.out}: use a .jsonl or .csv file name")
    outputs = Outputs(args.out, args.summary or args.out.with_suffix(".md"))
    if args.resume:
        outputs.load_previous()
    if args.sentences:
        jobs, missing = [args.sentences], []
        if not args.sentences.is_file():
            raise UserError(f"--sentences {args.sentences}: no such file")
        listed_paper = Paper(paper_id=args.sentences.stem, title=args.sentences.name, source=str(args.sentences))
        listed = _read_sentence_file(args.sentences, listed_paper)  # a bad file fails before the model loads
    else:
        jobs, missing = find_papers(args.paths)
        if not jobs and not missing:
            raise UserError(f"no .txt, .pdf or .docx files found in {' '.join(args.paths)}")
    outputs.errors = [{"path": path, "reason": "no such file or folder"} for path in missing]
    todo = [path for path in jobs if str(path) not in outputs.done_sources]
    if len(todo) < len(jobs):
        print(f"resuming: {len(jobs) - len(todo)} file(s) already in {args.out} are skipped", file=sys.stderr)
    classifier = SentenceClassifier(args.bundle or default_bundle_dir(), args.device, args.precision, args.batch_size)
    outputs.classified_by = (f"`{classifier.bundle_dir}` ({classifier.precision}"
                             + ("" if classifier.batch_independent else ", labels may depend on batching")
                             + f", {classifier.providers[0]}; model "
                             f"`{Path(classifier.bundle.get('source_model', 'unknown')).name}`)")

    started, processed = time.monotonic(), 0
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.sentences:
            if todo:
                outputs.add([_classify_lines(classifier, listed_paper, listed)])
                processed += 1
        else:
            for path in tqdm(todo, desc="papers", unit="file", disable=None):
                try:
                    papers = load_document(path)
                except Exception as error:  # one unreadable file must not stop the batch
                    outputs.errors.append({"path": str(path), "reason": _reason(error)})
                    continue
                outputs.add(classifier.classify_papers(papers))
                processed += 1
                outputs.save_every(CHECKPOINT_SECONDS)
    finally:
        outputs.save()
        signal.signal(signal.SIGTERM, previous_sigterm)

    elapsed = time.monotonic() - started
    print(f"{processed} file(s), {outputs.sentence_count} sentences in {args.out} ({elapsed:.1f} s); "
          f"summary {outputs.summary_path}" + (f"; {len(outputs.errors)} error(s) in {outputs.errors_path}"
                                               if outputs.errors else ""))
    nothing_done = processed == 0 and len(todo) == len(jobs)
    return 1 if nothing_done else 0


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
    analyzed = []
    with tqdm(total=len(listed), desc="sentences", unit="sentence", disable=None) as progress:
        for start in range(0, len(listed), SENTENCE_CHUNK):
            readable = [(s, lead) for s, lead in listed[start:start + SENTENCE_CHUNK] if s.quality == "ok"]
            predictions = iter(classifier.classify(
                [s.text for s, _ in readable],
                [heading_context(s.heading_path, lead if reads_leads else None) for s, lead in readable]))
            analyzed += [AnalyzedSentence(s, next(predictions) if s.quality == "ok" else None)
                         for s, _ in listed[start:start + SENTENCE_CHUNK]]
            progress.update(len(listed[start:start + SENTENCE_CHUNK]))
    return PaperAnalysis(paper, analyzed)


def _reason(error: Exception) -> str:
    return str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Outputs:
    """The rows, summary and errors of a run, saved atomically together."""

    def __init__(self, out: Path, summary_path: Path):
        self.out = out
        self.summary_path = summary_path
        self.errors_path = out.with_name(f"{out.stem}.errors.jsonl")
        self.rows: list[dict] = []
        self.errors: list[dict] = []
        self.classified_by = ""  # the bundle, precision and device of this run, for the summary
        self._saved_at = time.monotonic()

    @property
    def done_sources(self) -> set[str]:
        return {row["source"] for row in self.rows}

    @property
    def sentence_count(self) -> int:
        return len(self.rows)

    def load_previous(self) -> None:
        if self.out.is_file():
            self.rows = read_rows(self.out)

    def add(self, analyses: list[PaperAnalysis]) -> None:
        """Add the papers of one file; all or none of them, even when interrupted."""
        rows = [_row(a.paper, item.sentence, item.prediction) for a in analyses for item in a.sentences]
        self.rows.extend(rows)  # one step: a KeyboardInterrupt cannot land halfway through

    def save_every(self, seconds: float) -> None:
        if time.monotonic() - self._saved_at >= seconds:
            self.save()

    def save(self) -> None:
        write_rows(self.out, self.rows)
        with atomic_open(self.summary_path) as handle:
            handle.write(summary_markdown(self.rows, self.out, self.classified_by))
        if self.errors:
            write_jsonl(self.errors_path, self.errors)
        else:
            self.errors_path.unlink(missing_ok=True)  # a stale list from an earlier run would mislead
        self._saved_at = time.monotonic()


def _row(paper: Paper, sentence: Sentence, prediction) -> dict:
    return {
        "paper": paper.paper_id,
        "title": paper.title,
        "source": paper.source,
        "index": sentence.index,
        "text": sentence.text,
        "heading_path": sentence.heading_path,
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
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            scores = row["scores"] or {}
            writer.writerow({
                **{k: v for k, v in row.items() if k in CSV_FIELDS},
                "heading_path": HEADING_SEPARATOR.join(row["heading_path"]),
                "label": row["label"] or "",
                "confidence": "" if row["confidence"] is None else row["confidence"],
                **{f"score_{label}": scores.get(label, "") for label in LABELS},
            })


def read_rows(path: Path) -> list[dict]:
    """The rows of an earlier output (the format its suffix names), as `write_rows` wrote them."""
    if path.suffix.lower() == ".jsonl":
        rows = list(read_jsonl(path))
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [_from_csv(row) for row in csv.DictReader(handle)]
    for number, row in enumerate(rows, 1):
        if "source" not in row:
            raise UserError(f"{path}: row {number} has no 'source'; it is not a `pcc predict` output. "
                            "Choose another --out or drop --resume")
    return rows


def _from_csv(row: dict) -> dict:
    classified = bool(row.get("label"))
    return {
        **{k: row.get(k) for k in ("paper", "title", "source", "text", "quality")},
        "index": int(row.get("index") or 0),
        "heading_path": row["heading_path"].split(HEADING_SEPARATOR) if row.get("heading_path") else [],
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

