"""The model card, `pcc_model.json` in a model directory: what a trained model is and how it reads a sentence.

`pcc train` and `pcc distill` write it beside the checkpoint; `pcc export` copies the fields that say how the
model reads its input into the bundle (`pcc.bundle`), where serving finds them. `pcc.model_input.model_inputs`
builds a model's input from its card.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from pcc.errors import UserError
from pcc.records import LABELS, write_json

MODEL_CARD = "pcc_model.json"
# What a model's segment B holds besides the title marker (`pcc.model_input`): its heading path, or its heading
# path and its lead. The card names its model's scheme, and the bundle copies it, so serving reads as training did.
HEADINGS, HEADINGS_AND_LEAD = "heading", "heading+lead"
CONTEXT_SCHEMES = (HEADINGS, HEADINGS_AND_LEAD)


@dataclass
class ModelCard:
    """What a model directory says about its model; a directory without a card gets these defaults."""
    labels: list[str] = field(default_factory=lambda: list(LABELS))  # output order of the classifier
    max_length: int = 128  # tokens of sentence + context the model reads
    use_heading: bool = True  # whether the context is given as the second segment
    context: str = HEADINGS  # what the context holds (`CONTEXT_SCHEMES`)
    base_model: str | None = None
    seed: int = 0
    epochs: int | None = None  # the count chosen on the held-out gold
    temperature: float = 1.0  # divides the output layer (already applied to the saved weights)
    # label -> added to the log-probabilities of a sentence *given* without any context (`given_bare`); empty: none.
    bare_offsets: dict[str, float] = field(default_factory=dict)
    # weight of a sentence's reading without its lead in its reading (`with_lead_free_view`); 0: the lead's alone.
    lead_free_weight: float = 0.0
    folds: dict[str, int] = field(default_factory=dict)  # dev paper -> cross-fitting fold
    trained_papers: list[str] = field(default_factory=list)
    teacher: str | None = None  # a student (`pcc distill`): the model directory it learnt from
    teacher_layers: list[int] = field(default_factory=list)  # a student: the teacher layers it started from

    @property
    def reads_leads(self) -> bool:
        """Whether the model reads a sentence's lead in its context (the `heading+lead` scheme)."""
        return self.use_heading and self.context == HEADINGS_AND_LEAD

    def with_lead_free_view(self, with_lead: np.ndarray, without_lead: np.ndarray) -> np.ndarray:
        """The probabilities of sentences read with their lead (rows × `labels`), mixed with their reading without
        it (headings only): the geometric mean weighted by `lead_free_weight`, normalised.

        A lead is one sentence of the page, cut to its end; where it misleads (an opening's background sentence
        before a statement of the problem), the reading without it holds the model back. On real pages the mix
        gains a point over the lead alone (`docs/model.md`)."""
        weight = self.lead_free_weight
        return _normalised((1 - weight) * _log(with_lead) + weight * _log(without_lead), with_lead.dtype)

    def given_bare(self, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities (rows × `labels`) of sentences given alone and read bare, with `bare_offsets` applied.

        A model trained with context reads a sentence stripped of its section as the section would rarely label
        it: a shortfall alone reads as a problem, though under a causes heading it was a cause. `pcc train` fits
        the offsets on the training corpus so that the bare view's mean probabilities match the in-context ones
        (a prior shift). They are for sentences a caller gives without context (a list, a request), never for a
        sentence read in its paper whose context happens to be empty: there the model saw the page."""
        if not self.bare_offsets:
            return probabilities
        offsets = np.array([self.bare_offsets.get(label, 0.0) for label in self.labels])
        return _normalised(_log(probabilities) + offsets, probabilities.dtype)


def _log(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probabilities, 1e-12, 1.0))


def _normalised(log_probabilities: np.ndarray, dtype) -> np.ndarray:
    """Probabilities (rows summing to 1) from log-probabilities known up to a constant per row."""
    shifted = np.exp(log_probabilities - log_probabilities.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(dtype)


def read_model_card(model_dir: str | Path, required: bool = False) -> ModelCard:
    """The model card of `model_dir`; without one, the defaults, or a UserError when the card is `required`."""
    path = Path(model_dir) / MODEL_CARD
    if not path.is_file():
        if required:
            raise UserError(f"{model_dir}: no {MODEL_CARD} here; train a model with `pcc train` or pass --model")
        return ModelCard()
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error.msg}); run `pcc train` again") from None
    known = {f.name for f in fields(ModelCard)}
    card = ModelCard(**{name: value for name, value in values.items() if name in known})
    check_card(card, path)
    return card


def check_card(card: ModelCard, where: Path) -> None:
    """A UserError naming `where` when the card's context scheme is none this code knows, its lead-free weight is
    out of range, or its bare offsets are not finite numbers for its own labels."""
    if card.context not in CONTEXT_SCHEMES:
        raise UserError(f"{where}: field 'context' is {card.context!r}, expected one of {', '.join(CONTEXT_SCHEMES)}; "
                        "it was written by another version of pcc: train or export the model again")
    weight = card.lead_free_weight
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < 1:
        raise UserError(f"{where}: field 'lead_free_weight' must be a number from 0 up to (not including) 1, got "
                        f"{weight!r}; train or export the model again")
    offsets = card.bare_offsets
    valid = isinstance(offsets, dict) and all(
        label in card.labels and isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value) for label, value in offsets.items())
    if not valid:
        raise UserError(f"{where}: field 'bare_offsets' must map labels of {card.labels} to finite numbers, got "
                        f"{offsets!r}; train or export the model again")


def write_model_card(model_dir: str | Path, card: ModelCard) -> None:
    write_json(Path(model_dir) / MODEL_CARD, asdict(card))
