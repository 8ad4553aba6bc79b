"""Are the sentences `pcc review` picks worth more than random ones? Macro-F1 on the wild check set after adding
0, 25, 50 and 100 human labels, chosen by `pcc review` or at random, over several seeds.

The wild development papers (`data/wild_dev/`) stand for the papers a person corrects, and their gold labels
(`data/gold/wild_dev.jsonl`) for the person's answers. For every seed and number N:
1. the current model (the ONNX bundle, `pcc predict`) labels the development papers; the candidates are the
   classified sentences that have a gold row (headings left out, as `pcc review` does by default);
2. `pcc review --select N` picks N of them by uncertainty (with its `--by`, `--spread` and `--explore`, drawing with
   the run's seed), and random picking takes N of the same candidates;
   each picked sentence gets its gold label as the person's answer (a human-label JSONL file);
3. `pcc train --human-labels FILE --seed SEED` trains a model (N = 0: without human labels);
4. the model is scored on the wild check set (`data/gold/wild.jsonl`, papers in `data/wild/` read by
   `pcc prepare`), each gold sentence in its paper's context, as `pcc evaluate` scores an unseen paper.
With --score-on development, the check set is left out: the labels come from the first half of the development
papers (dev01-dev05) and the models are scored on the gold sentences of the other half (dev06-dev10), so that
settings can be chosen without looking at the check set.
With --rounds R > 1, `pcc review` picks in R steps, each from the predictions of the model trained on the
picks so far (exported with `pcc export --no-store`); random picking is the same in one step.

    python benchmarks/review_curve.py                         # labels 0,25,50,100; seeds 13,14,15
    python benchmarks/review_curve.py --labels 0,50 --seeds 13 --rounds 2 --by entropy --spread papers
    python benchmarks/review_curve.py --score-on development --labels 0,25,50
    python benchmarks/review_curve.py --smoke                 # the tiny test model, a few steps: does it run?

Writes reports/review_curve.md and review_curve.png (--score-on development: review_curve_development.*; with
--smoke: under the work folder). Each finished run is
kept in <work>/results.jsonl, and a rerun with the same training settings skips it (--fresh starts over); runs
without human labels and with random ones are shared by every way of `pcc review`'s picking, and the report shows
each way measured with these training settings. Trains
3 + 6 x seeds models by default; on 2 CPU cores that is about an hour.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.cli import main as pcc  # noqa: E402
from pcc.paths import LATEST_BUNDLE, LATEST_MODEL, PROCESSED, REPORTS, SENTENCES, TRAIN_CONFIG, WEAK_LABELS  # noqa: E402
from pcc.records import LABELS, read_jsonl, write_jsonl  # noqa: E402
from serving.review import DEFAULT_EXPLORE, SPREADS  # noqa: E402

WILD_DEV, WILD_DEV_GOLD = REPO / "data" / "wild_dev", REPO / "data" / "gold" / "wild_dev.jsonl"
WILD, WILD_GOLD = REPO / "data" / "wild", REPO / "data" / "gold" / "wild.jsonl"
METHODS = ("review", "random")
SCORED_ON = {"wild": "the wild check set", "development": "the scoring half of the development papers"}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="0,25,50,100", help="numbers of human labels (default: %(default)s)")
    parser.add_argument("--seeds", default="13,14,15", help="training (and random picking) seeds (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="steps in which `pcc review` picks (default: %(default)s)")
    parser.add_argument("--by", choices=("margin", "entropy"), default="margin", help="`pcc review --by` (default: %(default)s)")
    parser.add_argument("--spread", choices=SPREADS, default="labels",
                        help="`pcc review --spread` (default: %(default)s)")
    parser.add_argument("--explore", type=float, default=DEFAULT_EXPLORE,
                        help="`pcc review --explore`, with the run's seed (default: %(default)s)")
    parser.add_argument("--bundle", type=Path, default=LATEST_BUNDLE, help="model that picks (default: %(default)s)")
    parser.add_argument("--config", type=Path, default=TRAIN_CONFIG, help="training settings (default: %(default)s)")
    parser.add_argument("--sentences", type=Path, default=SENTENCES, help="training corpus (default: %(default)s)")
    parser.add_argument("--weak-labels", type=Path, default=WEAK_LABELS, help="its weak labels (default: %(default)s)")
    parser.add_argument("--base-model", help="base model to fine-tune (default: the training settings')")
    parser.add_argument("--folds", type=int, default=0,
                        help="cross-fitting folds of each training run (default: %(default)s: one fit per run; the "
                             "curve needs no held-out dev figure)")
    parser.add_argument("--stop-after-epochs", type=int,
                        help=f"each run stops after this many epochs of the settings' schedule, as `pcc train` "
                             f"refits (default: the count {LATEST_MODEL} chose, else all)")
    parser.add_argument("--max-steps", type=int, default=0, help="> 0 stops each fit early (default: %(default)s)")
    parser.add_argument("--weight", type=float, help="human_label_weight (default: the training settings')")
    parser.add_argument("--score-on", choices=tuple(SCORED_ON), default="wild",
                        help="wild: labels from all development papers, scored on the wild check set; development: "
                             "labels from the first half of the development papers, scored on the other half, "
                             "to choose settings without the check set (default: %(default)s)")
    parser.add_argument("--work-dir", type=Path, help=f"default: {PROCESSED / 'review_curve'}[_development]")
    parser.add_argument("--out", type=Path, help=f"report (default: {REPORTS / 'review_curve'}[_development].md; "
                                                 "with --smoke, in the work folder)")
    parser.add_argument("--fresh", action="store_true", help="forget the runs finished earlier")
    parser.add_argument("--smoke", action="store_true",
                        help="the tiny test model and corpus, labels 0,5, one seed, 2 steps: checks that it runs")
    args = parser.parse_args(argv)
    args.labels = [int(n) for n in args.labels.split(",")]
    args.seeds = [int(n) for n in args.seeds.split(",")]
    if args.rounds < 1 or any(0 < n < args.rounds for n in args.labels):
        parser.error(f"--rounds {args.rounds}: give at least 1, and no more than the smallest number of labels")
    args.halves = development_halves() if args.score_on == "development" else None
    name = "review_curve" + ("" if args.score_on == "wild" else f"_{args.score_on}")
    if args.smoke:
        args.labels, args.seeds, args.max_steps, args.folds, args.stop_after_epochs = [0, 5], args.seeds[:1], 2, 0, 1
        args.work_dir = args.work_dir or PROCESSED / f"{name}_smoke"
    args.work_dir = args.work_dir or PROCESSED / name
    args.out = args.out or (args.work_dir if args.smoke else REPORTS) / f"{name}.md"
    return args


def development_halves() -> tuple[set[str], set[str]]:
    """The development papers whose sentences are picked, and those scored on (--score-on development): the
    first and the second half in name order."""
    papers = sorted(path.stem for path in WILD_DEV.glob("*.txt"))
    return set(papers[:len(papers) // 2]), set(papers[len(papers) // 2:])


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    started = time.monotonic()
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        smoke_setup(args)
    train_overrides = training_overrides(args)
    print(f"training settings: {args.config} with {train_overrides}", flush=True)

    picked_from, scored = args.halves or (None, None)
    scored_papers = WILD if scored is None else WILD_DEV
    check(pcc(["prepare", str(scored_papers), "--out-dir", str(work / "scored")]), f"pcc prepare {scored_papers}")
    scorer = GoldScorer(work / "scored" / "sentences.jsonl", WILD_GOLD if scored is None else WILD_DEV_GOLD, scored)
    candidates = candidate_rows(args.bundle, work / "round1", picked_from)
    print(f"{len(candidates)} candidate sentences with a gold label in {WILD_DEV}"
          + (f" ({', '.join(sorted(picked_from))})" if picked_from else "")
          + f"; scored on {len(scorer.placed.gold)} gold sentences of {SCORED_ON[args.score_on]}", flush=True)
    if max(args.labels) > len(candidates):
        sys.exit(f"--labels {max(args.labels)}: there are only {len(candidates)} candidates to pick from; give fewer")

    settings = {key: str(value) for key, value in sorted(train_overrides.items())} | {
        "bundle": str(args.bundle), "config": str(args.config)}
    if args.score_on != "wild":  # (the runs scored on the check set before this option keep their fingerprint)
        settings["score_on"] = args.score_on
    fingerprint = {method: settings_fingerprint(settings, method) for method in ("none", *METHODS)}
    picks = picking(args)
    results_path = work / "results.jsonl"
    results = [] if args.fresh or not results_path.is_file() else [
        row for row in read_jsonl(results_path) if row["settings"] == fingerprint[row["method"]]]
    done = {(row["method"], row["labels"], row["seed"], row.get("picks", "")) for row in results}

    for seed in args.seeds:
        for n in args.labels:
            for method in (("none",) if n == 0 else METHODS):
                if (method, n, seed, picks if method == "review" else "") in done:
                    continue
                run_started = time.monotonic()
                picked: list[dict] = []
                if method == "random":
                    picked = random.Random(seed).sample(candidates, n)
                    human = write_human_labels(picked, work / f"random-{n}-{seed}.jsonl")
                    run_dir = train_run(args, train_overrides, seed, [human], f"random-{n}-{seed}")
                elif method == "review":
                    run_dir, picked = review_rounds(args, train_overrides, candidates, n, seed, picked_from)
                else:
                    run_dir = train_run(args, train_overrides, seed, [], f"none-{seed}")
                score = scorer.macro_f1(run_dir)
                row = {"method": method, "labels": n, "seed": seed, "macro_f1": round(score, 4), "run": str(run_dir),
                       "seconds": round(time.monotonic() - run_started), "settings": fingerprint[method]}
                if method == "review":
                    row["picks"] = picks
                if picked:  # what the person corrects: picks whose answer differs from the picking model's label
                    row["mistakes_picked"] = sum(pick["label"] != pick["gold_label"] for pick in picked)
                results.append(row)
                with results_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
                name = f"review ({picks})" if method == "review" else method
                print(f"{name} {n} labels, seed {seed}: macro-F1 {score:.3f} ({row['seconds']} s)", flush=True)

    write_report(args, results, candidates, len(scorer.placed.gold), settings, time.monotonic() - started)
    print(f"report written to {args.out}")
    return 0


def settings_fingerprint(settings: dict, method: str) -> str:
    """What a finished run is known by: its training settings; a run without human labels does not depend on
    their weight, so every weight measured shares it."""
    if method == "none":
        settings = {key: value for key, value in settings.items() if key != "human_label_weight"}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def picking(args: argparse.Namespace) -> str:
    """How `pcc review` picks, as the results and the report name it."""
    explored = f", {args.explore:.0%} at random" if args.explore else ""
    return f"{args.by}, spread over {args.spread}{explored}, {args.rounds} step(s)"


def check(code: int, what: str) -> None:
    if code != 0:
        sys.exit(f"{what} failed (exit code {code})")


def smoke_setup(args: argparse.Namespace) -> None:
    """The tiny test checkpoint, its bundle and the small test corpus, unless given."""
    from tests.weak_corpus import write_weak_corpus

    work = args.work_dir
    if args.base_model is None:
        from tests.tiny_model import build_tiny_checkpoint

        corpus = (REPO / "data" / "raw" / "police_public_relations_papers.txt").read_text("utf-8")
        corpus += "".join(path.read_text("utf-8") for path in sorted((*WILD.glob("*.txt"), *WILD_DEV.glob("*.txt"))))
        args.base_model = str(build_tiny_checkpoint(work / "tiny" / "checkpoint", corpus))
    if args.bundle == LATEST_BUNDLE:
        from training.exporters.onnx import export_bundle, load_settings

        args.bundle = export_bundle(Path(args.base_model), work / "tiny" / "onnx", gold=REPO / "data/gold/dev.jsonl",
                                    settings=load_settings(REPO / "configs" / "export.yaml"))
    if args.sentences == SENTENCES:
        args.sentences, args.weak_labels = write_weak_corpus(work)


def training_overrides(args: argparse.Namespace) -> dict:
    # The shipped model is refitted on the schedule of `epochs` and stopped at the count it chose; a run trained
    # on a schedule of only that many epochs decays its learning rate sooner and is another, less stable model.
    stop_after = args.stop_after_epochs
    if stop_after is None and (LATEST_MODEL / "metrics.json").is_file():
        stop_after = json.loads((LATEST_MODEL / "metrics.json").read_text("utf-8")).get("chosen_epochs")
    overrides = {"sentences": str(args.sentences), "weak_labels": str(args.weak_labels), "folds": args.folds,
                 "stop_after_epochs": stop_after, "max_steps": args.max_steps or None, "base_model": args.base_model,
                 "human_label_weight": args.weight, "output_dir": str(args.work_dir / "models"),
                 "members": 1}  # one fit a run: the seeds already average out, and a soup would triple the time
    return {key: value for key, value in overrides.items() if value is not None}


def candidate_rows(bundle: Path, folder: Path, papers: set[str] | None) -> list[dict]:
    """`pcc predict` over the development papers, kept where a gold row gives the answer (headings left out, as
    `pcc review` leaves them out) and, if given, in one of `papers`; written as <folder>/candidates.jsonl for
    `pcc review`."""
    from training.gold import normalise_text, read_gold

    folder.mkdir(parents=True, exist_ok=True)
    predictions = folder / "predictions.jsonl"
    check(pcc(["predict", str(WILD_DEV), "--bundle", str(bundle), "--out", str(predictions)]), "pcc predict")
    answers = {normalise_text(row["text"]): row["label"] for row in read_gold(WILD_DEV_GOLD)}
    rows = [{**row, "gold_label": answers[normalise_text(row["text"])]} for row in read_jsonl(predictions)
            if row["label"] is not None and not row["is_heading"] and normalise_text(row["text"]) in answers
            and (papers is None or row["paper"] in papers)]
    rows = list({normalise_text(row["text"]): row for row in rows}.values())  # each sentence once
    write_jsonl(folder / "candidates.jsonl", rows)
    return rows


def review_rounds(args, overrides: dict, candidates: list[dict], n: int, seed: int,
                  papers: set[str] | None) -> tuple[Path, list[dict]]:
    """`pcc review` picks n sentences in args.rounds steps, each from the latest model's predictions; the
    model trained on all of them, and the picks (as candidates of the first model's predictions)."""
    from training.gold import normalise_text

    answers = {normalise_text(row["text"]): row for row in candidates}
    picked_files: list[Path] = []
    all_picked: list[dict] = []
    folder = args.work_dir / "round1"
    run_dir = None
    for step in range(1, args.rounds + 1):
        wanted = round(n * step / args.rounds) - round(n * (step - 1) / args.rounds)
        explored = f"-x{args.explore:g}" if args.explore else ""
        out = args.work_dir / f"review-{args.by}-{args.spread}{explored}-r{args.rounds}-{n}-{seed}-step{step}"
        exclude = ["--exclude", *map(str, picked_files)] if picked_files else []
        check(pcc(["review", "--predictions", str(folder / "candidates.jsonl"), "--select", str(wanted),
                   "--by", args.by, "--spread", args.spread, "--explore", str(args.explore), "--seed", str(seed),
                   "--out", str(out), *exclude]), "pcc review")
        picked = [answers[normalise_text(row["text"])] for row in read_sheet(out.with_name(out.name + ".csv"))]
        picked_files.append(write_human_labels(picked, out.with_name(out.name + ".human.jsonl")))
        all_picked += picked
        run_dir = train_run(args, overrides, seed, picked_files, out.name)
        if step < args.rounds:
            check(pcc(["export", "--model", str(run_dir), "--no-store"]), "pcc export")
            folder = args.work_dir / f"{out.name}-predictions"
            candidate_rows(run_dir / "onnx", folder, papers)
    return run_dir, all_picked


def read_sheet(path: Path) -> list[dict]:
    """The rows of a `pcc review` sheet."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_human_labels(picked: list[dict], path: Path) -> Path:
    """The picked sentences with their gold label as the person's answer: a human-label file."""
    write_jsonl(path, [{"text": row["text"], "label": row["gold_label"], "paper": row["paper"],
                        "heading": row["heading_path"], "lead": row["lead"]} for row in picked])
    return path


def train_run(args, overrides: dict, seed: int, human_labels: list[Path], name: str) -> Path:
    from training.trainer import TrainConfig, train

    config = TrainConfig.load(args.config, {**overrides, "seed": seed, "run_name": name,
                                            "human_labels": [str(path) for path in human_labels] or None})
    return train(config)


class GoldScorer:
    """Macro-F1 of a model (with its context) on a gold file's sentences, each in its paper's context: the figure
    `pcc evaluate --gold` reports for a model that never saw those papers. With `papers`, only the gold sentences
    found in those prepared papers count."""

    def __init__(self, sentences_path: Path, gold_path: Path, papers: set[str] | None):
        from dataclasses import replace

        from pcc.records import read_sentences
        from training.gold import place_gold, read_gold

        placed = place_gold(read_gold(gold_path), read_sentences(sentences_path))
        self.placed = replace(placed, gold=[g for g in placed.gold
                                            if papers is None or g.matched and g.sentence.paper_id in papers])
        if not self.placed.gold:
            sys.exit(f"{gold_path}: no gold sentence found in {sentences_path}")

    def macro_f1(self, model_dir: Path) -> float:
        import numpy as np

        from pcc.model_card import read_model_card
        from training.metrics import macro_f1
        from training.modeling import load_model, predict_proba

        card = read_model_card(model_dir, required=True)
        inputs = self.placed.inputs(card)
        tokenizer, model = load_model(str(model_dir))
        probs = predict_proba(model, tokenizer, [item.text for item in inputs], [item.context for item in inputs],
                              card.max_length)
        return macro_f1(np.array([LABELS.index(g.label) for g in self.placed.gold]), probs.argmax(1))


def curves_of(results: list[dict], labels: list[int], field: str = "macro_f1") -> dict[str, list[list[float]]]:
    """Per way of picking (each `pcc review` setting measured, then random), per number of labels, the `field`
    of every seed's run that records it; N = 0 is the model without human labels, shared by all."""
    ways = [f"review ({picks})" for picks in dict.fromkeys(r["picks"] for r in results if r["method"] == "review")]
    ways.append("random")

    def matches(row: dict, way: str) -> bool:
        return way == "random" and row["method"] == "random" or way == f"review ({row.get('picks')})"

    return {way: [[r[field] for r in results if field in r and r["labels"] == n
                   and (matches(r, way) if n else r["method"] == "none")] for n in labels] for way in ways}


def paired_differences(results: list[dict], labels: list[int]) -> dict[str, dict[int, list[float]]]:
    """Per `pcc review` setting measured, per number of labels: its score minus random's, seed by seed (seeds
    where both ran, in seed order)."""
    scores = {(row["method"], row.get("picks"), row["labels"], row["seed"]): row["macro_f1"] for row in results}
    paired: dict[str, dict[int, list[float]]] = {}
    for (method, picks, n, seed), score in sorted(scores.items(), key=lambda item: item[0][3]):
        chance = scores.get(("random", None, n, seed))
        if method == "review" and n in labels and chance is not None:
            paired.setdefault(f"review ({picks})", {}).setdefault(n, []).append(score - chance)
    return paired


def standard_error(values: list[float]) -> float:
    """Of the mean of `values` (at least two): their standard deviation / √count."""
    return statistics.stdev(values) / len(values) ** 0.5


def verdict(differences: list[float]) -> str:
    """How a way of picking compares with random, from its paired differences (review − random, one per seed):
    a mean below zero by less than its standard error is as close as that many seeds can tell apart."""
    if len(differences) < 2:
        return "one seed: no verdict."
    mean = statistics.mean(differences)
    error = standard_error(differences)
    figure = f"paired difference {mean:+.4f} ± {error:.4f} (standard error over {len(differences)} seeds)"
    if mean >= 0:
        return f"{figure}: at least as good as random."
    if -mean <= error:
        return f"{figure}: under random by less than one standard error, level as far as these seeds can tell."
    return f"{figure}: worse than random, by {-mean / error:.1f} standard errors."


def write_report(args, results: list[dict], pool: list[dict], scored: int, settings: dict, seconds: float) -> None:
    candidates, mistakes = len(pool), sum(row["label"] != row["gold_label"] for row in pool)
    labels = sorted(args.labels)
    figure = args.out.with_suffix(".png")
    curves = curves_of(results, labels)

    def cell(scores: list[float]) -> str:
        if not scores:
            return "–"
        spread = f" ± {statistics.stdev(scores):.3f}" if len(scores) > 1 else ""
        return f"{statistics.mean(scores):.3f}{spread} ({', '.join(f'{s:.3f}' for s in scores)})"

    if args.halves is None:
        where = f"the wild check set (`data/gold/wild.jsonl`, {scored} sentences of the papers in `data/wild/`)"
        source = "the wild development papers (`data/wild_dev/`)"
    else:
        picked_from, scored_papers = args.halves
        where = (f"the {scored} gold sentences of the development papers {', '.join(sorted(scored_papers))} "
                 "(the wild check set is not used)")
        source = f"the other development papers ({', '.join(sorted(picked_from))})"
    lines = [
        "# Human labels: chosen by `pcc review` or at random",
        "",
        f"Macro-F1 of the fine-tuned model (with its context) on {where} after adding N human labels from "
        f"{source} (their gold labels in `data/gold/wild_dev.jsonl` stand for the person's answers), picked by "
        f"`pcc review` (each way of picking measured: `--by`, `--spread`, `--explore`, steps) or at random from "
        f"the same {candidates} candidates (classified sentences with a gold row, headings left out). Mean ± standard "
        f"deviation over seeds {', '.join(map(str, args.seeds))}, each seed's figure in brackets; N = 0 is the same "
        "model for all.",
        "",
        "| human labels | " + " | ".join(f"`pcc {way}`" if way != "random" else way for way in curves) + " |",
        "|---|" + "---|" * len(curves),
        *(f"| {n} | " + " | ".join(cell(scores[i]) for scores in curves.values()) + " |" for i, n in enumerate(labels)),
        "",
        f"![macro-F1 against human labels]({figure.name})",
        "",
    ]
    paired = paired_differences(results, labels)
    if 50 in labels:
        at_50 = {way: scores[labels.index(50)] for way, scores in curves.items() if scores[labels.index(50)]}
        for way in at_50:
            if way != "random" and "random" in at_50:
                review, chance = statistics.mean(at_50[way]), statistics.mean(at_50["random"])
                lines.append(f"At 50 labels, `pcc {way}` against random: {review:.4f} against {chance:.4f}, "
                             + verdict(paired.get(way, {}).get(50, [])))
        lines.append("")
    if paired:
        lines += [
            "## Paired by seed",
            "",
            "A seed fixes the starting weights and the random draws of both runs it compares, so the difference "
            "`pcc review` − random within a seed leaves out part of what the seed alone decides (the data still "
            "differ by the picked sentences). Per seed, then the mean ± its standard error (standard deviation / "
            "√seeds):",
            "",
            "| human labels | " + " | ".join(f"`pcc {way}` − random" for way in paired) + " |",
            "|---|" + "---|" * len(paired),
        ]
        for n in labels[1:]:
            cells = []
            for by_n in paired.values():
                differences = by_n.get(n, [])
                error = f" ± {standard_error(differences):.4f}" if len(differences) > 1 else ""
                cells.append(f"{statistics.mean(differences):+.4f}{error} "
                             f"({', '.join(f'{d:+.3f}' for d in differences)})" if differences else "–")
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        lines.append("")
    found = curves_of(results, labels[1:], "mistakes_picked")
    if any(counts for per_n in found.values() for counts in per_n):
        lines += [
            "## The picking model's mistakes among the picks",
            "",
            f"The model that picks (`{args.bundle}`) labels {mistakes} of the {candidates} candidates wrong. A person "
            "who labels the picks corrects those among them: a figure that no training run's noise touches. Mean "
            "over seeds (each seed's in brackets; without `--explore`, `pcc review`'s first step does not depend on "
            "the seed), and what random picking finds on average:",
            "",
            "| human labels | " + " | ".join(f"`pcc {way}`" if way != "random" else way for way in found)
            + " | random, expected |",
            "|---|" + "---|" * (len(found) + 1),
        ]
        for i, n in enumerate(labels[1:]):
            cells = [f"{statistics.mean(counts[i]):.1f} ({', '.join(map(str, counts[i]))})" if counts[i] else "–"
                     for counts in found.values()]
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {n * mistakes / candidates:.1f} |")
        lines.append("")
    lines += [
        "## Settings",
        "",
        f"Training: `{args.config}` with {', '.join(f'{k}={v}' for k, v in settings.items())}. Human labels enter "
        "as hard labels with `human_label_weight` ([docs/model.md](../docs/model.md#human-labels)). Written by "
        f"`python benchmarks/review_curve.py` on {datetime.now(timezone.utc).strftime('%Y-%m-%d')} (this call "
        f"{seconds / 60:.0f} min; the {len(results)} runs took {sum(row['seconds'] for row in results) / 60:.0f} min "
        f"of training and scoring); the runs are in `{args.work_dir}`.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), "utf-8")
    plot(figure, labels, curves, SCORED_ON[args.score_on])


def plot(path: Path, labels: list[int], curves: dict, scored_on: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.2, 5.4))
    review_colours = iter(["#2f5fb3", "#2a9d8f", "#7b4fb3", "#c0392b", "#555555"])
    for way, scores_per_n in curves.items():
        colour = "#b26a00" if way == "random" else next(review_colours, "#555555")
        points = [(n, scores) for n, scores in zip(labels, scores_per_n) if scores]
        if not points:
            continue
        xs = [n for n, _ in points]
        axes.errorbar(xs, [statistics.mean(s) for _, s in points],
                      yerr=[statistics.stdev(s) if len(s) > 1 else 0 for _, s in points],
                      color=colour, marker="o", capsize=3, label=f"pcc {way}" if way != "random" else way)
        for n, scores in points:
            axes.scatter([n] * len(scores), scores, color=colour, alpha=0.35, s=12)
    axes.set_xlabel("human labels added")
    axes.set_ylabel("macro-F1")
    axes.set_title(f"Scored on {scored_on}", fontsize=10)
    axes.set_xticks(labels)
    axes.grid(alpha=0.3)
    # below the axes, so that no legend hides the points
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
