"""A training run's directory (`models/<run>/`, linked as `models/latest`): its one reader and writer.

Beside the transformers checkpoint (`config.json`, `model.safetensors`, tokenizer files), `pcc train` writes:
- `pcc_model.json`, the model card (`pcc.model_card`): how the model reads its input and how it was trained;
- `config.yaml`: the training settings used;
- `metrics.json`: held-out figures per epoch and per class, calibration before and after, fit times;
- `heldout_predictions.jsonl`: the cross-fitted probabilities of each dev-gold sentence;
and `pcc export` adds the ONNX bundle in `onnx/` (`pcc.bundle`).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

from pcc.model_card import ModelCard, write_model_card
from pcc.records import atomic_open, read_jsonl, write_json, write_jsonl

SETTINGS = "config.yaml"
METRICS = "metrics.json"
HELDOUT = "heldout_predictions.jsonl"
LATEST = "latest"


def new_run_dir(output_dir: str | Path, run_name: str) -> Path:
    """A fresh `<output_dir>/<run_name>-<time>` directory."""
    run_dir = Path(output_dir) / f"{run_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


def write_run_records(run_dir: Path, card: ModelCard, settings: dict, metrics: dict, heldout: list[dict]) -> None:
    """The model card, the settings used, the metrics and the held-out predictions, beside the checkpoint."""
    write_model_card(run_dir, card)
    with atomic_open(run_dir / SETTINGS) as handle:
        handle.write(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    write_json(run_dir / METRICS, metrics)
    if heldout:
        write_jsonl(run_dir / HELDOUT, heldout)


def read_metrics(model_dir: str | Path) -> dict:
    """`metrics.json` of a model directory; empty when there is none."""
    path = Path(model_dir) / METRICS
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def read_heldout(model_dir: str | Path) -> list[dict]:
    """The held-out predictions of a model directory (`line`, `paper_id`, `text`, `fold`, `probs_heading`,
    `probs_bare`); none when it was trained without cross-fitting."""
    path = Path(model_dir) / HELDOUT
    return list(read_jsonl(path)) if path.is_file() else []


def point_latest(output_dir: str | Path, run_dir: Path) -> None:
    """Make `<output_dir>/latest` a relative symlink to the run, replaced atomically."""
    output_dir = Path(output_dir)
    temporary = output_dir / f".{LATEST}-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(run_dir.name, temporary)
    os.replace(temporary, output_dir / LATEST)

