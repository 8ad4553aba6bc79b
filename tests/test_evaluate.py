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
                     weak_labels=str(weak_labels), report=str(tmp_path / "report.md"), append=None)
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
                      weak_labels=str(weak_labels), report=str(tmp_path / "e2.md"), append=tmp_path / "none.md"))
