"""Human labels for `pcc train --human-labels FILE ...`: sentences a person labelled, trained on as hard labels.

A file is one of
- `.jsonl`: gold rows (`text`, `label`, optional `paper`, `heading`), as the web page exports corrections and
  as the service stores them (`POST /corrections`);
- `.csv`: the same columns, e.g. a `pcc review` sheet with its `label` column filled in (rows left blank are
  skipped);
- `.json`: a Label Studio export (JSON or JSON-MIN) of `pcc review` tasks (`serving.review.read_label_studio`).

Rows are placed in the corpus as gold rows are (`training.gold`): a sentence found in the corpus gets the
human label in place of its weak label; a paper the corpus lacks is rebuilt from the rows naming it, and its
rows are added, each read with the `lead` its row gives (the page, the service and `pcc review` write what the
model read), since the rows of such a paper are only those labelled. Of several labels for one sentence, the
last one read wins. A human label enters the loss as its one-hot target times `human_label_weight`: under the
soft-label cross-entropy, that is the hard label with that sample weight. The check sets (`pcc.paths.CHECK_SETS`
and the configured dev gold) score models, so a file that is one of them, or holds their sentences, is refused.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from pcc.errors import UserError
from pcc.paths import CHECK_SETS
from pcc.records import LABELS, Sentence
from training.distributed import say
from training.gold import given_leads, gold_papers, locate_gold, normalise_text, read_gold
from training.labeling.weak_labels import WeakRow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A check-set sentence at least this long (without whitespace and punctuation) must not be a training label;
# shorter ones are stock headings ("三、对策建议") that any paper may share.
MIN_CHECKED_CHARS = 8


@dataclass
class HumanLabels:
    """The weak rows with the human labels merged in, and what was merged."""
    weak_rows: list[WeakRow]
    ids: set[str]  # sentence ids that carry a human label
    rebuilt: list[Sentence]  # sentences of the papers rebuilt from human-label rows
    leads: dict[str, str | None]  # sentence id → the lead its row gives, in those papers (`given_leads`)
    record: dict = field(default_factory=dict)  # for metrics.json: files, rows, replaced, added, weight


def read_human_labels(path: str | Path) -> list[dict]:
    """The labelled rows of one human-label file (format by suffix, see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--human-labels {path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        from serving.review import read_label_studio

        return read_label_studio(path)
    if suffix in (".jsonl", ".csv"):
        return read_gold(path, skip_unlabelled=suffix == ".csv")
    raise UserError(f"--human-labels {path}: unsupported file type '{suffix or '(none)'}'; give a .jsonl or .csv "
                    "gold file (text, label, paper, heading) or a Label Studio .json export")


def check_set_files(dev_gold: str | Path) -> list[Path]:
    """The check sets that exist here: the configured dev gold and `CHECK_SETS`, relative to the working
    directory or to the project."""
    found: dict[Path, Path] = {}
    for path in (Path(dev_gold), *CHECK_SETS):
        for candidate in (path, PROJECT_ROOT / path):
            if candidate.is_file():
                found.setdefault(candidate.resolve(), candidate)
    return list(found.values())


def refuse_check_sets(files: list[str | Path], rows_by_file: list[list[dict]], check_sets: list[Path]) -> None:
    """A UserError when a human-label file is a check set or holds a sentence of one (naming both lines)."""
    for name in files:
        for check in check_sets:
            if os.path.samefile(name, check):
                raise UserError(f"--human-labels {name}: this is the check set {check}; check sets score models "
                                "and are never trained on. Label other sentences (e.g. with `pcc review`)")
    checked: dict[str, str] = {}
    for check in check_sets:
        for row in read_gold(check):
            text = normalise_text(row["text"])
            if len(text) >= MIN_CHECKED_CHARS:
                checked.setdefault(text, f"{check}:{row['line']}")
    for name, rows in zip(files, rows_by_file):
        overlap = [(row, checked[text]) for row in rows
                   if len(text := normalise_text(row["text"])) >= MIN_CHECKED_CHARS and text in checked]
        if overlap:
            shown = "; ".join(f"line {row['line']} is {where} ({row['text'].strip()[:20]}…)" for row, where in overlap[:3])
            raise UserError(f"--human-labels {name}: {len(overlap)} row(s) are sentences of a check set: {shown}. "
                            "Check sets (dev gold, outside-corpus and wild gold) score models and are never "
                            "trained on; remove those rows")


def merge_human_labels(weak_rows: list[WeakRow], sentences: list[Sentence], files: list[str | Path],
                       weight: float, dev_gold: str | Path) -> HumanLabels:
    """`weak_rows` with every human label of `files` in place of its sentence's weak label, or added."""
    if weight <= 0:
        raise UserError(f"human_label_weight {weight}: must be above 0")
    rows_by_file = [read_human_labels(name) for name in files]
    refuse_check_sets(files, rows_by_file, check_set_files(dev_gold))
    latest: dict[tuple, dict] = {}  # the last label of each sentence wins
    for rows in rows_by_file:
        for row in rows:
            latest.pop(key := (row.get("paper"), normalise_text(row["text"])), None)
            latest[key] = row
    # Numbered afresh, so that rows of different files never share a line (a standalone row's index is -line).
    rows = [{**row, "line": number} for number, row in enumerate(latest.values(), 1)]
    rebuilt = gold_papers(rows, sentences)
    located = {item.sentence.id: item for item in locate_gold(rows, sentences + rebuilt)}  # later rows win

    position = {row.sentence.id: i for i, row in enumerate(weak_rows)}
    merged, replaced = list(weak_rows), 0
    for sentence_id, item in located.items():
        target = [weight if label == item.label else 0.0 for label in LABELS]
        human = WeakRow(replace(item.sentence, quality="ok"), target, item.label, votes={})
        if sentence_id in position:
            merged[position[sentence_id]] = human
            replaced += 1
        else:
            merged.append(human)
    added = len(located) - replaced
    record = {"files": [str(name) for name in files], "rows": sum(map(len, rows_by_file)), "sentences": len(located),
              "replaced_weak_labels": replaced, "added": added,
              "rebuilt_papers": len({s.paper_id for s in rebuilt}), "weight": weight}
    say(f"human labels: {record['sentences']} sentences from {len(files)} file(s): {replaced} replace their weak "
          f"label, {added} added ({record['rebuilt_papers']} paper(s) rebuilt from their rows), weight {weight:g}")
    return HumanLabels(merged, set(located), rebuilt, given_leads(list(located.values())), record)
