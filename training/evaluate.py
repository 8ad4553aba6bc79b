"""`pcc evaluate`: weak labels, TF-IDF baseline and fine-tuned model, scored on the same gold sentences.

No number in the report comes from a system that trained on the scored paper's labels without saying so:
dev-gold sentences get the fine-tuned model's cross-fitted (held-out) prediction saved by `pcc train`, and
the baseline is cross-fitted over the same folds.
"""
from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from pcc.errors import UserError
from pcc.model_card import ModelCard, read_model_card
from pcc.model_input import BARE, VIEWS, WITH_CONTEXT, ModelInput
from pcc.paths import DEV_GOLD, LATEST_MODEL, REPORTS, SENTENCES, WEAK_LABELS
from pcc.prepare import collect_files, read_papers
from pcc.records import LABELS, read_sentences
from training.gold import REBUILT_PAPER, GoldSentence, PlacedGold, normalise_text, place_gold, read_gold
from training.labeling.apply import weak_label
from training.labeling.weak_labels import read_weak_labels
from training.labeling.heading_vocabulary import heading_class
from training.metrics import (NO_LABEL, calibration_scores, classification_scores, confusion_matrix,
                              plot_confusions)
from training.run_dir import read_heldout, read_metrics

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
    parser.add_argument("--papers", nargs="+", metavar="PATH",
                        help="score the gold file on these papers instead of --sentences (files, folders or glob "
                             "patterns, read as `pcc prepare` reads them): each gold row is looked for among their "
                             "sentences by its text; a row found in none is a reading miss, wrong for every system, "
                             "unless the row is marked droppable (site chrome), which is then left out")
    parser.add_argument("--without-text", action="store_true",
                        help="name the sentences the model got wrong by gold line and id, not by their text (for "
                             "gold sets whose text may not be copied into a report)")
    parser.add_argument("--weak-labels", default=str(WEAK_LABELS),
                        help="baseline training data (default: %(default)s)")
    parser.add_argument("--report", default=str(REPORTS / "evaluation.md"),
                        help="Markdown report; the PNG goes beside it (default: %(default)s)")
    parser.add_argument("--append", type=Path, metavar="MARKDOWN",
                        help="a Markdown file whose sections are added to the report (the context ablation)")


def run(args: argparse.Namespace) -> int:
    report = evaluate(Path(args.gold), Path(args.model), Path(args.sentences), Path(args.weak_labels), Path(args.report),
                      args.append, papers=args.papers, without_text=args.without_text)
    print(f"report written to {report}")
    return 0


def evaluate(gold_path: Path, model_dir: Path, sentences_path: Path, weak_labels_path: Path, report_path: Path,
             appended: Path | None = None, papers: list[str] | None = None, without_text: bool = False) -> Path:
    if appended is not None and not appended.is_file():  # before the model runs, not after
        raise UserError(f"--append {appended}: no such file")
    card = read_model_card(model_dir, required=True)
    weak_rows = read_weak_labels(weak_labels_path)
    placed, missed = placed_gold(gold_path, sentences_path, papers)
    gold = placed.gold
    truth = np.array([LABELS.index(g.label) for g in gold])

    origin, model_probs = _model_predictions(gold, model_dir, card, placed.inputs(card))
    weak = _weak_label_predictions(gold, placed.papers)
    systems = {
        "weak labels (rules + label model)": weak,
        "TF-IDF char 1–3-gram + LR on weak labels": _baseline_predictions(gold, weak_rows, card, origin),
        **{f"fine-tuned, {VIEW_NAMES[view]}": model_probs[view].argmax(1) for view in VIEWS},
    }
    for predicted in systems.values():
        predicted[missed] = NO_LABEL
    scores = {name: classification_scores(truth, predicted) for name, predicted in systems.items()}
    report_path.parent.mkdir(parents=True, exist_ok=True)
    figure = report_path.with_name(report_path.stem + "_confusion.png")
    plot_confusions({f"fine-tuned model, {VIEW_NAMES[view]}": confusion_matrix(truth, systems[f"fine-tuned, {VIEW_NAMES[view]}"])
                     for view in VIEWS}, figure)
    confidence = {view: calibration_scores(model_probs[view][~missed], truth[~missed]) for view in VIEWS}
    report = _report(gold_path, model_dir, gold, origin, scores, confidence, figure, card, read_metrics(model_dir),
                     papers, int(missed.sum()))
    in_context = systems["fine-tuned, with heading"]
    report += _error_kinds(gold, in_context, missed)
    report += _misclassified(gold, weak, model_probs[WITH_CONTEXT], missed, without_text)
    if appended is not None:
        # Its sections become sections of this report: every heading one level deeper.
        report += "\n" + "\n".join("#" + line if line.startswith("#") else line
                                    for line in appended.read_text("utf-8").splitlines()) + "\n"
    report_path.write_text(report, "utf-8")
    for name, score in scores.items():
        print(f"{name}: macro-F1 {score['macro_f1']:.3f}")
    return report_path


def placed_gold(gold_path: Path, sentences_path: Path, papers: list[str] | None = None
                ) -> tuple[PlacedGold, np.ndarray]:
    """The gold rows placed in their papers, as `pcc evaluate` scores them, and which rows no sentence holds. With
    `papers`, the rows are looked for in those paper files as `pcc prepare` reads them; else in the prepared corpus
    at `sentences_path`, with the papers it lacks rebuilt from the gold rows."""
    gold_rows = read_gold(gold_path)
    if papers:
        prepared, _ = read_papers(collect_files(papers), "pcc evaluate")
        placed = place_gold(gold_rows, [s for paper in prepared for s in paper.sentences], rebuild=False)
        # Site chrome that the reader left out is no miss; kept, it is scored like any sentence.
        kept = [g for g, row in zip(placed.gold, gold_rows) if g.matched or not row.get("droppable")]
        placed = replace(placed, gold=kept)
    else:
        placed = place_gold(gold_rows, read_sentences(sentences_path))
    # Only a reader can miss a sentence: without papers, a row found nowhere is scored standing alone.
    missed = np.array([bool(papers) and not g.matched for g in placed.gold], dtype=bool)
    return placed, missed


def _model_predictions(gold, model_dir: Path, card: ModelCard, inputs: list[ModelInput]
                       ) -> tuple[list[str], dict[str, np.ndarray]]:
    """Held-out probabilities where `pcc train` saved them, the model's own prediction of its `inputs` elsewhere."""
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
        from training.modeling import load_model, predict_in_context, predict_proba

        tokenizer, model = load_model(str(model_dir))
        texts = [inputs[i].text for i in to_predict]
        probs[WITH_CONTEXT][to_predict] = predict_in_context(
            model, tokenizer, texts, [inputs[i].context for i in to_predict],
            [inputs[i].context_without_lead for i in to_predict], card)
        probs[BARE][to_predict] = predict_proba(model, tokenizer, texts, [None] * len(to_predict), card.max_length)
    # The bare view stands for a caller who sends the sentence alone, which gets the card's offsets.
    probs[BARE] = card.given_bare(probs[BARE])
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


def _section_of(sentence) -> str | None:
    """The class the innermost heading of a sentence's path announces, if any."""
    return next((label for label in map(heading_class, reversed(sentence.heading_path)) if label), None)


# Where in its paper a sentence sits, as the error table groups it.
MISSED, HEADING_LINE, OUTSIDE, OWN_SECTION, OTHER_SECTION, UNNAMED_SECTION = (
    "reading miss (no sentence of the papers holds the row)", "title or heading line",
    "outside any section (opening, abstract, page without headings)",
    "in a section whose heading announces the gold class", "in a section whose heading announces another class",
    "in a section whose headings announce no class (aspect-named)")


def error_kind(item: GoldSentence, missed: bool) -> str:
    """What kind of place a gold sentence is scored in, for grouping the model's errors."""
    sentence = item.sentence
    if missed:
        return MISSED
    if sentence.is_heading or sentence.is_title:
        return HEADING_LINE
    if not sentence.heading_path:
        return OUTSIDE
    section = _section_of(sentence)
    return UNNAMED_SECTION if section is None else OWN_SECTION if section == item.label else OTHER_SECTION


def _error_kinds(gold: list[GoldSentence], predicted: np.ndarray, missed: np.ndarray) -> str:
    """The model's errors (in context) grouped by where the sentence sits and by gold → predicted class."""
    kinds = [error_kind(item, bool(miss)) for item, miss in zip(gold, missed)]
    lines = ["", "## Errors by kind (fine-tuned, with heading)", "",
             "| where the sentence sits | rows | wrong | most frequent confusions (gold → predicted) |",
             "|---|---|---|---|"]
    for kind in (MISSED, HEADING_LINE, OUTSIDE, OWN_SECTION, OTHER_SECTION, UNNAMED_SECTION):
        members = [i for i, k in enumerate(kinds) if k == kind]
        if not members:
            continue
        wrong = [i for i in members if predicted[i] != LABELS.index(gold[i].label)]
        pairs = Counter(f"{gold[i].label} → {'missed' if predicted[i] == NO_LABEL else LABELS[predicted[i]]}"
                        for i in wrong)
        lines.append(f"| {kind} | {len(members)} | {len(wrong)} | "
                     + ", ".join(f"{pair} ({count})" for pair, count in pairs.most_common(4)) + " |")
    return "\n".join(lines) + "\n"


def _misclassified(gold, weak: np.ndarray, probs: np.ndarray, missed: np.ndarray, without_text: bool = False) -> str:
    """A table of the sentences the fine-tuned model (with heading) got wrong, beside the weak labels'
    verdict, for error analysis; by gold line and id only when the gold text may not be copied."""
    wrong = [i for i, item in enumerate(gold) if missed[i] or LABELS[int(probs[i].argmax())] != item.label]
    lines = ["", "## Sentences the fine-tuned model (with heading) got wrong", "",
             f"{len(wrong)} of {len(gold)}; *line* is the gold file's line, *p* the model's probability for its label.", ""]
    columns = ["line", "id", "gold", "model (p)", "weak labels", "where"] if without_text else \
        ["line", "gold", "model (p)", "weak labels", "heading path", "sentence"]
    if wrong:
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for i in wrong:
        sentence = gold[i].sentence
        model = "missed" if missed[i] else f"{LABELS[int(probs[i].argmax())]} ({probs[i].max():.2f})"
        weak_label = "missed" if missed[i] else LABELS[int(weak[i])]
        if without_text:
            cells = [str(gold[i].line), str(gold[i].row_id or ""), gold[i].label, model, weak_label,
                     error_kind(gold[i], bool(missed[i])).split(" (")[0]]
        else:
            cells = [str(gold[i].line), gold[i].label, model, weak_label, " / ".join(sentence.heading_path),
                     sentence.text]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _report(gold_path, model_dir, gold, origin, scores, confidence, figure, card: ModelCard, training: dict,
            papers: list[str] | None = None, n_missed: int = 0) -> str:
    counts = {kind: origin.count(kind) for kind in (HELDOUT, UNSEEN, SEEN)}
    rebuilt = sum(g.matched and g.sentence.paper_id.startswith(REBUILT_PAPER) for g in gold)
    in_corpus = sum(g.matched for g in gold) - rebuilt
    if papers:
        where = (f"{len(gold)} sentences, each looked for by its text in the papers `{' '.join(papers)}` as `pcc "
                 f"prepare` reads them: {in_corpus} found and scored in their context, {n_missed} found in no "
                 "sentence (reading misses, wrong for every system; site chrome the reader left out is not counted)")
    else:
        where = (f"{len(gold)} sentences ({in_corpus} found in the prepared corpus and {rebuilt} in papers rebuilt "
                 f"from the gold file's own rows, all scored in their context; {len(gold) - in_corpus - rebuilt} "
                 "scored as standalone sentences)")
    lines = [
        "# Evaluation",
        "",
        f"Gold file `{gold_path}`: {where}. Model `{model_dir}` "
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
                 "lead, the sentence announcing its list or opening its paragraph" + (
                     f" (a sentence with a lead is read with it and without it, the two mixed with weight "
                     f"{card.lead_free_weight} on the reading without)" if card.reads_leads and card.lead_free_weight
                     else "") + "; *bare* = the sentence alone, "
                 "as a caller sends it without context" + (
                     " (with the offsets for such sentences that `pcc train` fitted on the corpus: "
                     + ", ".join(f"{label} {b:+.2f}" for label, b in card.bare_offsets.items()) + ")."
                     if card.bare_offsets else "."))
    fine = scores["fine-tuned, with heading"]
    lines += ["", "## Fine-tuned model (with heading), per class", "",
              "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label in LABELS:
        c = fine["per_class"][label]
        lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    fitted_on = (training or {}).get("calibration", {}).get("fitted_on", "its held-out dev-gold predictions")
    calibrated = (f"The model's logits are divided by the temperature {card.temperature} that `pcc train` fitted "
                  f"on {fitted_on}." if card.temperature != 1.0
                  else "The model is not calibrated: its pcc_model.json holds no temperature (`pcc train` fits one "
                       "on the dev gold sentences it finds in the corpus).")
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
                  f"epochs: {training.get('chosen_epochs')}"
                  + (f"; the weights of {training['members']} fits with consecutive seeds averaged."
                     if training.get("members", 1) > 1 else ".")]
        if training.get("per_epoch"):
            lines.append("Held-out macro-F1 per epoch (with heading / bare): " + ", ".join(
                f"{c['epoch']}: {c['heading']:.3f} / {c['bare']:.3f}" for c in training["per_epoch"]) + ".")
        lines.append("")
    return "\n".join(lines)
