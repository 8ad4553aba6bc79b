"""`pcc export`: turn a fine-tuned model directory into a self-contained ONNX bundle, and check it.

The bundle (`pcc.bundle`) holds `model.onnx` (fp32, with ONNX Runtime's fused transformer kernels and a last
layer that computes only the first token, all the head reads), `model.int8.onnx` (by default calibrated int8,
whose output for a sentence never depends on what it is batched with: `training.exporters.calibrated`),
`tokenizer.json` and `bundle.json`. Export fails unless ONNX fp32 probabilities match PyTorch; the int8
criteria (label agreement, macro-F1 loss on each gold file, its sentences bare and in context) are measured
and reported, trying the configured quantisation settings in order until one meets them.
"""
from __future__ import annotations

import argparse
import ast
import logging
import re
import shutil
import time
import warnings
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from pcc.bundle import (BUNDLE_FILE, CALIBRATED, DYNAMIC, EMBEDDER_DIR, INPUT_NAMES, INT8_SCHEMES, MODEL_FILES,
                        TOKENIZER_FILE, Bundle, read_bundle, write_bundle)
from pcc.errors import UserError
from pcc.model_card import ModelCard, read_model_card
from pcc.model_input import BARE, TITLE_CONTEXT, WITH_CONTEXT, heading_context, model_inputs
from pcc.paths import BUNDLE_DIR, DEV_GOLD, EXPORT_CONFIG, LATEST_MODEL, SENTENCES
from pcc.records import LABELS, read_sentences, read_settings
from training.exporters.calibrated import CalibrationSettings, collect_statistics, quantize_calibrated
from training.exporters.embedder import embedder_settings, export_embedder
from training.exporters.fusion import fuse_for_ort
from training.gold import place_gold, read_gold
from training.metrics import macro_f1

FP32, INT8 = MODEL_FILES["fp32"], MODEL_FILES["int8"]
# Node metadata written by the torch.export-based exporter: the torch modules a node came from.
MODULE_SCOPES = "pkg.torch.onnx.name_scopes"
# Contexts paired with the gold sentences in the parity check, so the two-segment input is checked too.
PROBE_CONTEXTS = (heading_context(["一、存在的问题"]), heading_context(["二、原因分析"], "究其原因，主要有以下几点："),
                  heading_context(["三、对策与建议", "（一）加强队伍建设"]), heading_context([], "存在的问题主要表现为："),
                  TITLE_CONTEXT)
# Keys of a quantisation attempt that are not arguments of quantize_dynamic.
ATTEMPT_KEYS = ("scheme", "keep_first_token_fp32", "exclude_modules", "one_fp32_module_of", "max_outliers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=LATEST_MODEL,
                        help="fine-tuned model directory written by `pcc train` (default: %(default)s)")
    parser.add_argument("--out", type=Path, help=f"bundle directory to write (default: <model>/{BUNDLE_DIR})")
    parser.add_argument("--check-gold", type=Path, nargs="+", metavar="FILE",
                        help="gold files (any gold format) for the parity check (the first) and the int8 checks "
                             f"(each, bare and in context) (default: `check_gold` in {EXPORT_CONFIG})")
    parser.add_argument("--calibration", type=Path, default=SENTENCES,
                        help="prepared sentences (`pcc prepare`) whose activation ranges calibrate the int8 model, "
                             "each in its context and bare; also the papers that place the gold sentences in "
                             "context (default: %(default)s)")
    parser.add_argument("--config", type=Path, default=EXPORT_CONFIG, help="export settings (default: %(default)s)")
    parser.add_argument("--no-store", dest="store", action="store_false",
                        help="do not also save the bundle to the BentoML model store ($BENTOML_HOME/models) as "
                             "a new version of pcc-classifier (which keeps the newest `store_keep` versions)")
    embedder = parser.add_mutually_exclusive_group()
    embedder.add_argument("--no-embedder", dest="embedder", action="store_false",
                          help="leave out the sentence embedder of `pcc map` (the base model, mean-pooled) that the "
                               "bundle otherwise holds in embedder/")
    embedder.add_argument("--embedder-only", action="store_true",
                          help="only add (or refresh) the embedder of an existing bundle, e.g. one exported before it")


def run(args: argparse.Namespace) -> int:
    out_dir = args.out or args.model / BUNDLE_DIR
    settings = load_settings(args.config)
    gold = args.check_gold or [Path(path) for path in settings.get("check_gold", [DEV_GOLD])]
    if args.embedder_only:
        if not (out_dir / BUNDLE_FILE).is_file():
            raise UserError(f"{out_dir}: no bundle to add the embedder to; run `pcc export` without --embedder-only")
        add_embedder(embedder_source(args.model), out_dir, gold, args.calibration, settings)
        return 0
    bundle_dir = export_bundle(args.model, out_dir, gold=gold, settings=settings, calibration=args.calibration,
                               embedder=args.embedder)
    bundle = read_bundle(bundle_dir)
    print(f"wrote {bundle_dir} ({bundle.int8_scheme} int8; criteria {'met' if bundle.int8_passed else 'NOT met'})")
    if args.store:
        from serving.model_store import save_bundle

        stored = save_bundle(bundle_dir, settings["store_keep"])
        removed = (f"; removed {len(stored.removed)} older version(s), keeping the newest {settings['store_keep']}"
                   if stored.removed else "")
        print(f"{'identical to' if stored.reused else 'saved to'} the BentoML model store as {stored.tag}{removed} "
              "(`bentoml build` packs the newest)")
    return 0


def load_settings(path: Path) -> dict:
    settings = read_settings(path, f"pass --config {EXPORT_CONFIG}")
    required = ("opset", "fp32_tolerance", "min_int8_agreement", "max_int8_f1_drop", "quantization_attempts",
                "store_keep")
    missing = [key for key in required if key not in settings]
    if missing:
        raise UserError(f"{path}: missing setting(s) {', '.join(missing)}")
    if not isinstance(settings["store_keep"], int) or settings["store_keep"] < 1:
        raise UserError(f"{path}: store_keep is {settings['store_keep']!r}; give how many versions of the model the "
                        "BentoML model store keeps, at least 1")
    if settings["opset"] < 17:
        raise UserError(f"{path}: opset {settings['opset']} is too old; use 17 or newer")
    if not isinstance(settings.get("check_gold", []), list):
        raise UserError(f"{path}: check_gold must be a list of gold files")
    try:
        CalibrationSettings.from_settings(settings.get("calibration"))
    except (TypeError, ValueError) as error:
        raise UserError(f"{path}: calibration: {error}; see the comments in {EXPORT_CONFIG}") from None
    if not isinstance(settings.get("embedder", {}), dict):
        raise UserError(f"{path}: embedder must be a block of `name: value` settings")
    embedder_settings(settings.get("embedder"))
    for number, options in enumerate(settings["quantization_attempts"], 1):
        scheme = options.get("scheme", DYNAMIC)
        if scheme not in INT8_SCHEMES:
            raise UserError(f"{path}: quantization attempt {number}: scheme {scheme!r} is not one of "
                            f"{', '.join(INT8_SCHEMES)}")
        unknown = sorted(set(options) - set(ATTEMPT_KEYS)) if scheme == CALIBRATED else []
        if unknown:
            raise UserError(f"{path}: quantization attempt {number}: {', '.join(unknown)} do(es) not apply to the "
                            f"calibrated scheme (it takes {', '.join(ATTEMPT_KEYS[1:])})")
        if "max_outliers" in options and (scheme != CALIBRATED or not isinstance(options["max_outliers"], int)
                                          or options["max_outliers"] < 0):
            raise UserError(f"{path}: quantization attempt {number}: max_outliers is a whole number of channels "
                            f"(0 or more) of the calibrated scheme; this attempt is {scheme}")
        for pattern in [*options.get("exclude_modules", []), *filter(None, [options.get("one_fp32_module_of")])]:
            try:
                re.compile(pattern)
            except re.error as error:
                raise UserError(f"{path}: quantization attempt {number}: {pattern!r} is not a regular expression "
                                f"({error})") from None
    return settings


def embedder_source(model_dir: Path) -> Path:
    """The checkpoint the map's embedder comes from: the base model the classifier was fine-tuned from (built by
    `pcc base-model` when it is the default and missing)."""
    from training.base_model import resolve_base_model

    source = Path(resolve_base_model(read_model_card(model_dir).base_model or "default"))
    if not source.is_dir():
        raise UserError(f"{model_dir}: its base model {source} is not a local checkpoint, and the map's embedder is "
                        "built from one; pass --no-embedder, or fine-tune from a local base model")
    return source


def add_embedder(source: Path, bundle_dir: Path, gold: list[Path], calibration: Path, settings: dict,
                 reuse: list[Path] = ()) -> dict:
    """Write the map's sentence embedder of checkpoint `source` into `bundle_dir`/embedder, calibrated on the readable
    `calibration` sentences and checked on the sentences of the first gold file; the one already there, or the
    first of `reuse` (other bundles' embedder folders), is kept when built from the same checkpoint and settings."""
    corpus = [s.text for s in read_sentences(calibration) if s.quality == "ok"] if calibration.is_file() else []
    check = [row["text"] for row in read_gold(gold[0])] if gold else []
    return export_embedder(source, bundle_dir / EMBEDDER_DIR, calibration=corpus, check=check,
                           settings=settings.get("embedder"), calibration_settings=settings.get("calibration"),
                           reuse=[bundle_dir / EMBEDDER_DIR, *reuse])


def export_bundle(model_dir: str | Path, out_dir: str | Path | None = None, *,
                  gold: str | Path | list[str | Path] | None = DEV_GOLD, settings: dict | None = None,
                  calibration: str | Path = SENTENCES, embedder: bool | str | Path = False) -> Path:
    """Export, optimise, quantise and check; the bundle replaces `out_dir` only once complete.

    `gold`: the gold file(s) of the checks (parity on the first); `calibration`: prepared sentences that calibrate
    the int8 ranges and give the gold sentences their context; `embedder`: the checkpoint of the map's sentence
    embedder (`add_embedder`), True for the base model the model was fine-tuned from (`embedder_source`), False
    for a bundle without one."""
    model_dir = Path(model_dir)
    out_dir = Path(out_dir) if out_dir is not None else model_dir / BUNDLE_DIR
    settings = settings or load_settings(EXPORT_CONFIG)
    if not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir}: no fine-tuned model here (config.json missing); run `pcc train` or pass --model")
    gold_files = [] if gold is None else [Path(gold)] if isinstance(gold, (str, Path)) else [Path(g) for g in gold]
    gold_sets = {path: read_gold(path) for path in gold_files}
    calibration = Path(calibration)
    if not calibration.is_file():
        raise UserError(f"{calibration}: no prepared sentences to calibrate int8 on and to place the gold sentences "
                        "in context; run `pcc prepare`, or pass --calibration with a sentences.jsonl it wrote")
    corpus = read_sentences(calibration)
    card = read_model_card(model_dir)
    tokenizer, model = _load(model_dir)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if tuple(labels) != LABELS:
        raise UserError(f"{model_dir / 'config.json'}: id2label is {labels}, expected {list(LABELS)} in that order")
    card = replace(card, labels=labels)  # the order of the checkpoint's outputs

    staging = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        started = time.monotonic()
        input_names = _export_graph(model, tokenizer, staging / FP32, settings["opset"])
        print(f"exported and fused the ONNX graph (opset {settings['opset']}) in {time.monotonic() - started:.0f} s")
        tokenizer.backend_tokenizer.save(str(staging / TOKENIZER_FILE))
        bundle = Bundle(card, tokenizer.pad_token_id, input_names, source_model=str(model_dir.resolve()),
                        opset=settings["opset"], exported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        settings=settings)
        write_bundle(staging, bundle)  # the fp32 model can run: the checks run it
        bundle.checks = _check_and_quantize(staging, model, tokenizer, bundle, _check_sets(gold_sets, corpus, card),
                                            corpus, calibration, settings)
        bundle.int8_scheme = bundle.checks["int8_options"].get("scheme", DYNAMIC)
        print(f"exported, optimised, quantised and checked in {time.monotonic() - started:.0f} s")
        write_bundle(staging, bundle)
        if embedder is not False:
            # The embedder depends on the base model only: the one this bundle or another training run's bundle
            # holds is kept when nothing it depends on changed.
            source = embedder_source(model_dir) if embedder is True else Path(embedder)
            others = sorted(model_dir.resolve().parent.glob(f"*/{BUNDLE_DIR}/{EMBEDDER_DIR}"),
                            key=lambda folder: folder.stat().st_mtime, reverse=True)
            add_embedder(source, staging, gold_files, calibration, settings, reuse=[out_dir / EMBEDDER_DIR, *others])
        _replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _load(model_dir: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    except (OSError, ValueError) as error:
        raise UserError(f"{model_dir}: cannot load the model ({error}); run `pcc train` again") from None
    if not tokenizer.is_fast:
        raise UserError(f"{model_dir}: the tokenizer has no tokenizer.json (a fast tokenizer is needed)")
    return tokenizer, model.eval()


def _export_graph(model, tokenizer, path: Path, opset: int) -> list[str]:
    """torch.export-based ONNX export (dynamic batch and length), fused for ONNX Runtime, saved to `path`."""
    import onnx_ir
    import torch

    from training.exporters.first_token import first_token_classifier

    # The legacy TorchScript exporter traces transformers' attention-mask code into constants and
    # drifts from PyTorch by ~1e-2 here; the torch.export path matches to ~1e-8.
    example = tokenizer(["加强警民沟通。", "警民关系紧张的原因是多方面的"], ["一、存在的问题", "二、原因分析"],
                        padding=True, return_tensors="pt")
    inputs = {name: example[name] for name in INPUT_NAMES if name in example}
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            first_token_classifier(model), (), kwargs=inputs, input_names=list(inputs), output_names=["logits"],
            opset_version=opset,
            dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs}, dynamo=True, verbose=False,
        )
    onnx_ir.save(fuse_for_ort(program.model), path)
    return list(inputs)


def _torch_probabilities(model, tokenizer, texts: list[str], contexts: list[str | None], max_length: int) -> np.ndarray:
    """Reference probabilities, one unpadded sentence at a time, tokenised the way training does."""
    import torch

    rows = []
    with torch.inference_mode():
        for text, context in zip(texts, contexts):
            encoded = tokenizer(text, context, truncation=True, max_length=max_length, return_tensors="pt")
            rows.append(torch.softmax(model(**encoded).logits, dim=-1)[0].numpy())
    return np.stack(rows)


class CheckSet:
    """Gold sentences as the int8 checks read them: one gold file, bare or each in its paper's context."""

    def __init__(self, gold: Path | None, view: str, texts: list[str], contexts: list[str | None] | None,
                 labels: list[str] | None):
        self.gold, self.view, self.texts, self.contexts, self.labels = gold, view, texts, contexts, labels

    @property
    def name(self) -> str:
        return f"{self.gold or 'no gold'} ({self.view})"


def _check_sets(gold_sets: dict[Path, list[dict]], corpus: list, card: ModelCard) -> list[CheckSet]:
    """Each gold file's sentences bare and in context: placed in their papers of the prepared corpus (or in papers
    rebuilt from the gold rows, as `pcc evaluate` does), as the model reads them."""
    sets = []
    for path, rows in gold_sets.items():
        placed = place_gold(rows, corpus)
        inputs = placed.inputs(card)
        texts, labels = [item.text for item in inputs], [g.label for g in placed.gold]
        sets += [CheckSet(path, BARE, texts, None, labels),
                 CheckSet(path, WITH_CONTEXT, texts, [item.context for item in inputs], labels)]
    return sets or [CheckSet(None, BARE, ["加强警民沟通，提高执法公信力。"], None, None)]


def _check_and_quantize(staging: Path, model, tokenizer, bundle: Bundle, check_sets: list[CheckSet], corpus: list,
                        calibration: Path, settings: dict) -> dict:
    from serving.classifier import SentenceClassifier

    card = bundle.card

    def scores(classifier, texts, contexts) -> np.ndarray:
        return np.array([[p.scores[label] for label in card.labels] for p in classifier.classify(texts, contexts)])

    def f1(labels: list[str] | None, probabilities: np.ndarray) -> float | None:
        return None if not labels else macro_f1(labels, [card.labels[i] for i in probabilities.argmax(axis=1)])

    # Parity with PyTorch, on the first gold file's sentences bare and, for a model that reads a context, each
    # with a made-up one.
    fp32 = SentenceClassifier(staging, device="cpu", precision="fp32")
    texts = check_sets[0].texts
    contexts = [PROBE_CONTEXTS[i % len(PROBE_CONTEXTS)] if card.use_heading else None for i in range(len(texts))]
    fp32_plain, fp32_headed = scores(fp32, texts, None), scores(fp32, texts, contexts)
    torch_plain = _torch_probabilities(model, tokenizer, texts, [None] * len(texts), card.max_length)
    torch_headed = _torch_probabilities(model, tokenizer, texts, contexts, card.max_length)
    fp32_diff = float(max(np.abs(fp32_plain - torch_plain).max(), np.abs(fp32_headed - torch_headed).max()))
    print(f"fp32 parity: max |ONNX - PyTorch| probability = {fp32_diff:.2e} over {2 * len(texts)} inputs "
          f"(tolerance {settings['fp32_tolerance']:.0e})")
    if fp32_diff > settings["fp32_tolerance"]:
        raise UserError(f"{bundle.source_model}: ONNX fp32 probabilities differ from PyTorch by {fp32_diff:.2e} "
                        f"(> {settings['fp32_tolerance']:.0e}); no bundle was written. Check the opset in configs/export.yaml")

    reference = [scores(fp32, s.texts, s.contexts) for s in check_sets]
    nodes = _node_scopes(staging / FP32)  # every attempt quantises this graph: read its metadata once
    attempts_settings = _expand_attempts(settings["quantization_attempts"], nodes)
    statistics, calibration_record = None, None
    if any(options.get("scheme", DYNAMIC) == CALIBRATED for options in attempts_settings):
        statistics, calibration_record = _calibrate(staging, fp32, corpus, calibration, card, settings)

    attempts = []
    for number, options in enumerate(attempts_settings):
        candidate = f"model.int8.try{number}.onnx"
        kept_fp32 = _quantize(staging / FP32, staging / candidate, options, nodes, statistics,
                              settings.get("calibration"))
        (staging / candidate).replace(staging / INT8)
        int8 = SentenceClassifier(staging, device="cpu", precision="int8")
        (staging / INT8).replace(staging / candidate)
        results = []
        for check, fp32_probabilities in zip(check_sets, reference):
            int8_probabilities = scores(int8, check.texts, check.contexts)
            fp32_f1, int8_f1 = f1(check.labels, fp32_probabilities), f1(check.labels, int8_probabilities)
            results.append({
                "gold": str(check.gold) if check.gold else None, "view": check.view, "sentences": len(check.texts),
                "label_agreement": float((int8_probabilities.argmax(1) == fp32_probabilities.argmax(1)).mean()),
                "fp32_macro_f1": fp32_f1, "int8_macro_f1": int8_f1,
                "max_abs_prob_diff_vs_fp32": float(np.abs(int8_probabilities - fp32_probabilities).max()),
            })
        agreement = min(r["label_agreement"] for r in results)
        drops = [r["fp32_macro_f1"] - r["int8_macro_f1"] for r in results if r["fp32_macro_f1"] is not None]
        f1_drop = max(drops) if drops else None
        passed = agreement >= settings["min_int8_agreement"] and (f1_drop is None or f1_drop <= settings["max_int8_f1_drop"])
        attempts.append({"options": options, "file": candidate, "fp32_nodes": kept_fp32, "label_agreement": agreement,
                         "max_f1_drop": f1_drop, "sets": results, "passed": passed})
        print(f"int8 {options}: {len(kept_fp32)} nodes kept fp32; labels agree with fp32 on "
              + ", ".join(f"{r['label_agreement']:.1%} of {r['gold'] or 'one sentence'} {r['view']}" for r in results)
              + f" (need {settings['min_int8_agreement']:.0%} each); macro-F1 drop at most "
              + (f"{100 * f1_drop:+.2f} points (allowed {100 * settings['max_int8_f1_drop']:.1f})"
                 if f1_drop is not None else "n/a (no gold)")
              + (" -> OK" if passed else " -> not met"))
        if passed:
            break
    chosen = next((a for a in attempts if a["passed"]), None) or max(
        attempts, key=lambda a: (a["label_agreement"], -(a["max_f1_drop"] or 0.0)))
    (staging / chosen["file"]).replace(staging / INT8)
    for attempt in attempts:
        (staging / attempt.pop("file")).unlink(missing_ok=True)
    if not chosen["passed"]:
        print(f"int8 criteria NOT met by any quantisation setting; kept {chosen['options']}. "
              "`pcc predict` and `pcc serve` use fp32 for this bundle unless given `--precision int8`.")
    batch_diff = _batch_dependence(staging, check_sets, scores)
    print(f"int8 batch dependence: max |batch 1 - batch 32| probability = {batch_diff:.1e}")
    return {
        "gold": [str(path) for path in dict.fromkeys(s.gold for s in check_sets) if path is not None],
        "sentences": sum(len(s.texts) for s in check_sets if s.view == BARE),
        "fp32_max_abs_prob_diff": fp32_diff,
        "calibration": calibration_record,
        "int8_options": chosen["options"],
        "int8_label_agreement": chosen["label_agreement"],
        "int8_max_f1_drop": chosen["max_f1_drop"],
        "int8_sets": chosen["sets"],
        "int8_passed": chosen["passed"],
        "int8_batch_max_abs_prob_diff": batch_diff,
        "int8_attempts": attempts,
    }


def _calibrate(staging: Path, fp32, corpus: list, calibration: Path, card: ModelCard, settings: dict):
    """Per-channel statistics of every quantisable MatMul input of the fp32 graph, over calibration inputs made
    as serving makes them: each readable corpus sentence in its paper's context, and bare."""
    options = CalibrationSettings.from_settings(settings.get("calibration"))
    readable = [(item.text, item.context) for s, item in zip(corpus, model_inputs(card, corpus)) if s.quality == "ok"]
    inputs = [*readable, *((text, None) for text, context in readable if context)]
    if not inputs:
        raise UserError(f"{calibration}: no readable sentences to calibrate int8 on; run `pcc prepare` again")
    if len(inputs) > options.max_inputs:
        chosen = np.random.default_rng(options.seed).choice(len(inputs), options.max_inputs, replace=False)
        inputs = [inputs[i] for i in sorted(chosen)]
    started = time.monotonic()
    feeds = [feed for _, feed in fp32.batches([t for t, _ in inputs], [c for _, c in inputs], batch_size=16)]
    tokens = int(sum(feed["attention_mask"].sum() for feed in feeds))
    statistics = collect_statistics(staging / FP32, feeds, tokens, options)
    seconds = time.monotonic() - started
    print(f"int8 calibration: {len(inputs)} inputs ({tokens} tokens) from {calibration} in {seconds:.0f} s")
    return statistics, {"file": str(calibration), "inputs": len(inputs), "tokens": tokens, "seconds": round(seconds, 1)}


def _batch_dependence(staging: Path, check_sets: list[CheckSet], scores) -> float:
    """Largest change of an int8 probability between classifying the check sentences one at a time and in
    batches of 32 (sorted by length, so each sentence has other neighbours and other padding)."""
    from serving.classifier import SentenceClassifier

    texts = [t for s in check_sets[:2] for t in s.texts]
    contexts = [c for s in check_sets[:2] for c in (s.contexts or [None] * len(s.texts))]
    alone = scores(SentenceClassifier(staging, device="cpu", precision="int8", batch_size=1), texts, contexts)
    batched = scores(SentenceClassifier(staging, device="cpu", precision="int8", batch_size=32), texts, contexts)
    return float(np.abs(alone - batched).max())


def _node_scopes(graph: Path) -> list[tuple[str, list[str]]]:
    """(node name, the torch modules it came from, outermost first) for every node of an exported graph."""
    import onnx

    return [(node.name, next((ast.literal_eval(p.value) for p in node.metadata_props if p.key == MODULE_SCOPES), []))
            for node in onnx.load(graph, load_external_data=False).graph.node]


def _expand_attempts(attempts: list[dict], nodes: list[tuple[str, list[str]]]) -> list[dict]:
    """The quantisation attempts, each with `one_fp32_module_of` (a regular expression over torch module names)
    replaced by one attempt per matching module in graph order (`nodes`: `_node_scopes` of the graph), keeping
    only that module fp32 as well.

    A few borderline sentences decide the agreement check, and which module's int8 error flips them differs
    from one fine-tune to the next; trying them one at a time finds the cheapest setting that passes.
    """
    expanded = []
    for options in attempts:
        pattern = options.get("one_fp32_module_of")
        if pattern is None:
            expanded.append(options)
            continue
        shared = {key: value for key, value in options.items() if key != "one_fp32_module_of"}
        modules = dict.fromkeys(scope for _, scopes in nodes for scope in scopes
                                if re.fullmatch(pattern, scope))
        expanded += [{**shared, "exclude_modules": [*shared.get("exclude_modules", []), re.escape(module)]}
                     for module in modules]
    return expanded


def _quantize(source: Path, target: Path, options: dict, nodes: list[tuple[str, list[str]]],
              statistics: dict | None = None, calibration: dict | None = None) -> list[str]:
    """Quantise `source` to `target` with one attempt's `options`: `scheme` calibrated
    (`training.exporters.calibrated`, with the calibration `statistics` and settings) or dynamic
    (quantize_dynamic, taking the other options as its arguments; the default), the calibrated one with the
    attempt's `max_outliers` in place of the calibration settings' where it gives one. `exclude_modules` keeps the
    MatMuls of matching torch modules fp32, and `keep_first_token_fp32` those of the modules that run on one
    position per sentence (the last layer's `FIRST_TOKEN_MODULES`, the pooler, the classifier), where fp32 costs
    next to no time.

    `nodes` is `_node_scopes(source)`. Returns the names of the nodes kept fp32 that way.
    """
    options = dict(options)
    scheme = options.pop("scheme", DYNAMIC)
    patterns = [re.compile(p) for p in options.pop("exclude_modules", [])]
    keep_first_token = options.pop("keep_first_token_fp32", False)
    # An attempt's own `max_outliers` overrides the calibration block's (it decides nothing at calibration time).
    outliers = {"max_outliers": options.pop("max_outliers")} if "max_outliers" in options else {}
    if keep_first_token:
        from training.exporters.first_token import FIRST_TOKEN_MODULES

        layers = [int(m.group(1)) for _, scopes in nodes for scope in scopes
                  if (m := re.search(r"encoder\.layer\.(\d+)\.", scope))]
        if layers:
            last = rf".*encoder\.layer\.{max(layers)}\."
            patterns += [re.compile(last + re.escape(name)) for name in FIRST_TOKEN_MODULES]
        patterns.append(re.compile(r".*\b(?:pooler|classifier)\b.*"))
    excluded = [name for name, scopes in nodes
                if any(pattern.fullmatch(scope) for pattern in patterns for scope in scopes)]
    if scheme == CALIBRATED:
        if statistics is None:
            raise ValueError("the calibrated scheme needs calibration statistics")
        quantize_calibrated(source, target, statistics, excluded,
                            CalibrationSettings.from_settings({**(calibration or {}), **outliers}))
        return excluded
    from onnxruntime.quantization import quantize_dynamic

    logging.disable(logging.WARNING)  # quantize_dynamic logs advice on static (calibrated) quantisation
    try:
        quantize_dynamic(source, target, nodes_to_exclude=excluded, **options)
    finally:
        logging.disable(logging.NOTSET)
    return excluded


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Swap the finished bundle in; an older bundle is kept aside until the new one is in place."""
    previous = out_dir.parent / f".{out_dir.name}.previous"
    shutil.rmtree(previous, ignore_errors=True)
    if out_dir.exists():
        out_dir.replace(previous)
    staging.replace(out_dir)
    shutil.rmtree(previous, ignore_errors=True)
