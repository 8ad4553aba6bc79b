"""Sentences per second of every engine, at batch 1 and 32: PyTorch eager fp32, ONNX fp32, ONNX dynamic int8,
the bundle's int8 (calibrated: batch-independent), and a student's bundle (fp32 and int8) when one is given.

Every configuration runs in a fresh subprocess, so its peak resident memory (RSS) is its own. All
classify the same gold sentences the same way (sorted by length, padded per batch) and are timed
after one warm-up pass; the best of --repeats passes counts. The machine is shared and its speed drifts
over minutes, so the configurations take turns for --rounds rounds and each keeps its best round. The dynamic
int8 model is made from the bundle's fp32 graph as `pcc export` made it before issue 19. Each engine's
probabilities at batch 32 are compared with its own at batch 1 (the batch dependence column).

    python benchmarks/throughput.py [--model models/latest] [--bundle <model>/onnx] [--student-bundle DIR]

Prints a table and writes reports/throughput.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.bundle import read_bundle  # noqa: E402
from pcc.paths import BUNDLE_DIR, DEV_GOLD, LATEST_MODEL, REPORTS  # noqa: E402

# engine -> (the bundle option it reads, precision); pytorch-fp32 reads --model.
ENGINES = {
    "pytorch-fp32": (None, "fp32"),
    "onnx-fp32": ("bundle", "fp32"),
    "onnx-int8-dynamic": ("dynamic_bundle", "int8"),
    "onnx-int8": ("bundle", "int8"),
    "student-onnx-fp32": ("student_bundle", "fp32"),
    "student-onnx-int8": ("student_bundle", "int8"),
}
BATCH_SIZES = (1, 32)
# The quantize_dynamic settings `pcc export` used before calibrated int8 (its first attempt).
DYNAMIC_INT8 = {"scheme": "dynamic", "per_channel": True, "keep_first_token_fp32": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=LATEST_MODEL, help="fine-tuned model directory")
    parser.add_argument("--bundle", type=Path, help=f"ONNX bundle (default: <model>/{BUNDLE_DIR})")
    parser.add_argument("--student-bundle", type=Path, help="ONNX bundle of a student (`pcc distill`, `pcc export`)")
    parser.add_argument("--dynamic-bundle", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--gold", type=Path, default=DEV_GOLD, help="sentences to classify")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per process")
    parser.add_argument("--rounds", type=int, default=3, help="turns every configuration takes")
    parser.add_argument("--out", type=Path, default=REPORTS / "throughput.md")
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.bundle = args.bundle or args.model / BUNDLE_DIR
    if args.worker:
        print(json.dumps(measure(args, args.worker[0], int(args.worker[1]))))
        return
    with tempfile.TemporaryDirectory(prefix="pcc-throughput-") as scratch:
        args.dynamic_bundle = dynamic_bundle(args.bundle, Path(scratch) / "dynamic")
        results = run_rounds(args)
    report = markdown(results, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print("\n" + report)


def dynamic_bundle(bundle: Path, out: Path) -> Path:
    """A copy of `bundle` whose int8 model is ONNX Runtime's dynamic quantisation of its fp32 graph."""
    from training.exporters.onnx import _node_scopes, _quantize

    from pcc.bundle import DYNAMIC, MODEL_FILES, TOKENIZER_FILE, write_bundle

    out.mkdir(parents=True)
    fp32 = bundle / MODEL_FILES["fp32"]
    for name in (MODEL_FILES["fp32"], TOKENIZER_FILE):
        (out / name).symlink_to((bundle / name).resolve())
    write_bundle(out, replace(read_bundle(bundle), int8_scheme=DYNAMIC))
    _quantize(fp32, out / MODEL_FILES["int8"], DYNAMIC_INT8, _node_scopes(fp32))
    return out


def run_rounds(args: argparse.Namespace) -> list[dict]:
    engines = [e for e, (source, _) in ENGINES.items() if source is None or getattr(args, source) is not None]
    rounds: dict[tuple[int, str], list[dict]] = {(b, e): [] for b in BATCH_SIZES for e in engines}
    for number in range(1, args.rounds + 1):
        for (batch_size, engine), measured in rounds.items():
            command = [sys.executable, __file__, "--worker", engine, str(batch_size), "--model", str(args.model),
                       "--bundle", str(args.bundle), "--dynamic-bundle", str(args.dynamic_bundle),
                       "--gold", str(args.gold), "--repeats", str(args.repeats)]
            if args.student_bundle:
                command += ["--student-bundle", str(args.student_bundle)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{engine} at batch {batch_size} failed:\n{done.stderr[-3000:]}")
            measured.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {number}/{args.rounds} {engine:>17} batch {batch_size:>2}: "
                  f"{measured[-1]['sentences_per_s']:7.1f} sentences/s", flush=True)
    results = []
    for (batch_size, engine), measured in rounds.items():
        speeds = [m["sentences_per_s"] for m in measured]
        best = max(measured, key=lambda m: m["sentences_per_s"])
        alone = rounds[(1, engine)][0]["probabilities"]
        results.append({**best, "slowest_round": min(speeds),
                        "batch_dependence": max(abs(a - b) for row_a, row_b in zip(alone, best["probabilities"])
                                                for a, b in zip(row_a, row_b))})
    return results


def measure(args: argparse.Namespace, engine: str, batch_size: int) -> dict:
    rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [row["text"] for row in rows]
    started = time.perf_counter()
    source, precision = ENGINES[engine]
    if source is None:
        classify = pytorch_classifier(args.model, batch_size)
    else:
        classify = _onnx(getattr(args, source), precision, batch_size)
    load_seconds = time.perf_counter() - started
    probabilities = classify(texts)  # warm-up
    passes = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        classify(texts)
        passes.append(time.perf_counter() - started)
    from training.metrics import macro_f1

    from pcc.records import LABELS

    return {
        "engine": engine, "batch_size": batch_size, "sentences": len(texts),
        "sentences_per_s": len(texts) / min(passes), "load_s": load_seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "macro_f1": macro_f1([row["label"] for row in rows], [LABELS[max(range(len(p)), key=p.__getitem__)]
                                                             for p in probabilities]),
        "probabilities": probabilities,
    }


def _onnx(bundle: Path, precision: str, batch_size: int):
    from serving.classifier import SentenceClassifier

    classifier = SentenceClassifier(bundle, device="cpu", precision=precision, batch_size=batch_size)
    return lambda texts: [list(p.scores.values()) for p in classifier.classify(texts)]


def pytorch_classifier(model_dir: Path, batch_size: int, sort_by_length: bool = True):
    """A PyTorch eager fp32 loop over the fine-tuned model: texts -> class probabilities (LABELS order), in batches
    padded to their longest text; sorted by token count first (as ONNX Runtime is fed here) or in the given order."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pcc.model_card import read_model_card

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    max_length = read_model_card(model_dir).max_length

    def classify(texts: list[str]) -> list[list[float]]:
        order = list(range(len(texts)))
        if sort_by_length:
            order.sort(key=lambda i: len(tokenizer(texts[i])["input_ids"]))
        probabilities: list[list[float]] = [[] for _ in texts]
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                encoded = tokenizer([texts[i] for i in batch], truncation=True, max_length=max_length,
                                    padding=True, return_tensors="pt")
                for i, row in zip(batch, torch.softmax(model(**encoded).logits, -1).tolist()):
                    probabilities[i] = row
        return probabilities

    return classify


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    baseline = {r["batch_size"]: r["sentences_per_s"] for r in results if r["engine"] == "pytorch-fp32"}
    bundle = read_bundle(args.bundle)
    lines = [
        "# Throughput: PyTorch eager vs ONNX Runtime", "",
        f"{results[0]['sentences']} sentences of `{args.gold}`, bare, sorted by length and padded per batch; best of "
        f"{args.repeats} timed passes after a warm-up, in a fresh process per configuration (peak RSS is its own); "
        f"the configurations took turns for {args.rounds} rounds and each shows its best round (its slowest in "
        "the slowest-round column: the machine is shared). Batch dependence: the largest difference of a "
        "probability from the same engine's at batch 1.",
        f"Model `{bundle.source_model}`, bundle `{args.bundle}`: onnx-int8 is its `{bundle.int8_scheme}` "
        f"int8 ({bundle.checks['int8_options']}); onnx-int8-dynamic is quantize_dynamic of its fp32 graph "
        f"({DYNAMIC_INT8}).",
    ]
    if args.student_bundle:
        student = read_bundle(args.student_bundle)
        lines.append(f"Student `{student.source_model}`, bundle `{args.student_bundle}` "
                     f"(`{student.int8_scheme}` int8).")
    lines += [
        f"Machine: {platform.processor() or platform.machine()}, {cpu_count()} CPUs available, "
        f"Python {platform.python_version()}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.", "",
        "| engine | batch | sentences/s | × PyTorch | peak RSS (MB) | load (s) | macro-F1 | batch dependence "
        "| slowest round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['engine']} | {r['batch_size']} | {r['sentences_per_s']:.1f} | "
                     f"{r['sentences_per_s'] / baseline[r['batch_size']]:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['load_s']:.1f} | {r['macro_f1']:.4f} | {r['batch_dependence']:.1e} | "
                     f"{r['slowest_round']:.1f} |")
    return "\n".join(lines) + "\n"


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM is this program's own; ru_maxrss would also count the
    parent's, which a forked child inherits across exec."""
    try:
        status = Path("/proc/self/status").read_text(encoding="utf-8")
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
