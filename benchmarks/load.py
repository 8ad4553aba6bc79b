"""Bounded load test of the HTTP service on this machine (loopback only).

Against a server that is already running:
    python benchmarks/load.py --url http://127.0.0.1:3000
Start the server twice, with and without adaptive batching, and write reports/load.md:
    python benchmarks/load.py --bundle models/latest/onnx --compare-batching

Each scenario sends a fixed number of requests from concurrent clients, stops early at a time cap, and
prints p50/p95/p99 latency, requests/s, sentences/s and errors. Sentences and the paper come from the
seed corpus.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.bundle import read_bundle  # noqa: E402
from pcc.documents import load_document, split_papers  # noqa: E402
from pcc.errors import UserError  # noqa: E402
from pcc.readers import read_text  # noqa: E402
from tests.server import running_server  # noqa: E402

CORPUS = REPO / "data" / "raw" / "police_public_relations_papers.txt"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Scenario:
    name: str
    path: str
    sentences_per_request: int  # 0 for /analyze, whose sentences are counted from the answer
    clients: int
    requests: int


@dataclass
class Result:
    scenario: str
    batching: str
    clients: int
    requests: int
    errors: dict[str, int]
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_s: float
    sentences_per_s: float


def scenarios(clients: int, scale: float) -> list[Scenario]:
    def count(n: int) -> int:
        return max(1, round(n * scale))

    return [
        Scenario("classify, 1 sentence, 1 client", "/classify", 1, 1, count(100)),
        Scenario(f"classify, 1 sentence, {clients} clients", "/classify", 1, clients, count(600)),
        Scenario(f"classify, 32 sentences, {clients} clients", "/classify", 32, clients, count(160)),
        Scenario(f"analyze, one paper, {clients} clients", "/analyze", 0, clients, count(64)),
    ]


class Payloads:
    """Request bodies cut from the seed corpus: real sentence lengths, a real paper."""

    def __init__(self) -> None:
        papers = load_document(CORPUS)
        self.sentences = [s.text for paper in papers for s in paper.sentences if s.quality == "ok"]
        # The paper with the most readable sentences, as the raw text a user would paste.
        richest = max(papers, key=lambda p: sum(s.quality == "ok" for s in p.sentences))
        groups = [g for g in split_papers(read_text(CORPUS).splitlines()) if any(line.strip() for line in g)]
        self.paper = "\n".join(groups[richest.paper.ordinal - 1])

    def body(self, scenario: Scenario, i: int) -> dict:
        if scenario.path == "/analyze":
            return {"text": self.paper}
        start = (i * scenario.sentences_per_request) % len(self.sentences)
        window = (self.sentences * 2)[start:start + scenario.sentences_per_request]
        return {"sentences": window}


async def run_scenario(url: str, scenario: Scenario, payloads: Payloads, time_cap: float, batching: str) -> Result:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    sentences = 0
    issued = 0
    progress = tqdm(total=scenario.requests, desc=f"{scenario.name} [{batching}]", unit="req", leave=False)
    limits = httpx.Limits(max_connections=scenario.clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + time_cap

        async def one_client() -> None:
            nonlocal issued, sentences
            while issued < scenario.requests and time.perf_counter() < deadline:
                body = payloads.body(scenario, issued)
                issued += 1
                sent = time.perf_counter()
                try:
                    response = await client.post(scenario.path, json=body)
                except httpx.HTTPError as error:
                    errors[type(error).__name__] += 1
                else:
                    if response.status_code == 200:
                        latencies.append((time.perf_counter() - sent) * 1000)
                        sentences += len(response.json()["sentences"]) if scenario.path == "/analyze" \
                            else scenario.sentences_per_request
                    else:
                        errors[f"HTTP {response.status_code}"] += 1
                progress.update()

        await asyncio.gather(*(one_client() for _ in range(scenario.clients)))
        seconds = time.perf_counter() - started
    progress.close()
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies else (float("nan"),) * 3
    return Result(
        scenario=scenario.name, batching=batching, clients=scenario.clients, requests=issued, errors=dict(errors),
        seconds=round(seconds, 2), p50_ms=round(float(p50), 1), p95_ms=round(float(p95), 1),
        p99_ms=round(float(p99), 1), requests_per_s=round(len(latencies) / seconds, 1),
        sentences_per_s=round(sentences / seconds, 1),
    )


async def warm_up(url: str, payloads: Payloads, clients: int) -> None:
    """Let BentoML's batching dispatcher fit its latency model before anything is measured."""
    scenario = Scenario("warm-up", "/classify", 4, clients, 0)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for round_ in range(3):
            bodies = [payloads.body(scenario, round_ * clients + i) for i in range(clients)]
            await asyncio.gather(*(client.post("/classify", json=body) for body in bodies))


def measure(url: str, batching: str, args: argparse.Namespace, payloads: Payloads) -> list[Result]:
    asyncio.run(warm_up(url, payloads, args.clients))
    results = []
    for scenario in scenarios(args.clients, args.scale):
        result = asyncio.run(run_scenario(url, scenario, payloads, args.time_cap, batching))
        print(format_line(result), flush=True)
        results.append(result)
    return results


def format_line(r: Result) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0"
    return (f"{r.scenario:<36} [{r.batching:<11}] {r.requests:>4} req in {r.seconds:>6.1f} s | "
            f"p50 {r.p50_ms:>7.1f} ms  p95 {r.p95_ms:>7.1f} ms  p99 {r.p99_ms:>7.1f} ms | "
            f"{r.requests_per_s:>7.1f} req/s {r.sentences_per_s:>8.1f} sent/s | errors {errors}")


def bundle_description(bundle: Path) -> str:
    info = read_bundle(bundle)
    return (f"`{bundle}` (exported {info.exported_at or '?'} from `{info.source_model or '?'}`, "
            f"base model `{info.card.base_model}`)")


def plot(path: Path, results: list[Result]) -> None:
    """Sentences/s and p50 latency of every scenario, with and without adaptive batching, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r.scenario for r in results))
    modes = list(dict.fromkeys(r.batching for r in results))
    by_key = {(r.scenario, r.batching): r for r in results}
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(modes)
    for offset, mode in enumerate(modes):
        positions = [i + offset * width for i in range(len(names))]
        axes[0].bar(positions, [by_key[n, mode].sentences_per_s for n in names], width, label=mode)
        axes[1].bar(positions, [by_key[n, mode].p50_ms for n in names], width, label=mode)
    for axis, title in zip(axes, ("sentences/s (higher is better)", "p50 latency, ms (log scale)")):
        axis.set_xticks([i + width * (len(modes) - 1) / 2 for i in range(len(names))])
        axis.set_xticklabels([n.replace(", ", "\n") for n in names], fontsize=8)
        axis.set_title(title)
        axis.legend()
    axes[1].set_yscale("log")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(path: Path, results: list[Result], args: argparse.Namespace, bundle: Path) -> None:
    rows = ["| scenario | batching | requests | errors | p50 ms | p95 ms | p99 ms | requests/s | sentences/s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows.append(f"| {r.scenario} | {r.batching} | {r.requests} | {sum(r.errors.values())} | {r.p50_ms} | "
                    f"{r.p95_ms} | {r.p99_ms} | {r.requests_per_s} | {r.sentences_per_s} |")
    on = {r.scenario: r for r in results if r.batching == "batching"}
    off = {r.scenario: r for r in results if r.batching == "no batching"}
    gains = [f"- {name}: {off[name].requests_per_s} → {on[name].requests_per_s} requests/s "
             f"(× {on[name].requests_per_s / off[name].requests_per_s:.2f})"
             for name in on if name in off and off[name].requests_per_s]
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    text = "\n".join([
        "# Load test of the HTTP service",
        "",
        f"Written by `benchmarks/load.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Model: {bundle_description(bundle)}, precision {args.precision}, device {args.device}, 1 worker.",
        *([args.note] if args.note else []),
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs shared with the load "
        "generator (and with whatever else ran), loopback HTTP.",
        "Each request's latency is measured by the client from sending to the full answer. A scenario stops at "
        f"its request count or after {args.time_cap:g} s.",
        "",
        *rows,
        "",
        "Adaptive batching (BentoML merges concurrent `/classify` requests into one model call) against every",
        "request run alone (`pcc serve --no-batching`):",
        "",
        *gains,
        "",
        f"![sentences/s and latency with and without batching]({path.with_suffix('.png').name})",
        "",
        "Settings:",
        "",
        "```json",
        json.dumps(settings, indent=2, ensure_ascii=False),
        "```",
        "",
    ])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    plot(path.with_suffix(".png"), results)
    path.with_suffix(".json").write_text(
        json.dumps({"settings": settings, "results": [asdict(r) for r in results]}, indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server on this machine, e.g. http://127.0.0.1:3000")
    target.add_argument("--bundle", type=Path, help="start the server on this ONNX bundle (and stop it after)")
    parser.add_argument("--compare-batching", action="store_true",
                        help="with --bundle: run everything with and without adaptive batching, write --report")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every request count (default: 1)")
    parser.add_argument("--time-cap", type=float, default=60, help="seconds per scenario at most (default: 60)")
    parser.add_argument("--precision", default="fp32", help="with --bundle (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="with --bundle (default: %(default)s)")
    parser.add_argument("--note", help="a line about the model or the machine, printed under them in the report")
    parser.add_argument("--report", type=Path, default=REPO / "reports" / "load.md",
                        help="with --compare-batching (default: reports/load.md)")
    args = parser.parse_args(argv)
    if args.compare_batching and not args.bundle:
        parser.error("--compare-batching starts the servers itself: give --bundle, not --url")
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error(f"--url {args.url}: only loopback servers (127.0.0.1, localhost, ::1) may be load-tested")

    payloads = Payloads()
    if args.url:
        measure(args.url.rstrip("/"), "as running", args, payloads)
        return 0
    modes = [("batching", ()), ("no batching", ("--no-batching",))] if args.compare_batching else [("batching", ())]
    results = []
    for batching, flag in modes:
        options = ("--precision", args.precision, "--device", args.device, *flag)
        with running_server(args.bundle, options) as url:
            results.extend(measure(url, batching, args, payloads))
    if args.compare_batching:
        write_report(args.report, results, args, args.bundle.resolve())
        print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as error:
        print(f"load.py: error: {error}", file=sys.stderr)
        sys.exit(2)
