"""`reports/labeling.md` and `reports/labeling_confusion.png`: rules, label models and errors on the dev gold."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pcc.records import LABELS
from training.labeling import analysis
from training.metrics import confusion_matrix, plot_confusions


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.0%}"


def write_report(report_dir: Path, *, config: dict, rules, votes: np.ndarray, gold_index: np.ndarray,
                 estimated_accuracies: np.ndarray, comparison: dict, gold, pairs: list[tuple[str, str | None, str]],
                 n_sentences: int, garbled_gold: int) -> None:
    """Write the report; `comparison[model name][abstained labelled?]` holds `training.metrics.classification_scores`."""
    chosen, labelled = config["model"], config["label_abstained"]
    scores = comparison[chosen][labelled]
    coverage = analysis.total_coverage(votes)
    fallback = config["abstained_fallback"]
    abstained = (f"get {max(fallback, key=fallback.get)} with low confidence ({max(fallback.values()):.2f})"
                 if labelled else "are left unlabelled")
    lines = [
        "# Weak labels",
        "",
        f"{n_sentences} prepared sentences, {len(votes)} clean (garbled ones are never labelled); {len(rules)} labeling "
        f"functions; label model written: **{chosen}**; sentences on which every rule abstains {abstained}.",
        "",
        f"- **Coverage** (clean sentences with at least one rule's vote): **{coverage:.1%}**",
        f"- **Dev-gold macro-F1** of the written labels: **{scores['macro_f1']:.3f}** (accuracy {scores['accuracy']:.3f})",
        f"- Dev gold: {len(gold.rows)} rows; {len(pairs)} placed at a prepared sentence as `pcc evaluate` places them "
        f"(by text, a row glued to its headings at its sentence) and scored, {garbled_gold} of them garbled "
        f"(never labelled: a miss); "
        f"{len(gold.unmatched)} unmatched" + (" (listed at the end)." if gold.unmatched else "."),
        "",
        "## Label model vs majority vote (dev gold)",
        "",
        "Both fitted on the votes of all clean sentences; the dev gold only scores them. The written model is "
        "chosen in `configs/label.yaml` by this table.",
        "",
        "| label model | sentences without votes | clean sentences labelled | macro-F1 | accuracy | "
        + " | ".join(f"F1 {l}" for l in LABELS) + " |",
        "|---|---|---|---|---|" + "---|" * len(LABELS),
    ]
    for name, variants in comparison.items():
        for variant, result in variants.items():
            how = "fallback label" if variant else "unlabelled (a miss)"
            mark = " **(written)**" if (name, variant) == (chosen, labelled) else ""
            lines.append(f"| {name}{mark} | {how} | {1.0 if variant else coverage:.1%} | {result['macro_f1']:.3f} | "
                         f"{result['accuracy']:.3f} | "
                         + " | ".join(f"{result['per_class'][l]['f1']:.2f}" for l in LABELS) + " |")
    lines += ["", "## Per class (written labels, dev gold)", "",
              "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    per_class = scores["per_class"]
    lines += [f"| {l} | {per_class[l]['precision']:.2f} | {per_class[l]['recall']:.2f} | {per_class[l]['f1']:.2f} | "
              f"{per_class[l]['support']} |" for l in LABELS]
    lines += ["", "![confusion matrix](labeling_confusion.png)", "", "## Labeling functions", "",
              "Polarity, coverage, overlaps and conflicts over all clean sentences; dev accuracy on the matched gold "
              "sentences the rule votes on (n, few: read with care); the last column is the accuracy Snorkel's "
              "label model estimates without gold.", "",
              "| labeling function | intuition | polarity | coverage | overlaps | conflicts | dev accuracy (n) | "
              "estimated accuracy |", "|---|---|---|---|---|---|---|---|"]
    for rule, row, estimate in zip(rules, analysis.lf_summary(votes, [rule.name for rule in rules], gold_index),
                                   estimated_accuracies):
        lines.append(f"| `{rule.name}` | {rule.intuition.replace('|', '/')} | {', '.join(row['polarity']) or '–'} | "
                     f"{row['coverage']:.1%} | {row['overlaps']:.1%} | {row['conflicts']:.1%} | "
                     f"{_percent(row['accuracy'])} ({row['gold_votes']}) | {estimate:.2f} |")
    errors = [(g, p, text) for g, p, text in pairs if g != p]
    lines += ["", f"## Dev-gold sentences the written labels get wrong ({len(errors)})", "",
              "| gold | weak label | text |", "|---|---|---|"]
    lines += [f"| {g} | {p or '– (none)'} | {text[:80].replace('|', '/')} |" for g, p, text in errors]
    if gold.unmatched:
        lines += ["", f"## Unmatched gold rows ({len(gold.unmatched)})", "",
                  "Their text equals no prepared sentence: mostly the gold joins a heading and the sentence after it, "
                  "which `pcc prepare` splits.", ""]
        lines += [f"- {row.get('id') or 'line ' + str(row.get('line'))} ({row.get('paper', '?')}): {row['text'][:80]}"
                  for row in gold.unmatched]
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "labeling.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    matrix = confusion_matrix([g for g, _, _ in pairs], [p for _, p, _ in pairs])
    plot_confusions({f"{chosen} vs dev gold (macro-F1 {scores['macro_f1']:.2f})": matrix},
                    report_dir / "labeling_confusion.png", predicted_by="weak label")
