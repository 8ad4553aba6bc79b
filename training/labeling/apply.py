"""Apply the labeling functions and the configured label model to sentences: the API later steps call."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from pcc.errors import UserError
from pcc.records import LABELS, Sentence, read_settings
from training.labeling.analysis import ABSTAIN_VOTE
from training.labeling.candidates import Candidate, build_candidates
from training.labeling.label_model import LearnedLabelModel, MajorityVote, resolve_abstained
from training.labeling.lf import LabelingFunction, registered

DEFAULT_CONFIG = Path("configs/label.yaml")
REQUIRED_SETTINGS = ("model", "majority_vote", "label_model", "fitted_label_model", "abstained_fallback",
                     "label_abstained")


def load_config(path: str | Path = DEFAULT_CONFIG) -> dict:
    """Read and check the label settings; a missing or bad field is a UserError naming it."""
    config = read_settings(path, "pass --config or restore configs/label.yaml")
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


def settings_path(weak_labels: str | Path) -> Path:
    """Where `pcc label` writes the settings it used, next to its weak labels: weak_labels.config.yaml."""
    weak_labels = Path(weak_labels)
    return weak_labels.with_name(weak_labels.name.removesuffix(".jsonl") + ".config.yaml")


def vote_matrix(candidates: list[Candidate], lfs: list[LabelingFunction]) -> np.ndarray:
    """Votes as LABELS indices, ABSTAIN_VOTE where a rule abstains; one row per candidate."""
    votes = np.full((len(candidates), len(lfs)), ABSTAIN_VOTE, dtype=int)
    for row, candidate in enumerate(tqdm(candidates, desc="labeling functions", unit="sentence", disable=None)):
        for column, lf in enumerate(lfs):
            vote = lf(candidate)
            if vote is not None:
                votes[row, column] = LABELS.index(vote)
    return votes


def votes_by_name(row: np.ndarray, lfs: list[LabelingFunction]) -> dict[str, str]:
    return {lf.name: LABELS[vote] for lf, vote in zip(lfs, row) if vote != ABSTAIN_VOTE}


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


def weak_label(sentences: list[Sentence], config: dict | str | Path = DEFAULT_CONFIG) -> list[dict]:
    """Weak labels for sentences in paper order: {"label", "probs", "votes"} each, in the same order.

    Neighbours come from the list itself (same paper, adjacent index). Garbled sentences get no label,
    uniform probabilities and no votes.
    """
    config = config if isinstance(config, dict) else load_config(config)
    lfs = registered()
    candidates = build_candidates(sentences)
    clean = [i for i, s in enumerate(sentences) if s.quality == "ok"]
    votes = vote_matrix([candidates[i] for i in clean], lfs)
    probs, labels = label_votes(votes, config, configured_model(config))
    results = [{"label": None, "probs": {label: 1 / len(LABELS) for label in LABELS}, "votes": {}}
               for _ in sentences]
    for row, i in enumerate(clean):
        results[i] = {"label": labels[row], "probs": dict(zip(LABELS, map(float, probs[row]))),
                      "votes": votes_by_name(votes[row], lfs)}
    return results
