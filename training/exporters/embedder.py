"""The sentence embedder of `pcc map`: the base encoder (multilingual-e5), mean-pooled and L2-normalised, as ONNX.

`pcc export` writes it into the bundle's `embedder/` folder, beside the classifier, so that `pcc map` and the
service embed sentences with ONNX Runtime alone. It is the *base* model, not the fine-tuned classifier: e5 was
trained for similarity (a `query: ` prefix on both sides of a symmetric task, the mean of the last layer over
the real tokens), while fine-tuning for four labels pulls every sentence of one label together.

The folder holds `model.onnx` (fp32: the exported graph with ONNX Runtime's fused kernels), `model.int8.onnx`
(calibrated int8, `training.exporters.calibrated`: a sentence's vector never depends on its batch),
`tokenizer.json` and `embedder.json` (prefix, max_length, dimensions, the source checkpoint and its digest,
and the checks: fp32 against PyTorch, int8 against fp32 as cosine similarities of the same sentence). The
graph depends on the base checkpoint and the settings only, so an embedder already built from the same ones is
copied instead of exported again.
"""
from __future__ import annotations

import hashlib
import shutil
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from pcc.bundle import CALIBRATED, EMBEDDER_RECORD, MODEL_FILES, TOKENIZER_FILE, read_embedder_record
from pcc.errors import UserError
from pcc.records import write_json
from serving.corpus_map.embedder import SentenceEmbedder
from training.exporters.calibrated import CalibrationSettings, collect_statistics, quantize_calibrated
from training.exporters.fusion import fuse_for_ort

FP32, INT8 = MODEL_FILES["fp32"], MODEL_FILES["int8"]
DEFAULTS = {
    "prefix": "query: ",  # e5's prefix for symmetric tasks (similarity, clustering): both sides get the same
    "max_length": 128,  # tokens read of a sentence with its prefix; longer sentences are cut
    "fp32_min_cosine": 0.9999,  # ONNX fp32 against PyTorch, per sentence: below it the export fails
    "int8_min_cosine": 0.98,  # calibrated int8 against fp32, per sentence, on the check sentences
    "int8_mean_cosine": 0.995,  # ... and on average; below either, the map uses fp32
}


def embedder_settings(settings: dict | None) -> dict:
    """The `embedder` block of configs/export.yaml over the defaults."""
    values = {**DEFAULTS, **(settings or {})}
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise UserError(f"embedder settings: unknown key(s) {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
    return values


def export_embedder(source: str | Path, out_dir: str | Path, *, calibration: list[str], check: list[str],
                    settings: dict | None = None, calibration_settings: dict | None = None,
                    reuse: list[Path] = ()) -> dict:
    """Write the embedder of checkpoint `source` into `out_dir` and return its record (`embedder.json`).

    `calibration`: sentences whose activation ranges calibrate int8; `check`: other sentences on which fp32 is
    compared with PyTorch and int8 with fp32. `reuse`: embedder folders built earlier; the first that came from the
    same checkpoint with the same settings (its own and the calibration's) is copied instead."""
    source, out_dir = Path(source), Path(out_dir)
    settings = embedder_settings(settings)
    if not (source / "config.json").is_file():
        raise UserError(f"{source}: no checkpoint here (config.json missing) to build the map's embedder from; "
                        "run `pcc base-model`")
    digest = checkpoint_digest(source)
    calibration_settings = dict(calibration_settings or {})
    for folder in map(Path, reuse):
        previous = read_embedder_record(folder)
        if (previous and previous.get("source_sha256") == digest and previous.get("settings") == settings
                and previous.get("calibration_settings") == calibration_settings):
            if folder.resolve() != out_dir.resolve():
                shutil.rmtree(out_dir, ignore_errors=True)
                shutil.copytree(folder, out_dir)
            print(f"embedder: the one built from {source} with these settings is reused (from {folder})")
            return previous
    if not calibration or not check:
        raise UserError("embedder: calibration and check sentences are needed; run `pcc prepare` first")

    started = time.monotonic()
    tokenizer, encoder = _load(source)
    staging = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _export_graph(encoder, tokenizer, staging / FP32)
        tokenizer.backend_tokenizer.save(str(staging / TOKENIZER_FILE))
        record = {
            "source": str(source.resolve()), "source_sha256": digest, "settings": settings,
            "calibration_settings": calibration_settings,
            "prefix": settings["prefix"], "max_length": settings["max_length"],
            "dimensions": int(encoder.config.hidden_size), "pad_token_id": int(tokenizer.pad_token_id),
            "pooling": "mean", "normalized": True,
            "files": dict(MODEL_FILES),
        }
        write_json(staging / EMBEDDER_RECORD, record)
        fp32 = SentenceEmbedder(staging, precision="fp32", device="cpu")
        reference = fp32.embed(check, progress=False)
        torch_vectors = _torch_embeddings(encoder, tokenizer, [settings["prefix"] + t for t in check],
                                          settings["max_length"])
        fp32_cosine = float(np.min(np.sum(reference * torch_vectors, axis=1)))
        print(f"embedder fp32 parity: lowest cosine with PyTorch {fp32_cosine:.6f} over {len(check)} sentences "
              f"(at least {settings['fp32_min_cosine']})")
        if fp32_cosine < settings["fp32_min_cosine"]:
            raise UserError(f"{source}: the ONNX embedder differs from PyTorch (lowest cosine {fp32_cosine:.6f} < "
                            f"{settings['fp32_min_cosine']}); no embedder was written")

        calibration_options = CalibrationSettings.from_settings(calibration_settings)
        if len(calibration) > calibration_options.max_inputs:
            chosen = np.random.default_rng(calibration_options.seed).choice(
                len(calibration), calibration_options.max_inputs, replace=False)
            calibration = [calibration[i] for i in sorted(chosen)]
        feeds = [feed for _, feed in fp32.batches(calibration, batch_size=16)]
        tokens = int(sum(feed["attention_mask"].sum() for feed in feeds))
        statistics = collect_statistics(staging / FP32, feeds, tokens, calibration_options)
        quantize_calibrated(staging / FP32, staging / INT8, statistics, [], calibration_options)
        int8 = SentenceEmbedder(staging, precision="int8", device="cpu").embed(check, progress=False)
        cosines = np.sum(int8 * reference, axis=1)
        passed = bool(cosines.min() >= settings["int8_min_cosine"] and cosines.mean() >= settings["int8_mean_cosine"])
        record["checks"] = {
            "sentences": len(check), "fp32_min_cosine_vs_torch": fp32_cosine,
            "calibration": {"inputs": len(calibration), "tokens": tokens},
            "int8_min_cosine": float(cosines.min()), "int8_mean_cosine": float(cosines.mean()),
            "int8_p01_cosine": float(np.percentile(cosines, 1)),
            "int8_same_nearest": _same_nearest(reference, int8),
            "int8_passed": passed,
        }
        record["int8_scheme"] = CALIBRATED
        record["exported_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record["seconds"] = round(time.monotonic() - started, 1)
        print(f"embedder int8: cosine with fp32 lowest {cosines.min():.4f}, mean {cosines.mean():.4f} "
              f"(need {settings['int8_min_cosine']} and {settings['int8_mean_cosine']}); same nearest neighbour for "
              f"{record['checks']['int8_same_nearest']:.1%} -> {'int8' if passed else 'fp32'} is the default")
        write_json(staging / EMBEDDER_RECORD, record)
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.replace(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return record


def checkpoint_digest(source: Path) -> str:
    """SHA-256 over the checkpoint's weights, configuration and tokenizer: what the exported graph depends on."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.iterdir() if p.suffix in (".json", ".safetensors", ".bin", ".model")):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _load(source: Path):
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()  # a classifier checkpoint loaded as a bare encoder: its head is unused
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        encoder = AutoModel.from_pretrained(source, add_pooling_layer=False)
    except (OSError, ValueError) as error:
        raise UserError(f"{source}: cannot load the encoder ({error}); run `pcc base-model` again") from None
    if not tokenizer.is_fast:
        raise UserError(f"{source}: the tokenizer has no tokenizer.json (a fast tokenizer is needed)")
    return tokenizer, encoder.eval()


def _mean_pooled(encoder):
    import torch

    class MeanPooled(torch.nn.Module):
        """The encoder's last layer averaged over the real tokens, scaled to length 1."""

        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooled().eval()


def _export_graph(encoder, tokenizer, path: Path) -> None:
    import onnx_ir
    import torch

    example = tokenizer(["query: 加强警民沟通。", "query: 警民关系紧张的原因是多方面的"], padding=True, return_tensors="pt")
    inputs = {name: example[name] for name in ("input_ids", "attention_mask")}
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _mean_pooled(encoder), (), kwargs=inputs, input_names=list(inputs), output_names=["embedding"],
            opset_version=18, dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs}, dynamo=True,
            verbose=False)
    onnx_ir.save(fuse_for_ort(program.model), path)


def _torch_embeddings(encoder, tokenizer, texts: list[str], max_length: int, batch_size: int = 16) -> np.ndarray:
    """Reference vectors from PyTorch (padding is masked out of attention and pooling, so batches may be padded)."""
    import torch

    model = _mean_pooled(encoder)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            encoded = tokenizer(texts[start:start + batch_size], truncation=True, max_length=max_length,
                                padding=True, return_tensors="pt")
            rows.append(model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).numpy())
    return np.concatenate(rows)


def _same_nearest(reference: np.ndarray, other: np.ndarray) -> float:
    """Share of sentences whose nearest other sentence is the same by both sets of vectors."""
    if len(reference) < 2:
        return 1.0
    first, second = reference @ reference.T, other @ other.T
    np.fill_diagonal(first, -2.0)
    np.fill_diagonal(second, -2.0)
    return float((first.argmax(1) == second.argmax(1)).mean())
