"""benchmarks/review_curve.py end to end on its smoke setting: the tiny test model, a few training steps."""
import importlib.util
import json

import yaml

from tests.conftest import REPO


def load_script():
    spec = importlib.util.spec_from_file_location("review_curve", REPO / "benchmarks" / "review_curve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_writes_the_curve(tmp_path, tiny_checkpoint, tiny_bundle):
    script = load_script()
    assert script.main(["--smoke", "--base-model", str(tiny_checkpoint), "--bundle", str(tiny_bundle),
                        "--work-dir", str(tmp_path)]) == 0
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text("utf-8").splitlines()]
    assert [(r["method"], r["labels"]) for r in results] == [("none", 0), ("review", 5), ("random", 5)]
    assert results[1]["picks"] == "margin, spread over labels, 50% at random, 1 step(s)"  # pcc review's default
    assert all(0.0 <= r["macro_f1"] <= 1.0 for r in results)
    # each run trains as a refit does: the settings' schedule, stopped after the chosen count (here 1)
    settings = yaml.safe_load((REPO / results[0]["run"] / "config.yaml").read_text("utf-8"))
    assert (settings["epochs"], settings["stop_after_epochs"], settings["folds"]) == (6, 1, 0)
    picked = [json.loads(line) for line in
              (tmp_path / "review-margin-labels-x0.5-r1-5-13-step1.human.jsonl").read_text("utf-8").splitlines()]
    assert len(picked) == 5 and {"text", "label", "paper", "heading", "lead"} == set(picked[0])
    sheet = (tmp_path / "review-margin-labels-x0.5-r1-5-13-step1.csv").read_text("utf-8-sig")
    assert sheet.count(",random,") == 2 and sheet.count(",uncertainty,") == 3  # round(0.5 * 5) drawn at random
    # the picks the picking model got wrong: what a person labelling them corrects
    candidates = [json.loads(line) for line in
                  (tmp_path / "round1" / "candidates.jsonl").read_text("utf-8").splitlines()]
    wrong = {row["text"] for row in candidates if row["label"] != row["gold_label"]}
    assert results[1]["mistakes_picked"] == sum(row["text"] in wrong for row in picked)
    assert "mistakes_picked" not in results[0] and 0 <= results[2]["mistakes_picked"] <= 5
    report = (tmp_path / "review_curve.md").read_text("utf-8")
    assert "| 0 |" in report and "| 5 |" in report and (tmp_path / "review_curve.png").stat().st_size > 0
    assert "`pcc review (margin, spread over labels, 50% at random, 1 step(s))`" in report
    difference = results[1]["macro_f1"] - results[2]["macro_f1"]  # review - random, the one seed
    assert f"| 5 | {difference:+.4f} ({difference:+.3f}) |" in report.split("## Paired by seed")[1]
    mistakes = report.split("## The picking model's mistakes among the picks")[1]
    assert f"labels {len(wrong)} of the {len(candidates)} candidates wrong" in mistakes
    assert f"| 5 | {results[1]['mistakes_picked']:.1f} ({results[1]['mistakes_picked']}) |" in mistakes

    # another way of picking reuses the runs without human labels and with random ones
    assert script.main(["--smoke", "--base-model", str(tiny_checkpoint), "--bundle", str(tiny_bundle),
                        "--work-dir", str(tmp_path), "--spread", "papers"]) == 0
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text("utf-8").splitlines()]
    assert [(r["method"], r.get("picks")) for r in results][3:] == [
        ("review", "margin, spread over papers, 50% at random, 1 step(s)")]
    report = (tmp_path / "review_curve.md").read_text("utf-8")
    assert "spread over labels" in report and "spread over papers" in report

    # another weight trains its own runs with human labels, and shares the one without
    assert script.main(["--smoke", "--base-model", str(tiny_checkpoint), "--bundle", str(tiny_bundle),
                        "--work-dir", str(tmp_path), "--weight", "2"]) == 0
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text("utf-8").splitlines()]
    assert [(r["method"], r["labels"]) for r in results][4:] == [("review", 5), ("random", 5)]
    assert "human_label_weight=2.0" in (tmp_path / "review_curve.md").read_text("utf-8")


def test_development_split_keeps_the_check_set_out(tmp_path, tiny_checkpoint, tiny_bundle):
    script = load_script()
    picked_from, scored = script.development_halves()
    assert len(picked_from) == len(scored) == 5 and not picked_from & scored
    assert script.main(["--smoke", "--score-on", "development", "--base-model", str(tiny_checkpoint),
                        "--bundle", str(tiny_bundle), "--work-dir", str(tmp_path), "--explore", "0"]) == 0
    prepared = (tmp_path / "scored" / "sentences.jsonl").read_text("utf-8").splitlines()
    assert {json.loads(line)["paper_id"] for line in prepared} == picked_from | scored  # data/wild is not read
    candidates = [json.loads(line) for line in
                  (tmp_path / "round1" / "candidates.jsonl").read_text("utf-8").splitlines()]
    assert candidates and {row["paper"] for row in candidates} <= picked_from
    picked = [json.loads(line) for line in
              (tmp_path / "review-margin-labels-r1-5-13-step1.human.jsonl").read_text("utf-8").splitlines()]
    assert len(picked) == 5 and {row["paper"] for row in picked} <= picked_from
    sheet = (tmp_path / "review-margin-labels-r1-5-13-step1.csv").read_text("utf-8-sig")
    assert sheet.count(",uncertainty,") == 5 and ",random," not in sheet  # --explore 0: uncertainty alone
    report = (tmp_path / "review_curve_development.md").read_text("utf-8")
    assert f"gold sentences of the development papers {', '.join(sorted(scored))}" in report
    assert "the wild check set is not used" in report and "score_on=development" in report
    assert "review (margin, spread over labels, 1 step(s))" in report


def test_verdict_weighs_the_difference_against_its_standard_error():
    verdict = load_script().verdict
    assert verdict([0.01, -0.005, 0.02]).endswith("at least as good as random.")
    # mean -0.003, standard error 0.0072: level as far as three seeds tell
    assert "under random by less than one standard error" in verdict([0.01, -0.004, -0.015])
    assert verdict([-0.03, -0.02, -0.025]).endswith("worse than random, by 8.7 standard errors.")
    assert verdict([0.05]) == "one seed: no verdict."
