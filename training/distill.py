"""`pcc distill`: a smaller student of the fine-tuned model, trained on the teacher's probabilities.

The student is the teacher's architecture with fewer encoder layers (by default 6 of 12, evenly spaced and
ending with the last), initialised from the teacher's weights: embeddings, the chosen layers, pooler and
classifier are copied. It learns to reproduce the teacher's probabilities, softened by a temperature, on every
readable prepared corpus sentence in its paper's context (`pcc.model_input.model_inputs` with the teacher's
model card), and on the same sentences bare, as a caller without headings sends them. No label, weak or
gold, is used: the teacher is the only target.

It writes a model directory like `pcc train`'s (`training.run_dir`), whose card names the teacher and the
layers kept, so that `pcc export`, `pcc evaluate` and `pcc predict` take it unchanged. It does not move
`models/latest`.

What its figures mean: the teacher's dev-gold figure saved by `pcc train` is cross-fitted (each dev paper
predicted by a fold model that never saw it), but the student learns the refitted teacher's predictions on every
corpus paper, dev papers included. Its dev-gold figure is therefore compared with the refitted teacher's own
figure on the same sentences, and only gold files whose papers are outside the distillation corpus (outside the
corpus, the wild sets) tell how it generalises; `pcc distill` reports each file with the share of its sentences
whose paper the student saw.
"""
from __future__ import annotations

import argparse
import copy
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pcc.errors import UserError
from pcc.model_card import ModelCard, read_model_card
from pcc.model_input import BARE, VIEWS, WITH_CONTEXT, model_inputs
from pcc.paths import LATEST_MODEL, MODELS, SENTENCES
from pcc.records import LABELS, read_sentences
from training.metrics import macro_f1
from training.options import add_settings, given_settings, setting
from training.run_dir import new_run_dir, read_metrics, write_run_records


@dataclass
class DistillConfig:
    """Every distillation setting, declared once: each is a `pcc distill --<name>` option."""
    teacher: str = setting(str(LATEST_MODEL), "the fine-tuned model to distil (a `pcc train` model directory)")
    sentences: str = setting(str(SENTENCES), "prepared sentences (JSONL from `pcc prepare`) the student learns on")
    extra_sentences: str = setting("", "more prepared sentences files to learn on, comma-separated (unlabelled papers "
                                       "prepared apart)")
    layers: int = setting(6, "encoder layers of the student, copied from evenly spaced teacher layers ending with its "
                             "last (6 of 12: 1, 3, 5, 7, 9, 11, counting from 0)")
    teacher_layers: str = setting("", "the teacher layers to copy instead, comma-separated, counting from 0")
    borrowed_contexts: int = setting(0, "more copies of each sentence, each under the context of another corpus "
                                        "sentence drawn at random: more of the teacher's behaviour to learn")
    temperature: float = setting(2.0, "softens teacher and student probabilities in the loss (KL divergence x T^2)")
    epochs: int = setting(6, "passes over the inputs")
    max_steps: int = setting(0, "> 0 stops after this many steps (smoke runs)")
    batch_size: int = setting(16, "inputs per step")
    learning_rate: float = setting(3e-4, "AdamW learning rate, warmed up then decayed linearly")
    warmup_ratio: float = setting(0.1, "share of the steps with a rising learning rate")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    freeze_embeddings: bool = setting(True, "keep the embedding matrix (most of the parameters) as the teacher's")
    seed: int = setting(13, "seed of the data order and of the initialisation of anything not copied")
    gold: str = setting("data/gold/dev.jsonl,data/gold/outside_corpus.jsonl,data/gold/wild.jsonl",
                        "gold files on which student and teacher are compared, comma-separated (missing ones are "
                        "skipped)")
    output_dir: str = setting(str(MODELS), "where the student's run directory goes")
    run_name: str = setting("student", "prefix of the run directory")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings(parser, DistillConfig, lambda option: f"default: {option.default}")


def run(args: argparse.Namespace) -> int:
    config = DistillConfig(**given_settings(args, DistillConfig))
    run_dir = distill(config)
    print(f"student written to {run_dir}; export it with `pcc export --model {run_dir}`")
    return 0


def student_layers(teacher_layers: int, layers: int, chosen: str = "") -> list[int]:
    """The teacher layers a student of `layers` layers starts from: `chosen` (comma-separated) if given, else
    evenly spaced and ending with the last."""
    if chosen:
        try:
            picked = [int(part) for part in chosen.split(",")]
        except ValueError:
            raise UserError(f"--teacher-layers {chosen!r}: give layer numbers separated by commas, e.g. 1,5,11") from None
        if sorted(set(picked)) != picked or not all(0 <= i < teacher_layers for i in picked):
            raise UserError(f"--teacher-layers {chosen!r}: give increasing layer numbers from 0 to {teacher_layers - 1}")
        return picked
    if not 1 <= layers <= teacher_layers:
        raise UserError(f"--layers {layers}: the teacher has {teacher_layers} layers; give 1 to {teacher_layers}")
    return [round((i + 1) * teacher_layers / layers) - 1 for i in range(layers)]


def make_student(teacher, layers: list[int]):
    """A copy of the teacher keeping only encoder `layers` (in that order)."""
    import torch

    student = copy.deepcopy(teacher)
    encoder = student.base_model.encoder
    encoder.layer = torch.nn.ModuleList(encoder.layer[i] for i in layers)
    student.config.num_hidden_layers = len(layers)
    return student


def distill(config: DistillConfig) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    teacher_dir = Path(config.teacher)
    if not (teacher_dir / "config.json").is_file():
        raise UserError(f"{teacher_dir}: no fine-tuned model here (config.json missing); run `pcc train` or pass --teacher")
    card = read_model_card(teacher_dir)
    if config.temperature <= 0 or config.epochs < 1 or config.batch_size < 1:
        raise UserError("--temperature must be > 0, --epochs and --batch-size at least 1")
    sentences = _read_corpus(config)
    inputs = _inputs(sentences, card, config.borrowed_contexts, config.seed)
    print(f"distillation inputs: {len(inputs)} from {len({s.paper_id for s in sentences})} papers "
          f"({sum(c is None for _, c in inputs)} bare)")

    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    teacher = AutoModelForSequenceClassification.from_pretrained(teacher_dir).eval()
    layers = student_layers(teacher.config.num_hidden_layers, config.layers, config.teacher_layers)
    student = make_student(teacher, layers)
    print(f"student: {len(layers)} of the teacher's {teacher.config.num_hidden_layers} layers ({layers})")

    started = time.perf_counter()
    texts, contexts = [t for t, _ in inputs], [c for _, c in inputs]
    teacher_probs = _predict(teacher, tokenizer, texts, contexts, card.max_length)
    targets = _soften(teacher_probs, config.temperature)
    before = _fit_figures(_predict(student, tokenizer, texts, contexts, card.max_length), teacher_probs)
    steps, losses = _train(student, tokenizer, inputs, targets, card.max_length, config)
    student_probs = _predict(student, tokenizer, texts, contexts, card.max_length)
    after = _fit_figures(student_probs, teacher_probs)
    seconds = time.perf_counter() - started
    print(f"student vs teacher on the {len(inputs)} inputs: label agreement {before['label_agreement']:.1%} -> "
          f"{after['label_agreement']:.1%}, KL {before['kl']:.4f} -> {after['kl']:.4f}; {steps} steps, {seconds:.0f} s")

    comparison = _compare_on_gold(config, sentences, card, teacher, student, tokenizer)
    return _write_student(config, card, teacher_dir, student, tokenizer, layers, sentences, {
        "distillation_seconds": round(seconds, 1), "steps": steps, "inputs": len(inputs),
        "loss_first_last": [round(losses[0], 5), round(losses[-1], 5)] if losses else None,
        "fit_to_teacher": {"before": before, "after": after,
                           "what": "student against teacher on the distillation inputs themselves"},
        "gold": comparison,
    })


def _read_corpus(config: DistillConfig) -> list:
    files = [config.sentences, *filter(None, (p.strip() for p in config.extra_sentences.split(",")))]
    sentences = []
    for path in files:
        if not Path(path).is_file():
            raise UserError(f"{path}: no prepared sentences here; run `pcc prepare` (or pass --sentences)")
        sentences += read_sentences(path)
    if not any(s.quality == "ok" for s in sentences):
        raise UserError(f"{', '.join(files)}: no readable sentences to distil on; run `pcc prepare` again")
    return sentences


def _inputs(sentences: list, card: ModelCard, borrowed: int = 0, seed: int = 0) -> list[tuple[str, str | None]]:
    """Each readable sentence in its paper's context, bare, and under `borrowed` contexts of other sentences
    drawn at random; each distinct input once."""
    readable = [(item.text, item.context) for s, item in zip(sentences, model_inputs(card, sentences))
                if s.quality == "ok"]
    pool = sorted({context for _, context in readable if context})
    draw = random.Random(seed)
    others = [(text, draw.choice(pool)) for text, _ in readable for _ in range(borrowed)] if pool else []
    return list(dict.fromkeys([*readable, *((text, None) for text, _ in readable), *others]))


def _predict(model, tokenizer, texts, contexts, max_length: int) -> np.ndarray:
    from training.modeling import predict_proba

    return predict_proba(model, tokenizer, texts, contexts, max_length)


def _soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    from training.modeling import with_temperature

    return with_temperature(probs, temperature)


def _fit_figures(student: np.ndarray, teacher: np.ndarray) -> dict:
    """How closely the student follows the teacher: label agreement and KL(teacher || student) at temperature 1."""
    kl = (teacher * (np.log(np.clip(teacher, 1e-12, 1)) - np.log(np.clip(student, 1e-12, 1)))).sum(1).mean()
    return {"label_agreement": float((student.argmax(1) == teacher.argmax(1)).mean()), "kl": float(kl)}


def _train(student, tokenizer, inputs, targets: np.ndarray, max_length: int, config: DistillConfig):
    """Minimise T^2 KL(teacher_T || student_T) over the inputs; batches are cut from length-sorted chunks."""
    import torch
    import torch.nn.functional as F

    from training.modeling import encode

    if config.freeze_embeddings:
        student.base_model.embeddings.requires_grad_(False)
    parameters = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    order_random = random.Random(config.seed)
    per_epoch = math.ceil(len(inputs) / config.batch_size)
    total = config.max_steps if config.max_steps > 0 else per_epoch * config.epochs
    warmup = max(1, int(config.warmup_ratio * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
    lengths = [len(text) + len(context or "") for text, context in inputs]
    student.train()
    steps, losses = 0, []
    while steps < total:
        for batch in _length_grouped_batches(lengths, config.batch_size, order_random):
            encoded = encode(tokenizer, [inputs[i] for i in batch], max_length)
            logits = student(**encoded).logits
            loss = F.kl_div(F.log_softmax(logits / config.temperature, dim=-1),
                            torch.tensor(targets[batch], dtype=torch.float32), reduction="batchmean")
            loss = loss * config.temperature ** 2
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            steps += 1
            if steps % 50 == 0 or steps == total:
                print(f"step {steps}/{total}: loss {np.mean(losses[-50:]):.4f}", flush=True)
            if steps >= total:
                break
    student.eval()
    return steps, losses


def _length_grouped_batches(lengths: list[int], batch_size: int, order: random.Random) -> list[list[int]]:
    """One epoch's batches: shuffled, sorted by length within chunks of 20 batches (less padding), batches shuffled."""
    indices = list(range(len(lengths)))
    order.shuffle(indices)
    chunk = batch_size * 20
    batches = []
    for start in range(0, len(indices), chunk):
        part = sorted(indices[start:start + chunk], key=lengths.__getitem__)
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    order.shuffle(batches)
    return batches


def _compare_on_gold(config: DistillConfig, sentences: list, card: ModelCard, teacher, student, tokenizer) -> list[dict]:
    """Macro-F1 of teacher and student on each gold file, bare and in context, with the share of its sentences
    whose paper is in the distillation corpus (seen)."""
    from training.gold import place_gold, read_gold

    corpus_papers = {s.paper_id for s in sentences}
    results = []
    for path in filter(None, (p.strip() for p in config.gold.split(","))):
        if not Path(path).is_file():
            print(f"{path}: no such gold file, skipped")
            continue
        placed = place_gold(read_gold(path), sentences)
        located, inputs = placed.gold, placed.inputs(card)
        texts, truth = [item.text for item in inputs], [g.label for g in located]
        views = {WITH_CONTEXT: [item.context for item in inputs], BARE: [None] * len(located)}
        seen = sum(g.sentence.paper_id in corpus_papers for g in located) / max(len(located), 1)
        entry = {"gold": path, "sentences": len(located), "seen_share": round(seen, 3)}
        for view in VIEWS:
            for name, model in (("teacher", teacher), ("student", student)):
                probs = _predict(model, tokenizer, texts, views[view], card.max_length)
                entry[f"{name}_{view}"] = macro_f1(truth, [LABELS[i] for i in probs.argmax(1)])
        results.append(entry)
        print(f"{path} ({len(located)} sentences, {seen:.0%} in papers the student learnt on): macro-F1 "
              + ", ".join(f"{view} teacher {entry[f'teacher_{view}']:.3f} student {entry[f'student_{view}']:.3f}"
                          for view in VIEWS))
    return results


def _write_student(config: DistillConfig, card: ModelCard, teacher_dir: Path, student, tokenizer, layers: list[int],
                   sentences: list, metrics: dict) -> Path:
    held_out = [g for g in metrics["gold"] if g["seen_share"] == 0]
    drops = [g[f"teacher_{view}"] - g[f"student_{view}"] for g in held_out for view in VIEWS]
    metrics["held_out_max_f1_drop"] = max(drops) if drops else None
    metrics["what"] = ("the student learnt the refitted teacher's probabilities on every corpus paper, dev papers "
                       "included: on gold in those papers compare it with the refitted teacher's own figure; only "
                       "gold files with seen_share 0 are held out from it")
    teacher_metrics = read_metrics(teacher_dir)
    if "heldout" in teacher_metrics:
        metrics["teacher_cross_fitted_dev_macro_f1"] = {
            view: teacher_metrics["heldout"][view]["macro_f1"] for view in VIEWS if view in teacher_metrics["heldout"]}
    if drops:
        print(f"held-out gold: the student loses at most {100 * max(drops):.2f} macro-F1 points against the teacher "
              f"({'within' if max(drops) <= 0.01 else 'more than'} the 1 point a default student may lose)")
    run_dir = new_run_dir(config.output_dir, config.run_name)
    student.save_pretrained(run_dir)
    tokenizer.save_pretrained(run_dir)
    student_card = ModelCard(
        labels=list(card.labels), max_length=card.max_length, use_heading=card.use_heading, context=card.context,
        base_model=card.base_model, seed=config.seed, epochs=config.epochs, temperature=card.temperature,
        trained_papers=sorted({s.paper_id for s in sentences}),
        teacher=str(teacher_dir.resolve()), teacher_layers=layers)
    write_run_records(run_dir, student_card, asdict(config), metrics, [])
    return run_dir
