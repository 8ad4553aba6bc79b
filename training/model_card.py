"""The contract of a model directory (`models/<run>/`, linked as `models/latest`), and its one reader and writer.

Beside the transformers checkpoint (`config.json`, `model.safetensors`, tokenizer files), `pcc train` writes:
- `pcc_model.json`, the model card (`ModelCard`): how the model reads its input and how it was trained;
- `config.yaml`: the training settings used;
- `metrics.json`: held-out figures per epoch and per class, calibration before and after, fit times;
- `heldout_predictions.jsonl`: the cross-fitted probabilities of each dev-gold sentence;
and `pcc export` adds the ONNX bundle in `onnx/`.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from pcc.errors import UserError
from pcc.model_input import HEADINGS
from pcc.records import LABELS, atomic_open, read_jsonl, write_json, write_jsonl

MODEL_CARD = "pcc_model.json"
SETTINGS = "config.yaml"
METRICS = "metrics.json"
HELDOUT = "heldout_predictions.jsonl"
LATEST = "latest"


@dataclass
class ModelCard:
    """What a model directory says about its model; a directory without a card gets these defaults."""
    labels: list[str] = field(default_factory=lambda: list(LABELS))  # output order of the classifier
    max_length: int = 128  # tokens of sentence + context the model reads
    use_heading: bool = True  # whether the context is given as the second segment
    context: str = HEADINGS  # what the context holds (`pcc.model_input.CONTEXT_SCHEMES`)
    base_model: str | None = None
    seed: int = 0
    epochs: int | None = None  # the count chosen on the held-out gold
    temperature: float = 1.0  # divides the output layer (already applied to the saved weights)
    folds: dict[str, int] = field(default_factory=dict)  # dev paper -> cross-fitting fold
    trained_papers: list[str] = field(default_factory=list)
    teacher: str | None = None  # a student (`pcc distill`): the model directory it learnt from
    teacher_layers: list[int] = field(default_factory=list)  # a student: the teacher layers it started from


def read_model_card(model_dir: str | Path, required: bool = False) -> ModelCard:
    """The model card of `model_dir`; without one, the defaults, or a UserError when the card is `required`."""
    path = Path(model_dir) / MODEL_CARD
    if not path.is_file():
        if required:
            raise UserError(f"{model_dir}: no {MODEL_CARD} here; train a model with `pcc train` or pass --model")
        return ModelCard()
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error.msg}); run `pcc train` again") from None
    known = {f.name for f in fields(ModelCard)}
    return ModelCard(**{name: value for name, value in values.items() if name in known})


def new_run_dir(output_dir: str | Path, run_name: str) -> Path:
    """A fresh `<output_dir>/<run_name>-<time>` directory."""
    run_dir = Path(output_dir) / f"{run_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


def write_run_records(run_dir: Path, card: ModelCard, settings: dict, metrics: dict, heldout: list[dict]) -> None:
    """The model card, the settings used, the metrics and the held-out predictions, beside the checkpoint."""
    write_json(run_dir / MODEL_CARD, asdict(card))
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

