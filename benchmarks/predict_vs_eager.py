"""Issue 19's own check, end to end: default `pcc predict --sentences` on ~3,000 bare sentences against a PyTorch
eager loop (transformers AutoModelForSequenceClassification) over the fine-tuned model at batch 32.

The sentences are every prepared sentence of the given sentence files (the training corpus, the wild papers, …),
bare, in file order, cycled to --count lines. `pcc predict` runs as a user runs it, in a fresh process, so its time
includes starting Python, loading the bundle, reading and writing; the eager loop is timed after the model is
loaded, tokenisation included, two ways: in file order (batches padded to their longest sentence, as a plain loop
does) and sorted by length (as `pcc predict` batches: the like-for-like engine comparison, benchmarks/throughput.py).
The run also checks that `pcc predict --batch-size 1` gives the labels of batch 32, and how often the default
path's labels agree with the eager model's.

    python benchmarks/predict_vs_eager.py [--model models/latest] [--count 3000]

Prints the figures and writes reports/predict_vs_eager.md. Run it on a quiet machine: it takes about 3 minutes.
"""
from __future__ import annotations

import argparse
import itertools
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.throughput import cpu_count, pytorch_classifier  # noqa: E402
from pcc.bundle import BUNDLE_FILE, choose_precision  # noqa: E402
from pcc.paths import BUNDLE_DIR, LATEST_MODEL, REPORTS, SENTENCES  # noqa: E402
from pcc.records import LABELS, read_jsonl  # noqa: E402

BATCH = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=LATEST_MODEL, help="fine-tuned model directory (with its bundle)")
    parser.add_argument("--sentences", type=Path, nargs="+",
                        default=[SENTENCES, Path("data/processed/wild/sentences.jsonl")],
                        help="prepared sentence files (`pcc prepare`) to take the texts from")
    parser.add_argument("--count", type=int, default=3000, help="sentences to classify")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes of each; the best counts")
    parser.add_argument("--out", type=Path, default=REPORTS / "predict_vs_eager.md")
    args = parser.parse_args()
    missing = [str(path) for path in [args.model / "config.json", args.model / BUNDLE_DIR / BUNDLE_FILE, *args.sentences]
               if not path.is_file()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make run` first (it trains, exports and prepares the wild papers)")
    texts = _texts(args.sentences, args.count)
    with tempfile.TemporaryDirectory() as work:
        lines = Path(work) / "sentences.txt"
        lines.write_text("\n".join(texts) + "\n", encoding="utf-8")
        pcc_seconds, labels, precision = _time_pcc(lines, Path(work), args.model / BUNDLE_DIR, BATCH, args.repeats)
        _, labels_at_1, _ = _time_pcc(lines, Path(work), args.model / BUNDLE_DIR, 1, 1)
    eager = {order: _time_eager(args.model, texts, order == "sorted by length", args.repeats)
             for order in ("file order", "sorted by length")}
    eager_labels = eager["file order"][1]
    rows = [(f"`pcc predict --sentences` (default: {precision}), end to end", pcc_seconds)]
    rows += [(f"PyTorch eager fp32, batch {BATCH}, {order}, after loading", seconds) for order, (seconds, _) in eager.items()]
    agree = sum(a == b for a, b in zip(labels, eager_labels)) / len(texts)
    moved = sum(a != b for a, b in zip(labels, labels_at_1))
    report = [
        "# `pcc predict` against a PyTorch eager loop (issue 19's check)", "",
        f"{len(texts)} bare sentences (the prepared sentences of {', '.join(f'`{p}`' for p in args.sentences)}, in file "
        f"order, cycled); model `{args.model.resolve().name}`, batch {BATCH}, best of {args.repeats}. "
        f"{platform.machine()}, {cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Written by `python benchmarks/predict_vs_eager.py`.", "",
        "| run | seconds | sentences/s | PyTorch file order ÷ this | PyTorch sorted ÷ this |", "|---|---:|---:|---:|---:|",
    ]
    for name, seconds in rows:
        report.append(f"| {name} | {seconds:.1f} | {len(texts) / seconds:.0f} | "
                      f"{eager['file order'][0] / seconds:.2f}× | {eager['sorted by length'][0] / seconds:.2f}× |")
    report += ["", f"- `pcc predict --batch-size 1` against 32: {moved} of {len(texts)} labels differ.",
               f"- The default path's labels agree with the PyTorch model's on {agree:.1%} of the sentences."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report) + "\n", encoding="utf-8")
    print("\n".join(report))


def _texts(files: list[Path], count: int) -> list[str]:
    unique = list(dict.fromkeys(row["text"] for path in files for row in read_jsonl(path) if row.get("text")))
    return list(itertools.islice(itertools.cycle(unique), count))


def _time_pcc(lines: Path, work: Path, bundle: Path, batch_size: int, repeats: int) -> tuple[float, list[str], str]:
    best, labels = float("inf"), []
    out = work / f"predictions-{batch_size}.jsonl"
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pcc.cli", "predict", "--sentences", str(lines), "--bundle", str(bundle),
                        "--batch-size", str(batch_size), "--out", str(out)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - started)
        labels = [row["label"] for row in read_jsonl(out)]
    return best, labels, choose_precision(bundle, None)


def _time_eager(model_dir: Path, texts: list[str], sort_by_length: bool, repeats: int) -> tuple[float, list[str]]:
    classify = pytorch_classifier(model_dir, BATCH, sort_by_length)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        probabilities = classify(texts)
        best = min(best, time.perf_counter() - started)
    return best, [LABELS[max(range(len(LABELS)), key=row.__getitem__)] for row in probabilities]


if __name__ == "__main__":
    main()
