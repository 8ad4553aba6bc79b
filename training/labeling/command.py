"""`pcc label`: weak-label every clean sentence with the labeling functions and a label model, and report
how the rules and both label models do against the dev gold."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from pcc.errors import UserError
from pcc.paths import DEV_GOLD, LABEL_CONFIG, REPORTS, SENTENCES, WEAK_LABELS
from pcc.records import LABELS, Sentence, atomic_open, read_sentences, write_jsonl
from training.gold import locate_gold, read_gold
from training.labeling.apply import clean_votes, label_votes, load_config, votes_by_name
from training.labeling.label_model import LearnedLabelModel, MajorityVote, covered, resolve_abstained
from training.labeling.report import write_report
from training.labeling.rules import RULES
from training.labeling.weak_labels import WeakRow, settings_path
from training.metrics import classification_scores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sentences", default=str(SENTENCES), help="prepared sentences (default: %(default)s)")
    parser.add_argument("--gold", default=str(DEV_GOLD), help="hand labels to score against (default: %(default)s)")
    parser.add_argument("--out", default=str(WEAK_LABELS), help="weak labels to write (default: %(default)s)")
    parser.add_argument("--report-dir", default=str(REPORTS),
                        help="folder for labeling.md and labeling_confusion.png (default: %(default)s)")
    parser.add_argument("--config", default=str(LABEL_CONFIG), help="settings (default: %(default)s)")


@dataclass
class GoldMatch:
    rows: list[dict]  # every gold row
    positions: list[int | None]  # per gold row: the prepared sentence it is placed at, or None

    @property
    def unmatched(self) -> list[dict]:
        return [row for row, position in zip(self.rows, self.positions) if position is None]


def match_gold(gold_rows: list[dict], sentences: list[Sentence]) -> GoldMatch:
    """Gold row → the prepared sentence `pcc evaluate` places it at (`training.gold.locate_gold`)."""
    position_of = {(s.paper_id, s.index): position for position, s in enumerate(sentences)}
    return GoldMatch(gold_rows, [position_of[(g.sentence.paper_id, g.sentence.index)] if g.matched else None
                                 for g in locate_gold(gold_rows, sentences)])


def gold_pairs(gold: GoldMatch, labels_by_sentence: list[str | None]) -> list[tuple[str, str | None, str]]:
    """(gold label, weak label, text) of each matched gold row; a garbled sentence has weak label None."""
    return [(row["label"], labels_by_sentence[p], row["text"]) for row, p in zip(gold.rows, gold.positions)
            if p is not None]


def pair_scores(pairs: list[tuple[str, str | None, str]]) -> dict:
    return classification_scores([g for g, _, _ in pairs], [p for _, p, _ in pairs])


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    sentences_path = Path(args.sentences)
    if not sentences_path.is_file():
        raise UserError(f"{sentences_path}: no such file; run `pcc prepare` first or pass --sentences")
    sentences = read_sentences(sentences_path)
    if not sentences:
        raise UserError(f"{sentences_path}: holds no sentences; rerun `pcc prepare`")
    gold = match_gold(read_gold(args.gold), sentences)

    clean, votes = clean_votes(sentences, RULES)
    models = {MajorityVote.name: MajorityVote(**config["majority_vote"]).fit(votes),
              LearnedLabelModel.name: LearnedLabelModel(**config["label_model"]).fit(votes)}
    models[LearnedLabelModel.name].save(config["fitted_label_model"])

    def by_sentence(labels: list[str | None]) -> list[str | None]:
        full: list[str | None] = [None] * len(sentences)
        for row, i in enumerate(clean):
            full[i] = labels[row]
        return full

    # Both models, with abstained sentences labelled by the fallback and left unlabelled: the report's comparison.
    comparison = {}
    for name, model in models.items():
        raw = model.predict_proba(votes)
        comparison[name] = {
            labelled: pair_scores(gold_pairs(gold, by_sentence(
                resolve_abstained(raw, votes, config["abstained_fallback"], labelled)[1])))
            for labelled in (True, False)
        }

    probs, labels = label_votes(votes, config, models[config["model"]])
    out = Path(args.out)
    write_jsonl(out, (WeakRow(sentences[i], probs[row], labels[row], votes_by_name(votes[row], RULES)).to_json()
                      for row, i in enumerate(clean)))
    used = {**config, "labeling_functions": [rule.name for rule in RULES], "sentences": str(sentences_path),
            "gold": str(args.gold)}
    with atomic_open(settings_path(out)) as handle:
        handle.write(yaml.safe_dump(used, allow_unicode=True, sort_keys=False))

    gold_index = np.full(len(clean), -1)
    row_of = {i: row for row, i in enumerate(clean)}
    for gold_row, position in zip(gold.rows, gold.positions):
        if position in row_of:
            gold_index[row_of[position]] = LABELS.index(gold_row["label"])
    written = comparison[config["model"]][config["label_abstained"]]
    write_report(
        Path(args.report_dir), config=config, rules=RULES, votes=votes, gold_index=gold_index,
        estimated_accuracies=models[LearnedLabelModel.name].accuracies(), comparison=comparison, gold=gold,
        pairs=gold_pairs(gold, by_sentence(labels)), n_sentences=len(sentences),
        garbled_gold=sum(1 for p in gold.positions if p is not None and p not in row_of),
    )
    scored = (f"gold macro-F1 {written['macro_f1']:.3f}" if len(gold.unmatched) < len(gold.rows)
              else f"no sentence of {args.gold} found in the prepared sentences: nothing scored")
    print(f"wrote {out} ({len(clean)} clean sentences, {covered(votes).mean():.1%} with a rule's vote) and "
          f"{Path(args.report_dir) / 'labeling.md'}; {scored}")
    return 0
