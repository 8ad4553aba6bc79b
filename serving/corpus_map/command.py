"""`pcc map`: the corpus map of `pcc predict` outputs: themes of problems, causes and countermeasures, how often
and in which papers and years they recur, and which causes and countermeasures go with which problems.

Writes `map.md`, `map.html`, `themes.csv` and `assignments.jsonl` into --out (`serving.corpus_map.render`).
The sentences are embedded by the bundle's `embedder/` (`pcc export` writes it) with ONNX Runtime, in this
process or, with `--engine ray`, by a pool of Ray actors as `pcc predict --engine ray` classifies.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pcc.bundle import MODEL_FILES, default_bundle_dir
from pcc.errors import UserError
from serving.classifier import DEVICES
from serving.corpus_map.build import build_map
from serving.corpus_map.embedder import SentenceEmbedder, embedder_dir
from serving.corpus_map.inputs import read_predictions
from serving.corpus_map.render import write_outputs
from serving.corpus_map.themes import ThemeSettings

DEFAULT_OUT = Path("reports/corpus_map")
DEFAULTS = ThemeSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", nargs="+", type=Path, metavar="PREDICTIONS",
                        help="outputs of `pcc predict` (.jsonl, .csv, or a .parquet folder), from either engine")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for map.md, map.html, themes.csv and assignments.jsonl (default: %(default)s)")
    parser.add_argument("--summary", type=Path, help="the Markdown report (default: <out>/map.md)")
    parser.add_argument("--bundle", type=Path,
                        help="bundle whose embedder/ embeds the sentences (default: $PCC_BUNDLE or models/latest/onnx)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: %(default)s")
    parser.add_argument("--precision", choices=tuple(MODEL_FILES),
                        help="default: int8 where the embedder's int8 model passed its checks at export, else fp32")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="sentences per ONNX Runtime call (default: %(default)s)")
    themes = parser.add_argument_group("themes", "how sentences are grouped (see docs/corpus-map.md)")
    themes.add_argument("--threshold", type=float, default=DEFAULTS.threshold,
                        help="cosine distance under which groups of sentences merge (default: %(default)s; smaller "
                             "gives more, tighter themes)")
    themes.add_argument("--paper-weight", type=float, default=DEFAULTS.paper_weight,
                        help="share of its paper's mean vector taken from each sentence before clustering, so that "
                             "themes recur across papers rather than follow each paper's angle (default: %(default)s)")
    themes.add_argument("--min-size", type=int, default=DEFAULTS.min_size,
                        help="sentences of the smallest theme (default: %(default)s)")
    themes.add_argument("--min-papers", type=int, default=DEFAULTS.min_papers,
                        help="papers a theme must be found in (default: %(default)s)")
    engine = parser.add_argument_group("engine", "where the sentences are embedded (as `pcc predict --engine`)")
    engine.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this process (default); ray: a pool of Ray actors (pip install -e '.[ray]')")
    engine.add_argument("--address", metavar="ADDR", help="ray: join the Ray cluster at ADDR (host:port, or auto)")
    engine.add_argument("--workers", type=int, metavar="N", help="ray: embedding workers (default: 2)")
    engine.add_argument("--cpus-per-worker", type=float, metavar="C",
                        help="ray: CPUs per worker, also its ONNX Runtime threads (default: 1)")
    engine.add_argument("--gpus-per-worker", type=float, metavar="G", help="ray: GPUs per worker (default: 0)")


def settings_of(args: argparse.Namespace) -> ThemeSettings:
    if not 0 < args.threshold < 2:
        raise UserError(f"--threshold {args.threshold}: give a cosine distance between 0 and 2 (e.g. 0.9)")
    if not 0 <= args.paper_weight <= 1:
        raise UserError(f"--paper-weight {args.paper_weight}: give a share between 0 and 1 (e.g. 0.5)")
    if args.min_size < 2 or args.min_papers < 1:
        raise UserError("--min-size must be at least 2 and --min-papers at least 1")
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    return ThemeSettings(threshold=args.threshold, paper_weight=args.paper_weight, min_size=args.min_size,
                         min_papers=args.min_papers)


def run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out}: a file is in the way; give a folder for the map's four files")
    started = time.monotonic()
    data = read_predictions(args.predictions)  # a bad file fails before any model loads
    folder = embedder_dir(args.bundle or default_bundle_dir())
    if args.engine == "ray":
        from serving.corpus_map.ray_embed import RayEmbedder  # Ray is imported only here

        embedder = RayEmbedder(folder, args)
    else:
        given = [name for name in ("address", "workers", "cpus_per_worker", "gpus_per_worker")
                 if getattr(args, name) is not None]
        if given:
            raise UserError(f"--{given[0].replace('_', '-')} is an option of the Ray engine; add --engine ray")
        embedder = SentenceEmbedder(folder, args.precision, args.device, args.batch_size)
    try:
        corpus_map = build_map(data, embedder.embed, embedder.describe(), settings,
                               stage=lambda name: print(f"pcc map: {name} ...", file=sys.stderr, flush=True))
    finally:
        if args.engine == "ray":
            embedder.close()
    paths = write_outputs(corpus_map, args.out, args.summary)
    themes = sum(theme.number is not None for theme in corpus_map.themes)
    print(f"{len(data.sentences):,} sentences of {len(data.papers)} papers mapped into {themes} themes with "
          f"{len(corpus_map.links)} links in {time.monotonic() - started:.1f} s ("
          + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in corpus_map.seconds.items())
          + f"): {', '.join(map(str, paths))}", file=sys.stderr)
    return 0
