"""`labeling.md` and `labeling_confusion.png` (the project's in `reports/`): rules, label models and errors on the
gold rows found among the labelled sentences."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pcc.records import LABELS
from training.labeling import analysis
from training.metrics import confusion_matrix, plot_confusions


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.0%}"


def write_report(report_dir: Path, *, config: dict, rules, votes: np.ndarray, gold_index: np.ndarray,
                 estimated_accuracies: np.ndarray, comparison: dict | None, gold, gold_path,
                 pairs: list[tuple[str, str | None, str]], n_sentences: int, garbled_gold: int) -> None:
    """Write the report; `comparison[model name][abstained labelled?]` holds `training.metrics.classification_scores`
    on the gold rows found among the sentences, and is None when there are none (a corpus the gold does not
    cover): then only what needs no gold is reported."""
    chosen, labelled = config["model"], config["label_abstained"]
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
    ]
    if comparison is None:
        lines += [f"- Gold `{gold_path}`: none of its {len(gold.rows)} rows is among these sentences, so nothing "
                  "here is scored against it; to score the labels, label some of these sentences by hand and pass that file "
                  "with --gold."]
    else:
        scores = comparison[chosen][labelled]
        outside = (f"; {len(gold.unmatched)} not among these sentences (listed at the end), so the figures below "
                   f"score the labels on the other {gold.placed} only" if gold.unmatched else "; 0 unmatched")
        lines += [
            f"- **Dev-gold macro-F1** of the written labels: **{scores['macro_f1']:.3f}** (accuracy {scores['accuracy']:.3f})",
            f"- Gold `{gold_path}`: {len(gold.rows)} rows; {len(pairs)} placed at a prepared sentence as `pcc evaluate` "
            f"places them (by text, a row glued to its headings at its sentence) and scored, {garbled_gold} of them "
            f"garbled (never labelled: a miss){outside}.",
        ]
        lines += _scored_sections(comparison, chosen, labelled, coverage)
    lines += ["", "## Labeling functions", "",
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
    if comparison is not None:
        errors = [(g, p, text) for g, p, text in pairs if g != p]
        lines += ["", f"## Dev-gold sentences the written labels get wrong ({len(errors)})", "",
                  "| gold | weak label | text |", "|---|---|---|"]
        lines += [f"| {g} | {p or '– (none)'} | {text[:80].replace('|', '/')} |" for g, p, text in errors]
        if gold.unmatched:
            lines += ["", f"## Gold rows not among these sentences ({len(gold.unmatched)})", "",
                      "Their text equals no prepared sentence: their paper is not among these sentences, or the gold "
                      "joins a heading and the sentence after it, which `pcc prepare` splits.", ""]
            lines += [f"- {row.get('id') or 'line ' + str(row.get('line'))} ({row.get('paper', '?')}): {row['text'][:80]}"
                      for row in gold.unmatched]
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "labeling.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if comparison is not None:
        matrix = confusion_matrix([g for g, _, _ in pairs], [p for _, p, _ in pairs])
        plot_confusions({f"{chosen} vs dev gold (macro-F1 {comparison[chosen][labelled]['macro_f1']:.2f})": matrix},
                        report_dir / "labeling_confusion.png", predicted_by="weak label")


def _scored_sections(comparison: dict, chosen: str, labelled: bool, coverage: float) -> list[str]:
    """Both label models compared, and the written labels per class, on the gold rows found."""
    lines = [
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
    per_class = comparison[chosen][labelled]["per_class"]
    lines += [f"| {l} | {per_class[l]['precision']:.2f} | {per_class[l]['recall']:.2f} | {per_class[l]['f1']:.2f} | "
              f"{per_class[l]['support']} |" for l in LABELS]
    return lines + ["", "![confusion matrix](labeling_confusion.png)"]
