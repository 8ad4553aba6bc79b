import json
import os

import pytest
import torch
import yaml

from pcc.errors import UserError
from pcc.records import LABELS
from tests.conftest import DEV_GOLD, REPO
from tests.weak_corpus import write_weak_corpus
from training.trainer import TrainConfig, _average_weights, cpu_computes_bf16, train


def tiny_config(tmp_path, checkpoint, **overrides) -> TrainConfig:
    sentences, weak_labels = write_weak_corpus(tmp_path)
    values = dict(base_model=str(checkpoint), sentences=str(sentences), weak_labels=str(weak_labels),
                  gold=str(DEV_GOLD), output_dir=str(tmp_path / "models"), epochs=2, batch_size=8,
                  learning_rate=1e-3, freeze_embeddings=False)
    values.update(overrides)
    config_file = tmp_path / "train.yaml"
    config_file.write_text(yaml.safe_dump(values), "utf-8")
    return TrainConfig.load(config_file, {})


def test_cross_fitted_training_writes_the_model_directory_contract(tmp_path, tiny_checkpoint):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    run_dir = train(tiny_config(tmp_path, tiny_checkpoint))

    latest = tmp_path / "models" / "latest"
    assert latest.is_symlink() and os.readlink(latest) == run_dir.name
    config = AutoConfig.from_pretrained(latest)
    assert [config.id2label[i] for i in range(len(LABELS))] == list(LABELS)
    assert (latest / "model.safetensors").is_file() and (latest / "tokenizer.json").is_file()
    AutoTokenizer.from_pretrained(latest)
    AutoModelForSequenceClassification.from_pretrained(latest)

    info = json.loads((latest / "pcc_model.json").read_text("utf-8"))
    assert info["labels"] == list(LABELS) and info["max_length"] == 128 and info["use_heading"] is True
    assert info["base_model"] == str(tiny_checkpoint) and info["seed"] == 13 and 1 <= info["epochs"] <= 2
    assert sorted(set(info["folds"].values())) == [0, 1]
    assert yaml.safe_load((latest / "config.yaml").read_text("utf-8"))["epochs"] == 2

    metrics = json.loads((latest / "metrics.json").read_text("utf-8"))
    heldout = metrics["heldout"]
    assert heldout["sentences"] == 24 + 22 + 17 + 16  # every gold sentence of the dev papers, once
    for use in ("heading", "bare"):
        assert 0.0 <= heldout[use]["macro_f1"] <= 1.0
        assert sum(c["support"] for c in heldout[use]["per_class"].values()) == heldout["sentences"]
    assert [c["epoch"] for c in metrics["per_epoch"]] == [1, 2]
    assert set(metrics["fits"]) == {"fold 1/2", "fold 2/2", "refit on all papers"}
    rows = [json.loads(line) for line in (latest / "heldout_predictions.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) == heldout["sentences"]
    assert all(info["folds"][row["paper_id"]] == row["fold"] for row in rows)
    assert all(sum(row["probs_heading"]) == pytest.approx(1.0, abs=1e-3) for row in rows)

    # Calibration: one temperature for the shipped model; the saved held-out probabilities are rescaled
    # fold by fold with temperatures fitted on the other fold, which changes no label.
    calibration = metrics["calibration"]
    assert info["temperature"] == calibration["temperature"] and 0.05 <= info["temperature"] <= 20
    for use in ("heading", "bare"):
        before, after = calibration[use]["before"], calibration[use]["after"]
        assert before["accuracy"] == after["accuracy"] == pytest.approx(heldout[use]["accuracy"])
        assert 0.25 <= after["mean_confidence"] <= 1.0 and 0.0 <= after["calibration_error"] <= 1.0


def test_members_ship_their_averaged_weights_calibrated_on_the_dev_gold(tmp_path, tiny_checkpoint):
    from transformers import AutoModelForSequenceClassification

    def trained(name, **overrides):
        (tmp_path / name).mkdir()
        values = dict(folds=0, epochs=2, stop_after_epochs=1, run_name=name, **overrides)
        run_dir = train(tiny_config(tmp_path / name, tiny_checkpoint, **values))
        return run_dir, AutoModelForSequenceClassification.from_pretrained(run_dir)

    soup_dir, soup = trained("soup", members=2)
    alone = [trained(f"seed{seed}", seed=seed, bare_offsets=False)[1] for seed in (13, 14)]
    metrics = json.loads((soup_dir / "metrics.json").read_text("utf-8"))
    assert set(metrics["fits"]) == {"member 1/2 (seed 13)", "member 2/2 (seed 14)"} and metrics["members"] == 2
    # Each member is the model its seed trains alone; the shipped encoder is their mean (the output layer is
    # also divided by the soup's own temperature).
    name = "bert.pooler.dense.weight"  # trained (the tiny encoder is frozen) and not rescaled by the temperature
    member_weights = [dict(model.named_parameters())[name] for model in alone]
    assert not torch.allclose(*member_weights)
    assert torch.allclose(dict(soup.named_parameters())[name], (member_weights[0] + member_weights[1]) / 2, atol=1e-6)
    calibration = metrics["calibration"]
    info = json.loads((soup_dir / "pcc_model.json").read_text("utf-8"))
    assert info["temperature"] == calibration["temperature"] != 1.0
    assert info["lead_free_weight"] == 0.5  # the setting's default, carried by the card
    assert "dev gold sentences" in calibration["fitted_on"] and "heldout" not in metrics
    assert calibration["heading"]["after"]["calibration_error"] <= calibration["heading"]["before"]["calibration_error"]
    # Offsets for sentences given alone, fitted after the temperature on the corpus's body sentences, no labels.
    offsets = metrics["bare_offsets"]
    assert info["bare_offsets"] == offsets["offsets"] and list(offsets["offsets"]) == list(LABELS)
    assert abs(sum(offsets["offsets"].values())) < 1e-3 and "body sentences" in offsets["fitted_on"]
    assert sum(offsets["mean_in_context"].values()) == pytest.approx(1.0, abs=1e-3)
    seed_dir = tmp_path / "seed13" / "models" / "latest"
    assert json.loads((seed_dir / "pcc_model.json").read_text("utf-8"))["bare_offsets"] == {}
    assert "bare_offsets" not in json.loads((seed_dir / "metrics.json").read_text("utf-8"))


def test_averaging_weights_sets_each_trained_parameter_to_the_mean(tiny_checkpoint):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint, num_labels=len(LABELS))
    first = {"classifier.weight": torch.ones_like(model.classifier.weight)}
    second = {"classifier.weight": 3 * torch.ones_like(model.classifier.weight)}
    bias = model.classifier.bias.detach().clone()
    _average_weights(model, [first, second])
    assert torch.equal(model.classifier.weight, 2 * torch.ones_like(model.classifier.weight))
    assert torch.equal(model.classifier.bias, bias)  # parameters not given stay as they were


def test_section_swaps_need_the_label_settings_written_with_the_weak_labels(tmp_path):
    config = tiny_config(tmp_path, tmp_path / "no-model")
    (tmp_path / "weak_labels.config.yaml").unlink()
    with pytest.raises(UserError, match=r"weak_labels.config.yaml: missing.*Rerun `pcc label`.*section_swaps: 0"):
        train(config)


def test_config_overrides_and_bad_settings(tmp_path):
    config_file = tmp_path / "train.yaml"
    config_file.write_text("epochs: 3\nlearning_rate: 5.0e-5\n", "utf-8")
    config = TrainConfig.load(config_file, {"epochs": 1, "base_model": None})
    assert (config.epochs, config.learning_rate, config.base_model) == (1, 5e-5, "default")
    config_file.write_text("epoch: 3\n", "utf-8")
    with pytest.raises(UserError, match="unknown setting.*epoch"):
        TrainConfig.load(config_file, {})
    with pytest.raises(UserError, match="no such settings file"):
        TrainConfig.load(tmp_path / "missing.yaml", {})
    for text, message in [("epochs: many\n", "field 'epochs' must be a whole number, got 'many'"),
                          ("use_heading: 1\n", "field 'use_heading' must be true or false, got 1"),
                          ("heading_drop: true\n", "field 'heading_drop' must be a number, got True"),
                          ("seed: 13\nepochs: [8\n", r"train.yaml:3: not valid YAML"),
                          ("- epochs\n", "expected settings as `name: value` lines"),
                          ("folds: 0\nepochs: 3\nstop_after_epochs: 4\n",
                           r"'stop_after_epochs' must be between 0 and epochs \(3\), got 4"),
                          ("folds: 2\nstop_after_epochs: 1\n", "stop_after_epochs is for folds: 0"),
                          ("members: 0\n", "field 'members' must be at least 1, got 0"),
                          ("lead_free_weight: 1\n", "field 'lead_free_weight' must be from 0 up to")]:
        config_file.write_text(text, "utf-8")
        with pytest.raises(UserError, match=message):
            TrainConfig.load(config_file, {})


def test_shipped_configs_load():
    for name in ("train.yaml", "gpu.yaml"):
        TrainConfig.load(REPO / "configs" / name, {})


def test_short_fine_tune_of_the_converted_base_model(tmp_path, converted_base_model):
    base = converted_base_model
    run_dir = train(tiny_config(tmp_path, base, folds=0, epochs=1, max_steps=3, batch_size=4, max_length=64,
                                freeze_embeddings=True, learning_rate=5e-5))
    info = json.loads((run_dir / "pcc_model.json").read_text("utf-8"))
    assert info["base_model"] == str(base)
    metrics = json.loads((run_dir / "metrics.json").read_text("utf-8"))
    assert metrics["fits"]["refit on all papers"]["steps"] == 3


def test_stop_after_epochs_keeps_the_longer_schedule(tmp_path, tiny_checkpoint):
    from safetensors.torch import load_file

    stopped = train(tiny_config(tmp_path / "stopped", tiny_checkpoint, folds=0, epochs=3, stop_after_epochs=1))
    short = train(tiny_config(tmp_path / "short", tiny_checkpoint, folds=0, epochs=1))
    fits = [json.loads((run / "metrics.json").read_text("utf-8")) for run in (stopped, short)]
    steps_per_epoch = -(-fits[0]["train_rows"] // 8)
    assert [fit["fits"]["refit on all papers"]["steps"] for fit in fits] == [steps_per_epoch] * 2
    assert json.loads((stopped / "pcc_model.json").read_text("utf-8"))["epochs"] == 1
    # The same steps on the same data, but the 3-epoch schedule's learning rate was still high at the stop.
    weights = [load_file(run / "model.safetensors") for run in (stopped, short)]
    assert any(not weights[0][name].equal(weights[1][name]) for name in weights[0])


def test_mixed_precision_trains_in_bf16_where_the_cpu_has_it_and_saves_fp32_weights(tmp_path, converted_base_model):
    import torch
    from safetensors import safe_open

    run_dir = train(tiny_config(tmp_path, converted_base_model, folds=0, epochs=1, max_steps=3, batch_size=4,
                                max_length=64, freeze_embeddings=True, learning_rate=5e-5, mixed_precision=True))
    fit = json.loads((run_dir / "metrics.json").read_text("utf-8"))["fits"]["refit on all papers"]
    assert fit["precision"] == ("bf16" if cpu_computes_bf16() else "fp32") and fit["steps"] == 3
    assert yaml.safe_load((run_dir / "config.yaml").read_text("utf-8"))["mixed_precision"] is True
    with safe_open(run_dir / "model.safetensors", "pt") as weights:
        assert {weights.get_tensor(name).dtype for name in weights.keys()} == {torch.float32}


def test_made_up_abstracts_enter_the_training_data_led_by_their_announcements(tmp_path):
    from pcc.model_input import LEAD_SEPARATOR
    from training.trainer import _training_data

    without = _training_data(tiny_config(tmp_path, tmp_path / "no-model", made_up_abstracts=0, folds=2))[0]
    dataset = _training_data(tiny_config(tmp_path, tmp_path / "no-model", made_up_abstracts=1, folds=2))[0]
    rows = [*dataset["train"], *dataset["dev"]]
    made_up = [row for row in rows if int(row["id"].rsplit("/", 1)[1]) >= 10_000]
    assert len(rows) == len(without["train"]) + len(without["dev"]) + len(made_up) and made_up
    # a list's later clauses are led by its announcement, in the same fold as their paper
    led = [row for row in made_up if row["context"] and row["context"].split(LEAD_SEPARATOR)[-1].endswith("：")]
    assert led and all(row["paper_id"] in {r["paper_id"] for r in rows if r not in made_up} for row in made_up)
    folds = {row["paper_id"]: row["fold"] for row in dataset["dev"] if row not in made_up}
    assert all(row["fold"] == folds[row["paper_id"]] for row in dataset["dev"] if row in made_up)
