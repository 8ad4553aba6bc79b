"""Every way to a faster default that needs no training, on the shipped model: each option's speed, measured in
alternation with the default, its macro-F1 on the three check sets, and whether its labels hold at batch 1.

Options (`OPTIONS`): fp32 and the bundle's int8 (whichever is not the default); how batches are cut and how big
they are; int8 of the MatMuls the shipped int8 model keeps in fp32 (re-quantised here from a calibration made as
`pcc export` makes it); encoder layers dropped (no training: a dropped layer's input goes on to the next one);
one intra-op thread, and ONNX Runtime's dynamic work blocks; shorter inputs (the innermost heading only, no lead,
a lower max length).

- **Speed**: two workloads, bare sentences and the sentences of whole papers in their context, each classified
  at once as `pcc predict` classifies a file. In each round every option classifies each workload right after
  (or, every other round, right before) the default, so the pair meets the same load; its speed is the median of
  its paired ratios. All run in this one process (idle ONNX Runtime threads sleep, so an idle session costs
  nothing), after a warm-up pass each. *Tokens* counts what the batches hold, padding included: the compute an
  option asks for, whatever the load.
- **Quality**: macro-F1 on the real development pages (`--realdev`, scored as `pcc evaluate --papers` scores
  them: a sentence the reader missed is wrong), the wild check set and the outside-corpus set, every sentence in
  its context as `pcc evaluate` builds it; Δ against fp32 (the model itself, the reference int8 is checked
  against). For each model file, whether its labels on those sets are the same one sentence at a time as in
  batches of 32.
- **Which layers to drop** is chosen without the check sets: greedily, the layer whose removal moves the
  probabilities least (mean total variation from the full model's) on a seeded sample of corpus sentences in
  context, on the shipped int8 model; the chosen models are then calibrated and quantised afresh.

    python benchmarks/engine_options.py [--model models/latest] [--realdev ../shared/realdev] [--only NAME ...]

Prints the table and writes reports/engine_options.md and reports/engine_options.png. About 15 minutes on two
busy cores.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.throughput import WILD_PAPERS, WILD_SENTENCES, spread, unique_sentences  # noqa: E402
from pcc.paths import BUNDLE_DIR, LATEST_MODEL, OUTSIDE_CORPUS_GOLD, REPORTS, SENTENCES, WILD_GOLD  # noqa: E402

REALDEV = Path("../shared/realdev")
DEFAULT, CONTROL, REFERENCE = "default", "default again", "fp32"
SHIPPED = "shipped"
CHECK_SETS = ("realdev", "wild", "outside corpus")
SPEED_WORKLOADS = ("bare", "papers")


@dataclass(frozen=True)
class Option:
    """One way to run the shipped model; fields left at their defaults run as `pcc predict` does."""
    what: str
    graph: str = SHIPPED  # the model files: the bundle's, or one `build_graphs` makes (`REQUANTISED`, `LAYERS_`)
    precision: str | None = None  # None: `pcc predict`'s (`pcc.bundle.choose_precision`)
    batch_size: int = 32
    overhead: float | None = None  # `length_batches`' cost of a run in tokens; None: the classifier's
    threads: int | None = None  # None: one per physical core, as `pcc predict`
    session_config: tuple[tuple[str, str], ...] = ()  # ONNX Runtime session config entries over the classifier's
    headings: int | None = None  # keep only the innermost N headings of a path
    lead_chars: int | None = None  # the lead's last N characters (None: as read, `LEAD_CHARS`; 0: no lead)
    max_length: int | None = None  # None: the model's


LAYERS_ = "layers-"  # graph name prefix: the encoder with this many layers left (`choose_layers`), e.g. layers-11
OPTIONS: dict[str, Option] = {
    DEFAULT: Option("`pcc predict`'s default: the bundle's default precision, length-aware batches of at most 32"),
    CONTROL: Option("control: the default once more (how far the machine's noise moves a ratio)"),
    REFERENCE: Option("the fp32 graph", precision="fp32"),
    "int8": Option("the bundle's calibrated int8 model", precision="int8"),
    "cut every 32": Option("sorted, cut every 32 sentences (no length-aware cuts)", overhead=1e9),
    "batch 64": Option("length-aware batches of at most 64", batch_size=64),
    "1 thread": Option("one intra-op thread", threads=1),
    "dynamic blocks": Option("ONNX Runtime hands out a parallel loop's work in shrinking blocks, not one share "
                             "per thread (`session.dynamic_block_base` 4: a stalled thread holds up less)",
                             session_config=(("session.dynamic_block_base", "4"),)),
    "int8 FFN outputs": Option("int8 also in any FFN output projection the shipped int8 keeps fp32",
                               graph="all-ffn", precision="int8"),
    "int8 everywhere": Option("every MatMul int8: the FFN outputs, the outlier channels, the first-token modules",
                              graph="everything", precision="int8"),
    "11 layers": Option("int8, one encoder layer dropped (chosen on corpus sentences)", graph=f"{LAYERS_}11",
                        precision="int8"),
    "10 layers": Option("int8, two encoder layers dropped", graph=f"{LAYERS_}10", precision="int8"),
    "innermost heading": Option("context: only the innermost heading of the path", headings=1),
    "no lead": Option("context: headings only, no lead", lead_chars=0),
    "max length 64": Option("inputs truncated at 64 tokens (128 in training)", max_length=64),
}
# The re-quantised int8 models: quantisation attempt options over the shipped ones.
REQUANTISED = {
    "all-ffn": {"exclude_modules": []},
    "everything": {"exclude_modules": [], "keep_first_token_fp32": False, "max_outliers": 0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=LATEST_MODEL, help="fine-tuned model directory")
    parser.add_argument("--bundle", type=Path, help=f"its ONNX bundle (default: <model>/{BUNDLE_DIR})")
    parser.add_argument("--realdev", type=Path, default=REALDEV, help="real development pages: pages/ and gold.jsonl")
    parser.add_argument("--count", type=int, default=256, help="bare sentences per speed pass")
    parser.add_argument("--papers", nargs="+", default=[str(WILD_PAPERS)], help="papers of the papers workload")
    parser.add_argument("--selection", type=int, default=300, help="corpus sentences that choose the layers to drop")
    parser.add_argument("--rounds", type=int, default=4, help="paired passes of each option per workload")
    parser.add_argument("--only", nargs="+", choices=list(OPTIONS), help="only these options (and the default, its control, fp32)")
    parser.add_argument("--out", type=Path, default=REPORTS / "engine_options.md")
    args = parser.parse_args()
    args.bundle = args.bundle or args.model / BUNDLE_DIR
    names = [n for n in OPTIONS if n in (DEFAULT, CONTROL, REFERENCE) or not args.only or n in args.only]
    missing = [str(p) for p in (args.bundle / "bundle.json", args.realdev / "gold.jsonl", WILD_SENTENCES, SENTENCES)
               if not p.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make run` first (and give --realdev where the pages are)")
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="pcc-options-") as scratch:
        items, truth = build_items(args)
        dropped = build_graphs(args, {OPTIONS[n].graph for n in names}, Path(scratch), items["selection"])
        models = Models(Path(scratch))
        tokens = {name: {w: padded_tokens(models, OPTIONS[name], items[w]) for w in SPEED_WORKLOADS} for name in names}
        quality = measure_quality(models, names, items)
        load.append(os.getloadavg())
        speed = measure_speed(models, names, items, args.rounds)
        load.append(os.getloadavg())
    figure = args.out.with_suffix(".png")
    report = markdown(args, names, items, truth, dropped, tokens, quality, speed, load, figure)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print("\n" + report)


# ---- inputs ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    """A sentence with what an option may build its context from (the lead as the default model reads it)."""
    text: str
    headings: tuple[str, ...] = ()
    lead: str | None = None
    title: bool = False


def build_items(args: argparse.Namespace) -> tuple[dict[str, list[Item]], dict[str, dict]]:
    """The items of every workload: the bare sentences, the papers' sentences (as `pcc predict` reads a file),
    the selection sample, and each check set's placed gold sentences; per check set its gold labels and which
    rows no sentence holds (reading misses)."""
    import random

    from pcc.bundle import read_bundle
    from pcc.documents import load_document
    from pcc.model_input import model_inputs
    from pcc.readers import find_papers
    from pcc.records import read_sentences
    from training.evaluate import placed_gold

    card = read_bundle(args.bundle).card

    def items_of(sentences, inputs) -> list[Item]:
        return [Item(i.text, tuple(s.heading_path), i.lead, s.is_title) for s, i in zip(sentences, inputs)]

    items = {"bare": [Item(text) for text in spread(unique_sentences([SENTENCES, WILD_SENTENCES]), args.count)],
             "papers": []}
    for path in find_papers(args.papers)[0]:
        sentences = [s for prepared in load_document(path) for s in prepared.sentences]
        items["papers"] += [item for s, item in zip(sentences, items_of(sentences, model_inputs(card, sentences)))
                            if s.quality == "ok"]
    corpus = read_sentences(SENTENCES)
    readable = [(s, i) for s, i in zip(corpus, model_inputs(card, corpus)) if s.quality == "ok"]
    sample = random.Random(0).sample(readable, min(args.selection, len(readable)))
    items["selection"] = items_of([s for s, _ in sample], [i for _, i in sample])
    truth = {}
    sets = {"realdev": (args.realdev / "gold.jsonl", SENTENCES, [str(args.realdev / "pages")]),
            "wild": (WILD_GOLD, WILD_SENTENCES, None), "outside corpus": (OUTSIDE_CORPUS_GOLD, SENTENCES, None)}
    for name, (gold_path, sentences_path, pages) in sets.items():
        placed, missed = placed_gold(Path(gold_path), Path(sentences_path), pages)
        items[name] = items_of([g.sentence for g in placed.gold], placed.inputs(card))
        truth[name] = {"labels": [g.label for g in placed.gold], "missed": [bool(m) for m in missed]}
    return items, truth


def context_of(item: Item, option: Option) -> str | None:
    """The model context of an item as an option builds it (the default: `pcc.model_input.sentence_context`)."""
    from pcc.model_input import TITLE_CONTEXT, heading_context

    if item.title:
        return TITLE_CONTEXT
    headings = list(item.headings[-option.headings:] if option.headings else item.headings)
    lead = item.lead
    if option.lead_chars is not None:
        lead = (lead or "")[-option.lead_chars:] if option.lead_chars else None
    return heading_context(headings, lead)


def inputs(items: Sequence[Item], option: Option) -> tuple[list[str], list[str | None]]:
    return [item.text for item in items], [context_of(item, option) for item in items]


# ---- model files -----------------------------------------------------------------------------------------------

def build_graphs(args: argparse.Namespace, graphs: set[str], out: Path, selection: list[Item]) -> list[int]:
    """A bundle folder under `out` per graph the options use (the shipped files linked); for the re-quantised
    ones and the dropped layers, int8 models calibrated and quantised afresh as `pcc export` does. Returns the
    layers dropped, in the order chosen."""
    from tqdm import tqdm

    from pcc.bundle import BUNDLE_FILE, MODEL_FILES, TOKENIZER_FILE, read_bundle

    for name in graphs:
        (out / name).mkdir(parents=True)
        for file in (BUNDLE_FILE, TOKENIZER_FILE, *MODEL_FILES.values()):
            if name == SHIPPED or file != MODEL_FILES["int8"]:
                (out / name / file).symlink_to((args.bundle / file).resolve())
    fp32 = MODEL_FILES["fp32"]
    layer_counts = sorted((int(g.removeprefix(LAYERS_)) for g in graphs if g.startswith(LAYERS_)), reverse=True)
    dropped = []
    if layer_counts:
        import onnx

        layers = len(layer_outputs(onnx.load(args.bundle / fp32, load_external_data=False).graph)) - 1
        dropped = choose_layers(out / SHIPPED, selection, layers - layer_counts[-1], out / "choosing")
        for count in layer_counts:
            folder = out / f"{LAYERS_}{count}"
            (folder / fp32).unlink()
            drop_layers(args.bundle / fp32, folder / fp32, dropped[:layers - count])
    bundle = read_bundle(args.bundle)
    shipped = bundle.checks["int8_options"]
    todo = sorted(graphs - {SHIPPED})
    for name in tqdm(todo, desc="calibrating and quantising", unit="model"):
        quantise(out / name, {**shipped, **REQUANTISED.get(name, {})}, bundle.settings.get("calibration", {}))
    return dropped


def quantise(folder: Path, options: dict, calibration: dict) -> None:
    """The int8 model of `folder`'s fp32 graph, calibrated on the corpus and quantised with `options`, as `pcc
    export` makes it."""
    from pcc.bundle import MODEL_FILES, read_bundle
    from pcc.records import read_sentences
    from serving.classifier import SentenceClassifier
    from training.exporters.onnx import _calibrate, _node_scopes, _quantize

    bundle = read_bundle(folder)
    settings = {**bundle.settings, "calibration": calibration}
    fp32 = SentenceClassifier(folder, device="cpu", precision="fp32")
    statistics_, _ = _calibrate(folder, fp32, read_sentences(SENTENCES), SENTENCES, bundle.card, settings)
    source = folder / MODEL_FILES["fp32"]
    _quantize(source, folder / MODEL_FILES["int8"], options, _node_scopes(source), statistics_, calibration)


def layer_outputs(graph) -> dict[int, str]:
    """Encoder layer -> the tensor it outputs (its output LayerNorm's, found by the torch modules the exporter
    recorded); -1 -> the embeddings'."""
    import ast

    from training.exporters.onnx import MODULE_SCOPES

    outputs = {}
    for node in graph.node:
        scopes = next((ast.literal_eval(p.value) for p in node.metadata_props if p.key == MODULE_SCOPES), [])
        for scope in scopes if node.op_type == "LayerNormalization" else []:
            found = re.fullmatch(r".*encoder\.layer\.(\d+)\.output\.LayerNorm", scope)
            if found:
                outputs[int(found.group(1))] = node.output[0]
            elif scope.endswith("embeddings.LayerNorm"):
                outputs[-1] = node.output[0]
    return outputs


def drop_layers(source: Path, target: Path, layers: Sequence[int]) -> None:
    """`source` without the encoder `layers`: what read a dropped layer's output reads its input instead, and the
    nodes and weights nothing reads any more go."""
    import onnx

    model = onnx.load(source)
    graph = model.graph
    outputs = layer_outputs(graph)
    rename: dict[str, str] = {}
    for layer in sorted(layers):
        rename[outputs[layer]] = rename.get(outputs[layer - 1], outputs[layer - 1])
    for node in graph.node:
        node.input[:] = [rename.get(name, name) for name in node.input]
    needed, kept = {output.name for output in graph.output}, []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    graph.ClearField("node")
    graph.node.extend(reversed(kept))
    for field_name in ("initializer", "value_info"):
        entries = [entry for entry in getattr(graph, field_name) if entry.name in needed]
        graph.ClearField(field_name)
        getattr(graph, field_name).extend(entries)
    onnx.save(model, target)


def choose_layers(shipped: Path, selection: list[Item], count: int, scratch: Path) -> list[int]:
    """`count` encoder layers to drop, one at a time: each time the one (never the last, which the head reads)
    whose removal, on top of those chosen, moves the shipped int8 model's probabilities least on `selection`."""
    import numpy as np
    from tqdm import tqdm

    from pcc.bundle import MODEL_FILES
    from serving.classifier import SentenceClassifier

    texts, contexts = inputs(selection, OPTIONS[DEFAULT])

    def probabilities(folder: Path) -> np.ndarray:
        classifier = SentenceClassifier(folder, device="cpu", precision="int8")
        return np.array([list(p.scores.values()) for p in classifier.classify(texts, contexts)])

    import onnx

    int8 = MODEL_FILES["int8"]
    last = max(layer_outputs(onnx.load(shipped / int8, load_external_data=False).graph))
    full = probabilities(shipped)
    scratch.mkdir()
    for name in shipped.iterdir():
        if name.name != int8:
            (scratch / name.name).symlink_to(name.resolve())
    chosen: list[int] = []
    with tqdm(total=sum(last - k for k in range(count)), desc="choosing layers to drop", unit="model") as progress:
        for _ in range(count):
            moved = {}
            for layer in sorted(set(range(last)) - set(chosen)):
                drop_layers(shipped / int8, scratch / int8, [*chosen, layer])
                moved[layer] = float(np.abs(probabilities(scratch) - full).sum(axis=1).mean() / 2)
                progress.update()
            chosen.append(min(moved, key=moved.get))
            tqdm.write(f"drop layer {chosen[-1]}: mean total variation {moved[chosen[-1]]:.3f}")
    return chosen


# ---- running an option -----------------------------------------------------------------------------------------

class Models:
    """One classifier per model file and thread count, shared by the options that differ only in inputs and
    batching."""

    def __init__(self, graphs: Path):
        from pcc.bundle import choose_precision

        self.graphs = graphs
        self.default_precision = choose_precision(graphs / SHIPPED, None)
        self._loaded: dict[tuple, object] = {}

    def precision(self, option: Option) -> str:
        return option.precision or self.default_precision

    @contextmanager
    def configured(self, option: Option) -> Iterator:
        """The option's classifier, set to its batching and max length while in use."""
        from serving.classifier import RUN_OVERHEAD_TOKENS, SentenceClassifier

        option = replace(option, precision=self.precision(option))
        key = (option.graph, option.precision, option.threads, option.session_config)
        if key not in self._loaded:
            self._loaded[key] = SentenceClassifier(self.graphs / option.graph, device="cpu",
                                                   precision=option.precision, threads=option.threads)
            if option.session_config:
                self._loaded[key]._session = session(self._loaded[key], option)
        classifier = self._loaded[key]
        classifier.batch_size = option.batch_size
        classifier.run_overhead = RUN_OVERHEAD_TOKENS if option.overhead is None else option.overhead
        # Truncation has no public setting: a measurement of a shorter max length sets the tokenizer's own.
        classifier._tokenizer.enable_truncation(option.max_length or classifier.max_length)
        try:
            yield classifier
        finally:
            classifier._tokenizer.enable_truncation(classifier.max_length)


def session(classifier, option: Option):
    """The classifier's session made again with the option's config entries (session settings have no public
    knob: this is for measuring them)."""
    import onnxruntime as ort

    from pcc.bundle import MODEL_FILES
    from serving.classifier import session_options

    options = session_options(option.threads)
    for key, value in option.session_config:
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(str(classifier.bundle_dir / MODEL_FILES[option.precision]), options,
                                providers=classifier.providers, disabled_optimizers=["SkipLayerNormFusion"])


def classify(models: Models, option: Option, items: Sequence[Item], batch_size: int | None = None) -> list[str]:
    with models.configured(replace(option, batch_size=batch_size or option.batch_size)) as classifier:
        return [p.label for p in classifier.classify(*inputs(items, option))]


def padded_tokens(models: Models, option: Option, items: Sequence[Item]) -> int:
    """The tokens the option's batches of `items` hold, padding included: the compute its inputs and batching ask
    for, counted, so unaffected by the machine's load."""
    with models.configured(option) as classifier:
        return sum(int(feed["input_ids"].size) for _, feed in classifier.batches(*inputs(items, option)))


# ---- measurements ----------------------------------------------------------------------------------------------

def measure_quality(models: Models, names: list[str], items: dict) -> dict[str, dict]:
    """Per option, its labels on each check set in its batches; per model file (graph and precision), whether
    its labels one sentence at a time are the same (None where the option shares another's file)."""
    from tqdm import tqdm

    quality, files = {}, set()
    for name in tqdm(names, desc="labels on the check sets", unit="option"):
        option = OPTIONS[name]
        labels = {check: classify(models, option, items[check]) for check in CHECK_SETS}
        moved = None
        file = (option.graph, models.precision(option))
        if file not in files:
            files.add(file)
            alone = {check: classify(models, option, items[check], 1) for check in CHECK_SETS}
            moved = sum(a != b for check in CHECK_SETS for a, b in zip(labels[check], alone[check]))
        quality[name] = {"labels": labels, "moved_at_1": moved}
    return quality


def measure_speed(models: Models, names: list[str], items: dict, rounds: int) -> dict[str, dict[str, list]]:
    """Per option and workload, the (default, option) seconds of each round's back-to-back pair."""
    from tqdm import tqdm

    def timed(name: str, workload: str) -> float:
        started = time.perf_counter()
        classify(models, OPTIONS[name], items[workload])
        return time.perf_counter() - started

    for name in names:  # warm-up: the first run of a session sizes its buffers
        for workload in SPEED_WORKLOADS:
            timed(name, workload)
    others = [n for n in names if n != DEFAULT]
    pairs = {name: {w: [] for w in SPEED_WORKLOADS} for name in others}
    with tqdm(total=rounds * len(others), desc="paired passes", unit="option") as progress:
        for round_number in range(rounds):
            for name in others if round_number % 2 == 0 else reversed(others):
                for workload in SPEED_WORKLOADS:
                    if round_number % 2 == 0:
                        first, second = timed(DEFAULT, workload), timed(name, workload)
                    else:
                        second, first = timed(name, workload), timed(DEFAULT, workload)
                    pairs[name][workload].append((first, second))
                progress.update()
    return pairs


def speedup(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(median, lowest, highest) of the default's seconds over the option's: how many times faster it ran."""
    ratios = [a / b for a, b in pairs]
    return statistics.median(ratios), min(ratios), max(ratios)


# ---- report ----------------------------------------------------------------------------------------------------

def f1_of(labels: list[str], truth: dict) -> float:
    from training.metrics import classification_scores

    predicted = [None if missed else label for label, missed in zip(labels, truth["missed"])]
    return classification_scores(truth["labels"], predicted)["macro_f1"]


def markdown(args, names, items, truth, dropped, tokens, quality, speed, load, figure) -> str:
    from pcc.bundle import choose_precision, read_bundle

    bundle, default_precision = read_bundle(args.bundle), choose_precision(args.bundle, None)
    scores = {name: {c: f1_of(quality[name]["labels"][c], truth[c]) for c in CHECK_SETS} for name in names}
    deltas = {name: {c: 100 * (scores[name][c] - scores[REFERENCE][c]) for c in CHECK_SETS} for name in names}
    counts = {name: len(entries) for name, entries in items.items()}
    lines = [
        "# Options for a faster default, without training", "",
        f"Written by `python benchmarks/engine_options.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: "
        f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, load average (1 min) "
        f"{', '.join(f'{l[0]:.1f}' for l in load)} at the start, after scoring and after timing. Model "
        f"`{bundle.source_run}`, bundle `{args.bundle}`: `pcc predict` runs it in **{default_precision}** "
        f"(its int8 model is calibrated and {'passed' if bundle.int8_passed else 'did not pass'} the export "
        "checks, `pcc.bundle.choose_precision`).", "",
        f"**Speed.** Two workloads: {counts['bare']} bare sentences, and the {counts['papers']} readable sentences "
        f"of the papers in {', '.join(f'`{p}`' for p in args.papers)} in their context, each classified at once. "
        f"Each option ran right after (or, every other round, right before) the default, {args.rounds} rounds: "
        "× default is the median of the paired ratios (lowest–highest); *default again* runs the default itself, "
        "so its spread is the machine's noise. *Tokens*: what the batches hold, padding included, against the "
        "default's. For × PyTorch, multiply by the default's own ratio in [throughput.md](throughput.md).", "",
        f"**Quality.** Macro-F1 on the real development pages ({counts['realdev']} gold rows, as `pcc evaluate "
        f"--papers` scores them), the wild check set ({counts['wild']}) and the outside-corpus set "
        f"({counts['outside corpus']}), every sentence in its context; Δ in points against fp32. *Batch 1 = 32*: "
        "the labels of the option's model file on the three sets, one sentence at a time against its batches "
        "(〃: the same file as an option above).", "",
    ]
    if dropped:
        lines += [f"**Layers dropped**, in the order chosen on {counts['selection']} corpus sentences (never the "
                  f"check sets): {', '.join(str(layer) for layer in dropped)} (counting from 0).", ""]
    lines += [
        "| option | what | tokens bare / papers | bare × default | papers × default | realdev F1 (Δ) | "
        "wild F1 (Δ) | outside F1 (Δ) | batch 1 = 32 | ≤ 1 point lost |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name in names:
        option = OPTIONS[name]
        cells = [f"**{name}**" if name == DEFAULT else name, option.what,
                 " / ".join(f"{tokens[name][w] / tokens[DEFAULT][w]:.2f}" for w in SPEED_WORKLOADS)]
        cells += ["1" if name == DEFAULT else "{:.2f} ({:.2f}–{:.2f})".format(*speedup(speed[name][w]))
                  for w in SPEED_WORKLOADS]
        cells += [f"{scores[name][c]:.3f} ({deltas[name][c]:+.1f})" for c in CHECK_SETS]
        moved = quality[name]["moved_at_1"]
        cells += ["〃" if moved is None else "yes" if moved == 0 else f"no ({moved} differ)",
                  "yes" if min(deltas[name].values()) >= -1.0 else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    plot(names, speed, deltas, figure)
    lines += ["", f"![speed against macro-F1 lost]({figure.name})", ""]
    return "\n".join(lines)


def plot(names, speed, deltas, path: Path) -> None:
    """Each option: its speed on papers against the default, and the most macro-F1 it lost on a check set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5.5))
    for name in names:
        x = 1.0 if name == DEFAULT else speedup(speed[name]["papers"])[0]
        y = min(deltas[name].values())
        axis.scatter(x, y, color="tab:red" if y < -1 else "tab:blue")
        axis.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
    axis.axhline(-1, linestyle="--", color="grey", linewidth=1)
    axis.axvline(1, linestyle=":", color="grey", linewidth=1)
    axis.set_xlabel("speed on papers in context, × the default (paired median)")
    axis.set_ylabel("largest macro-F1 loss on a check set, points against fp32")
    axis.set_title("Options without training: speed against quality (dashed: the 1-point limit)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
