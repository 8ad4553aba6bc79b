import json
import shutil
from argparse import Namespace

import pytest
import yaml

from pcc.errors import UserError
from tests.conftest import DEV_GOLD
from tests.weak_corpus import write_weak_corpus
from training.evaluate import evaluate, run
from training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_checkpoint):
    """A tiny cross-fitted model on a corpus made of real dev-gold sentences, and its data files."""
    directory = tmp_path_factory.mktemp("evaluate")
    sentences, weak_labels = write_weak_corpus(directory)
    config_file = directory / "train.yaml"
    config_file.write_text(yaml.safe_dump(dict(
        base_model=str(tiny_checkpoint), sentences=str(sentences), weak_labels=str(weak_labels), gold=str(DEV_GOLD),
        output_dir=str(directory / "models"), epochs=1, batch_size=16, learning_rate=1e-3)), "utf-8")
    train(TrainConfig.load(config_file, {}))
    return directory, sentences, weak_labels


def test_dev_gold_report_uses_held_out_predictions(trained):
    directory, sentences, weak_labels = trained
    report = evaluate(DEV_GOLD, directory / "models" / "latest", sentences, weak_labels, directory / "reports" / "eval.md")
    text = report.read_text("utf-8")
    assert (directory / "reports" / "eval_confusion.png").stat().st_size > 5000
    for system in ("weak labels", "TF-IDF", "fine-tuned, with heading", "fine-tuned, bare sentence"):
        assert system in text
    # 79 gold sentences lie in the four dev papers of this corpus; the other 59 belong to papers it lacks,
    # which are rebuilt from their gold rows.
    assert "79 found in the prepared corpus and 59 in papers rebuilt from the gold file's own rows" in text
    assert "on 79 sentences: **held-out** (cross-fitted)" in text
    assert "on 59 sentences of papers the shipped model never saw" in text
    assert "Warning" not in text
    held_out = json.loads((directory / "models" / "latest" / "metrics.json").read_text("utf-8"))["heldout"]
    assert held_out["sentences"] == 79


    # Every sentence the model got wrong is listed once, with its gold file line and gold label.
    accuracy = float(next(line for line in text.splitlines() if line.startswith("| fine-tuned, with heading |"))
                     .split("|")[3].strip("* "))
    errors = text.split("## Sentences the fine-tuned model (with heading) got wrong")[1]
    rows = [line.split(" | ") for line in errors.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == round((1 - accuracy) * 138) > 0
    confidence = next(line for line in text.splitlines() if line.startswith("**Confidence**"))
    assert "with heading: mean confidence" in confidence and f"accuracy {accuracy:.3f}" in confidence
    assert "temperature" in confidence
    gold_rows = DEV_GOLD.read_text("utf-8").splitlines()
    for line, gold_label, predicted, _weak, _path, sentence in rows:
        row = json.loads(gold_rows[int(line.strip("| ")) - 1])
        assert (row["label"], row["text"]) == (gold_label, sentence.rstrip(" |"))
        assert not predicted.startswith(gold_label + " ")


def test_gold_from_a_training_paper_is_flagged(trained, tmp_path):
    directory, sentences, weak_labels = trained
    trained_only = next(json.loads(line) for line in sentences.read_text("utf-8").splitlines()
                        if json.loads(line)["paper_id"].endswith("#05") and json.loads(line)["quality"] == "ok")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": trained_only["text"], "label": "other"}, ensure_ascii=False) + "\n"
                    + json.dumps({"text": "今后要进一步完善警务公开制度。", "label": "countermeasure",
                                  "heading": "三、对策"}, ensure_ascii=False) + "\n", "utf-8")
    args = Namespace(gold=str(gold), model=str(directory / "models" / "latest"), sentences=str(sentences),
                     weak_labels=str(weak_labels), report=str(tmp_path / "report.md"), append=None, papers=None,
                     without_text=False)
    assert run(args) == 0
    text = (tmp_path / "report.md").read_text("utf-8")
    assert "Warning**: 1 sentences come from papers the shipped model trained on" in text
    assert "on 1 sentences of papers the shipped model never saw" in text


def test_bad_gold_file_names_line_and_field(trained, tmp_path):
    directory, sentences, weak_labels = trained
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"text": "要加强队伍建设。", "label": "countermeasure"}\n{"text": "警力不足。"}\n', "utf-8")
    with pytest.raises(UserError, match=r"gold.jsonl:2: field 'label'"):
        evaluate(gold, directory / "models" / "latest", sentences, weak_labels, tmp_path / "r.md")
    with pytest.raises(UserError, match="no pcc_model.json"):
        evaluate(DEV_GOLD, tmp_path, sentences, weak_labels, tmp_path / "r.md")


def test_a_model_without_a_temperature_is_reported_as_not_calibrated(trained, tmp_path):
    directory, sentences, weak_labels = trained
    model_dir = tmp_path / "model"
    shutil.copytree((directory / "models" / "latest").resolve(), model_dir)
    info = json.loads((model_dir / "pcc_model.json").read_text("utf-8"))
    del info["temperature"]
    (model_dir / "pcc_model.json").write_text(json.dumps(info), "utf-8")
    text = evaluate(DEV_GOLD, model_dir, sentences, weak_labels, tmp_path / "eval.md").read_text("utf-8")
    assert "The model is not calibrated" in text and "divided by the temperature" not in text


def test_a_markdown_file_can_be_appended_with_its_headings_one_level_deeper(trained, tmp_path):
    directory, sentences, weak_labels = trained
    extra = tmp_path / "ablation.md"
    extra.write_text("# Context ablation\n\n| setting | F1 |\n|---|---|\n| lead | 0.9 |\n", "utf-8")
    report = evaluate(DEV_GOLD, directory / "models" / "latest", sentences, weak_labels, tmp_path / "eval.md", extra)
    text = report.read_text("utf-8")
    assert text.rstrip().endswith("| lead | 0.9 |") and "\n## Context ablation\n" in text
    with pytest.raises(UserError, match="none.md: no such file"):
        run(Namespace(gold=str(DEV_GOLD), model=str(directory / "models" / "latest"), sentences=str(sentences),
                      weak_labels=str(weak_labels), report=str(tmp_path / "e2.md"), append=tmp_path / "none.md",
                      papers=None, without_text=False))


PAGE = """首页 > 资料库 > 社区养老
社区养老服务的困境与出路
近年来，社区养老服务需求日益增长，但供给不足的问题日益凸显。
一、存在的问题
护理人员流失严重。
二、对策
要提高护理人员的待遇。
"""


def test_papers_are_read_and_scored_with_reading_misses_counted(trained, tmp_path):
    directory, sentences, weak_labels = trained
    papers = tmp_path / "pages"
    papers.mkdir()
    (papers / "P01.txt").write_text(PAGE, "utf-8")
    rows = [
        {"id": "P01-00", "paper": "P01", "text": "首页>资料库>社区养老", "label": "other", "droppable": True},
        {"id": "P01-01", "paper": "P01", "text": "近年来，社区养老服务需求日益增长，但供给不足的问题日益凸显。", "label": "problem"},
        {"id": "P01-02", "paper": "P01", "text": "护理人员流失严重。", "label": "problem"},
        {"id": "P01-03", "paper": "P01", "text": "要提高护理人员的待遇。", "label": "countermeasure"},
        # a sentence the page does not hold: a reading miss, wrong for every system
        {"id": "P01-04", "paper": "P01", "text": "养老机构的床位空置率居高不下。", "label": "problem"},
    ]
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    args = Namespace(gold=str(gold), model=str(directory / "models" / "latest"), sentences=str(tmp_path / "none"),
                     weak_labels=str(weak_labels), report=str(tmp_path / "real.md"), append=None,
                     papers=[str(papers)], without_text=True)
    assert run(args) == 0
    text = (tmp_path / "real.md").read_text("utf-8")
    # the breadcrumb is site chrome the reader left out: no miss, not scored
    assert "4 sentences, each looked for by its text" in text and "3 found and scored in their context, 1 found" in text
    kinds = text.split("## Errors by kind")[1].split("## Sentences")[0]
    assert "| reading miss (no sentence of the papers holds the row) | 1 | 1 | problem → missed (1) |" in kinds
    wrong = text.split("got wrong")[1]
    assert "| P01-04 | problem | missed | missed | reading miss |" in wrong
    # without_text: the report names rows by line and id, never by their text
    assert not any(row["text"] in text for row in rows)
