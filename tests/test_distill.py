import onnx
import pytest
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from pcc.cli import main
from pcc.errors import UserError
from pcc.model_card import read_model_card
from serving.classifier import SentenceClassifier
from tests.conftest import DEV_GOLD
from training.distill import student_layers
from training.exporters.onnx import export_bundle
from training.run_dir import read_metrics


def test_a_student_starts_from_evenly_spaced_teacher_layers_ending_with_the_last():
    assert student_layers(12, 6) == [1, 3, 5, 7, 9, 11]
    assert student_layers(12, 4) == [2, 5, 8, 11]
    assert student_layers(2, 1) == [1]
    assert student_layers(12, 6, "0,2,11") == [0, 2, 11]
    with pytest.raises(UserError, match="--layers 13: the teacher has 12 layers"):
        student_layers(12, 13)
    with pytest.raises(UserError, match="increasing layer numbers from 0 to 11"):
        student_layers(12, 6, "5,3")
    with pytest.raises(UserError, match="separated by commas"):
        student_layers(12, 6, "one")


@pytest.fixture(scope="module")
def confident_teacher(tiny_checkpoint, tmp_path_factory):
    """The tiny classifier with its output layer and its first layer's feed-forward output scaled up: confident,
    sentence-dependent probabilities to learn, which a student without that first layer does not start with (the
    randomly initialised one gives every sentence nearly uniform ones, whatever its layers)."""
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint)
    with torch.no_grad():
        model.classifier.weight *= 100
        model.bert.encoder.layer[0].output.dense.weight *= 30
    teacher = tmp_path_factory.mktemp("teacher")
    model.save_pretrained(teacher)
    AutoTokenizer.from_pretrained(tiny_checkpoint).save_pretrained(teacher)
    return teacher


def test_distill_writes_a_student_model_directory_that_export_takes(confident_teacher, seed_sentences, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(DEV_GOLD.read_text("utf-8").splitlines(keepends=True)[:40]), "utf-8")
    assert main(["distill", "--teacher", str(confident_teacher), "--sentences", str(seed_sentences), "--layers", "1",
                 "--max-steps", "40", "--learning-rate", "1e-3", "--gold", str(gold),
                 "--output-dir", str(tmp_path)]) == 0
    run_dir, = tmp_path.glob("student-*")
    assert not (tmp_path / "latest").exists()  # the teacher stays the default
    card = read_model_card(run_dir, required=True)
    assert card.teacher == str(confident_teacher.resolve()) and card.teacher_layers == [1]
    assert AutoConfig.from_pretrained(run_dir).num_hidden_layers == 1
    teacher = AutoModelForSequenceClassification.from_pretrained(confident_teacher)
    student = AutoModelForSequenceClassification.from_pretrained(run_dir)
    assert torch.equal(student.bert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight)
    assert not torch.equal(student.classifier.weight, teacher.classifier.weight)  # it learnt

    metrics = read_metrics(run_dir)
    assert metrics["steps"] == 40
    fit = metrics["fit_to_teacher"]
    assert fit["after"]["kl"] < 0.5 * fit["before"]["kl"]
    assert fit["after"]["label_agreement"] >= fit["before"]["label_agreement"]
    dev, = metrics["gold"]
    assert dev["gold"] == str(gold) and dev["seen_share"] > 0.9  # the dev papers are in the corpus it learnt on
    assert metrics["held_out_max_f1_drop"] is None  # so it has no held-out figure

    bundle = export_bundle(run_dir, tmp_path / "onnx", gold=None, calibration=seed_sentences)
    ops = [node.op_type for node in onnx.load(bundle / "model.onnx").graph.node]
    assert ops.count("MultiHeadAttention") == 1
    predictions = SentenceClassifier(bundle, device="cpu", precision="int8").classify(["要加强警民沟通。"])
    assert predictions[0].label in card.labels
