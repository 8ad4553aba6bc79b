"""`pcc train`: fine-tune the encoder on the weak labels, choosing the epoch count on held-out dev gold.

Cross-fitting: the dev papers (those holding gold sentences) are split into folds; each fold's model
trains on every other paper and predicts this fold's gold sentences after every epoch, so each gold
sentence gets a prediction from a model that never saw its paper. The epoch count with the best held-out
macro-F1 is chosen, and the shipped model is refitted on every paper with that setting. The held-out
figures (not the refit model's) are the honest estimate; they are saved next to the model.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import yaml

from pcc.errors import UserError
from pcc.records import LABELS, read_sentences, read_settings
from training import data
from training.base_model import hub_load_error, resolve_base_model
from training.evaluate import calibration_scores, classification_scores
from training.labeling.apply import load_config, settings_path

DEFAULT_CONFIG = "configs/train.yaml"


@dataclass
class TrainConfig:
    base_model: str = "default"
    sentences: str = "data/processed/sentences.jsonl"
    weak_labels: str = "data/processed/weak_labels.jsonl"
    gold: str = "data/gold/dev.jsonl"
    output_dir: str = "models"
    run_name: str = "run"
    seed: int = 13
    max_length: int = 128
    use_heading: bool = True
    heading_drop: float = 0.3
    heading_variants: int = 2
    made_up_titles: int = 3
    section_swaps: int = 1
    drop_abstained: bool = True
    folds: int = 2
    epochs: int = 4
    max_steps: int = 0  # > 0 stops each fit after this many steps (smoke runs)
    learning_rate: float = 1e-4
    head_learning_rate: float = 1e-3
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    batch_size: int = 16
    cuda_batch_size: int = 64
    class_weight_power: float = 0.5
    freeze_embeddings: bool = True
    frozen_layers: int = 0

    @classmethod
    def load(cls, path: str | Path, overrides: dict) -> "TrainConfig":
        values = read_settings(path, f"pass --config with a YAML file like {DEFAULT_CONFIG}")
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UserError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
        for name, value in values.items():
            if not _has_type(value, known[name]):
                raise UserError(f"{path}: field '{name}' must be {_TYPE_NAMES[known[name]]}, got {value!r}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**values)
        if config.folds == 1 or config.folds < 0:
            raise UserError(f"{path}: field 'folds' must be 0 (no cross-fitting) or at least 2, got {config.folds}")
        return config


_TYPE_NAMES = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false"}


def _has_type(value, type_name: str) -> bool:
    """Whether a YAML value fits a TrainConfig field (annotations are strings here); a bool is no number."""
    if type_name == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, {"str": str, "int": int, "float": (int, float)}[type_name])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"YAML settings (default {DEFAULT_CONFIG})")
    parser.add_argument("--base-model", help='"default" (models/base), a local checkpoint dir or a hub id')
    parser.add_argument("--epochs", type=int, help="maximum epochs; the best count is chosen on held-out gold")
    parser.add_argument("--folds", type=int, help="cross-fitting folds over the dev papers (0 = none)")
    parser.add_argument("--max-steps", type=int, help="stop each fit after this many steps (smoke runs)")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--output-dir", help="where the run directory and the `latest` link go (default models)")
    parser.add_argument("--run-name", help="prefix of the run directory (default run)")
    parser.add_argument("--weak-labels", help="weak labels JSONL (default data/processed/weak_labels.jsonl)")
    parser.add_argument("--sentences", help="prepared sentences JSONL (default data/processed/sentences.jsonl)")
    parser.add_argument("--gold", help="dev gold JSONL (default data/gold/dev.jsonl)")


def run(args: argparse.Namespace) -> int:
    overrides = {name: getattr(args, name, None) for name in (
        "base_model", "epochs", "folds", "max_steps", "learning_rate", "batch_size", "seed", "output_dir",
        "run_name", "weak_labels", "sentences", "gold")}
    config = TrainConfig.load(args.config, overrides)
    run_dir = train(config)
    print(f"model written to {run_dir} (linked as {Path(config.output_dir) / 'latest'})")
    return 0


def train(config: TrainConfig) -> Path:
    """Cross-fit, choose the epoch count, refit on everything, and write the model directory."""
    sentences = read_sentences(config.sentences)
    weak_rows = data.read_weak_labels(config.weak_labels)
    weak_rows = data.with_heading_variants(weak_rows, config.heading_variants, config.seed)
    weak_rows = data.with_made_up_titles(weak_rows, config.made_up_titles, config.seed)
    if config.section_swaps:
        weak_rows = data.with_swapped_sections(weak_rows, sentences, config.section_swaps, config.seed,
                                               _label_settings(config.weak_labels))
    gold = data.locate_gold(data.read_gold(config.gold), sentences)
    paper_ids = {s.paper_id for s in sentences}
    folds = data.assign_folds(gold, paper_ids, config.folds) if config.folds else {}
    garbled = {s.id for s in sentences if s.quality != "ok"}
    dataset = data.build_dataset(weak_rows, gold, folds, garbled, config.drop_abstained)
    if len(dataset["train"]) + len(dataset["dev"]) == 0:
        raise UserError(f"{config.weak_labels}: no usable weak-labelled sentences; rerun `pcc label`")
    base_model = resolve_base_model(config.base_model)
    if not Path(base_model).is_dir():
        _check_hub_model(config.base_model, base_model)
    print(f"training rows: {len(dataset['train'])} from other papers, {len(dataset['dev'])} from "
          f"{len(folds)} dev papers; gold: {len(dataset['gold'])} sentences; base model: {base_model}")

    started = time.perf_counter()
    timings, curves = {}, []
    heldout, calibration = None, None
    if folds:
        heldout_probs = {use: np.zeros((config.epochs, len(dataset["gold"]), len(LABELS))) for use in ("heading", "bare")}
        for fold in range(config.folds):
            rows = _concat(dataset["train"], dataset["dev"].filter(lambda r: r["fold"] != fold))
            gold_index = [i for i, f in enumerate(list(dataset["gold"]["fold"])) if f == fold]
            recorder = _fit(config, base_model, rows, dataset["gold"].select(gold_index), f"fold {fold + 1}/{config.folds}",
                            timings)[1]
            for use in ("heading", "bare"):
                for epoch, probs in enumerate(recorder.probs[use]):
                    heldout_probs[use][epoch, gold_index] = probs
        scored = np.array(list(dataset["gold"]["fold"])) >= 0
        gold_labels = np.array(list(dataset["gold"]["label"]))[scored]
        for epoch in range(config.epochs):
            curves.append({
                "epoch": epoch + 1,
                **{use: classification_scores(gold_labels, heldout_probs[use][epoch][scored].argmax(1))["macro_f1"]
                   for use in ("heading", "bare")},
            })
        best = max(curves, key=lambda c: (c["heading"] + c["bare"], -c["epoch"]))
        chosen_epochs = best["epoch"]
        heldout = {use: heldout_probs[use][chosen_epochs - 1] for use in ("heading", "bare")}
        print("held-out macro-F1 per epoch (with heading / bare): " + ", ".join(
            f"{c['epoch']}: {c['heading']:.3f}/{c['bare']:.3f}" for c in curves) + f"; chosen: {chosen_epochs}")
        heldout, calibration = _calibrate(
            heldout, np.array(list(dataset["gold"]["label"])), np.array(list(dataset["gold"]["fold"])))
    else:
        chosen_epochs = config.epochs

    rows = _concat(dataset["train"], dataset["dev"])
    model, _, tokenizer = _fit(config, base_model, rows, None, "refit on all papers", timings, stop_after=chosen_epochs)
    if calibration is not None:
        from training.modeling import scale_logits

        scale_logits(model, calibration["temperature"])
    total = time.perf_counter() - started
    print(f"training time: {total:.0f} s")
    return _write_run(config, base_model, model, tokenizer, dataset, folds, heldout, curves, chosen_epochs,
                      timings, total, calibration)


def _calibrate(heldout: dict, labels: np.ndarray, folds: np.ndarray) -> tuple[dict, dict]:
    """The held-out probabilities rescaled fold by fold with a temperature fitted on the other folds only, so
    that their calibration, like their labels, is an honest estimate; and the calibration record, whose
    `temperature` (fitted on every held-out prediction, with heading and bare pooled) the shipped model gets."""
    from training.modeling import fit_temperature, with_temperature

    uses = ("heading", "bare")
    scored = folds >= 0

    def pooled(mask):
        return np.concatenate([heldout[use][mask] for use in uses]), np.concatenate([labels[mask]] * len(uses))

    temperature = round(fit_temperature(*pooled(scored)), 4)
    rescaled = {use: probs.copy() for use, probs in heldout.items()}
    for fold in np.unique(folds[scored]):
        others = scored & (folds != fold)
        fold_temperature = fit_temperature(*pooled(others)) if others.any() else temperature
        for use in uses:
            rescaled[use][folds == fold] = with_temperature(heldout[use][folds == fold], fold_temperature)
    calibration = {
        "temperature": temperature,
        "what": "logits divided by the temperature that best fits the held-out gold labels (negative "
                "log-likelihood); 'after' rescales each fold with a temperature fitted on the other folds",
        **{use: {"before": calibration_scores(heldout[use][scored], labels[scored]),
                 "after": calibration_scores(rescaled[use][scored], labels[scored])} for use in uses},
    }
    before, after = calibration["heading"]["before"], calibration["heading"]["after"]
    print(f"confidence calibrated: temperature {temperature:.3f}; held-out with heading: accuracy "
          f"{after['accuracy']:.3f}, mean confidence {before['mean_confidence']:.3f} -> {after['mean_confidence']:.3f}, "
          f"calibration error {before['calibration_error']:.3f} -> {after['calibration_error']:.3f}")
    return rescaled, calibration


def _label_settings(weak_labels: str) -> dict:
    """The label settings that produced the weak labels, so swapped sections are relabelled the same way."""
    path = settings_path(weak_labels)
    if not path.is_file():
        raise UserError(f"{path}: missing; it records how `pcc label` made {weak_labels}, and section_swaps "
                        "relabels with it. Rerun `pcc label`, or set section_swaps: 0 in the train config")
    return load_config(path)


def _check_hub_model(name: str, hub_id: str) -> None:
    """Fail early, with what to do instead, when a hub model cannot be loaded (offline, not cached)."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(hub_id)
    except OSError as error:
        raise hub_load_error(name, error) from None


def _concat(*parts):
    from datasets import concatenate_datasets
    return concatenate_datasets(list(parts))


def _fit(config: TrainConfig, base_model: str, rows, gold_rows, name: str, timings: dict, stop_after: int | None = None):
    """Train one model on `rows`; record its predictions on `gold_rows` after every epoch."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

    from training.modeling import SoftLabelCollator, class_weights, load_model, predict_proba, soft_cross_entropy

    set_seed(config.seed)
    tokenizer, model = load_model(base_model, config.freeze_embeddings, config.frozen_layers)
    weights = class_weights(np.array(list(rows["soft_labels"])), config.class_weight_power)
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()

    class SoftLabelTrainer(Trainer):
        loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean

        def create_optimizer(self, model=None):
            # The pooler and classifier start untrained: a larger step size lets them catch up with the
            # pretrained encoder in the few hundred steps a small corpus gives.
            if self.optimizer is None:
                decay = set(self.get_decay_parameter_names(self.model))
                groups: dict[tuple[bool, bool], list] = {}
                for name, parameter in self.model.named_parameters():
                    if parameter.requires_grad:
                        head = "pooler" in name or name.startswith("classifier")
                        groups.setdefault((head, name in decay), []).append(parameter)
                self.optimizer = torch.optim.AdamW(
                    [{"params": params, "lr": config.head_learning_rate if head else config.learning_rate,
                      "weight_decay": config.weight_decay if decays else 0.0}
                     for (head, decays), params in groups.items()],
                    lr=config.learning_rate)
            return self.optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            targets = inputs.pop("labels")
            outputs = model(**inputs)
            loss = soft_cross_entropy(outputs.logits, targets, weights)
            return (loss, outputs) if return_outputs else loss

    class EpochEnd(TrainerCallback):
        """Predicts the held-out gold after each epoch; stops the refit at the chosen epoch count."""

        def __init__(self):
            self.probs = {"heading": [], "bare": []}

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            if gold_rows is not None and len(gold_rows):
                contexts = list(gold_rows["context"]) if config.use_heading else [None] * len(gold_rows)
                for use, use_contexts in (("heading", contexts), ("bare", [None] * len(gold_rows))):
                    self.probs[use].append(predict_proba(
                        model, tokenizer, list(gold_rows["text"]), use_contexts, config.max_length))
                scores = [classification_scores(list(gold_rows["label"]), self.probs[use][-1].argmax(1))["macro_f1"]
                          for use in ("heading", "bare")]
                print(f"{name}, epoch {round(state.epoch)}: this fold's held-out macro-F1 "
                      f"{scores[0]:.3f} with heading, {scores[1]:.3f} bare")
            if stop_after is not None and round(state.epoch) >= stop_after:
                control.should_training_stop = True

    rows = rows.map(lambda r: {"length": len(r["text"]) + len(r["context"] or "")})
    batch_size = config.cuda_batch_size if cuda else config.batch_size
    args = TrainingArguments(
        output_dir=str(Path(config.output_dir) / ".trainer"),
        num_train_epochs=config.epochs, max_steps=config.max_steps if config.max_steps > 0 else -1,
        per_device_train_batch_size=batch_size, learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay, lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length", length_column_name="length", remove_unused_columns=False,
        eval_strategy="no", save_strategy="no", logging_steps=10, report_to="none", disable_tqdm=False,
        seed=config.seed, data_seed=config.seed, use_cpu=not cuda, bf16=bf16, fp16=cuda and not bf16,
        dataloader_num_workers=0,
    )
    recorder = EpochEnd()
    collator = SoftLabelCollator(tokenizer, config.max_length, config.use_heading, config.heading_drop, config.seed)
    trainer = SoftLabelTrainer(model=model, args=args, train_dataset=rows, data_collator=collator,
                               processing_class=tokenizer, callbacks=[recorder])
    print(f"{name}: {len(rows)} sentences, batch {batch_size}, {'cuda' if cuda else 'cpu'}"
          f"{' bf16' if bf16 else ' fp16' if cuda else ''}")
    result = trainer.train()
    timings[name] = {"seconds": round(result.metrics["train_runtime"], 1),
                     "samples_per_second": round(result.metrics["train_samples_per_second"], 2),
                     "steps": result.global_step}
    print(f"{name}: {timings[name]['seconds']} s, {timings[name]['samples_per_second']} samples/s, "
          f"{result.global_step} steps")
    shutil.rmtree(args.output_dir, ignore_errors=True)
    return model, recorder, tokenizer


def _write_run(config, base_model, model, tokenizer, dataset, folds, heldout, curves, chosen_epochs, timings, total,
               calibration):
    """The model directory contract: weights, tokenizer, pcc_model.json, config.yaml, metrics.json, held-out."""
    output_dir = Path(config.output_dir)
    run_dir = output_dir / f"{config.run_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=False)
    model.save_pretrained(run_dir)
    tokenizer.save_pretrained(run_dir)
    trained_papers = sorted(set(dataset["train"]["paper_id"]) | set(dataset["dev"]["paper_id"]))
    (run_dir / "pcc_model.json").write_text(json.dumps({
        "labels": list(LABELS), "max_length": config.max_length, "use_heading": config.use_heading,
        "base_model": base_model, "seed": config.seed, "epochs": chosen_epochs,
        "temperature": calibration["temperature"] if calibration else 1.0,
        "folds": folds, "trained_papers": trained_papers,
    }, ensure_ascii=False, indent=2) + "\n", "utf-8")
    (run_dir / "config.yaml").write_text(yaml.safe_dump(asdict(config), allow_unicode=True, sort_keys=False), "utf-8")

    metrics = {"chosen_epochs": chosen_epochs, "training_seconds": round(total, 1), "fits": timings,
               "train_rows": len(dataset["train"]) + len(dataset["dev"])}
    if heldout is not None:
        gold = dataset["gold"].to_dict()
        scored = [i for i, fold in enumerate(gold["fold"]) if fold >= 0]
        labels = np.array(gold["label"])[scored]
        metrics["heldout"] = {
            "what": f"cross-fitted: {config.folds} folds over the dev papers; each gold sentence predicted by a "
                    f"model that never saw its paper, after {chosen_epochs} epoch(s) (the count chosen on these "
                    "same predictions)",
            "sentences": len(scored),
            **{use: classification_scores(labels, heldout[use][scored].argmax(1)) for use in ("heading", "bare")},
        }
        metrics["per_epoch"] = curves
        metrics["calibration"] = calibration
        with (run_dir / "heldout_predictions.jsonl").open("w", encoding="utf-8") as handle:
            for i in scored:
                handle.write(json.dumps({
                    "line": gold["line"][i], "paper_id": gold["paper_id"][i], "text": gold["text"][i],
                    "fold": gold["fold"][i], "probs_heading": heldout["heading"][i].round(5).tolist(),
                    "probs_bare": heldout["bare"][i].round(5).tolist(),
                }, ensure_ascii=False) + "\n")
        print(f"held-out macro-F1: {metrics['heldout']['heading']['macro_f1']:.3f} with heading, "
              f"{metrics['heldout']['bare']['macro_f1']:.3f} bare ({len(scored)} gold sentences)")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _point_latest(output_dir, run_dir.name)
    return run_dir


def _point_latest(output_dir: Path, run_name: str) -> None:
    """Make `latest` a relative symlink to the run, replaced atomically."""
    link = output_dir / "latest"
    temporary = output_dir / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(run_name, temporary)
    os.replace(temporary, link)
