"""`pcc review`: the sentences most worth a person's label, first; and their labels read back.

The model is least sure of a sentence where its two most probable labels are close (`margin`) or where its
probability is spread over all four (`entropy`). `pcc review` ranks the classified sentences of a `pcc predict`
output by one of the two and picks N, spread over the labels the model gave and over the papers (the labels
take turns, each giving its least certain sentence, and within a label the papers take turns), so that neither
one hard paper nor the label the model hesitates over most (often `other`) takes the whole batch; `--spread
papers` lets only the papers take turns. With `--explore F`, a share F of the N is drawn at random (`--seed`) from
the sentences not picked for uncertainty: the least certain sentences are the model's likely mistakes, but as
training data alone they over-teach the hard cases, and a few ordinary sentences keep the batch like the papers.
It writes
- `<out>.csv`: one row per sentence, in reading order, with `label` left blank for a spreadsheet, and the
  model's label, confidence and uncertainty beside it; `lead` is what the model read of the sentence before, so
  that the label trains the model in the context it was predicted in;
- `<out>.labelstudio.json`: the same sentences as Label Studio tasks, the model's label pre-filled as a
  prediction, and `<out>.labelstudio.xml`, the labeling config to paste into the Label Studio project.
`pcc train --human-labels` reads the filled CSV (blank rows are skipped) and Label Studio's JSON export
(`read_label_studio`) back as human labels. Headings are left out unless asked for; garbled sentences always
are (they are not classified).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
from pathlib import Path

from pcc.errors import UserError
from pcc.model_input import HEADING_SEPARATOR
from pcc.paths import PROCESSED
from pcc.records import CHINESE_LABELS, LABELS, atomic_open, label_named, read_input_text, read_jsonl, without_space
from serving.outputs import read_rows

MEASURES = ("margin", "entropy")
SPREADS = ("labels", "papers")
DEFAULT_EXPLORE = 0.5
CSV_FIELDS = ["text", "label", "paper", "heading", "lead", "model_label", "confidence", "margin", "entropy", "rank",
              "picked_by", "title", "source", "index"]
FROM_NAME, TO_NAME = "label", "text"  # the names of the Choices and Text tags in LABEL_STUDIO_CONFIG
LABEL_STUDIO_CONFIG = """<View>
  <Header value="$paper · $heading"/>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text" choice="single-radio" showInline="true" required="true">
    <Choice value="problem" hint="问题" hotkey="1"/>
    <Choice value="cause" hint="原因" hotkey="2"/>
    <Choice value="countermeasure" hint="对策" hotkey="3"/>
    <Choice value="other" hint="其他" hotkey="4"/>
  </Choices>
</View>
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", type=Path, required=True, metavar="FILE",
                        help="output of `pcc predict` (.jsonl or .csv) for the papers to label")
    parser.add_argument("--select", type=int, required=True, metavar="N", help="how many sentences to pick")
    parser.add_argument("--by", choices=MEASURES, default="margin",
                        help="uncertainty: margin (closest top two labels first) or entropy (most spread "
                             "probability first) (default: %(default)s)")
    parser.add_argument("--spread", choices=SPREADS, default="labels",
                        help="labels: the model's labels take turns, and within each the papers; papers: only the "
                             "papers take turns (default: %(default)s)")
    parser.add_argument("--explore", type=float, default=DEFAULT_EXPLORE, metavar="F",
                        help="share of the N drawn at random from the sentences not picked for uncertainty, so that "
                             "the labels also cover ordinary sentences (0 to 1; default: %(default)s)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the --explore draw (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=PROCESSED / "review",
                        help="writes OUT.csv, OUT.labelstudio.json and OUT.labelstudio.xml (default: %(default)s)")
    parser.add_argument("--include-headings", action="store_true", help="headings may be picked too")
    parser.add_argument("--exclude", type=Path, nargs="+", default=[], metavar="FILE",
                        help="sentences not to pick again: earlier review sheets, Label Studio files or gold / "
                             "human-label files (.csv, .json, .jsonl with a text field)")
    parser.add_argument("--model-version", help="model name shown with the predictions in Label Studio "
                                                "(default: the predictions file name)")


def run(args: argparse.Namespace) -> int:
    if args.select < 1:
        raise UserError(f"--select {args.select}: give at least 1")
    if not 0 <= args.explore <= 1:
        raise UserError(f"--explore {args.explore}: give a share from 0 to 1")
    if not args.predictions.is_file():
        raise UserError(f"--predictions {args.predictions}: no such file; write one with `pcc predict PAPERS --out FILE`")
    rows = read_rows(args.predictions, "give --predictions a file that `pcc predict PAPERS --out FILE` wrote")
    excluded = set().union(*(texts_in(path) for path in args.exclude)) if args.exclude else set()
    candidates = review_candidates(rows, args.by, args.include_headings, excluded)
    picked = spread_picks(candidates, args.select, args.spread, args.explore, args.seed)
    if not picked:
        raise UserError(f"{args.predictions}: no classified sentence left to pick"
                        + (" after --exclude" if excluded else "") + "; predict other papers")
    paths = write_review(args.out, picked, args.model_version or args.predictions.name)
    papers = len({(row["source"], row["paper"]) for row in picked})
    short = f" (only {len(picked)} left)" if len(picked) < args.select else ""
    drawn = sum(row["picked_by"] == "random" for row in picked)
    how = f"by {args.by}, spread over {args.spread}" + (f", {drawn} of them at random" if drawn else "")
    print(f"picked {len(picked)}{short} of {len(candidates)} sentences {how}, from {papers} paper(s): "
          + ", ".join(str(path) for path in paths))
    return 0


def uncertainty(scores: dict[str, float]) -> dict[str, float]:
    """`margin`: top probability minus the second (small = unsure); `entropy`: of the distribution, divided by its
    maximum log(4) (large = unsure)."""
    ranked = sorted(scores.values(), reverse=True)
    entropy = -sum(p * math.log(p) for p in ranked if p > 0) / math.log(len(ranked))
    return {"margin": ranked[0] - ranked[1], "entropy": entropy}


def review_candidates(rows: list[dict], by: str = "margin", include_headings: bool = False,
                      excluded: set[str] = frozenset()) -> list[dict]:
    """The classified rows worth a label, least certain first (ties in reading order), each once by its text,
    with its `margin` and `entropy`."""
    candidates, seen = [], set(excluded)
    for row in rows:
        key = without_space(row["text"])
        if row.get("scores") is None or (row.get("is_heading") and not include_headings) or key in seen:
            continue
        seen.add(key)
        candidates.append({**row, **uncertainty(row["scores"])})
    sign = 1 if by == "margin" else -1
    return sorted(candidates, key=lambda row: sign * row[by])  # stable: reading order among ties


def spread_picks(candidates: list[dict], n: int, spread: str = "labels", explore: float = 0.0,
                 seed: int = 13) -> list[dict]:
    """The first `n` candidates (least certain first) once they take turns: by paper (every paper's first, in the
    order of those, then every paper's second, ...), or by the model's label and, within a label, by paper; of
    these, the last round(`explore` * n) are replaced by a random draw (`seed`) from the candidates not picked
    (unless all are picked).
    Each picked row gets its `rank` (1 = picked first) and `picked_by` (uncertainty or random)."""
    ordered = _uncertain_turns(candidates, spread)
    n = min(n, len(ordered))
    drawn = round(explore * n) if n < len(ordered) else 0  # all of them picked: none by chance
    kept, rest = ordered[:n - drawn], ordered[n - drawn:]
    picks = [(row, "uncertainty") for row in kept]
    picks += [(row, "random") for row in random.Random(seed).sample(rest, drawn)]
    return [{**row, "rank": rank, "picked_by": by} for rank, (row, by) in enumerate(picks, 1)]


def _uncertain_turns(candidates: list[dict], spread: str) -> list[dict]:
    """The candidates in picking order: least certain first, taking turns as `spread` says."""
    def paper(row):
        return row["source"], row["paper"]

    if spread == "papers":
        return _take_turns(candidates, paper)
    by_label: dict[str, list[dict]] = {}
    for row in candidates:
        by_label.setdefault(row["label"], []).append(row)
    turns = {id(row): turn for rows in by_label.values() for turn, row in enumerate(_take_turns(rows, paper))}
    return sorted(candidates, key=lambda row: turns[id(row)])  # stable: least certain first within a turn


def _take_turns(rows: list[dict], group) -> list[dict]:
    """`rows` reordered so that their groups take turns: each group's first row, then each group's second, ...; the
    rows of one turn keep their order in `rows`."""
    seen: dict = {}
    turns = []
    for row in rows:
        turns.append(seen.get(group(row), 0))
        seen[group(row)] = turns[-1] + 1
    return [row for _, row in sorted(zip(turns, rows), key=lambda pair: pair[0])]


def write_review(out: Path, picked: list[dict], model_version: str) -> list[Path]:
    """OUT.csv, OUT.labelstudio.json and OUT.labelstudio.xml; sentences in reading order, paper by paper."""
    rows = sorted(picked, key=lambda row: (row["source"], row["paper"], row["index"]))
    csv_path, tasks_path, config_path = (out.with_name(out.name + suffix)
                                         for suffix in (".csv", ".labelstudio.json", ".labelstudio.xml"))
    # With a byte-order mark, spreadsheet programs open the Chinese text as UTF-8.
    with atomic_open(csv_path) as handle:
        handle.write("\ufeff")
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({
                "text": row["text"], "label": "", "paper": row["paper"],
                "heading": HEADING_SEPARATOR.join(row["heading_path"]), "lead": row.get("lead") or "",
                "model_label": row["label"],
                "confidence": round(row["confidence"], 4), "margin": round(row["margin"], 4),
                "entropy": round(row["entropy"], 4), "rank": row["rank"], "picked_by": row["picked_by"],
                "title": row["title"],
                "source": row["source"], "index": row["index"]})
    tasks = [{
        "data": {"text": row["text"], "heading": HEADING_SEPARATOR.join(row["heading_path"]), "lead": row.get("lead"),
                 "heading_path": row["heading_path"], "paper": row["paper"], "title": row["title"],
                 "index": row["index"], "rank": row["rank"], "picked_by": row["picked_by"]},
        "predictions": [{"model_version": model_version, "score": round(row["confidence"], 4),
                         "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                                     "value": {"choices": [row["label"]]}}]}],
    } for row in rows]
    with atomic_open(tasks_path) as handle:
        handle.write(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
    with atomic_open(config_path) as handle:
        handle.write(LABEL_STUDIO_CONFIG)
    return [csv_path, tasks_path, config_path]


def texts_in(path: Path) -> set[str]:
    """The sentence texts (without whitespace) of a review sheet, Label Studio file or gold file."""
    if not path.is_file():
        raise UserError(f"--exclude {path}: no such file")
    if path.suffix.lower() == ".json":
        return {without_space(task["text"]) for task in _label_studio_tasks(path)}
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(read_input_text(path), newline=""))
        if "text" not in (reader.fieldnames or []):
            raise UserError(f"{path}:1: no 'text' column; give a review sheet or a gold CSV")
        return {without_space(row["text"]) for row in reader if row.get("text")}
    return {without_space(row["text"]) for row in read_jsonl(path) if isinstance(row.get("text"), str)}


def read_label_studio(path: str | Path) -> list[dict]:
    """The labelled tasks of a Label Studio export as gold rows (`text`, `label`, `paper`, `heading`, `lead`,
    `line` = the task's position from 1). JSON export: a task's label is the `choices` result of its last
    annotation that was not cancelled; JSON-MIN export: its `label` field. Tasks nobody labelled are skipped; a label that is not
    one of the four (English or the guidelines' Chinese) is an error naming the task."""
    rows = []
    for task in _label_studio_tasks(Path(path)):
        choice = task["choice"]
        if choice is None:
            continue
        label = label_named(choice)
        if label is None:
            raise UserError(f"{path}: task {task['position']} (id {task['id']}): label {choice!r} is not one of "
                            f"{', '.join(LABELS)} (or {', '.join(CHINESE_LABELS.values())}); fix it in Label Studio "
                            "and export again")
        row = {"text": task["text"], "label": label, "line": task["position"]}
        if task["paper"]:
            row["paper"] = str(task["paper"])
        if task["heading"]:
            row["heading"] = task["heading"]
        if task["gives_lead"]:
            row["lead"] = task["lead"]
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no labelled task; label some in Label Studio, then export again as JSON")
    return rows


def _label_studio_tasks(path: Path) -> list[dict]:
    """Each task of a Label Studio file (tasks to import, or a JSON / JSON-MIN export): position, id, text,
    paper, heading path and the chosen label (None where there is none)."""
    try:
        tasks = json.loads(read_input_text(path))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}); export the project again "
                        "from Label Studio as JSON") from None
    if not isinstance(tasks, list):
        raise UserError(f"{path}: expected a list of tasks, as Label Studio exports them (Export → JSON)")
    found = []
    for position, task in enumerate(tasks, 1):
        where = f"{path}: task {position}"
        if not isinstance(task, dict):
            raise UserError(f"{where}: expected an object, got {type(task).__name__}")
        data = task.get("data") if isinstance(task.get("data"), dict) else task  # JSON-MIN keeps data on top
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{where}: no 'text'; the tasks must come from `pcc review` or carry a text field")
        headings = data.get("heading_path")
        if not isinstance(headings, list):
            heading = data.get("heading")
            headings = [part.strip() for part in heading.split(HEADING_SEPARATOR.strip())] if isinstance(heading, str) else []
        choice = _annotated_choice(task, where) if "annotations" in task else _min_choice(task.get(FROM_NAME))
        found.append({"position": position, "id": task.get("id"), "text": text.strip(), "paper": data.get("paper"),
                      "heading": [h for h in headings if isinstance(h, str) and h.strip()],
                      "lead": data["lead"] if isinstance(data.get("lead"), str) else None,
                      "gives_lead": "lead" in data, "choice": choice})
    return found


def _annotated_choice(task: dict, where: str):
    annotations = task["annotations"]
    if not isinstance(annotations, list):
        raise UserError(f"{where}: 'annotations' must be a list")
    choice = None
    for annotation in annotations:
        if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
            continue
        for result in annotation.get("result") or []:
            if isinstance(result, dict) and result.get("type") == "choices":
                choices = (result.get("value") or {}).get("choices") or []
                choice = choices[0] if choices else choice
    return choice


def _min_choice(value):
    """JSON-MIN writes a single choice as a string and several as {"choices": [...]}."""
    if isinstance(value, dict):
        value = value.get("choices")
    if isinstance(value, list):
        value = value[0] if value else None
    return value

