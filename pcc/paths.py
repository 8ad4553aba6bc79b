"""Where each stage reads and writes by default, relative to the project root; every command takes options to
point elsewhere. The one place these paths are spelled."""
from __future__ import annotations

from pathlib import Path

RAW_PAPERS = Path("data/raw")  # the seed corpus
EXTRA_PAPERS = Path("data/extra")  # papers written for training, on other topics
TRAINING_PAPERS = (RAW_PAPERS, EXTRA_PAPERS)  # what `pcc prepare` reads by default: the training corpus
PROCESSED = Path("data/processed")
SENTENCES = PROCESSED / "sentences.jsonl"
WEAK_LABELS = PROCESSED / "weak_labels.jsonl"
DEV_GOLD = Path("data/gold/dev.jsonl")
OUTSIDE_CORPUS_GOLD = Path("data/gold/outside_corpus.jsonl")
WILD_GOLD = Path("data/gold/wild.jsonl")
# Gold files that score models: never training input (`pcc train --human-labels` refuses their sentences).
CHECK_SETS = (DEV_GOLD, OUTSIDE_CORPUS_GOLD, WILD_GOLD)
CORRECTIONS_ENV = "PCC_CORRECTIONS_DIR"  # where the service appends the corrections POSTed to /corrections
API_TOKEN_ENV = "PCC_API_TOKEN"  # the secret a client sends to the service's routes that write to disk

CONFIGS = Path("configs")
LABEL_CONFIG = CONFIGS / "label.yaml"
TRAIN_CONFIG = CONFIGS / "train.yaml"
EXPORT_CONFIG = CONFIGS / "export.yaml"

MODELS = Path("models")
BASE_MODEL = MODELS / "base"
LATEST_MODEL = MODELS / "latest"  # a link to the newest training run
BUNDLE_DIR = "onnx"  # a model directory's ONNX bundle, written by `pcc export`
LATEST_BUNDLE = LATEST_MODEL / BUNDLE_DIR

REPORTS = Path("reports")
PREDICTIONS = REPORTS / "predictions.jsonl"
