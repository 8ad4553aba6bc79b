"""The ONNX bundle: the directory `pcc export` writes and `pcc predict`, the service and a Bento run, and its
`bundle.json`, read and written here only.

A bundle holds `model.onnx` (fp32), `model.int8.onnx`, `tokenizer.json` and `bundle.json`: the model card's
fields that say how the model reads a sentence (`labels`, `max_length`, `use_heading`, `context`,
`lead_free_weight`), its `bare_offsets` (applied to sentences given without context) and its `base_model`, the
graph's `input_names` and `pad_token_id`, where it comes from (`source_model`, `exported_at`,
`opset`, the export `settings`), the export `checks`, and `int8_scheme`: how its int8 model was quantised.
Unless exported with --no-embedder, it also holds `embedder/`, the corpus map's sentence embedder
(`training.exporters.embedder`): the same model files and tokenizer name, and `embedder.json` in place of
`bundle.json`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pcc.errors import UserError
from pcc.model_card import HEADINGS, ModelCard, check_card
from pcc.paths import LATEST_BUNDLE
from pcc.records import write_json

BUNDLE_ENV = "PCC_BUNDLE"
BUNDLE_FILE = "bundle.json"
TOKENIZER_FILE = "tokenizer.json"
MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}  # precision -> graph
PRECISIONS = tuple(MODEL_FILES)
# `int8_scheme` values: fixed (calibrated) activation ranges, so a sentence's result is its own whatever shares
# its batch; or ONNX Runtime's dynamic quantisation, whose ranges come from each batch.
CALIBRATED, DYNAMIC = "calibrated", "dynamic"
INT8_SCHEMES = (CALIBRATED, DYNAMIC)
EMBEDDER_DIR = "embedder"
EMBEDDER_RECORD = "embedder.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")  # the inputs a graph may take, in this order
# bundle.json fields without which a bundle cannot be run, with their JSON types; the others have defaults.
_REQUIRED = {"labels": (list, "a list of labels"), "max_length": (int, "a whole number"),
             "use_heading": (bool, "true or false"), "pad_token_id": (int, "a whole number")}
_OPTIONAL = ("input_names", "source_model", "opset", "exported_at", "settings", "checks", "int8_scheme")


@dataclass
class Bundle:
    """What `bundle.json` says. A bundle from before document context names no `context` (it reads headings
    only), one from before calibrated int8 no `int8_scheme` (its int8 model is dynamically quantised), and one from
    before the lead-free view or the bare offsets neither (it reads a sentence with its lead only, and one given
    alone as it would one read in its paper)."""
    card: ModelCard  # kept: `labels`, `max_length`, `use_heading`, `context`, `lead_free_weight`, `bare_offsets`,
    #                  `base_model`
    pad_token_id: int
    input_names: list[str] = field(default_factory=lambda: list(INPUT_NAMES))
    source_model: str | None = None  # the model directory it was exported from
    opset: int | None = None
    exported_at: str | None = None
    settings: dict = field(default_factory=dict)  # the export settings used
    checks: dict = field(default_factory=dict)  # the export checks (parity, int8 criteria); empty until checked
    int8_scheme: str = DYNAMIC

    @property
    def source_run(self) -> str:
        """The name of the training run it was exported from."""
        return Path(self.source_model or "unknown").name

    @property
    def int8_passed(self) -> bool:
        return bool(self.checks.get("int8_passed"))

    def batch_independent(self, precision: str) -> bool:
        """Whether a sentence's probabilities are the same whatever it is batched with."""
        return precision == "fp32" or self.int8_scheme == CALIBRATED

    def to_json(self) -> dict:
        card = self.card
        return {"labels": list(card.labels), "max_length": card.max_length, "use_heading": card.use_heading,
                "context": card.context, "lead_free_weight": card.lead_free_weight,
                "bare_offsets": dict(card.bare_offsets), "input_names": list(self.input_names), "pad_token_id": self.pad_token_id,
                "source_model": self.source_model, "base_model": card.base_model, "opset": self.opset,
                "files": dict(MODEL_FILES), "exported_at": self.exported_at, "settings": self.settings,
                "checks": self.checks, "int8_scheme": self.int8_scheme}


def default_bundle_dir() -> Path:
    """$PCC_BUNDLE if set, else the bundle of the latest training run."""
    return Path(os.environ.get(BUNDLE_ENV) or LATEST_BUNDLE)


def read_bundle(bundle_dir: str | Path, precision: str = "fp32") -> Bundle:
    """The bundle of a complete bundle directory for `precision`; a UserError saying what to do otherwise. Cheap:
    loads no model, so a driver can check the bundle before it starts workers."""
    if precision not in MODEL_FILES:
        raise UserError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    bundle_dir = Path(bundle_dir)
    hint = f"run `pcc export` to write it, or pass the bundle directory (--bundle / ${BUNDLE_ENV})"
    if not bundle_dir.is_dir():
        raise UserError(f"{bundle_dir}: no ONNX bundle here; {hint}")
    for name in (BUNDLE_FILE, TOKENIZER_FILE, MODEL_FILES[precision]):
        if not (bundle_dir / name).is_file():
            raise UserError(f"{bundle_dir / name}: missing, the bundle is incomplete; {hint}")
    path = bundle_dir / BUNDLE_FILE
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); {hint}") from None
    missing = [key for key in _REQUIRED if key not in values] if isinstance(values, dict) else list(_REQUIRED)
    if missing:
        raise UserError(f"{path}: missing field(s) {', '.join(missing)}; {hint}")
    for key, (kind, what) in _REQUIRED.items():
        if not isinstance(values[key], kind):
            raise UserError(f"{path}: field '{key}' must be {what}, got {values[key]!r}; {hint}")
    card = ModelCard(labels=values["labels"], max_length=values["max_length"], use_heading=values["use_heading"],
                     context=values.get("context", HEADINGS), lead_free_weight=values.get("lead_free_weight", 0.0),
                     bare_offsets=values.get("bare_offsets", {}),
                     base_model=values.get("base_model"))
    check_card(card, path)
    bundle = Bundle(card, values["pad_token_id"], **{name: values[name] for name in _OPTIONAL if name in values})
    if bundle.int8_scheme not in INT8_SCHEMES:
        raise UserError(f"{path}: field 'int8_scheme' is {bundle.int8_scheme!r}, expected one of "
                        f"{', '.join(INT8_SCHEMES)}; {hint}")
    return bundle


def write_bundle(bundle_dir: str | Path, bundle: Bundle) -> None:
    write_json(Path(bundle_dir) / BUNDLE_FILE, bundle.to_json())


def choose_precision(bundle_dir: str | Path, precision: str | None) -> str:
    """`precision` if given; else the default of `pcc predict`, `pcc serve` and the service: int8 where the bundle's
    int8 model is calibrated (its labels never depend on batching) and passed the export checks, fp32 otherwise
    (a bundle exported before calibrated int8, or one whose int8 model failed its checks)."""
    if precision is not None:
        return precision
    bundle = read_bundle(bundle_dir)
    passed = bundle.int8_scheme == CALIBRATED and bundle.int8_passed
    return "int8" if passed and (Path(bundle_dir) / MODEL_FILES["int8"]).is_file() else "fp32"


def read_embedder_record(folder: str | Path) -> dict | None:
    """`embedder.json` of a complete embedder folder, or None when any of its files is missing or unreadable."""
    folder = Path(folder)
    if not all((folder / name).is_file() for name in (EMBEDDER_RECORD, TOKENIZER_FILE, MODEL_FILES["fp32"])):
        return None
    try:
        return json.loads((folder / EMBEDDER_RECORD).read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
