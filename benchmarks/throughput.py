"""`pcc predict`'s default engine against a PyTorch eager loop over the same fine-tuned model, with neither side
handicapped: engine for engine, end to end, and the start-up of `pcc predict` and of the service.

Both sides classify the same sentences the same way: sorted by token count, batches of at most 32 padded to their
longest, the same number of intra-op threads. The PyTorch side is what a careful user writes:
`AutoModelForSequenceClassification` over the model directory, fp32, under `torch.inference_mode()`, the model
loaded once.

- **Engine for engine**: each side runs in its own process, loads once, then classifies the same workload in
  alternation (A, B, B, A, …), so both meet the same load on a shared machine. Tokenisation is included, model
  loading is not. *Cold* is the first pass after loading, *warm* the median of the later ones; the ratio is the
  median of the per-round ratios (back-to-back passes), with its spread. Two workloads: bare sentences, and the
  sentences of whole papers in their context (heading path and lead, as `pcc predict` reads them), which makes
  inputs longer.
- **End to end**: process start to the last row written, for `pcc predict` as a user runs it and for a PyTorch
  script that reads the same input, classifies it and writes JSON Lines. Each runs on an input and on the same
  input twice over; the difference is the steady state (sentences/s), the rest is start-up.
- **Start-up**: `pcc predict` on one short paper, process start to written output, with where the time goes; and
  `pcc serve`'s time from the command to an answer at /readyz.

    python benchmarks/throughput.py [--model models/latest] [--precision int8] [--threads 2] [--repeats 6]

Prints the figures and writes reports/throughput.md and reports/throughput.png. About 15 minutes on two busy
cores; on a busy machine the rates drop, the interleaved ratios far less (the report states the load).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.paths import BUNDLE_DIR, LATEST_MODEL, REPORTS, SENTENCES  # noqa: E402

BATCH = 32
WILD_PAPERS = Path("data/wild")
WILD_SENTENCES = Path("data/processed/wild/sentences.jsonl")
SHORT_PAPER = WILD_PAPERS / "wild01_police_community.txt"
WORKLOADS = ("bare", "papers")
# A workload: the texts and their contexts (segment B of the model input; None for a bare sentence).
Workload = tuple[list[str], list[str | None]]
Classify = Callable[[Sequence[str], Sequence[str | None], int], list[str]]  # texts, contexts, batch -> labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=LATEST_MODEL, help="fine-tuned model directory")
    parser.add_argument("--bundle", type=Path, help=f"ONNX bundle of `pcc predict` (default: <model>/{BUNDLE_DIR})")
    parser.add_argument("--sentences", type=Path, nargs="+", default=[SENTENCES, WILD_SENTENCES],
                        help="prepared sentence files (`pcc prepare`) whose readable sentences are the bare workload")
    parser.add_argument("--papers", nargs="+", default=[str(WILD_PAPERS)],
                        help="paper files or folders: the papers-in-context workload")
    parser.add_argument("--count", type=int, default=512, help="bare sentences per engine-for-engine pass")
    parser.add_argument("--e2e-count", type=int, default=1536, help="bare sentences of the smaller end-to-end run")
    parser.add_argument("--precision", choices=("fp32", "int8"), help="of `pcc predict`'s side (default: its "
                        "own, `pcc.bundle.choose_precision`)")
    parser.add_argument("--threads", type=int, help="intra-op threads of both sides (default: one per physical "
                        "core, as `pcc predict`)")
    parser.add_argument("--repeats", type=int, default=6, help="timed warm passes of each side per workload")
    parser.add_argument("--e2e-repeats", type=int, default=3, help="runs of each end-to-end command")
    parser.add_argument("--startup-repeats", type=int, default=5, help="runs of each start-up measurement")
    parser.add_argument("--short-paper", type=Path, default=SHORT_PAPER, help="the start-up paper")
    parser.add_argument("--out", type=Path, default=REPORTS / "throughput.md")
    parser.add_argument("--worker", choices=("pcc", "eager"), help=argparse.SUPPRESS)
    parser.add_argument("--workloads", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--eager-sentences", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--eager-papers", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--eager-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--startup-steps", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.bundle = args.bundle or args.model / BUNDLE_DIR
    if args.worker:
        workloads = json.loads(args.workloads.read_text(encoding="utf-8"))
        factory = (lambda: onnx_classifier(args.bundle, args.precision, args.threads)) if args.worker == "pcc" else \
            (lambda: eager_classifier(args.model, args.threads))
        serve_worker(factory, workloads)
        return
    if args.eager_sentences or args.eager_papers:
        eager_predict(args.model, args.eager_sentences, args.eager_papers, args.eager_out, args.threads)
        return
    if args.startup_steps:
        print(json.dumps(startup_steps(args.bundle, args.precision, args.short_paper)))
        return
    from pcc.bundle import choose_precision
    from serving.classifier import physical_cores

    args.threads = args.threads or physical_cores()
    args.precision = choose_precision(args.bundle, args.precision)
    missing = [str(p) for p in [args.model / "config.json", args.bundle / "bundle.json", *args.sentences,
                                args.short_paper] if not p.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make run` first (it trains, exports and prepares the wild papers)")
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="pcc-throughput-") as scratch:
        scratch = Path(scratch)
        workloads = build_workloads(args)
        (scratch / "workloads.json").write_text(json.dumps(workloads, ensure_ascii=False), encoding="utf-8")
        engine = compare_engines(scratch / "workloads.json", args)
        load.append(os.getloadavg())
        end_to_end = run_end_to_end(args, workloads, scratch)
        load.append(os.getloadavg())
        startup = measure_startup(args, scratch)
        load.append(os.getloadavg())
    figure = args.out.with_suffix(".png")
    plot(engine, end_to_end, figure)
    report = markdown(args, workloads, engine, end_to_end, startup, load, figure)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print("\n" + report)


# ---- inputs ----------------------------------------------------------------------------------------------------

def build_workloads(args: argparse.Namespace) -> dict[str, Workload]:
    """`bare`: --count readable prepared sentences, spread evenly over the unique ones (so their lengths are the
    corpus's); `papers`: every readable sentence of the --papers files with its context, as `pcc predict` builds it."""
    bare = spread(unique_sentences(args.sentences), args.count)
    return {"bare": (bare, [None] * len(bare)), "papers": paper_inputs(args.papers, args.bundle)}


def unique_sentences(files: Sequence[Path]) -> list[str]:
    """The readable sentences of prepared sentence files, each once, in file order."""
    from pcc.records import read_jsonl

    return list(dict.fromkeys(row["text"] for path in files for row in read_jsonl(path)
                              if row.get("quality") == "ok" and row.get("text")))


def spread(texts: list[str], count: int) -> list[str]:
    """`count` of `texts`, taken evenly over them (cycling when `count` is larger)."""
    return [texts[i * len(texts) // count % len(texts)] if count <= len(texts) else texts[i % len(texts)]
            for i in range(count)]


def paper_inputs(paths: Sequence[str], bundle: Path) -> Workload:
    """The readable sentences of the papers in `paths` and their contexts, as `pcc predict` builds them (a file's
    papers together, with the bundle's model card)."""
    from pcc.bundle import read_bundle
    from pcc.documents import load_document
    from pcc.model_input import model_inputs
    from pcc.readers import find_papers

    card = read_bundle(bundle).card
    texts, contexts = [], []
    for path in find_papers(list(paths))[0]:
        sentences = [s for prepared in load_document(path) for s in prepared.sentences]
        for sentence, item in zip(sentences, model_inputs(card, sentences)):
            if sentence.quality == "ok":
                texts.append(item.text)
                contexts.append(item.context)
    return texts, contexts


# ---- the two engines -------------------------------------------------------------------------------------------

def onnx_classifier(bundle: Path, precision: str, threads: int | None) -> Classify:
    """`pcc predict`'s engine: SentenceClassifier on the CPU."""
    from serving.classifier import SentenceClassifier

    classifier = SentenceClassifier(bundle, device="cpu", precision=precision, threads=threads)

    def classify(texts, contexts, batch_size):
        classifier.batch_size = batch_size
        return [p.label for p in classifier.classify(texts, contexts)]

    return classify


def eager_classifier(model_dir: Path, threads: int | None) -> Classify:
    """PyTorch eager fp32 over the fine-tuned model: sorted by token count, batches padded to their longest."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pcc.model_card import read_model_card

    if threads:
        torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    max_length = read_model_card(model_dir).max_length

    def classify(texts, contexts, batch_size):
        # A sentence without context is encoded alone, as the ONNX side encodes it (no empty segment B).
        encoded: list[dict] = [{} for _ in texts]
        for paired in (True, False):
            rows = [i for i, context in enumerate(contexts) if bool(context) == paired]
            if rows:
                batch = tokenizer([texts[i] for i in rows], [contexts[i] for i in rows] if paired else None,
                                  truncation=True, max_length=max_length)
                for n, i in enumerate(rows):
                    encoded[i] = {key: values[n] for key, values in batch.items()}
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]["input_ids"]))
        predicted: list[str] = [""] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                inputs = tokenizer.pad([encoded[i] for i in batch], return_tensors="pt")
                for i, row in zip(batch, model(**inputs).logits.argmax(-1).tolist()):
                    predicted[i] = labels[row]
        return predicted

    return classify


def serve_worker(factory: Callable[[], Classify], workloads: dict[str, Workload]) -> None:
    """A worker process: load the engine, answer `ready`, then classify a workload per request on stdin
    ({"workload", "batch"}) with {"seconds", "labels"} on stdout."""
    started = time.perf_counter()
    classify = factory()
    answer({"ready": time.perf_counter() - started, "rss_mb": peak_rss_mb()})
    for line in sys.stdin:
        request = json.loads(line)
        texts, contexts = workloads[request["workload"]]
        started = time.perf_counter()
        labels = classify(texts, contexts, request["batch"])
        answer({"seconds": time.perf_counter() - started, "labels": labels, "rss_mb": peak_rss_mb()})


def answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux's VmHWM: its own, not its parent's)."""
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


class Worker:
    """A worker process started with `command`; `run` sends it one request and waits for the answer."""

    def __init__(self, command: list[str]):
        started = time.perf_counter()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
        self.ready = self._read()
        self.start_seconds = time.perf_counter() - started

    def run(self, workload: str, batch: int = BATCH) -> dict:
        self.process.stdin.write(json.dumps({"workload": workload, "batch": batch}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"worker {self.process.args} stopped (exit {self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def compare_engines(workloads_path: Path, args: argparse.Namespace) -> dict:
    """Engine for engine: a cold pass of each side on each workload, then `repeats` rounds in which both classify
    each workload, the order reversed every other round; last, the default's labels at batch 1 (they must equal
    its labels at batch 32). Returns {workload: {side: {cold, passes, labels, load_s, rss_mb}}}."""
    from tqdm import tqdm

    workers = {}
    for side in ("pcc", "eager"):  # one after the other, so that each load is timed alone
        workers[side] = Worker([sys.executable, __file__, "--worker", side, "--threads", str(args.threads),
                                "--precision", args.precision,
                                "--workloads", str(workloads_path), "--model", str(args.model),
                                "--bundle", str(args.bundle)])
    results = {w: {side: {"passes": [], "load_s": worker.start_seconds} for side, worker in workers.items()}
               for w in WORKLOADS}
    try:
        for workload in WORKLOADS:
            for side, worker in workers.items():
                cold = worker.run(workload)
                results[workload][side].update(cold=cold["seconds"], labels=cold["labels"])
        with tqdm(total=args.repeats * len(WORKLOADS) * 2, desc="engine for engine", unit="pass") as progress:
            for round_number in range(args.repeats):
                for workload in WORKLOADS:
                    for side in ("pcc", "eager") if round_number % 2 == 0 else ("eager", "pcc"):
                        done = workers[side].run(workload)
                        results[workload][side]["passes"].append(done["seconds"])
                        results[workload][side]["rss_mb"] = done["rss_mb"]
                        progress.update()
        for workload in WORKLOADS:
            results[workload]["pcc"]["labels_at_1"] = workers["pcc"].run(workload, batch=1)["labels"]
    finally:
        for worker in workers.values():
            worker.close()
    return results


# ---- end to end ----------------------------------------------------------------------------------------------

def eager_predict(model_dir: Path, lines: Path | None, papers: list[str] | None, out: Path,
                  threads: int | None) -> None:
    """The PyTorch side end to end: read a one-sentence-per-line file, or paper files as `pcc predict` reads
    them, classify every readable sentence at once, write one JSON row per sentence."""
    from pcc.records import write_jsonl

    classify = eager_classifier(model_dir, threads)
    if lines is not None:
        texts = [line.strip() for line in lines.read_text(encoding="utf-8").splitlines() if line.strip()]
        contexts: list[str | None] = [None] * len(texts)
    else:
        texts, contexts = paper_inputs(papers, model_dir / BUNDLE_DIR)
    labels = classify(texts, contexts, BATCH)
    write_jsonl(out, ({"text": text, "label": label} for text, label in zip(texts, labels)))


def run_end_to_end(args: argparse.Namespace, workloads: dict[str, Workload], scratch: Path) -> dict:
    """Each input once and twice over, `pcc predict` and the PyTorch script in alternation; seconds per run.
    Returns {(workload, copies): {"sentences", "pcc": [seconds], "eager": [seconds]}}."""
    from tqdm import tqdm

    from pcc.readers import find_papers

    bare = spread(unique_sentences(args.sentences), args.e2e_count)
    inputs = {}
    for copies in (1, 2):
        lines = scratch / f"bare-x{copies}.txt"
        lines.write_text("\n".join(bare * copies) + "\n", encoding="utf-8")
        inputs[("bare", copies)] = (str(lines), len(bare) * copies)
        folder = scratch / f"papers-x{copies}"
        for copy in range(copies):
            for paper in find_papers(args.papers)[0]:
                (folder / f"copy{copy}").mkdir(parents=True, exist_ok=True)
                shutil.copy(paper, folder / f"copy{copy}" / paper.name)
        inputs[("papers", copies)] = (str(folder), len(workloads["papers"][0]) * copies)
    commands = {}
    for (kind, copies), (path, _) in inputs.items():
        out = scratch / f"out-{kind}-{copies}"
        pcc = [sys.executable, "-m", "pcc.cli", "predict", "--bundle", str(args.bundle), "--precision", args.precision,
               "--out", f"{out}-pcc.jsonl",
               *(["--sentences", path] if kind == "bare" else [path])]
        eager = [sys.executable, __file__, "--model", str(args.model), "--threads", str(args.threads),
                 "--eager-out", f"{out}-eager.jsonl", "--eager-sentences" if kind == "bare" else "--eager-papers", path]
        commands[(kind, copies)] = {"pcc": pcc, "eager": eager}
    seconds = {key: {"pcc": [], "eager": []} for key in commands}
    with tqdm(total=args.e2e_repeats * len(commands) * 2, desc="end to end", unit="run") as progress:
        for round_number in range(args.e2e_repeats):
            for key, sides in commands.items():  # an input and its double back to back: a steady state per round
                for side in ("pcc", "eager") if round_number % 2 == 0 else ("eager", "pcc"):
                    started = time.perf_counter()
                    subprocess.run(sides[side], cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                    seconds[key][side].append(time.perf_counter() - started)
                    progress.update()
    return {key: {"sentences": inputs[key][1], **value} for key, value in seconds.items()}


def steady_and_start(once: dict, twice: dict, side: str) -> tuple[list[float], list[float]]:
    """Per round: the steady rate (the extra sentences of the doubled input over its extra seconds) and the
    start-up (what the single run took beyond its sentences at that rate)."""
    steady, start = [], []
    for t1, t2 in zip(once[side], twice[side]):
        steady.append((twice["sentences"] - once["sentences"]) / max(t2 - t1, 1e-9))
        start.append(2 * t1 - t2)
    return steady, start


# ---- start-up ------------------------------------------------------------------------------------------------

def startup_steps(bundle: Path, precision: str, paper: Path) -> dict:
    """In a fresh process, the steps of `pcc predict PAPER` one by one (seconds each): its imports, the
    classifier (tokenizer and ONNX Runtime session, each timed again alone after the run), reading the paper,
    classifying it, writing the outputs."""
    marks = [("start", time.perf_counter())]

    def mark(step: str) -> None:
        marks.append((step, time.perf_counter()))

    import serving.predict as predict  # every module `pcc predict` imports
    from serving.classifier import SentenceClassifier

    mark("imports")
    classifier = SentenceClassifier(bundle, precision=precision)
    mark("classifier (tokenizer, session)")
    papers = predict.load_document(paper)
    mark("reading the paper")
    analyses = classifier.classify_papers(papers)
    mark("classifying")
    with tempfile.TemporaryDirectory() as scratch:
        outputs = predict.Outputs(Path(scratch) / "out.jsonl", Path(scratch) / "out.md")
        outputs.add(analyses)
        outputs.save()
    mark("writing")
    steps = {step: end - begin for (_, begin), (step, end) in zip(marks, marks[1:])}
    from tokenizers import Tokenizer

    from pcc.bundle import MODEL_FILES, TOKENIZER_FILE
    from serving.classifier import inference_session

    started = time.perf_counter()
    Tokenizer.from_file(str(bundle / TOKENIZER_FILE))
    steps["of the classifier: tokenizer"] = time.perf_counter() - started
    started = time.perf_counter()
    inference_session(bundle / MODEL_FILES[classifier.precision], classifier.providers)
    steps["of the classifier: session"] = time.perf_counter() - started
    steps["sentences"] = sum(len(a.sentences) for a in analyses)
    return steps


def measure_startup(args: argparse.Namespace, scratch: Path) -> dict:
    """`pcc predict` on one short paper (process start to written output), its steps, a bare interpreter's start,
    and `pcc serve` to /readyz."""
    from tests.server import running_server

    predict, steps, ready, python = [], [], [], []
    command = [sys.executable, "-m", "pcc.cli", "predict", str(args.short_paper), "--bundle", str(args.bundle),
               "--precision", args.precision, "--out", str(scratch / "short.jsonl")]
    for _ in range(args.startup_repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        predict.append(time.perf_counter() - started)
        done = subprocess.run([sys.executable, __file__, "--startup-steps", "--bundle", str(args.bundle),
                               "--precision", args.precision,
                               "--short-paper", str(args.short_paper)], cwd=REPO, check=True, capture_output=True,
                              text=True)
        steps.append(json.loads(done.stdout.strip().splitlines()[-1]))
        started = time.perf_counter()
        with running_server(args.bundle, ("--precision", args.precision)):
            ready.append(time.perf_counter() - started)
    names = [name for name in steps[0] if name != "sentences"]
    return {"predict": predict, "python": python, "ready": ready, "sentences": steps[0]["sentences"],
            "steps": {name: statistics.median(s[name] for s in steps) for name in names}}


# ---- report --------------------------------------------------------------------------------------------------

def rates(count: int, seconds: list[float]) -> list[float]:
    return [count / s for s in seconds]


def spread_of(values: list[float], form: str) -> str:
    """'median (lowest–highest)'."""
    return f"{statistics.median(values):{form}} ({min(values):{form}}–{max(values):{form}})"


def engine_ratios(result: dict) -> list[float]:
    """Per round, PyTorch's seconds over `pcc`'s: how many times faster `pcc` ran in back-to-back passes."""
    return [theirs / ours for ours, theirs in zip(result["pcc"]["passes"], result["eager"]["passes"])]


def markdown(args, workloads, engine, end_to_end, startup, load, figure) -> str:
    from pcc.bundle import choose_precision, read_bundle

    bundle = read_bundle(args.bundle)
    default = choose_precision(args.bundle, None)
    sizes = {name: (len(texts), sum(1 for c in contexts if c)) for name, (texts, contexts) in workloads.items()}
    lines = [
        "# Throughput: `pcc predict`'s engine against PyTorch eager", "",
        f"Written by `python benchmarks/throughput.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: "
        f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, Python "
        f"{platform.python_version()}; load average (1 min) {', '.join(f'{l[0]:.1f}' for l in load)} at the start "
        "and after each part. The rates are this machine's at that load; the interleaved ratios hold up far "
        "better than the rates.", "",
        f"Model `{bundle.source_run}`; `pcc predict`'s engine is its ONNX bundle (`{args.bundle}`) in "
        f"**{args.precision}** ({'its default' if args.precision == default else f'its default is {default}'}; "
        f"its int8 model {'passed' if bundle.int8_passed else 'did not pass'} the export checks), ONNX Runtime "
        "on the CPU. PyTorch: "
        "`AutoModelForSequenceClassification`, fp32, `torch.inference_mode()`. Both: sorted by token count, "
        f"batches of at most {BATCH}, each padded to its longest, {args.threads} intra-op thread(s).", "",
        "## Engine for engine", "",
        f"Workloads: **bare**, {sizes['bare'][0]} readable prepared sentences (of "
        f"{', '.join(f'`{p}`' for p in args.sentences)}) alone; **papers**, the {sizes['papers'][0]} readable "
        f"sentences of the papers in {', '.join(f'`{p}`' for p in args.papers)}, {sizes['papers'][1]} of them "
        "with a context (heading path and lead). Model loaded, tokenisation included; "
        f"{args.repeats} warm passes of each side in alternation after one cold pass. sentences/s: median "
        "(lowest–highest).", "",
        "| workload | `pcc predict` engine warm | PyTorch warm | × PyTorch (paired rounds) | `pcc` cold | "
        "PyTorch cold | load `pcc` / PyTorch (s) | peak RSS `pcc` / PyTorch (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    checks = []
    for workload, result in engine.items():
        count = sizes[workload][0]
        ours, theirs = result["pcc"], result["eager"]
        ratios = engine_ratios(result)
        lines.append(
            f"| {workload} | {spread_of(rates(count, ours['passes']), '.0f')} | "
            f"{spread_of(rates(count, theirs['passes']), '.0f')} | **{statistics.median(ratios):.2f}×** "
            f"({min(ratios):.2f}–{max(ratios):.2f}) | {count / ours['cold']:.0f} | {count / theirs['cold']:.0f} | "
            f"{ours['load_s']:.1f} / {theirs['load_s']:.1f} | {ours['rss_mb']:.0f} / {theirs['rss_mb']:.0f} |")
        agree = sum(x == y for x, y in zip(ours["labels"], theirs["labels"])) / count
        moved = sum(x != y for x, y in zip(ours["labels"], ours["labels_at_1"]))
        checks.append(f"- {workload}: `pcc predict`'s labels at batch 1 and {BATCH}: {moved} of {count} differ; "
                      f"they agree with PyTorch's on {agree:.1%}.")
    lines += ["", *checks, "", "## End to end", "",
              "Process start to last row: `pcc predict` as a user runs it (reading, classifying, writing its rows "
              "and summary; papers are classified file by file, listed sentences 512 at a time) against a PyTorch "
              "script that reads the same input with the same reader, classifies every sentence at once (sorted, "
              f"batches of {BATCH}) and writes JSON Lines. Median of {args.e2e_repeats} runs each, in alternation "
              "(lowest–highest); *bare* is the bare sentences of the corpus, *papers* the paper files above.", "",
              "| input | sentences | `pcc predict` (s) | PyTorch (s) | × PyTorch |", "|---|---:|---:|---:|---:|"]
    for (kind, copies), result in end_to_end.items():
        ours, theirs = statistics.median(result["pcc"]), statistics.median(result["eager"])
        lines.append(f"| {kind} ×{copies} | {result['sentences']} | {spread_of(result['pcc'], '.1f')} | "
                     f"{spread_of(result['eager'], '.1f')} | **{theirs / ours:.2f}×** |")
    lines += ["", "Per round, from an input and its double run back to back: the steady state (the extra sentences "
              "over the extra seconds) and the start-up (the rest of the single run); differences of two runs, so they "
              "carry both runs' noise:", "",
              "| input | `pcc predict` steady (sentences/s) | PyTorch steady | × PyTorch | start-up `pcc` (s) | "
              "start-up PyTorch (s) |", "|---|---:|---:|---:|---:|---:|"]
    for kind in WORKLOADS:
        one, two = end_to_end[(kind, 1)], end_to_end[(kind, 2)]
        (ours, our_start), (theirs, their_start) = (steady_and_start(one, two, side) for side in ("pcc", "eager"))
        ratios = [a / b for a, b in zip(ours, theirs)]
        lines.append(f"| {kind} | {spread_of(ours, '.0f')} | {spread_of(theirs, '.0f')} | "
                     f"**{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}) | "
                     f"{spread_of(our_start, '.1f')} | {spread_of(their_start, '.1f')} |")
    lines += ["", "## Start-up", "",
              f"`pcc predict {args.short_paper}` ({startup['sentences']} sentences), process start to written "
              f"output: median **{statistics.median(startup['predict']):.2f} s** ({min(startup['predict']):.2f}–"
              f"{max(startup['predict']):.2f}, {len(startup['predict'])} runs); a bare `python -c pass` took "
              f"{statistics.median(startup['python']):.2f} s. Its steps, timed in a fresh process (median):", "",
              "| step | seconds |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in startup["steps"].items()]
    lines += ["", f"`pcc serve` from the command to an answer at /readyz (polled every 0.3 s): median "
              f"**{statistics.median(startup['ready']):.1f} s** ({min(startup['ready']):.1f}–"
              f"{max(startup['ready']):.1f}).", "", f"![engine for engine and end to end]({figure.name})", ""]
    return "\n".join(lines)


def plot(engine: dict, end_to_end: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for offset, (side, name) in enumerate((("pcc", "pcc predict (ONNX)"), ("eager", "PyTorch eager"))):
        medians, low, high = [], [], []
        for workload in WORKLOADS:
            values = rates(len(engine[workload][side]["labels"]), engine[workload][side]["passes"])
            medians.append(statistics.median(values))
            low.append(medians[-1] - min(values))
            high.append(max(values) - medians[-1])
        left.bar([i + offset * 0.4 for i in range(len(WORKLOADS))], medians, 0.4, yerr=[low, high], capsize=3,
                 label=name)
    left.set_xticks([i + 0.2 for i in range(len(WORKLOADS))], list(WORKLOADS))
    left.set_ylabel("sentences/s (warm: median, range)")
    left.set_title(f"Engine for engine, batch {BATCH}")
    left.legend()
    keys = list(end_to_end)
    for offset, (side, name) in enumerate((("pcc", "pcc predict"), ("eager", "PyTorch script"))):
        right.bar([i + offset * 0.4 for i in range(len(keys))], [statistics.median(end_to_end[k][side]) for k in keys],
                  0.4, label=name)
    right.set_xticks([i + 0.2 for i in range(len(keys))],
                     [f"{kind} ×{copies}\n{end_to_end[(kind, copies)]['sentences']} sentences" for kind, copies in keys])
    right.set_ylabel("seconds, process start to last row (median)")
    right.set_title("End to end")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
