"""The weak-label file `pcc label` writes and training reads: one JSON row per clean sentence, the sentence's
fields plus `label`, `probs` (over LABELS) and `votes` ({rule: label}, non-abstaining only); and the settings
file written beside it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pcc.errors import UserError
from pcc.records import LABELS, Sentence, read_numbered_jsonl


@dataclass
class WeakRow:
    sentence: Sentence
    probs: list[float]  # label-model probabilities in LABELS order
    label: str | None  # None where every labeling function abstained
    votes: dict[str, str] = field(default_factory=dict)  # labeling function -> its (non-abstaining) vote

    def to_json(self) -> dict:
        return {**{k: v for k, v in self.sentence.to_json().items() if k != "quality"}, "label": self.label,
                "probs": dict(zip(LABELS, map(float, self.probs))), "votes": self.votes}


def read_weak_labels(path: str | Path) -> list[WeakRow]:
    """Read `pcc label` output; a row without usable probabilities is a UserError naming file:line and field."""
    rows = []
    for number, row in read_numbered_jsonl(path):
        where = f"{path}:{number}"
        for name in ("paper_id", "index", "text", "probs"):
            if name not in row:
                raise UserError(f"{where}: field '{name}' is missing; rerun `pcc label`")
        probs = row["probs"]
        if not isinstance(probs, dict) or set(probs) != set(LABELS):
            raise UserError(f"{where}: field 'probs' must map each of {', '.join(LABELS)} to a probability")
        label = row.get("label")
        if label is not None and label not in LABELS:
            raise UserError(f"{where}: field 'label' is {label!r}; expected one of {', '.join(LABELS)} or null")
        sentence = Sentence(
            paper_id=row["paper_id"], paper_title=row.get("paper_title", ""), index=int(row["index"]),
            text=row["text"], heading_path=list(row.get("heading_path") or []),
            is_heading=bool(row.get("is_heading", False)), quality=row.get("quality", "ok"),
            paragraph=int(row.get("paragraph", 0)),
        )
        rows.append(WeakRow(sentence, [float(probs[name]) for name in LABELS], label, dict(row.get("votes") or {})))
    return rows


def settings_path(weak_labels: str | Path) -> Path:
    """Where `pcc label` writes the settings it used, next to its weak labels: weak_labels.config.yaml."""
    weak_labels = Path(weak_labels)
    return weak_labels.with_name(weak_labels.name.removesuffix(".jsonl") + ".config.yaml")
