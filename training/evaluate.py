"""`pcc evaluate`: weak labels, TF-IDF baseline and fine-tuned model, scored on the same gold sentences.

No number in the report comes from a system that trained on the scored paper's labels without saying so:
dev-gold sentences get the fine-tuned model's cross-fitted (held-out) prediction saved by `pcc train`, and
the baseline is cross-fitted over the same folds.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from pcc.errors import UserError
from pcc.model_input import BARE, VIEWS, WITH_CONTEXT, sentence_context
from pcc.paths import DEV_GOLD, LATEST_MODEL, REPORTS, SENTENCES, WEAK_LABELS
from pcc.records import LABELS, read_sentences
from training.gold import REBUILT_PAPER, gold_leads, gold_papers, locate_gold, normalise_text, read_gold
from training.labeling.apply import weak_label
from training.labeling.weak_labels import read_weak_labels
from training.metrics import calibration_scores, classification_scores, confusion_matrix, plot_confusions
from training.model_card import ModelCard, read_heldout, read_metrics, read_model_card

HELDOUT, UNSEEN, SEEN = "held-out", "unseen paper", "paper seen in training"
VIEW_NAMES = {WITH_CONTEXT: "with heading", BARE: "bare sentence"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gold", default=str(DEV_GOLD),
                        help="gold JSONL, or CSV with a header row: text, label, optional paper, heading; a paper "
                             "the corpus lacks is rebuilt from its rows in file order (default: %(default)s)")
    parser.add_argument("--model", default=str(LATEST_MODEL),
                        help="model directory written by `pcc train` (default: %(default)s)")
    parser.add_argument("--sentences", default=str(SENTENCES),
                        help="prepared corpus, for context (default: %(default)s)")
    parser.add_argument("--weak-labels", default=str(WEAK_LABELS),
                        help="baseline training data (default: %(default)s)")
    parser.add_argument("--report", default=str(REPORTS / "evaluation.md"),
                        help="Markdown report; the PNG goes beside it (default: %(default)s)")
    parser.add_argument("--append", type=Path, metavar="MARKDOWN",
                        help="a Markdown file whose sections are added to the report (the context ablation)")


def run(args: argparse.Namespace) -> int:
    report = evaluate(Path(args.gold), Path(args.model), Path(args.sentences), Path(args.weak_labels), Path(args.report),
                      args.append)
    print(f"report written to {report}")
    return 0


def evaluate(gold_path: Path, model_dir: Path, sentences_path: Path, weak_labels_path: Path, report_path: Path,
             appended: Path | None = None) -> Path:
    if appended is not None and not appended.is_file():  # before the model runs, not after
        raise UserError(f"--append {appended}: no such file")
    card = read_model_card(model_dir, required=True)
    sentences = read_sentences(sentences_path)
    weak_rows = read_weak_labels(weak_labels_path)
    gold_rows = read_gold(gold_path)
    sentences += gold_papers(gold_rows, sentences)
    gold = locate_gold(gold_rows, sentences)
    truth = np.array([LABELS.index(g.label) for g in gold])

    leads = gold_leads(sentences, gold, card.context)
    origin, model_probs = _model_predictions(gold, model_dir, card, leads)
    weak = _weak_label_predictions(gold, sentences)
    systems = {
        "weak labels (rules + label model)": weak,
        "TF-IDF char 1–3-gram + LR on weak labels": _baseline_predictions(gold, weak_rows, card, origin),
        **{f"fine-tuned, {VIEW_NAMES[view]}": model_probs[view].argmax(1) for view in VIEWS},
    }
    scores = {name: classification_scores(truth, predicted) for name, predicted in systems.items()}
    report_path.parent.mkdir(parents=True, exist_ok=True)
    figure = report_path.with_name(report_path.stem + "_confusion.png")
    plot_confusions({f"fine-tuned model, {VIEW_NAMES[view]}": confusion_matrix(truth, model_probs[view].argmax(1))
                     for view in VIEWS}, figure)
    confidence = {view: calibration_scores(model_probs[view], truth) for view in VIEWS}
    report = _report(gold_path, model_dir, gold, origin, scores, confidence, figure, card, read_metrics(model_dir))
    report += _misclassified(gold, weak, model_probs[WITH_CONTEXT])
    if appended is not None:
        # Its sections become sections of this report: every heading one level deeper.
        report += "\n" + "\n".join("#" + line if line.startswith("#") else line
                                    for line in appended.read_text("utf-8").splitlines()) + "\n"
    report_path.write_text(report, "utf-8")
    for name, score in scores.items():
        print(f"{name}: macro-F1 {score['macro_f1']:.3f}")
    return report_path


def _model_predictions(gold, model_dir: Path, card: ModelCard, leads: dict[str, str | None]
                       ) -> tuple[list[str], dict[str, np.ndarray]]:
    """Held-out probabilities where `pcc train` saved them, the model's own prediction elsewhere (each sentence
    with its lead in its paper, `leads` by sentence id, when the model reads leads)."""
    heldout = {(row["paper_id"], normalise_text(row["text"])): row for row in read_heldout(model_dir)}
    trained = set(card.trained_papers)
    origin, probs = [], {view: np.zeros((len(gold), len(LABELS))) for view in VIEWS}
    to_predict = []
    for i, item in enumerate(gold):
        saved = heldout.get((item.sentence.paper_id, normalise_text(item.sentence.text)))
        if saved is not None:
            origin.append(HELDOUT)
            for view in VIEWS:
                probs[view][i] = saved[f"probs_{view}"]
        else:
            origin.append(SEEN if item.sentence.paper_id in trained else UNSEEN)
            to_predict.append(i)
    if to_predict:
        from training.modeling import load_model, predict_proba

        tokenizer, model = load_model(str(model_dir))
        texts = [gold[i].sentence.text for i in to_predict]
        bare = [None] * len(to_predict)
        in_context = [sentence_context(gold[i].sentence, leads.get(gold[i].sentence.id)) for i in to_predict]
        contexts = {WITH_CONTEXT: in_context if card.use_heading else bare, BARE: bare}
        for view in VIEWS:
            probs[view][to_predict] = predict_proba(model, tokenizer, texts, contexts[view], card.max_length)
    return origin, probs


def _weak_label_predictions(gold, sentences) -> np.ndarray:
    """Rules + label model on each gold sentence in its corpus place (neighbours included).

    Each call labels the corpus with gold texts put in place of their matches; a corpus sentence
    matched by several gold rows takes one per call. A sentence on which every rule abstained gets the
    label model's most probable class.
    """
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
            predicted[i] = LABELS.index(result.label) if result.label else int(np.argmax(result.probs))
        pending = rest
    return predicted


def _baseline_predictions(gold, weak_rows, card: ModelCard, origin: list[str]) -> np.ndarray:
    """TF-IDF + LR, never trained on the scored sentence's paper where the fine-tuned model was not either."""
    from training.baseline import TfidfBaseline

    folds = card.folds
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
        model = TfidfBaseline(card.seed).fit([w.sentence.text for w in rows], np.array([w.probs for w in rows]))
        predicted[members] = model.predict_proba([gold[i].sentence.text for i in members]).argmax(1)
    return predicted


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


def _report(gold_path, model_dir, gold, origin, scores, confidence, figure, card: ModelCard, training: dict) -> str:
    counts = {kind: origin.count(kind) for kind in (HELDOUT, UNSEEN, SEEN)}
    rebuilt = sum(g.matched and g.sentence.paper_id.startswith(REBUILT_PAPER) for g in gold)
    in_corpus = sum(g.matched for g in gold) - rebuilt
    lines = [
        "# Evaluation",
        "",
        f"Gold file `{gold_path}`: {len(gold)} sentences ({in_corpus} found in the prepared corpus and "
        f"{rebuilt} in papers rebuilt from the gold file's own rows, all scored in their context; "
        f"{len(gold) - in_corpus - rebuilt} scored as standalone sentences). Model `{model_dir}` "
        f"(base `{card.base_model}`, {card.epochs or '?'} epoch(s), seed {card.seed}).",
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
                     f"`pcc train`: {len(set(card.folds.values()))} folds over the dev papers, each "
                     "sentence predicted by a model that never trained on its paper; the epoch count was chosen on "
                     "these predictions. The shipped model was then refitted on all papers, including these; "
                     "scoring it here would be leakage, so it is not.")
    if counts[UNSEEN]:
        lines.append(f"- **Fine-tuned** on {counts[UNSEEN]} sentences of papers the shipped model never saw: the "
                     "shipped model's own predictions (an unbiased figure).")
    if counts[SEEN]:
        lines.append(f"- **Warning**: {counts[SEEN]} sentences come from papers the shipped model trained on (weak "
                     "labels, no held-out prediction saved): their fine-tuned figures are optimistic.")
    lines.append("- *With heading* = the sentence plus its context as second segment: its heading path (or, for a "
                 "paper's title, the title marker) and, for a model that reads leads (`context: heading+lead`), its "
                 "lead, the sentence announcing its list or opening its paragraph; *bare* = the sentence alone.")
    fine = scores["fine-tuned, with heading"]
    lines += ["", "## Fine-tuned model (with heading), per class", "",
              "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label in LABELS:
        c = fine["per_class"][label]
        lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    calibrated = (f"The model's logits are divided by the temperature {card.temperature} that `pcc train` fitted "
                  "on its held-out dev-gold predictions." if card.temperature != 1.0
                  else "The model is not calibrated: its pcc_model.json holds no temperature (`pcc train` fits one "
                       "when it has held-out folds).")
    lines += ["", f"![confusion matrices]({figure.name})", "",
              "**Confidence** (the model's probability for the label it gives) against accuracy: " + "; ".join(
                  f"{name}: mean confidence {confidence[use]['mean_confidence']:.3f}, accuracy "
                  f"{confidence[use]['accuracy']:.3f}, calibration error (ECE, 10 bins) "
                  f"{confidence[use]['calibration_error']:.3f}"
                  for use, name in ((WITH_CONTEXT, "with heading"), (BARE, "bare"))) + ". " + calibrated, ""]
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
