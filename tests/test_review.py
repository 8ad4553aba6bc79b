"""`pcc review`: picking the sentences the model is least sure of, and reading their labels back."""
import csv
import json

import pytest

from pcc.cli import main
from pcc.errors import UserError
from serving.outputs import write_rows
from serving.review import read_label_studio, review_candidates, spread_picks, uncertainty


def row(paper: str, index: int, scores: list[float] | None, heading: bool = False, text: str | None = None) -> dict:
    labels = ("problem", "cause", "countermeasure", "other")
    probabilities = dict(zip(labels, scores)) if scores else None
    best = max(probabilities, key=probabilities.get) if probabilities else None
    return {"paper": paper, "title": f"论文{paper}", "source": f"papers/{paper}.txt", "index": index,
            "text": text or f"{paper}论文的第{index}句话。", "heading_path": [f"一、{paper}的问题"], "is_heading": heading,
            "quality": "ok" if scores else "garbled", "label": best,
            "confidence": probabilities[best] if best else None, "scores": probabilities}


SURE = [0.97, 0.01, 0.01, 0.01]
UNSURE = [0.4, 0.38, 0.12, 0.1]  # small margin, middling entropy
SPREAD = [0.45, 0.2, 0.2, 0.15]  # larger margin, but the most spread probability


def predictions() -> list[dict]:
    unsure = {("A", 2): UNSURE, ("A", 4): SPREAD, ("A", 5): [0.5, 0.45, 0.03, 0.02], ("B", 1): [0.6, 0.3, 0.05, 0.05]}
    rows = [row(paper, i, unsure.get((paper, i), SURE)) for paper, count in (("A", 6), ("B", 4)) for i in range(count)]
    rows[2]["lead"] = "主要问题有以下几点："  # what the model read before A2
    rows.append(row("B", 4, UNSURE, heading=True))
    rows.append(row("B", 5, None))  # garbled: not classified
    rows.append(row("C", 0, [0.5, 0.46, 0.02, 0.02], text=rows[2]["text"]))  # the same text again
    return rows


def test_uncertainty_measures():
    assert uncertainty(dict(zip("abcd", [0.25] * 4))) == {"margin": 0.0, "entropy": pytest.approx(1.0)}
    sure = uncertainty(dict(zip("abcd", [1.0, 0, 0, 0])))
    assert sure == {"margin": 1.0, "entropy": pytest.approx(0.0)}


def test_candidates_least_sure_first_without_headings_garbled_or_repeats():
    by_margin = review_candidates(predictions(), "margin")
    assert [(r["paper"], r["index"]) for r in by_margin[:4]] == [("A", 2), ("A", 5), ("A", 4), ("B", 1)]
    assert len(by_margin) == 10  # 10 classified sentences; the heading, the garbled one and the repeat are out
    assert [(r["paper"], r["index"]) for r in review_candidates(predictions(), "entropy")[:2]] == [("A", 4), ("A", 2)]
    with_headings = review_candidates(predictions(), "margin", include_headings=True)
    assert ("B", 4) in [(r["paper"], r["index"]) for r in with_headings]
    excluded = review_candidates(predictions(), "margin", excluded={predictions()[2]["text"]})
    assert ("A", 2) not in [(r["paper"], r["index"]) for r in excluded]


def test_papers_take_turns():
    picked = spread_picks(review_candidates(predictions(), "margin"), 3, "papers")
    # round 1: each paper's least sure sentence (A2, then B1); round 2: A's next one
    assert [(r["paper"], r["index"], r["rank"]) for r in picked] == [("A", 2, 1), ("B", 1, 2), ("A", 5, 3)]
    assert len(spread_picks(review_candidates(predictions(), "margin"), 50, "papers")) == 10
    # every sentence here is labelled problem: spreading over labels too changes nothing
    assert spread_picks(review_candidates(predictions(), "margin"), 3, "labels") == picked


def test_labels_take_turns_then_papers_within_a_label():
    scores = {("A", 0): [0.41, 0.39, 0.1, 0.1], ("A", 1): [0.45, 0.40, 0.1, 0.05], ("A", 2): [0.05, 0.05, 0.4, 0.5],
              ("B", 0): [0.2, 0.5, 0.1, 0.2], ("B", 1): [0.3, 0.1, 0.26, 0.34]}
    candidates = review_candidates([row(paper, i, s) for (paper, i), s in scores.items()], "margin")
    assert [(r["paper"], r["index"]) for r in candidates] == [("A", 0), ("B", 1), ("A", 1), ("A", 2), ("B", 0)]
    by_labels = spread_picks(candidates, 3, "labels")
    assert [(r["paper"], r["index"], r["label"]) for r in by_labels] == [
        ("A", 0, "problem"), ("B", 1, "other"), ("B", 0, "cause")]  # one of each label before a second problem
    assert [(r["paper"], r["index"]) for r in spread_picks(candidates, 5, "labels")][3:] == [("A", 1), ("A", 2)]
    by_papers = spread_picks(candidates, 3, "papers")
    assert [(r["paper"], r["index"], r["label"]) for r in by_papers] == [
        ("A", 0, "problem"), ("B", 1, "other"), ("A", 1, "problem")]


def test_explore_draws_a_share_at_random_from_the_rest():
    candidates = review_candidates(predictions(), "margin")
    uncertain = spread_picks(candidates, 4, "papers")
    explored = spread_picks(candidates, 4, "papers", explore=0.5, seed=1)
    # the two least certain stay; two of the eight others are drawn in their place
    assert explored[:2] == [{**pick, "picked_by": "uncertainty"} for pick in uncertain[:2]]
    drawn = explored[2:]
    assert [pick["picked_by"] for pick in drawn] == ["random", "random"] and [p["rank"] for p in drawn] == [3, 4]
    first_two = {(p["paper"], p["index"]) for p in uncertain[:2]}
    assert not first_two & {(p["paper"], p["index"]) for p in drawn}
    draws = {tuple((p["paper"], p["index"]) for p in spread_picks(candidates, 4, "papers", 0.5, seed)[2:])
             for seed in range(20)}
    assert len(draws) > 5  # the seed decides the draw
    assert spread_picks(candidates, 4, "papers", 0.5, seed=1) == explored  # and the same seed, the same draw
    assert all(p["picked_by"] == "uncertainty" for p in uncertain)
    # all of them asked for: nothing is left to draw from, every candidate is picked once
    everything = spread_picks(candidates, 50, "labels", explore=1.0)
    assert sorted((p["paper"], p["index"]) for p in everything) == sorted((c["paper"], c["index"]) for c in candidates)
    assert {p["picked_by"] for p in everything} == {"uncertainty"}


def test_review_writes_a_sheet_and_label_studio_tasks_that_read_back_as_human_labels(tmp_path, capsys):
    from training.human_labels import read_human_labels

    predicted = tmp_path / "predictions.jsonl"
    write_rows(predicted, predictions())
    out = tmp_path / "review" / "batch1"
    assert main(["review", "--predictions", str(predicted), "--select", "4", "--out", str(out), "--explore", "0"]) == 0
    assert "picked 4 of 10 sentences by margin, spread over labels, from 2 paper(s)" in capsys.readouterr().out

    sheet = out.with_name("batch1.csv")
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf")  # a spreadsheet opens it as UTF-8
    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # round 1: A2, B1; round 2: A5, then B's next, B0 (the rest of B are equally sure: reading order)
    assert [(r["paper"], r["index"]) for r in rows] == [("A", "2"), ("A", "5"), ("B", "0"), ("B", "1")]
    assert all(r["label"] == "" for r in rows) and rows[0]["model_label"] == "problem"
    assert rows[0]["heading"] == "一、A的问题" and float(rows[0]["margin"]) == pytest.approx(0.02)
    assert rows[0]["lead"] == "主要问题有以下几点：" and rows[1]["lead"] == ""

    tasks = json.loads(out.with_name("batch1.labelstudio.json").read_text("utf-8"))
    assert len(tasks) == 4 and tasks[0]["data"]["text"] == rows[0]["text"]
    prediction = tasks[0]["predictions"][0]
    assert prediction["model_version"] == "predictions.jsonl" and prediction["score"] == pytest.approx(0.4)
    assert prediction["result"] == [{"from_name": "label", "to_name": "text", "type": "choices",
                                     "value": {"choices": ["problem"]}}]
    config = out.with_name("batch1.labelstudio.xml").read_text("utf-8")
    assert '<Choices name="label" toName="text"' in config and '<Text name="text" value="$text"/>' in config

    # A spreadsheet fills in two labels (one in Chinese) and saves; the blank rows are skipped.
    rows[0]["label"], rows[2]["label"] = "原因", "countermeasure"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    read_back = read_human_labels(sheet)
    assert [(r["text"], r["label"], r["paper"], r["heading"], r.get("lead")) for r in read_back] == [
        (rows[0]["text"], "cause", "A", ["一、A的问题"], "主要问题有以下几点："),
        (rows[2]["text"], "countermeasure", "B", ["一、B的问题"], None)]

    # Label Studio: the tasks imported, two annotated (one annotation cancelled, one redone), exported as JSON.
    tasks[0]["annotations"] = [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                            "value": {"choices": ["other"]}}], "was_cancelled": False},
                               {"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                            "value": {"choices": ["cause"]}}], "was_cancelled": False}]
    tasks[1]["annotations"] = [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                            "value": {"choices": ["problem"]}}], "was_cancelled": True}]
    tasks[3]["annotations"] = [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                            "value": {"choices": ["对策"]}}]}]
    for number, task in enumerate(tasks, 1):
        task["id"] = number
    export = tmp_path / "project-1-export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), "utf-8")
    assert read_human_labels(export) == [
        {"text": rows[0]["text"], "label": "cause", "line": 1, "paper": "A", "heading": ["一、A的问题"],
         "lead": "主要问题有以下几点："},
        {"text": rows[3]["text"], "label": "countermeasure", "line": 4, "paper": "B", "heading": ["一、B的问题"],
         "lead": None}]  # the model read no lead there

    # JSON-MIN keeps the data and the choice on the task itself.
    minimal = [{"id": 7, "text": rows[1]["text"], "paper": "A", "heading": "一、A的问题 > （一）原因", "label": "problem"},
               {"id": 8, "text": rows[2]["text"], "paper": "B"}]
    export.write_text(json.dumps(minimal, ensure_ascii=False), "utf-8")
    assert read_label_studio(export) == [
        {"text": rows[1]["text"], "label": "problem", "line": 1, "paper": "A", "heading": ["一、A的问题", "（一）原因"]}]

    # The next batch leaves out what was already sent for labelling.
    assert main(["review", "--predictions", str(predicted), "--select", "10", "--out", str(tmp_path / "batch2"),
                 "--exclude", str(sheet), "--by", "entropy"]) == 0
    assert "picked 6 (only 6 left) of 6 sentences by entropy, spread over labels, from" in capsys.readouterr().out

    # By default half the batch is drawn at random, and the sheet says which.
    assert main(["review", "--predictions", str(predicted), "--select", "4", "--seed", "3",
                 "--out", str(tmp_path / "batch3")]) == 0
    assert "picked 4 of 10 sentences by margin, spread over labels, 2 of them at random" in capsys.readouterr().out
    with (tmp_path / "batch3.csv").open(encoding="utf-8-sig", newline="") as handle:
        explored = list(csv.DictReader(handle))
    assert sorted(r["picked_by"] for r in explored) == ["random", "random", "uncertainty", "uncertainty"]
    assert {(r["paper"], r["index"]) for r in explored if r["picked_by"] == "uncertainty"} == {("A", "2"), ("B", "1")}


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ('{"data": {}}', "expected a list of tasks"),
    ('[{"data": {"paper": "A"}}]', "task 1: no 'text'"),
    ('[{"id": 3, "text": "句子。", "label": "problem?"}]', r"task 1 \(id 3\): label 'problem\?' is not one of"),
    ('[{"data": {"text": "句子。"}, "annotations": []}]', "no labelled task"),
])
def test_bad_label_studio_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "export.json"
    path.write_text(content, "utf-8")
    with pytest.raises(UserError, match=message):
        read_label_studio(path)


def test_review_reports_bad_arguments(tmp_path, capsys):
    assert main(["review", "--predictions", str(tmp_path / "none.jsonl"), "--select", "3"]) == 2
    assert "none.jsonl: no such file; write one with `pcc predict" in capsys.readouterr().err
    predicted = tmp_path / "predictions.csv"
    write_rows(predicted, [row("A", 0, None)])
    assert main(["review", "--predictions", str(predicted), "--select", "0"]) == 2
    assert "--select 0: give at least 1" in capsys.readouterr().err
    assert main(["review", "--predictions", str(predicted), "--select", "2", "--explore", "1.5"]) == 2
    assert "--explore 1.5: give a share from 0 to 1" in capsys.readouterr().err
    assert main(["review", "--predictions", str(predicted), "--select", "2", "--out", str(tmp_path / "r")]) == 2
    assert "no classified sentence left to pick" in capsys.readouterr().err
    # A file `pcc predict` did not write (here a gold CSV) is named with the options of `pcc review`.
    gold = tmp_path / "gold.csv"
    gold.write_text("text,label\n警民关系紧张。,problem\n", encoding="utf-8")
    assert main(["review", "--predictions", str(gold), "--select", "2"]) == 2
    error = capsys.readouterr().err
    assert "it is not a `pcc predict` output: give --predictions a file that `pcc predict" in error
    assert "drop --resume" not in error
