"""Papers/s and sentences/s of `pcc predict` with the local engine and with Ray (1 and 2 workers), Ray's start-up
overhead, and what limits scaling beyond one machine.

Every configuration runs `pcc predict` as a user does, in a fresh process, twice: on one paper and on the whole
corpus (one-paper files made from data/raw). The difference between the two runs is the work; dividing the extra
papers and sentences by the extra time gives the throughput net of start-up, and what remains of the small run
is the fixed cost (importing, starting Ray and its workers, loading the model, stopping). The configurations
take turns for --rounds rounds (the machine is shared); each keeps its fastest round. The parts that bound scaling
out (reading and segmenting per core, the driver's intake of results) are timed in this process.

    python benchmarks/batch_scale.py [--bundle DIR] [--copies 4] [--rounds 2]

Writes reports/batch_scale.md and reports/batch_scale.png.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.bundle import BUNDLE_ENV, read_bundle  # noqa: E402
from pcc.paths import LATEST_BUNDLE, RAW_PAPERS, REPORTS  # noqa: E402

# name -> extra `pcc predict` options
CONFIGS = {
    "local": ["--engine", "local"],
    "ray, 1 worker x 2 CPUs": ["--engine", "ray", "--workers", "1", "--cpus-per-worker", "2"],
    "ray, 2 workers x 1 CPU": ["--engine", "ray", "--workers", "2", "--cpus-per-worker", "1"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path(os.environ.get(BUNDLE_ENV) or REPO / LATEST_BUNDLE))
    parser.add_argument("--copies", type=int, default=4, help="copies of each seed paper in the corpus")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / REPORTS / "batch_scale.md")
    parser.add_argument("--reuse-runs", type=Path, metavar="DIR",
                        help="the working folder of an earlier run (printed at its end): keep its `pcc predict` "
                             "runs, measure only the in-process parts again and rewrite the report")
    args = parser.parse_args()
    if args.reuse_runs:
        work, corpus = args.reuse_runs, args.reuse_runs / "corpus"
        saved = json.loads((work / "runs.json").read_text(encoding="utf-8"))
        runs = {(entry["config"], entry["size"]): entry["rounds"] for entry in saved}
        args.rounds = len(saved[0]["rounds"])
        args.copies = len(list(corpus.iterdir()))
    else:
        work = Path(tempfile.mkdtemp(prefix="pcc-batch-scale-"))
        corpus, one = build_corpus(work, args.copies)
        runs = {(name, size): [] for name in CONFIGS for size in ("one", "all")}
        for number in range(1, args.rounds + 1):
            for (name, size), measured in runs.items():
                measured.append(run_predict(args.bundle, corpus if size == "all" else one, CONFIGS[name], work))
                print(f"round {number}/{args.rounds} {name:>24} {size:>3}: {measured[-1]['seconds']:6.1f} s "
                      f"({measured[-1]['papers']} papers, {measured[-1]['sentences']} sentences)", flush=True)
        (work / "runs.json").write_text(json.dumps(
            [{"config": name, "size": size, "rounds": measured} for (name, size), measured in runs.items()],
            indent=1), encoding="utf-8")
    best = {key: min(measured, key=lambda m: m["seconds"]) for key, measured in runs.items()}
    results = []
    for name in CONFIGS:
        small, large = best[(name, "one")], best[(name, "all")]
        extra = large["seconds"] - small["seconds"]
        results.append({
            "config": name, "papers": large["papers"], "sentences": large["sentences"],
            "wall_s": large["seconds"], "one_paper_s": small["seconds"],
            "papers_per_s": (large["papers"] - small["papers"]) / extra,
            "sentences_per_s": (large["sentences"] - small["sentences"]) / extra,
            "end_to_end_sentences_per_s": large["sentences"] / large["seconds"],
            "fixed_s": small["seconds"] - small["sentences"] / ((large["sentences"] - small["sentences"]) / extra),
        })
    limits = measure_limits(corpus, work / "local-all.jsonl")
    limits["ray_start_stop"] = time_ray_start_stop()
    limits["threads"] = time_threads(args.bundle)
    outputs = [work / f"{name}-all.jsonl" for name in ("local", "ray1", "ray2")]
    limits["identical_rows"] = len({path.read_bytes() for path in outputs}) == 1
    report = markdown(results, limits, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    plot(results, args.out.with_suffix(".png"))
    print("\n" + report + f"\n(working folder, for --reuse-runs: {work})")


def build_corpus(work: Path, copies: int) -> tuple[Path, Path]:
    """`copies` x the papers of data/raw, one paper per file; and a folder with one of them."""
    from pcc.documents import leave_out_furniture, split_papers

    corpus, one = work / "corpus", work / "one"
    one.mkdir(parents=True)
    for source in sorted((REPO / RAW_PAPERS).glob("*.txt")):
        kept, _ = leave_out_furniture(source.read_text(encoding="utf-8").splitlines())
        for number, lines in enumerate(split_papers([line for _, line in kept])):
            for copy in range(copies):
                path = corpus / f"copy{copy}" / f"{source.stem}-{number:02d}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = sorted(corpus.rglob("*.txt"))[0]
    (one / first.name).write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    return corpus, one


def run_predict(bundle: Path, folder: Path, options: list[str], work: Path) -> dict:
    name = "local" if "local" in options else f"ray{options[options.index('--workers') + 1]}"
    out = work / f"{name}-{'all' if folder.name == 'corpus' else 'one'}.jsonl"
    command = [str(Path(sys.executable).with_name("pcc")), "predict", str(folder), "--bundle", str(bundle),
               "--out", str(out), *options]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {"seconds": seconds, "papers": len({(r["source"], r["paper"]) for r in rows}),
            "sentences": sum(r["label"] is not None for r in rows), "rows": len(rows)}


def measure_limits(corpus: Path, rows_file: Path) -> dict:
    """What a node's reading tasks and the one driver can do, timed here on the same corpus and its rows."""
    import tracemalloc

    import pyarrow as pa
    import pyarrow.parquet  # noqa: F401  (imported before the timing)

    from pcc.documents import load_document
    from serving.outputs import Outputs, read_rows

    files = sorted(corpus.rglob("*.txt"))
    started = time.perf_counter()
    papers = sum(len(load_document(path)) for path in files)
    segment_s = time.perf_counter() - started
    rows = read_rows(rows_file)
    by_paper: dict[tuple, list[dict]] = {}
    for row in rows:
        by_paper.setdefault((row["source"], row["paper"]), []).append(row)
    # What the driver receives: batches of units whose rows travel as JSON (serving.ray_predict).
    units = [{"source": key[0], "key": key[1], "rows": json.dumps(paper_rows, ensure_ascii=False)}
             for key, paper_rows in by_paper.items()]
    batches = [pa.Table.from_pylist(units[start:start + 8]) for start in range(0, len(units), 8)]
    outputs = Outputs(Path(tempfile.mkdtemp()) / "p.parquet", Path(tempfile.mkdtemp()) / "p.md")
    tracemalloc.start()
    started = time.perf_counter()
    for batch in batches:
        for unit in batch.to_pylist():
            outputs.add_rows(json.loads(unit["rows"]))
    intake_s = time.perf_counter() - started
    row_bytes = tracemalloc.get_traced_memory()[0] / len(rows)
    tracemalloc.stop()
    started = time.perf_counter()
    outputs.save()
    save_s = time.perf_counter() - started
    jsonl = Outputs(Path(tempfile.mkdtemp()) / "p.jsonl", Path(tempfile.mkdtemp()) / "p.md")
    jsonl.rows = rows
    started = time.perf_counter()
    jsonl.save()
    jsonl_save_s = time.perf_counter() - started
    return {"segment_papers_per_s_per_core": papers / segment_s,
            "segment_sentences_per_s_per_core": len(rows) / segment_s,
            "driver_rows_per_s": len(rows) / intake_s, "row_bytes": row_bytes,
            "parquet_save_rows_per_s": len(rows) / save_s, "jsonl_save_rows_per_s": len(rows) / jsonl_save_s,
            "rows": len(rows)}


def time_ray_start_stop() -> dict:
    """`ray.init` of a local Ray and `ray.shutdown`, in a fresh process, as `pcc predict --engine ray` does."""
    code = ("import time, logging, json; t = time.perf_counter(); import ray, ray.data; i = time.perf_counter(); "
            "ray.init(address='local', num_cpus=3, include_dashboard=False, logging_level=logging.WARNING); "
            "s = time.perf_counter(); ray.shutdown(); e = time.perf_counter(); "
            "print(json.dumps({'import_s': i - t, 'init_s': s - i, 'shutdown_s': e - s}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_threads(bundle: Path, repeats: int = 2) -> dict:
    """Sentences/s of one ONNX Runtime session with 1 and with 2 intra-op threads, taking turns: whether a second
    thread in one process buys anything on this machine as it is loaded now."""
    from serving.classifier import SentenceClassifier

    gold = REPO / "data" / "gold" / "dev.jsonl"
    texts = [json.loads(line)["text"] for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()][:96]
    sessions = {threads: SentenceClassifier(bundle, "cpu", threads=threads) for threads in (1, 2)}
    best = {threads: 0.0 for threads in sessions}
    for _ in range(repeats):
        for threads, classifier in sessions.items():
            started = time.perf_counter()
            classifier.classify(texts)
            best[threads] = max(best[threads], len(texts) / (time.perf_counter() - started))
    return {"sentences": len(texts), "one_thread": best[1], "two_threads": best[2]}


def markdown(results: list[dict], limits: dict, args: argparse.Namespace) -> str:
    local = next(r for r in results if r["config"] == "local")
    two = results[-1]
    ray_start = limits["ray_start_stop"]
    bundle = read_bundle(args.bundle)
    per_worker = two["sentences_per_s"] / 2
    one_worker = results[1]["sentences_per_s"]
    threads = limits["threads"]
    gain = 1 / local["sentences_per_s"] - 1 / two["sentences_per_s"]  # seconds saved per sentence
    catch_up = ("On a small input the local engine finishes first; here Ray (two workers) caught up after about "
                f"{(min(r['fixed_s'] for r in results[1:]) - local['fixed_s']) / gain:,.0f} sentences. On one idle "
                "machine, where its net rate is no higher, it would not catch up (reasoned)." if gain > 0 else
                "Ray's net rate was no higher than the local engine's, so on this machine it does not catch up.")
    driver = limits["driver_rows_per_s"]
    reading = limits["segment_sentences_per_s_per_core"]
    lines = [
        "# Batch prediction: local engine and Ray", "",
        f"`pcc predict` on {local['papers']} papers ({args.copies} copies of each paper of `data/raw`, one paper per "
        f"file; {local['sentences']} sentences classified, fp32, batch 32) and on one of them, each configuration in a "
        f"fresh process, best of {args.rounds} rounds taken in turns. Throughput is net of start-up: the extra "
        "papers and sentences of the full run over its extra time; *fixed* is what the one-paper run spent on "
        "anything but classifying (imports, Ray and its workers, loading the model, stopping).",
        f"Bundle `{args.bundle}` (model `{bundle.source_run}`). The three engines' "
        f"output files for the full corpus were {'byte for byte identical' if limits['identical_rows'] else 'NOT identical'}.",
        f"Machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, shared with a training run (figures "
        f"drift by tens of percent between rounds); Python {platform.python_version()}; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.", "",
        "| engine | papers/s | sentences/s | × local | fixed (s) | one paper (s) | all papers (s) | end to end sentences/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['config']} | {r['papers_per_s']:.2f} | {r['sentences_per_s']:.1f} | "
                     f"{r['sentences_per_s'] / local['sentences_per_s']:.2f} | {r['fixed_s']:.1f} | "
                     f"{r['one_paper_s']:.1f} | {r['wall_s']:.1f} | {r['end_to_end_sentences_per_s']:.1f} |")
    ray_fixed = min(r["fixed_s"] for r in results if r["config"] != "local")
    lines += [
        "", "![throughput and start-up](batch_scale.png)", "",
        "## Start-up", "",
        f"Ray costs about {ray_fixed - local['fixed_s']:.0f} s more than the local engine before the first paper "
        f"is classified ({ray_fixed:.1f} s against {local['fixed_s']:.1f} s). Of that, importing Ray takes "
        f"{ray_start['import_s']:.1f} s, starting a local Ray {ray_start['init_s']:.1f} s and stopping it "
        f"{ray_start['shutdown_s']:.1f} s (timed alone); the rest is starting the worker processes and loading the "
        "model in each. Joining a running cluster (`--address`) skips the start and the stop. " + catch_up, "",
        "## On this machine", "",
        f"Net of start-up, Ray with one worker of two threads ran at {one_worker / local['sentences_per_s']:.2f} x "
        f"the local engine, and with two workers of one thread each at "
        f"{two['sentences_per_s'] / local['sentences_per_s']:.2f} x. Two cores give Ray no compute that the local "
        "engine lacks (its ONNX Runtime session runs one thread per core), so on an idle machine the net rates "
        "should be about equal and Ray only adds its start-up (reasoned, not measured: this machine was not "
        "idle). What the figures show instead is how the engines fare on cores kept busy by another job (a "
        f"training run at normal priority, this benchmark at nice 19): one session classified {threads['one_thread']:.0f} "
        f"sentences/s with one thread and {threads['two_threads']:.0f} with two (timed here just after the runs, "
        f"{threads['sentences']} dev sentences), so under that load a second thread in the same process bought "
        f"{'little' if threads['two_threads'] < 1.2 * threads['one_thread'] else 'some speed'}, while "
        "separate processes (Ray's workers, its reading tasks) each take their own share of the CPU. The "
        f"absolute rates are far below an idle machine's (reports/throughput.md: about 124 sentences/s fp32 at "
        "batch 32) and drift between rounds; compare engines within this table only.", "",
        "## Beyond one machine (reasoned from the figures above)", "",
        f"- **Per added CPU node.** Papers are independent, so each worker adds its own rate: here about "
        f"{per_worker:.0f} sentences/s per busy core (two workers of one core each; an idle core does several "
        "times that, reports/throughput.md). A node with C free cores adds "
        f"roughly C x {per_worker:.0f} sentences/s with `--workers` raised by C (one CPU each) — less where its "
        "cores are hyper-threads. Reading and segmenting, in tasks, run at about "
        f"{limits['segment_papers_per_s_per_core']:.0f} papers/s ({reading:,.0f} sentences/s) per core, "
        f"{reading / per_worker:.0f} times the classifying rate, so about one core in "
        f"{reading / per_worker + 1:.0f} goes to reading (the one CPU `pcc predict` keeps free for it is enough "
        "up to that many workers).",
        f"- **Per added GPU.** Not measured (no GPU here). A GPU worker (`--gpus-per-worker 1`, CUDA execution "
        "provider) classifies at its own rate, far above a CPU core's for an encoder of this size at batch 32, and "
        f"the reading tasks must keep up: at {reading:,.0f} sentences/s per core, a GPU worker that classifies N "
        f"sentences/s needs about N / {reading:,.0f} cores of reading on the cluster, so give GPU nodes cores "
        "to match, and keep the input readable from every node.",
        f"- **The driver.** One process takes in every result: about {driver:,.0f} rows/s (Arrow to Python, JSON "
        f"decode, bookkeeping; timed here), i.e. the output of about {driver / per_worker:,.0f} CPU workers like "
        "these; past that, add throughput by splitting the corpus into several runs. Saving is extra: a "
        f"`.jsonl` or `.csv` output is rewritten whole at each checkpoint ({limits['jsonl_save_rows_per_s']:,.0f} "
        "rows/s here; checkpoints space out so that this stays near a tenth of the time), a `.parquet` output "
        f"only adds a part ({limits['parquet_save_rows_per_s']:,.0f} rows/s, summary included): use Parquet for "
        f"big runs. The driver holds every row for the summary, about {limits['row_bytes'] / 1024:.1f} KB each "
        f"(measured): about {10e9 / limits['row_bytes'] / 1e6:.0f} million sentences per 10 GB of driver memory.",
        "- **Start-up** is paid once per run; a cluster already running (`--address`) pays only for its workers "
        "and their model loads, which a run of thousands of papers hides.", "",
        "Reproduce: `python benchmarks/batch_scale.py --bundle models/latest/onnx` (about 20 minutes on 2 busy "
        "cores; `--reuse-runs DIR` rewrites the report from the runs of an earlier call).",
    ]
    return "\n".join(lines) + "\n"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["config"] for r in results]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.bar(names, [r["sentences_per_s"] for r in results], color=["#4c72b0", "#dd8452", "#c44e52"])
    left.set_ylabel("sentences/s, net of start-up")
    left.set_title("Throughput")
    fixed = [r["fixed_s"] for r in results]
    work = [r["wall_s"] - r["fixed_s"] for r in results]
    right.bar(names, fixed, label="fixed (start-up, stop)", color="#999999")
    right.bar(names, work, bottom=fixed, label="classifying", color="#4c72b0")
    right.set_ylabel("seconds")
    right.set_title(f"Wall time for {results[0]['papers']} papers")
    right.legend()
    for axis in (left, right):
        axis.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
