"""`pcc prepare`: read papers and write clean, segmented sentences.

Writes `papers.jsonl` (one row per paper), `sentences.jsonl` (one row per sentence or heading) and
`prepare_run.json` (inputs, failures, counts, and every input line left out as site chrome or page furniture,
with the reason) into the output folder. A file that cannot be read is reported and skipped; the others still go
through.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from pcc.documents import PreparedPaper, load_document
from pcc.errors import UserError
from pcc.paths import PROCESSED, TRAINING_PAPERS
from pcc.readers import find_papers
from pcc.records import write_json, write_jsonl

RUN_RECORD = "prepare_run.json"  # what this run read and produced, beside its outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", default=[str(path) for path in TRAINING_PAPERS], metavar="PATH",
        help=f"paper files (.txt, .pdf, .docx), folders or glob patterns (default: the training corpus, "
             f"{' and '.join(f'{path}/' for path in TRAINING_PAPERS)})",
    )
    parser.add_argument("--out-dir", default=str(PROCESSED), help=f"output folder (default: {PROCESSED})")


def collect_files(patterns: list[str]) -> list[Path]:
    """The files to prepare; a UserError for an argument that names nothing or when no paper file is found."""
    files, missing = find_papers(patterns)
    if missing:
        raise UserError(f"{missing[0]}: no such file, folder or matching files")
    if not files:
        raise UserError(f"no .txt, .pdf or .docx files found in {', '.join(patterns)}")
    return files


def paper_row(prepared: PreparedPaper) -> dict:
    paper, sentences = prepared.paper, prepared.sentences
    return {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "source": paper.source,
        "ordinal": paper.ordinal,
        "year": paper.year,
        "n_sentences": len(sentences),
        "n_headings": sum(s.is_heading for s in sentences),
        "n_garbled": sum(s.quality == "garbled" for s in sentences),
        "n_left_out": len(prepared.left_out),
    }


def read_papers(files: list[Path], command: str = "pcc prepare") -> tuple[list[PreparedPaper], list[str]]:
    """The papers of the files, and one message per file that could not be read (reported on stderr as it
    happens, the others still read); a UserError when none could be."""
    prepared: list[PreparedPaper] = []
    failures: list[str] = []
    for path in tqdm(files, desc="prepare", unit="file", disable=None):
        try:
            prepared.extend(load_document(path))
        except UserError as error:
            failures.append(str(error))
            tqdm.write(f"{command}: skipped: {error}", file=sys.stderr)
    if not prepared:
        raise UserError(f"none of the {len(files)} file(s) could be processed; see the messages above")
    return prepared, failures


def run(args: argparse.Namespace) -> int:
    files = collect_files(args.paths)
    prepared, failures = read_papers(files)
    out_dir = Path(args.out_dir)
    write_jsonl(out_dir / "papers.jsonl", (paper_row(p) for p in prepared))
    n_sentences = write_jsonl(out_dir / "sentences.jsonl", (s.to_json() for p in prepared for s in p.sentences))
    n_headings = sum(s.is_heading for p in prepared for s in p.sentences)
    n_garbled = sum(s.quality == "garbled" for p in prepared for s in p.sentences)
    left_out = [{"source": p.paper.source, "paper_id": p.paper.paper_id, "line": item.line, "reason": item.reason,
                 "text": item.text} for p in prepared for item in p.left_out]
    run = {
        "command": "pcc prepare",
        "inputs": [str(path) for path in files],
        "out_dir": str(out_dir),
        "failed": failures,
        "papers": len(prepared),
        "sentences": n_sentences,
        "headings": n_headings,
        "garbled": n_garbled,
        # Lines of the inputs that belong to no paper (site chrome, download notices, page furniture), with why.
        "left_out": left_out,
    }
    write_json(out_dir / RUN_RECORD, run)
    print(
        f"{len(prepared)} papers from {len(files) - len(failures)} of {len(files)} files: "
        f"{n_sentences} sentences ({n_headings} headings), garbled {n_garbled / max(n_sentences, 1):.1%}; "
        f"{len(left_out)} lines left out as site chrome or page furniture (listed in {RUN_RECORD})"
    )
    print(f"wrote {out_dir / 'papers.jsonl'}, {out_dir / 'sentences.jsonl'} and {out_dir / RUN_RECORD}")
    return 0
