"""`pcc export`: turn a fine-tuned model directory into a self-contained ONNX bundle, and check it.

The bundle holds `model.onnx` (fp32, with ONNX Runtime's fused transformer kernels and a last layer that
computes only the first token, all the head reads), `model.int8.onnx` (dynamically quantised),
`tokenizer.json` and `bundle.json`. Export fails unless ONNX fp32 probabilities match PyTorch; the int8
criteria (label agreement, macro-F1 loss on the gold file) are measured and reported, trying the
configured quantisation settings in order until one meets them.
"""
from __future__ import annotations

import argparse
import ast
import json
import logging
import re
import shutil
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from pcc.errors import UserError
from pcc.model_input import TITLE_CONTEXT, heading_context
from pcc.paths import BUNDLE_DIR, DEV_GOLD, EXPORT_CONFIG, LATEST_MODEL
from pcc.records import LABELS, read_settings, write_json
from training.gold import read_gold
from training.metrics import macro_f1
from training.model_card import read_model_card

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Node metadata written by the torch.export-based exporter: the torch modules a node came from.
MODULE_SCOPES = "pkg.torch.onnx.name_scopes"
# Contexts paired with the gold sentences in the parity check, so the two-segment input is checked too.
PROBE_CONTEXTS = (heading_context(["一、存在的问题"]), heading_context(["二、原因分析"], "究其原因，主要有以下几点："),
                  heading_context(["三、对策与建议", "（一）加强队伍建设"]), heading_context([], "存在的问题主要表现为："),
                  TITLE_CONTEXT)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=LATEST_MODEL,
                        help="fine-tuned model directory written by `pcc train` (default: %(default)s)")
    parser.add_argument("--out", type=Path, help=f"bundle directory to write (default: <model>/{BUNDLE_DIR})")
    parser.add_argument("--check-gold", type=Path, default=DEV_GOLD,
                        help="labelled sentences (JSONL: text, label) for the parity and int8 checks (default: %(default)s)")
    parser.add_argument("--config", type=Path, default=EXPORT_CONFIG, help="export settings (default: %(default)s)")
    parser.add_argument("--no-store", dest="store", action="store_false",
                        help="do not also save the bundle to the BentoML model store ($BENTOML_HOME/models) as "
                             "a new version of pcc-classifier")


def run(args: argparse.Namespace) -> int:
    out_dir = args.out or args.model / BUNDLE_DIR
    bundle_dir = export_bundle(args.model, out_dir, gold=args.check_gold, settings=load_settings(args.config))
    checks = json.loads((bundle_dir / "bundle.json").read_text(encoding="utf-8"))["checks"]
    print(f"wrote {bundle_dir} (int8 criteria {'met' if checks['int8_passed'] else 'NOT met'})")
    if args.store:
        from serving.model_store import save_bundle

        print(f"saved to the BentoML model store as {save_bundle(bundle_dir)} (`bentoml build` packs the newest)")
    return 0


def load_settings(path: Path) -> dict:
    settings = read_settings(path, f"pass --config {EXPORT_CONFIG}")
    required = ("opset", "fp32_tolerance", "min_int8_agreement", "max_int8_f1_drop", "quantization_attempts")
    missing = [key for key in required if key not in settings]
    if missing:
        raise UserError(f"{path}: missing setting(s) {', '.join(missing)}")
    if settings["opset"] < 17:
        raise UserError(f"{path}: opset {settings['opset']} is too old; use 17 or newer")
    for number, options in enumerate(settings["quantization_attempts"], 1):
        for pattern in [*options.get("exclude_modules", []), *filter(None, [options.get("one_fp32_module_of")])]:
            try:
                re.compile(pattern)
            except re.error as error:
                raise UserError(f"{path}: quantization attempt {number}: {pattern!r} is not a regular expression "
                                f"({error})") from None
    return settings


def export_bundle(model_dir: str | Path, out_dir: str | Path | None = None, *, gold: str | Path | None = DEV_GOLD,
                  settings: dict | None = None) -> Path:
    """Export, optimise, quantise and check; the bundle replaces `out_dir` only once complete."""
    model_dir = Path(model_dir)
    out_dir = Path(out_dir) if out_dir is not None else model_dir / BUNDLE_DIR
    settings = settings or load_settings(EXPORT_CONFIG)
    if not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir}: no fine-tuned model here (config.json missing); run `pcc train` or pass --model")
    gold_rows = read_gold(gold) if gold is not None else []
    card = read_model_card(model_dir)
    tokenizer, model = _load(model_dir)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if tuple(labels) != LABELS:
        raise UserError(f"{model_dir / 'config.json'}: id2label is {labels}, expected {list(LABELS)} in that order")

    staging = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        started = time.monotonic()
        input_names = _export_graph(model, tokenizer, staging / "model.onnx", settings["opset"])
        print(f"exported and fused the ONNX graph (opset {settings['opset']}) in {time.monotonic() - started:.0f} s")
        tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        bundle = {
            "labels": labels,
            "max_length": int(card.max_length),
            "use_heading": bool(card.use_heading),
            "context": card.context,
            "input_names": input_names,
            "pad_token_id": tokenizer.pad_token_id,
            "source_model": str(model_dir.resolve()),
            "base_model": card.base_model,
            "opset": settings["opset"],
            "files": {"fp32": "model.onnx", "int8": "model.int8.onnx"},
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": settings,
        }
        write_json(staging / "bundle.json", bundle)
        bundle["checks"] = _check_and_quantize(staging, model, tokenizer, bundle, gold_rows, gold, settings)
        print(f"exported, optimised, quantised and checked in {time.monotonic() - started:.0f} s")
        write_json(staging / "bundle.json", bundle)
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
    inputs = {name: example[name] for name in MODEL_INPUTS if name in example}
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            first_token_classifier(model), (), kwargs=inputs, input_names=list(inputs), output_names=["logits"],
            opset_version=opset,
            dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs}, dynamo=True, verbose=False,
        )
    onnx_ir.save(_fuse_for_ort(program.model), path)
    return list(inputs)


def _fuse_for_ort(graph):
    """ONNX Runtime's transformer kernels in place of their decomposed form (onnxscript rewrite rules).

    BiasGelu and MultiHeadAttention; deliberately not the packed `Attention` op, so the Q/K/V
    projections stay MatMuls that int8 quantisation reaches (1.2x faster int8 here). Residual adds and
    LayerNormalization stay apart: ONNX Runtime's CPU SkipLayerNormalization kernel is ~4x slower than
    the two (see `serving.classifier`, which keeps ORT from fusing them on the CPU). These kernels exist
    for the CPU and CUDA providers alike; the `pkg.torch.onnx.name_scopes` metadata that
    `exclude_modules` reads survives the rewrites.
    """
    from onnxscript import optimizer
    from onnxscript.rewriter import rewrite
    from onnxscript.rewriter.ort_fusions import ORT_PATTERN_REWRITE_RULES
    from onnxscript.rewriter.ort_fusions.bias_gelu import fuse_bias_gelu
    from onnxscript.rewriter.ort_fusions.erfgelu import fuse_erfgelu
    from onnxscript.rewriter.ort_fusions.mha import fuse_mha2
    from onnxscript.rewriter.ort_fusions.sdpa import fuse_sdpa

    optimizer.optimize(graph)
    fuse_erfgelu(graph)
    fuse_sdpa(graph, apply_shape_inference=True)  # the pattern MultiHeadAttention is fused from
    fused = {"MultiHeadAttention": fuse_mha2(graph), "BiasGelu": fuse_bias_gelu(graph)}
    optimizer.optimize(graph)
    rewrite(graph, ORT_PATTERN_REWRITE_RULES)
    if not all(fused.values()):
        missing = ", ".join(op for op, count in fused.items() if not count)
        warnings.warn(f"no {missing} fusion matched this architecture; the graph runs unfused there")
    return graph


def _torch_probabilities(model, tokenizer, texts: list[str], contexts: list[str | None], max_length: int) -> np.ndarray:
    """Reference probabilities, one unpadded sentence at a time, tokenised the way training does."""
    import torch

    rows = []
    with torch.inference_mode():
        for text, context in zip(texts, contexts):
            encoded = tokenizer(text, context, truncation=True, max_length=max_length, return_tensors="pt")
            rows.append(torch.softmax(model(**encoded).logits, dim=-1)[0].numpy())
    return np.stack(rows)


def _check_and_quantize(staging: Path, model, tokenizer, bundle: dict, gold_rows: list[dict], gold: Path | None,
                        settings: dict) -> dict:
    from serving.classifier import SentenceClassifier

    texts = [row["text"] for row in gold_rows] or ["加强警民沟通，提高执法公信力。"]
    gold_labels = [row["label"] for row in gold_rows]
    contexts = [PROBE_CONTEXTS[i % len(PROBE_CONTEXTS)] for i in range(len(texts))]

    def scores(classifier, with_headings: bool) -> np.ndarray:
        predictions = classifier.classify(texts, contexts if with_headings else None)
        return np.array([[p.scores[label] for label in bundle["labels"]] for p in predictions])

    def gold_f1(probabilities: np.ndarray) -> float | None:
        if not gold_labels:
            return None
        return macro_f1(gold_labels, [bundle["labels"][i] for i in probabilities.argmax(axis=1)])

    fp32 = SentenceClassifier(staging, device="cpu", precision="fp32")
    fp32_plain, fp32_headed = scores(fp32, False), scores(fp32, True)
    torch_plain = _torch_probabilities(model, tokenizer, texts, [None] * len(texts), bundle["max_length"])
    torch_contexts = contexts if bundle["use_heading"] else [None] * len(texts)
    torch_headed = _torch_probabilities(model, tokenizer, texts, torch_contexts, bundle["max_length"])
    fp32_diff = float(max(np.abs(fp32_plain - torch_plain).max(), np.abs(fp32_headed - torch_headed).max()))
    print(f"fp32 parity: max |ONNX - PyTorch| probability = {fp32_diff:.2e} over {2 * len(texts)} inputs "
          f"(tolerance {settings['fp32_tolerance']:.0e})")
    if fp32_diff > settings["fp32_tolerance"]:
        raise UserError(f"{bundle['source_model']}: ONNX fp32 probabilities differ from PyTorch by {fp32_diff:.2e} "
                        f"(> {settings['fp32_tolerance']:.0e}); no bundle was written. Check the opset in configs/export.yaml")

    fp32_labels = fp32_plain.argmax(axis=1)
    fp32_f1 = gold_f1(fp32_plain)
    attempts = []
    nodes = _node_scopes(staging / "model.onnx")  # every attempt quantises this graph: read its metadata once
    for number, options in enumerate(_expand_attempts(settings["quantization_attempts"], nodes)):
        candidate = f"model.int8.try{number}.onnx"
        kept_fp32 = _quantize(staging / "model.onnx", staging / candidate, options, nodes)
        (staging / candidate).replace(staging / "model.int8.onnx")
        int8_plain = scores(SentenceClassifier(staging, device="cpu", precision="int8"), False)
        (staging / "model.int8.onnx").replace(staging / candidate)
        agreement = float((int8_plain.argmax(axis=1) == fp32_labels).mean())
        int8_f1 = gold_f1(int8_plain)
        f1_drop = None if fp32_f1 is None else fp32_f1 - int8_f1
        passed = agreement >= settings["min_int8_agreement"] and (f1_drop is None or f1_drop <= settings["max_int8_f1_drop"])
        attempts.append({"options": options, "file": candidate, "fp32_nodes": kept_fp32,
                         "label_agreement": agreement, "macro_f1": int8_f1,
                         "max_abs_prob_diff_vs_fp32": float(np.abs(int8_plain - fp32_plain).max()), "passed": passed})
        print(f"int8 {options}: {len(kept_fp32)} nodes kept fp32; labels agree with fp32 on {agreement:.1%} of {len(texts)} sentences "
              f"(need {settings['min_int8_agreement']:.0%}); macro-F1 "
              + (f"{int8_f1:.4f} vs fp32 {fp32_f1:.4f} (drop {100 * f1_drop:+.2f} points, allowed "
                 f"{100 * settings['max_int8_f1_drop']:.1f})" if fp32_f1 is not None else "n/a (no gold)")
              + (" -> OK" if passed else " -> not met"))
        if passed:
            break
    chosen = next((a for a in attempts if a["passed"]), None) or max(
        attempts, key=lambda a: (a["label_agreement"], a["macro_f1"] or 0.0))
    (staging / chosen["file"]).replace(staging / "model.int8.onnx")
    for attempt in attempts:
        (staging / attempt.pop("file")).unlink(missing_ok=True)
    if not chosen["passed"]:
        print(f"int8 criteria NOT met by any quantisation setting; kept {chosen['options']}. "
              "Use `--precision fp32` for full accuracy.")
    return {
        "gold": str(gold) if gold_rows else None,
        "sentences": len(texts),
        "fp32_max_abs_prob_diff": fp32_diff,
        "fp32_macro_f1": fp32_f1,
        "int8_options": chosen["options"],
        "int8_label_agreement": chosen["label_agreement"],
        "int8_macro_f1": chosen["macro_f1"],
        "int8_passed": chosen["passed"],
        "int8_attempts": attempts,
    }


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


def _quantize(source: Path, target: Path, options: dict, nodes: list[tuple[str, list[str]]]) -> list[str]:
    """quantize_dynamic with `options`; `exclude_modules` keeps the MatMuls of matching torch modules fp32,
    and `keep_first_token_fp32` those of the modules that run on one position per sentence (the last layer's
    `FIRST_TOKEN_MODULES`, the pooler, the classifier), where fp32 costs next to no time.

    `nodes` is `_node_scopes(source)`. Returns the names of the nodes kept fp32 that way.
    """
    from onnxruntime.quantization import quantize_dynamic

    options = dict(options)
    patterns = [re.compile(p) for p in options.pop("exclude_modules", [])]
    keep_first_token = options.pop("keep_first_token_fp32", False)
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
