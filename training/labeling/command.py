"""`pcc label`: weak-label every clean sentence with the labeling functions and a label model, and report
how the rules and both label models do against the dev gold."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from pcc.errors import UserError
from pcc.records import LABELS, Sentence, read_sentences, write_jsonl
from training.data import locate_gold, read_gold
from training.labeling import analysis
from training.labeling.apply import (DEFAULT_CONFIG, label_votes, load_config, settings_path, vote_matrix,
                                     votes_by_name)
from training.labeling.candidates import build_candidates
from training.labeling.label_model import LearnedLabelModel, MajorityVote, covered, resolve_abstained
from training.labeling.lf import registered
from training.labeling.report import write_report

DEFAULT_SENTENCES = "data/processed/sentences.jsonl"
DEFAULT_GOLD = "data/gold/dev.jsonl"
DEFAULT_OUT = "data/processed/weak_labels.jsonl"
DEFAULT_REPORT_DIR = "reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sentences", default=DEFAULT_SENTENCES, help=f"prepared sentences (default: {DEFAULT_SENTENCES})")
    parser.add_argument("--gold", default=DEFAULT_GOLD, help=f"hand labels to score against (default: {DEFAULT_GOLD})")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"weak labels to write (default: {DEFAULT_OUT})")
    parser.add_argument("--report-dir", default=DEFAULT_REPORT_DIR,
                        help=f"folder for labeling.md and labeling_confusion.png (default: {DEFAULT_REPORT_DIR})")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help=f"settings (default: {DEFAULT_CONFIG})")


@dataclass
class GoldMatch:
    rows: list[dict]  # every gold row
    positions: list[int | None]  # per gold row: the prepared sentence it is placed at, or None

    @property
    def unmatched(self) -> list[dict]:
        return [row for row, position in zip(self.rows, self.positions) if position is None]


def match_gold(gold_rows: list[dict], sentences: list[Sentence]) -> GoldMatch:
    """Gold row → the prepared sentence `pcc evaluate` places it at (`training.data.locate_gold`)."""
    position_of = {(s.paper_id, s.index): position for position, s in enumerate(sentences)}
    return GoldMatch(gold_rows, [position_of[(g.sentence.paper_id, g.sentence.index)] if g.matched else None
                                 for g in locate_gold(gold_rows, sentences)])


def gold_pairs(gold: GoldMatch, labels_by_sentence: list[str | None]) -> list[tuple[str, str | None, str]]:
    """(gold label, weak label, text) of each matched gold row; a garbled sentence has weak label None."""
    return [(row["label"], labels_by_sentence[p], row["text"]) for row, p in zip(gold.rows, gold.positions)
            if p is not None]


def _scores(pairs: list[tuple[str, str | None, str]]) -> dict:
    return analysis.class_scores([g for g, _, _ in pairs], [p for _, p, _ in pairs])


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    sentences_path = Path(args.sentences)
    if not sentences_path.is_file():
        raise UserError(f"{sentences_path}: no such file; run `pcc prepare` first or pass --sentences")
    sentences = read_sentences(sentences_path)
    if not sentences:
        raise UserError(f"{sentences_path}: holds no sentences; rerun `pcc prepare`")
    gold = match_gold(read_gold(args.gold), sentences)

    lfs = registered()
    candidates = build_candidates(sentences)
    clean = [i for i, s in enumerate(sentences) if s.quality == "ok"]
    votes = vote_matrix([candidates[i] for i in clean], lfs)
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
            labelled: _scores(gold_pairs(gold, by_sentence(
                resolve_abstained(raw, votes, config["abstained_fallback"], labelled)[1])))
            for labelled in (True, False)
        }

    probs, labels = label_votes(votes, config, models[config["model"]])
    out = Path(args.out)
    write_jsonl(out, (
        {**{k: v for k, v in sentences[i].to_json().items() if k != "quality"}, "label": labels[row],
         "probs": dict(zip(LABELS, map(float, probs[row]))), "votes": votes_by_name(votes[row], lfs)}
        for row, i in enumerate(clean)))
    used = {**config, "labeling_functions": [lf.name for lf in lfs], "sentences": str(sentences_path),
            "gold": str(args.gold)}
    settings_path(out).write_text(
        yaml.safe_dump(used, allow_unicode=True, sort_keys=False), encoding="utf-8")

    gold_index = np.full(len(clean), -1)
    row_of = {i: row for row, i in enumerate(clean)}
    for gold_row, position in zip(gold.rows, gold.positions):
        if position in row_of:
            gold_index[row_of[position]] = LABELS.index(gold_row["label"])
    written = comparison[config["model"]][config["label_abstained"]]
    write_report(
        Path(args.report_dir), config=config, lfs=lfs, votes=votes, gold_index=gold_index,
        estimated_accuracies=models[LearnedLabelModel.name].accuracies(), comparison=comparison, gold=gold,
        pairs=gold_pairs(gold, by_sentence(labels)), n_sentences=len(sentences),
        garbled_gold=sum(1 for p in gold.positions if p is not None and p not in row_of),
    )
    scored = (f"gold macro-F1 {written['macro_f1']:.3f}" if len(gold.unmatched) < len(gold.rows)
              else f"no sentence of {args.gold} found in the prepared sentences: nothing scored")
    print(f"wrote {out} ({len(clean)} clean sentences, {covered(votes).mean():.1%} with a rule's vote) and "
          f"{Path(args.report_dir) / 'labeling.md'}; {scored}")
    return 0
