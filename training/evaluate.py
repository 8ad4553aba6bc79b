"""`pcc evaluate`: weak labels, TF-IDF baseline and fine-tuned model, scored on the same gold sentences.

No number in the report comes from a system that trained on the scored paper's labels without saying so:
dev-gold sentences get the fine-tuned model's cross-fitted (held-out) prediction saved by `pcc train`, and
the baseline is cross-fitted over the same folds.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from pcc.errors import UserError
from pcc.model_input import sentence_context
from pcc.records import LABELS, read_sentences
from training import data

HELDOUT, UNSEEN, SEEN = "held-out", "unseen paper", "paper seen in training"


def classification_scores(y_true, y_pred) -> dict:
    """Macro-F1, accuracy and per-class precision / recall / F1 / support (label indices in LABELS order)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    labels = list(range(len(LABELS)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i, name in enumerate(LABELS)},
    }


def calibration_scores(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict:
    """Accuracy, mean confidence, and the expected calibration error: over equal-width confidence bins, the
    gap between accuracy and mean confidence, weighted by the bin's share of sentences."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
                for b in range(bins) if (which == b).any())
    return {"accuracy": float(correct.mean()), "mean_confidence": float(confidence.mean()),
            "calibration_error": float(error)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gold", default="data/gold/dev.jsonl",
                        help="gold JSONL, or CSV with a header row: text, label, optional paper, heading; a paper "
                             "the corpus lacks is rebuilt from its rows in file order")
    parser.add_argument("--model", default="models/latest", help="model directory written by `pcc train`")
    parser.add_argument("--sentences", default="data/processed/sentences.jsonl", help="prepared corpus (context)")
    parser.add_argument("--weak-labels", default="data/processed/weak_labels.jsonl", help="baseline training data")
    parser.add_argument("--report", default="reports/evaluation.md", help="Markdown report; the PNG goes beside it")


def run(args: argparse.Namespace) -> int:
    report = evaluate(Path(args.gold), Path(args.model), Path(args.sentences), Path(args.weak_labels), Path(args.report))
    print(f"report written to {report}")
    return 0


def evaluate(gold_path: Path, model_dir: Path, sentences_path: Path, weak_labels_path: Path, report_path: Path) -> Path:
    info_path = model_dir / "pcc_model.json"
    if not info_path.is_file():
        raise UserError(f"{model_dir}: no pcc_model.json here; train a model with `pcc train` or pass --model")
    info = json.loads(info_path.read_text("utf-8"))
    sentences = read_sentences(sentences_path)
    weak_rows = data.read_weak_labels(weak_labels_path)
    gold_rows = data.read_gold(gold_path)
    sentences += data.gold_papers(gold_rows, sentences)
    gold = data.locate_gold(gold_rows, sentences)
    truth = np.array([LABELS.index(g.label) for g in gold])

    origin, model_probs = _model_predictions(gold, model_dir, info)
    weak = _weak_label_predictions(gold, sentences)
    systems = {
        "weak labels (rules + label model)": weak,
        "TF-IDF char 1–3-gram + LR on weak labels": _baseline_predictions(gold, weak_rows, info, origin),
        "fine-tuned, with heading": model_probs["heading"].argmax(1),
        "fine-tuned, bare sentence": model_probs["bare"].argmax(1),
    }
    scores = {name: classification_scores(truth, predicted) for name, predicted in systems.items()}
    report_path.parent.mkdir(parents=True, exist_ok=True)
    figure = report_path.with_name(report_path.stem + "_confusion.png")
    _plot_confusions(truth, model_probs, figure)
    metrics_path = model_dir / "metrics.json"
    training = json.loads(metrics_path.read_text("utf-8")) if metrics_path.is_file() else {}
    confidence = {use: calibration_scores(model_probs[use], truth) for use in ("heading", "bare")}
    report = _report(gold_path, model_dir, gold, origin, scores, confidence, figure, info, training)
    report += _misclassified(gold, weak, model_probs["heading"])
    report_path.write_text(report, "utf-8")
    for name, score in scores.items():
        print(f"{name}: macro-F1 {score['macro_f1']:.3f}")
    return report_path


def _model_predictions(gold, model_dir: Path, info: dict) -> tuple[list[str], dict[str, np.ndarray]]:
    """Held-out probabilities where `pcc train` saved them, the model's own prediction elsewhere."""
    heldout = {}
    heldout_path = model_dir / "heldout_predictions.jsonl"
    if heldout_path.is_file():
        for line in heldout_path.read_text("utf-8").splitlines():
            row = json.loads(line)
            heldout[(row["paper_id"], data.normalise_text(row["text"]))] = row
    trained = set(info.get("trained_papers", []))
    origin, probs = [], {"heading": np.zeros((len(gold), len(LABELS))), "bare": np.zeros((len(gold), len(LABELS)))}
    to_predict = []
    for i, item in enumerate(gold):
        saved = heldout.get((item.sentence.paper_id, data.normalise_text(item.sentence.text)))
        if saved is not None:
            origin.append(HELDOUT)
            probs["heading"][i], probs["bare"][i] = saved["probs_heading"], saved["probs_bare"]
        else:
            origin.append(SEEN if item.sentence.paper_id in trained else UNSEEN)
            to_predict.append(i)
    if to_predict:
        from training.modeling import load_model, predict_proba

        tokenizer, model = load_model(str(model_dir))
        texts = [gold[i].sentence.text for i in to_predict]
        bare = [None] * len(to_predict)
        contexts = [sentence_context(gold[i].sentence) for i in to_predict] if info["use_heading"] else bare
        for use, use_contexts in (("heading", contexts), ("bare", bare)):
            probs[use][to_predict] = predict_proba(model, tokenizer, texts, use_contexts, info["max_length"])
    return origin, probs


def _weak_label_predictions(gold, sentences) -> np.ndarray:
    """Rules + label model on each gold sentence in its corpus place (neighbours included).

    Each call labels the corpus with gold texts put in place of their matches; a corpus sentence
    matched by several gold rows takes one per call. A sentence on which every rule abstained gets the
    label model's most probable class.
    """
    from training.labeling.apply import weak_label

    predicted = np.zeros(len(gold), dtype=int)
    pending = list(range(len(gold)))
    while pending:
        placed, rest = {}, []
        for i in pending:
            key = (gold[i].sentence.paper_id, gold[i].sentence.index)
            if gold[i].matched and key not in placed:
                placed[key] = i
            elif gold[i].matched:
                rest.append(i)
        standalone = [i for i in pending if not gold[i].matched]
        # Gold text is clean by hand, so it is labelled even where its corpus match was flagged garbled.
        batch = [replace(gold[placed[(s.paper_id, s.index)]].sentence, quality="ok") if (s.paper_id, s.index) in placed
                 else s for s in sentences]
        batch = sorted(batch + [gold[i].sentence for i in standalone], key=lambda s: (s.paper_id, s.index))
        position = {(s.paper_id, s.index): n for n, s in enumerate(batch)}
        results = weak_label(batch)
        for i in list(placed.values()) + standalone:
            result = results[position[(gold[i].sentence.paper_id, gold[i].sentence.index)]]
            label = result["label"] or max(result["probs"], key=result["probs"].get)
            predicted[i] = LABELS.index(label)
        pending = rest
    return predicted


def _baseline_predictions(gold, weak_rows, info: dict, origin: list[str]) -> np.ndarray:
    """TF-IDF + LR, never trained on the scored sentence's paper where the fine-tuned model was not either."""
    from training.baseline import TfidfBaseline

    folds = info.get("folds", {})
    usable = [w for w in weak_rows if w.sentence.quality == "ok" and w.label is not None]

    def excluded(i: int) -> frozenset:
        paper_id = gold[i].sentence.paper_id
        if origin[i] == HELDOUT and paper_id in folds:
            return frozenset(p for p, fold in folds.items() if fold == folds[paper_id])
        return frozenset({paper_id}) if origin[i] == SEEN else frozenset()

    groups: dict[frozenset, list[int]] = {}
    for i in range(len(gold)):
        groups.setdefault(excluded(i), []).append(i)
    predicted = np.zeros(len(gold), dtype=int)
    for papers, members in groups.items():
        rows = [w for w in usable if w.sentence.paper_id not in papers]
        model = TfidfBaseline(info.get("seed", 0)).fit([w.sentence.text for w in rows], np.array([w.probs for w in rows]))
        predicted[members] = model.predict_proba([gold[i].sentence.text for i in members]).argmax(1)
    return predicted


def _plot_confusions(truth: np.ndarray, model_probs: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, (use, title) in zip(axes, (("heading", "with heading"), ("bare", "bare sentence"))):
        matrix = confusion_matrix(truth, model_probs[use].argmax(1), labels=list(range(len(LABELS))))
        ax.imshow(matrix, cmap="Blues")
        for (row, col), count in np.ndenumerate(matrix):
            ax.text(col, row, str(count), ha="center", va="center",
                    color="white" if count > matrix.max() / 2 else "black")
        ax.set_xticks(range(len(LABELS)), LABELS, rotation=30)
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"fine-tuned model, {title}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _misclassified(gold, weak: np.ndarray, probs: np.ndarray) -> str:
    """A table of the sentences the fine-tuned model (with heading) got wrong, beside the weak labels'
    verdict, for error analysis."""
    wrong = [i for i, item in enumerate(gold) if LABELS[int(probs[i].argmax())] != item.label]
    lines = ["", "## Sentences the fine-tuned model (with heading) got wrong", "",
             f"{len(wrong)} of {len(gold)}; *line* is the gold file's line, *p* the model's probability for its label.", ""]
    if wrong:
        lines += ["| line | gold | model (p) | weak labels | heading path | sentence |", "|---|---|---|---|---|---|"]
    for i in wrong:
        sentence = gold[i].sentence
        cells = [str(gold[i].line), gold[i].label, f"{LABELS[int(probs[i].argmax())]} ({probs[i].max():.2f})",
                 LABELS[int(weak[i])], " / ".join(sentence.heading_path), sentence.text]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _report(gold_path, model_dir, gold, origin, scores, confidence, figure, info, training) -> str:
    counts = {kind: origin.count(kind) for kind in (HELDOUT, UNSEEN, SEEN)}
    rebuilt = sum(g.matched and g.sentence.paper_id.startswith(data.REBUILT_PAPER) for g in gold)
    in_corpus = sum(g.matched for g in gold) - rebuilt
    lines = [
        "# Evaluation",
        "",
        f"Gold file `{gold_path}`: {len(gold)} sentences ({in_corpus} found in the prepared corpus and "
        f"{rebuilt} in papers rebuilt from the gold file's own rows, all scored in their context; "
        f"{len(gold) - in_corpus - rebuilt} scored as standalone sentences). Model `{model_dir}` "
        f"(base `{info.get('base_model')}`, {info.get('epochs', '?')} epoch(s), seed {info.get('seed')}).",
        "",
        "## Comparison on the same sentences",
        "",
        "| system | macro-F1 | accuracy | " + " | ".join(f"F1 {name}" for name in LABELS) + " |",
        "|---|---|---|" + "---|" * len(LABELS),
    ]
    best = max(score["macro_f1"] for score in scores.values())
    for name, score in scores.items():
        macro = f"**{score['macro_f1']:.3f}**" if score["macro_f1"] == best else f"{score['macro_f1']:.3f}"
        lines.append(f"| {name} | {macro} | {score['accuracy']:.3f} | "
                     + " | ".join(f"{score['per_class'][label]['f1']:.3f}" for label in LABELS) + " |")
    lines += ["", "### What each number is", ""]
    lines.append("- **Weak labels**: `training.labeling.apply.weak_label` on each gold sentence placed in its paper "
                 "(the labeling functions see its heading path and neighbours); where every rule abstains, the label "
                 "model's most probable class. The rules were written while looking at the dev gold "
                 "(`data/gold/dev.jsonl`), so on it they are optimistic.")
    lines.append("- **TF-IDF baseline**: trained on the weak labels (most probable class, weighted by confidence) of the "
                 "clean corpus sentences, leaving out the same papers the fine-tuned figure leaves out (the "
                 "sentence's cross-fitting fold, or its own paper when seen in training).")
    if counts[HELDOUT]:
        lines.append(f"- **Fine-tuned** on {counts[HELDOUT]} sentences: **held-out** (cross-fitted) predictions saved by "
                     f"`pcc train`: {len(set(info.get('folds', {}).values()))} folds over the dev papers, each "
                     "sentence predicted by a model that never trained on its paper; the epoch count was chosen on "
                     "these predictions. The shipped model was then refitted on all papers, including these; "
                     "scoring it here would be leakage, so it is not.")
    if counts[UNSEEN]:
        lines.append(f"- **Fine-tuned** on {counts[UNSEEN]} sentences of papers the shipped model never saw: the "
                     "shipped model's own predictions (an unbiased figure).")
    if counts[SEEN]:
        lines.append(f"- **Warning**: {counts[SEEN]} sentences come from papers the shipped model trained on (weak "
                     "labels, no held-out prediction saved): their fine-tuned figures are optimistic.")
    lines.append("- *With heading* = the sentence plus its heading path (or, for a paper's title, the title marker) as "
                 "second segment; *bare* = the sentence alone.")
    fine = scores["fine-tuned, with heading"]
    lines += ["", "## Fine-tuned model (with heading), per class", "",
              "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label in LABELS:
        c = fine["per_class"][label]
        lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    calibrated = (f"The model's logits are divided by the temperature {info['temperature']} that `pcc train` fitted "
                  "on its held-out dev-gold predictions." if info.get("temperature", 1.0) != 1.0
                  else "The model is not calibrated: its pcc_model.json holds no temperature (`pcc train` fits one "
                       "when it has held-out folds).")
    lines += ["", f"![confusion matrices]({figure.name})", "",
              "**Confidence** (the model's probability for the label it gives) against accuracy: " + "; ".join(
                  f"{name}: mean confidence {confidence[use]['mean_confidence']:.3f}, accuracy "
                  f"{confidence[use]['accuracy']:.3f}, calibration error (ECE, 10 bins) "
                  f"{confidence[use]['calibration_error']:.3f}"
                  for use, name in (("heading", "with heading"), ("bare", "bare"))) + ". " + calibrated, ""]
    if training:
        lines += ["## Training", "",
                  f"Training time {training.get('training_seconds')} s on {training.get('train_rows')} training rows "
                  "(weakly labelled sentences, their heading variants, made-up titles and swapped sections); "
                  f"epochs chosen: {training.get('chosen_epochs')}."]
        if training.get("per_epoch"):
            lines.append("Held-out macro-F1 per epoch (with heading / bare): " + ", ".join(
                f"{c['epoch']}: {c['heading']:.3f} / {c['bare']:.3f}" for c in training["per_epoch"]) + ".")
        lines.append("")
    return "\n".join(lines)
