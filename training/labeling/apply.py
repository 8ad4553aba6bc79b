"""Apply labeling functions and the configured label model to sentences: what `pcc label` runs over the
corpus, and what later steps call to label sentences the same way (`weak_label`)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from pcc.errors import UserError
from pcc.paths import LABEL_CONFIG
from pcc.records import LABELS, Sentence, read_settings
from training.labeling.candidates import Candidate, build_candidates
from training.labeling.label_model import LearnedLabelModel, MajorityVote, resolve_abstained
from training.labeling.lf import ABSTAIN, LabelingFunction
from training.labeling.rules import RULES
from training.labeling.weak_labels import WeakRow

REQUIRED_SETTINGS = ("model", "majority_vote", "label_model", "fitted_label_model", "abstained_fallback",
                     "label_abstained")


def load_config(path: str | Path = LABEL_CONFIG) -> dict:
    """Read and check the label settings; a missing or bad field is a UserError naming it."""
    config = read_settings(path, f"run pcc from the project folder (the one holding configs/), restore "
                                 f"{LABEL_CONFIG}, or give `pcc label` another with --config")
    missing = [key for key in REQUIRED_SETTINGS if key not in config]
    if missing:
        raise UserError(f"{path}: missing setting(s) {', '.join(missing)}")
    fallback = config["abstained_fallback"]
    if not isinstance(fallback, dict) or set(fallback) != set(LABELS) or abs(sum(fallback.values()) - 1) > 1e-6:
        raise UserError(f"{path}: abstained_fallback must map each of {', '.join(LABELS)} to a probability, "
                        "the probabilities summing to 1")
    if config["model"] not in (MajorityVote.name, LearnedLabelModel.name):
        raise UserError(f"{path}: model is {config['model']!r}; use {MajorityVote.name} or {LearnedLabelModel.name}")
    return config


def vote_matrix(candidates: Sequence[Candidate], rules: Sequence[LabelingFunction]) -> np.ndarray:
    """Votes as LABELS indices, ABSTAIN where a rule abstains; one row per candidate, one column per rule."""
    votes = np.full((len(candidates), len(rules)), ABSTAIN, dtype=int)
    for row, candidate in enumerate(tqdm(candidates, desc="labeling functions", unit="sentence", disable=None)):
        for column, rule in enumerate(rules):
            vote = rule(candidate)
            if vote != ABSTAIN:
                votes[row, column] = LABELS.index(vote)
    return votes


def clean_votes(sentences: Sequence[Sentence], rules: Sequence[LabelingFunction] = RULES
                ) -> tuple[list[int], np.ndarray]:
    """The positions of the clean sentences (garbled ones are never labelled) and their vote matrix.

    Neighbours come from the list itself (same paper, adjacent index), so give sentences in paper order.
    """
    candidates = build_candidates(list(sentences))
    clean = [i for i, s in enumerate(sentences) if s.quality == "ok"]
    return clean, vote_matrix([candidates[i] for i in clean], rules)


def votes_by_name(row: np.ndarray, rules: Sequence[LabelingFunction]) -> dict[str, str]:
    return {rule.name: LABELS[vote] for rule, vote in zip(rules, row) if vote != ABSTAIN}


def configured_model(config: dict):
    """The label model the config chooses; a learned one is the model `pcc label` fitted and saved."""
    if config["model"] == LearnedLabelModel.name:
        return LearnedLabelModel.load(config["fitted_label_model"])
    return MajorityVote(**config["majority_vote"])


def label_votes(votes: np.ndarray, config: dict, model) -> tuple[np.ndarray, list[str | None]]:
    """Probabilities and labels from a vote matrix; rows without votes handled as the config says."""
    if not len(votes):
        return np.zeros((0, len(LABELS))), []
    return resolve_abstained(model.predict_proba(votes), votes, config["abstained_fallback"],
                             config["label_abstained"])


def weak_label(sentences: Sequence[Sentence], config: dict | str | Path = LABEL_CONFIG,
               rules: Sequence[LabelingFunction] = RULES) -> list[WeakRow]:
    """A weak label for each sentence (in paper order), in the same order. Garbled sentences get no label,
    uniform probabilities and no votes."""
    config = config if isinstance(config, dict) else load_config(config)
    clean, votes = clean_votes(sentences, rules)
    probs, labels = label_votes(votes, config, configured_model(config))
    results = [WeakRow(s, [1 / len(LABELS)] * len(LABELS), None) for s in sentences]
    for row, i in enumerate(clean):
        results[i] = WeakRow(sentences[i], [float(p) for p in probs[row]], labels[row], votes_by_name(votes[row], rules))
    return results
