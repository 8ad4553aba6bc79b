"""`pcc label`: weak-label every clean sentence with the labeling functions and a label model, and report
how the rules and both label models do against the dev gold, on the gold rows found among the sentences.

The project's own run (its prepared sentences, `data/processed/sentences.jsonl`) writes `reports/labeling.md` and
the configured `fitted_label_model`; a run on other sentences writes both beside its --out, so that labelling a
corpus of one's own never replaces the project's report or label model."""
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
    parser.add_argument("--report-dir",
                        help=f"folder for labeling.md and labeling_confusion.png (default: {REPORTS} for the "
                             f"project's own sentences, {SENTENCES}; else the folder of --out)")
    parser.add_argument("--config", default=str(LABEL_CONFIG), help="settings (default: %(default)s)")


@dataclass
class GoldMatch:
    rows: list[dict]  # every gold row
    positions: list[int | None]  # per gold row: the prepared sentence it is placed at, or None

    @property
    def unmatched(self) -> list[dict]:
        return [row for row, position in zip(self.rows, self.positions) if position is None]

    @property
    def placed(self) -> int:
        """How many gold rows are among the sentences: the rows that score the labels."""
        return len(self.rows) - len(self.unmatched)


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
    if not sentences_path.exists() or sentences_path.is_dir():
        raise UserError(f"{sentences_path}: no such file; run `pcc prepare` first or pass --sentences")
    sentences = read_sentences(sentences_path)
    if not sentences:
        raise UserError(f"no sentences in {sentences_path} (--sentences); rerun `pcc prepare`")
    gold = match_gold(read_gold(args.gold), sentences)
    out = Path(args.out)
    own_run = sentences_path.resolve() == SENTENCES.resolve()
    report_dir = Path(args.report_dir) if args.report_dir else REPORTS if own_run else out.parent
    if not own_run:
        config = {**config, "fitted_label_model": str(out.parent / Path(config["fitted_label_model"]).name)}

    clean, votes = clean_votes(sentences, RULES)
    models = {MajorityVote.name: MajorityVote(**config["majority_vote"]).fit(votes),
              LearnedLabelModel.name: LearnedLabelModel(**config["label_model"]).fit(votes)}
    models[LearnedLabelModel.name].save(config["fitted_label_model"])

    def by_sentence(labels: list[str | None]) -> list[str | None]:
        full: list[str | None] = [None] * len(sentences)
        for row, i in enumerate(clean):
            full[i] = labels[row]
        return full

    # Both models, with abstained sentences labelled by the fallback and left unlabelled: the report's comparison,
    # on the gold rows found among these sentences (none: nothing to score).
    def scores_of(model) -> dict:
        raw = model.predict_proba(votes)
        return {labelled: pair_scores(gold_pairs(gold, by_sentence(
                    resolve_abstained(raw, votes, config["abstained_fallback"], labelled)[1])))
                for labelled in (True, False)}

    comparison = {name: scores_of(model) for name, model in models.items()} if gold.placed else None

    probs, labels = label_votes(votes, config, models[config["model"]])
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
    write_report(
        report_dir, config=config, rules=RULES, votes=votes, gold_index=gold_index,
        estimated_accuracies=models[LearnedLabelModel.name].accuracies(),
        comparison=comparison, gold=gold, gold_path=args.gold,
        pairs=gold_pairs(gold, by_sentence(labels)), n_sentences=len(sentences),
        garbled_gold=sum(1 for p in gold.positions if p is not None and p not in row_of),
    )
    if gold.placed:
        written = comparison[config["model"]][config["label_abstained"]]
        scored = (f"macro-F1 {written['macro_f1']:.3f} on the {gold.placed} of the {len(gold.rows)} rows of "
                  f"{args.gold} found among these sentences")
    else:
        scored = f"none of the {len(gold.rows)} rows of {args.gold} is among these sentences: nothing scored"
    print(f"wrote {out} ({len(clean)} clean sentences, {covered(votes).mean():.1%} with a rule's vote) and "
          f"{report_dir / 'labeling.md'}; {scored}")
    return 0
