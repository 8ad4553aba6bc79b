"""`pcc map` over 1,000, 10,000 and 100,000 sentences on this CPU: time and peak memory per stage (reading,
embedding, clustering, naming, links, writing), how each grows, and the embedding stage on the Ray engine.

The corpora repeat the predictions of `make run` (the seed corpus and data/extra, as `pcc predict` labelled them)
paper by paper with small changes, so that no two sentences are the same and nothing is embedded once for many:
each copy of a paper gets its own id and year, and in each of its sentences one Chinese character is swapped
for another of the corpus (and, for every third sentence, one more is dropped). A size counts the sentences the
map maps (problem, cause and countermeasure); the files also hold the papers' other rows, as real outputs do.

Every size runs in a fresh process that maps the file as `pcc map` does (the same functions), sampling its
resident memory every 20 ms: a stage's peak is the highest resident size while it ran. The embedder's tokens
per sentence and its speed at several batch sizes are measured first, in this process.

    python benchmarks/map_scale.py [--bundle DIR] [--predictions FILE ...] [--sizes 1000 10000 100000]

Writes reports/map_scale.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.paths import REPORTS  # noqa: E402
from pcc.records import read_jsonl, write_jsonl  # noqa: E402
from serving.corpus_map.inputs import CATEGORIES  # noqa: E402

STAGES = ("reading", "embedding", "clustering", "naming", "links", "writing")
RAY_SIZE = 10_000  # the size the Ray engine embeds


class PeakMemory:
    """Resident memory of this process sampled every 20 ms; `stage(name)` starts a new peak. It also sums the CPU
    time (user and system, all threads) each stage uses, which other work on the machine barely changes."""

    def __init__(self):
        import psutil

        self.process, self.peaks, self.current = psutil.Process(), {}, None
        self.cpu: dict[str, float] = {}
        self._cpu_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stage(self, name: str) -> None:
        self._close_stage()
        self.current = name
        self.peaks[name] = self.process.memory_info().rss

    def _close_stage(self) -> None:
        times = self.process.cpu_times()
        now = times.user + times.system
        if self.current:
            self.cpu[self.current] = round(now - self._cpu_at, 2)
        self._cpu_at = now

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            if self.current:
                self.peaks[self.current] = max(self.peaks[self.current], self.process.memory_info().rss)

    def stop(self) -> dict[str, float]:
        self._close_stage()
        self._stop.set()
        self._thread.join()
        return {name: round(value / 2 ** 20) for name, value in self.peaks.items()}


def worker(predictions: Path, bundle: Path, out: Path, engine: str) -> dict:
    """Map one corpus as `pcc map` does, timing and measuring each stage."""
    import argparse as ap

    from serving.corpus_map.build import build_map
    from serving.corpus_map.embedder import SentenceEmbedder, embedder_dir
    from serving.corpus_map.inputs import read_predictions
    from serving.corpus_map.render import write_outputs

    memory = PeakMemory()
    started = time.perf_counter()
    memory.stage("reading")
    data = read_predictions([predictions])
    reading = time.perf_counter() - started
    if engine == "ray":
        from serving.corpus_map.ray_embed import RayEmbedder

        options = ap.Namespace(workers=2, cpus_per_worker=1.0, gpus_per_worker=None, device="cpu", address=None,
                               precision=None, batch_size=16)
        embedder = RayEmbedder(embedder_dir(bundle), options)
    else:
        embedder = SentenceEmbedder(embedder_dir(bundle), batch_size=16)
    loaded = time.perf_counter()
    corpus_map = build_map(data, lambda texts: embedder.embed(texts, progress=False), embedder.describe(),
                           stage=memory.stage)
    if engine == "ray":
        embedder.close()
    memory.stage("writing")
    written = time.perf_counter()
    write_outputs(corpus_map, out)
    seconds = {"reading": reading, **corpus_map.seconds, "writing": time.perf_counter() - written,
               "model loading": loaded - started - reading}
    tokens = None
    if engine == "local":
        tokens = int(embedder.token_counts([s.text for s in data.sentences]).sum())
    return {"rows": data.rows, "sentences": len(data.sentences), "papers": len(data.papers), "tokens": tokens,
            "themes": sum(t.number is not None for t in corpus_map.themes), "links": len(corpus_map.links),
            "seconds": {k: round(v, 2) for k, v in seconds.items()}, "total": round(time.perf_counter() - started, 1),
            "peak_mb": memory.stop(), "cpu_seconds": memory.cpu, "embedder": corpus_map.embedder,
            "noise": round(sum(len(t.sentences) for t in corpus_map.themes if t.number is None)
                           / len(data.sentences), 3)}


def build_corpus(rows: list[dict], size: int, path: Path, seed: int = 0) -> int:
    """Copies of the papers of `rows` with small changes until `size` mapped sentences; the rows written."""
    generator = random.Random(seed)
    papers: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        papers.setdefault((row["source"], row["paper"]), []).append(row)
    alphabet = sorted({c for row in rows for c in row["text"] if "\u4e00" <= c <= "\u9fff"})
    written, mapped, copy = [], 0, 0
    while mapped < size:
        for (source, paper), paper_rows in papers.items():
            for row in paper_rows:
                text = row["text"]
                if copy:
                    text = _changed(text, alphabet, generator, drop=row["index"] % 3 == 0)
                written.append({**row, "paper": f"{paper}~{copy}", "source": source, "year": 2010 + copy % 15,
                                "text": text})
                mapped += row["label"] in CATEGORIES
            if mapped >= size:
                break
        copy += 1
    return write_jsonl(path, written)


def _changed(text: str, alphabet: list[str], generator: random.Random, drop: bool) -> str:
    positions = [i for i, c in enumerate(text) if "\u4e00" <= c <= "\u9fff"]
    if not positions:
        return text + "。"
    chars = list(text)
    chars[generator.choice(positions)] = generator.choice(alphabet)
    if drop and len(positions) > 4:
        del chars[generator.choice(positions)]
    return "".join(chars)


def embedder_speed(bundle: Path, texts: list[str]) -> dict:
    """Tokens per sentence, and sentences per second at several batch sizes, int8 and fp32."""
    from serving.corpus_map.embedder import SentenceEmbedder, embedder_dir

    embedder = SentenceEmbedder(embedder_dir(bundle))
    counts = embedder.token_counts(texts)
    result = {"tokens": {"mean": float(counts.mean()), "median": float(np.median(counts)),
                         "p99": float(np.percentile(counts, 99)), "max": int(counts.max()),
                         "cut": float(np.mean(counts >= embedder.record["max_length"]))}, "speed": {}}
    sample = texts[:1000]
    for precision, batches in (("int8", (8, 16, 32)), ("fp32", (16,))):
        for batch in batches:
            model = SentenceEmbedder(embedder_dir(bundle), precision=precision, batch_size=batch)
            model.embed(sample[:64], progress=False)
            started = time.perf_counter()
            model.embed(sample, progress=False)
            result["speed"][f"{precision}, batch {batch}"] = len(sample) / (time.perf_counter() - started)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path(os.environ.get("PCC_BUNDLE") or REPO / "models/latest/onnx"))
    parser.add_argument("--predictions", type=Path, nargs="+",
                        default=[REPO / "reports/predictions.jsonl", REPO / "reports/predictions_extra.jsonl"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--out", type=Path, default=REPO / REPORTS / "map_scale.md")
    parser.add_argument("--worker", nargs=4, metavar=("PREDICTIONS", "BUNDLE", "OUT", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        predictions, bundle, out, engine = args.worker
        print(json.dumps(worker(Path(predictions), Path(bundle), Path(out), engine)))
        return

    rows = [row for path in args.predictions for row in read_jsonl(path)]
    mapped = [row["text"] for row in rows if row["label"] in CATEGORIES]
    load_before = os.getloadavg()[0]
    speed = embedder_speed(args.bundle, mapped)
    speed["load"] = (load_before, os.getloadavg()[0])
    work = Path(tempfile.mkdtemp(prefix="pcc-map-scale-"))
    runs = []
    for size in args.sizes:
        for engine in ("local", "ray") if size == RAY_SIZE else ("local",):
            path = work / f"predictions-{size}.jsonl"
            if not path.exists():
                build_corpus(rows, size, path)
            print(f"mapping {size:,} sentences ({engine}) ...", file=sys.stderr)
            load_before = os.getloadavg()[0]
            result = subprocess.run([sys.executable, __file__, "--worker", str(path), str(args.bundle),
                                     str(work / f"map-{size}-{engine}"), engine],
                                    capture_output=True, text=True, check=True)
            runs.append({"size": size, "engine": engine, "load": (load_before, os.getloadavg()[0]),
                         **json.loads(result.stdout.strip().splitlines()[-1])})
            print(json.dumps(runs[-1]), file=sys.stderr)
    args.out.write_text(render(args, speed, runs), encoding="utf-8")
    print(f"wrote {args.out} (corpora and maps in {work})", file=sys.stderr)


def render(args, speed: dict, runs: list[dict]) -> str:
    tokens = speed["tokens"]
    local = [run for run in runs if run["engine"] == "local"]
    lines = ["# Corpus map at scale", "",
             f"`python benchmarks/map_scale.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{platform.machine()} with {os.cpu_count()} CPUs (shared with other work), Python "
             f"{platform.python_version()}; bundle `{args.bundle}`; corpora made from "
             + ", ".join(f"`{p}`" for p in args.predictions) + " (see the script's docstring).", "",
             "## The embedder", "",
             f"Tokens per mapped sentence (prefix `query: ` and the two special tokens included): mean "
             f"{tokens['mean']:.1f}, median {tokens['median']:.0f}, 99th percentile {tokens['p99']:.0f}, longest "
             f"{tokens['max']}; {tokens['cut']:.2%} reach the cut at max_length. Sentences sorted by length before "
             "batches are cut. Speed on 1,000 sentences (after a warm-up; load average "
             f"{speed['load'][0]:.1f} before, {speed['load'][1]:.1f} after, on 2 cores):", "",
             "| precision, batch | sentences/s |", "|---|---:|"]
    lines += [f"| {name} | {value:.0f} |" for name, value in speed["speed"].items()]
    lines += ["", "## Time and peak memory per stage", "",
              "Wall seconds, and in brackets the peak resident memory (MB) of the process while the stage ran; "
              "the machine's 1-minute load average before and after the run (2 cores: above 2, other work was "
              "competing for them).", "",
              "| mapped sentences | rows | papers | engine | " + " | ".join(STAGES) + " | model loading | total "
              "| sentences/s | themes | noise | load |", "|" + "---:|" * 4 + "---:|" * (len(STAGES) + 6)]
    for run in runs:
        cells = [f"{run['seconds'][stage]:.1f} ({run['peak_mb'].get(stage, 0):,})" for stage in STAGES]
        lines.append(f"| {run['sentences']:,} | {run['rows']:,} | {run['papers']:,} | {run['engine']} | "
                     + " | ".join(cells) + f" | {run['seconds']['model loading']:.1f} | {run['total']:.0f} | "
                     f"{run['sentences'] / run['total']:.0f} | {run['themes']} | {run['noise']:.0%} | "
                     f"{run['load'][0]:.1f} → {run['load'][1]:.1f} |")
    lines += ["", "CPU seconds per stage (user and system time of all the process's threads): what the work costs, "
              "which other work on the machine changes little. ONNX Runtime runs the embedding on both cores, so on "
              "an idle machine its wall time is at best half its CPU time; the other stages run mostly on one "
              "core. The last column adds the two: a lower bound of the wall time on an idle machine.", "",
              "| mapped sentences | engine | " + " | ".join(STAGES) + " | CPU in all | idle wall time, at least (s) |",
              "|---:|---|" + "---:|" * (len(STAGES) + 2)]
    for run in runs:
        cpu = run["cpu_seconds"]
        idle = cpu.get("embedding", 0) / 2 + sum(cpu.get(stage, 0) for stage in STAGES if stage != "embedding")
        lines.append(f"| {run['sentences']:,} | {run['engine']} | "
                     + " | ".join(f"{cpu.get(stage, 0):.1f}" for stage in STAGES)
                     + (f" | {sum(cpu.values()):.0f} | {idle:.0f} |" if run["engine"] == "local"
                        else " | (the Ray actors' work is not counted) | |"))
    if len(local) >= 2:
        small, large = local[-2], local[-1]
        ratio = large["sentences"] / small["sentences"]

        def growth(stage: str) -> str:
            times = [max(run["cpu_seconds"].get(stage, 0), 1e-3) for run in (small, large)]
            return f"{stage} ×{times[1] / times[0]:.1f} (exponent {math.log(times[1] / times[0]) / math.log(ratio):.2f})"

        lines += ["", f"Growth of the CPU time from {small['sentences']:,} to {large['sentences']:,} sentences "
                  f"({ratio:.0f}×): " + ", ".join(growth(stage) for stage in STAGES) + ". Peak memory at "
                  f"{large['sentences']:,} sentences: {max(large['peak_mb'].values()):,} MB."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
