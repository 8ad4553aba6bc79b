"""What reading a sentence with its lead and again without it (`lead_free_weight`, docs/model.md#input) costs
`pcc predict`: the shipped bundle against the same bundle told to read each sentence once, on the same papers.

Two measures, the variants taking turns for --rounds rounds (the machine is shared), each keeping its fastest:
- **engine**: `SentenceClassifier.classify_papers` over the prepared papers in this process (model loaded, papers
  read beforehand): the time per sentence that the second reading adds;
- **end to end**: `pcc predict PAPERS --bundle B` in a fresh process, process start to the last row written.
--baseline adds a third bundle read once (e.g. one exported with an earlier int8 scheme) to compare against.

    python benchmarks/reading_twice.py [--bundle DIR] [--baseline DIR] [--rounds 3] [PAPERS ...]

Prints the figures and writes reports/reading_twice.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.bundle import BUNDLE_ENV, BUNDLE_FILE, read_bundle  # noqa: E402
from pcc.paths import LATEST_BUNDLE, RAW_PAPERS, REPORTS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("papers", nargs="*", default=[str(RAW_PAPERS), "data/extra"],
                        help="paper files or folders (default: data/raw data/extra)")
    parser.add_argument("--bundle", type=Path, default=Path(os.environ.get(BUNDLE_ENV) or LATEST_BUNDLE))
    parser.add_argument("--baseline", type=Path, help="another bundle, read once, to compare against")
    parser.add_argument("--baseline-name", default="baseline", help="what the --baseline bundle is, for the report")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPORTS / "reading_twice.md")
    args = parser.parse_args()
    shipped = read_bundle(args.bundle)
    if not shipped.card.lead_free_weight:
        sys.exit(f"{args.bundle}: this bundle reads each sentence once (lead_free_weight 0); nothing to compare")
    with tempfile.TemporaryDirectory(prefix="pcc-reading-twice-") as scratch:
        variants = {f"read twice (lead_free_weight {shipped.card.lead_free_weight})": args.bundle,
                    "read once (lead_free_weight 0)": read_once(args.bundle, Path(scratch) / "once")}
        if args.baseline:
            variants[f"{args.baseline_name}, read once"] = read_once(args.baseline, Path(scratch) / "baseline")
        prepared = prepared_papers(args.papers)
        sentences, twice = count_sentences(args.bundle, prepared)
        engine, end_to_end = time_variants(variants, prepared, args.papers, args.rounds, Path(scratch))
    report = write_report(args, variants, sentences, twice, engine, end_to_end)
    print(report)


def read_once(bundle: Path, folder: Path) -> Path:
    """A copy of `bundle` (its files linked) whose bundle.json says to read each sentence once."""
    folder.mkdir(parents=True)
    for item in bundle.iterdir():
        if item.name != BUNDLE_FILE:
            (folder / item.name).symlink_to(item.resolve())
    values = json.loads((bundle / BUNDLE_FILE).read_text("utf-8"))
    (folder / BUNDLE_FILE).write_text(json.dumps({**values, "lead_free_weight": 0.0}), "utf-8")
    return folder


def prepared_papers(papers: list[str]):
    from pcc.prepare import collect_files, read_papers

    return read_papers(collect_files(papers), "reading_twice")[0]


def count_sentences(bundle: Path, prepared: list) -> tuple[int, int]:
    """The readable sentences of the prepared papers, and how many of them are read twice."""
    from pcc.model_input import model_inputs

    card = read_bundle(bundle).card
    every = [s for paper in prepared for s in paper.sentences]
    readable = [item for s, item in zip(every, model_inputs(card, every)) if s.quality == "ok"]
    return len(readable), sum(1 for item in readable if item.read_twice)


def time_variants(variants: dict[str, Path], prepared: list, papers: list[str], rounds: int, scratch: Path):
    """Seconds per round of each variant: classifying the `prepared` papers in this process, and `pcc predict`
    reading `papers` in a fresh one."""
    from serving.classifier import SentenceClassifier

    classifiers = {name: SentenceClassifier(bundle, device="cpu") for name, bundle in variants.items()}
    engine = {name: [] for name in variants}
    end_to_end = {name: [] for name in variants}
    for round_number in range(rounds):
        order = list(variants) if round_number % 2 == 0 else list(variants)[::-1]
        for name in order:
            started = time.perf_counter()
            classifiers[name].classify_papers(prepared)
            engine[name].append(time.perf_counter() - started)
            out = scratch / f"predictions-{round_number}.jsonl"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pcc.cli", "predict", *papers, "--bundle", str(variants[name]),
                            "--out", str(out)], cwd=REPO, check=True, capture_output=True)
            end_to_end[name].append(time.perf_counter() - started)
            print(f"round {round_number + 1}: {name}: engine {engine[name][-1]:.2f} s, end to end "
                  f"{end_to_end[name][-1]:.2f} s", flush=True)
    return engine, end_to_end


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())


def write_report(args, variants, sentences: int, twice: int, engine: dict, end_to_end: dict) -> str:
    once = "read once (lead_free_weight 0)"
    lines = ["# Reading a sentence twice: what it costs `pcc predict`", "",
             f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/reading_twice.py` on "
             f"{cpu_name()}, {os.cpu_count()} CPUs (load "
             f"{os.getloadavg()[0]:.1f}), bundle `{args.bundle}`, papers {' '.join(args.papers)}: {sentences} readable "
             f"sentences, {twice} of them with a lead (read twice). Fastest of {args.rounds} rounds, the variants "
             "taking turns.", "",
             "| variant | engine, s | ms per sentence | × read once | end to end, s | × read once |",
             "|---|---|---|---|---|---|"]
    for name in variants:
        best, best_end = min(engine[name]), min(end_to_end[name])
        lines.append(f"| {name} | {best:.2f} | {1000 * best / sentences:.2f} | {best / min(engine[once]):.2f} | "
                     f"{best_end:.2f} | {best_end / min(end_to_end[once]):.2f} |")
    report = "\n".join(lines) + "\n"
    args.out.write_text(report, "utf-8")
    return report


if __name__ == "__main__":
    main()
