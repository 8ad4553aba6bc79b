import os

import yaml

from pcc.model_card import ModelCard, read_model_card
from training.run_dir import new_run_dir, point_latest, read_heldout, read_metrics, write_run_records


def test_a_run_directory_holds_its_records_and_becomes_latest(tmp_path):
    run_dir = new_run_dir(tmp_path, "run")
    card = ModelCard(max_length=96, seed=7, epochs=3, temperature=0.5, folds={"p#01": 0}, trained_papers=["p#01"])
    heldout = [{"line": 1, "paper_id": "p#01", "text": "句子。", "fold": 0, "probs_heading": [1, 0, 0, 0],
                "probs_bare": [0.25] * 4}]
    write_run_records(run_dir, card, {"epochs": 3}, {"chosen_epochs": 3}, heldout)
    point_latest(tmp_path, run_dir)
    latest = tmp_path / "latest"
    assert os.readlink(latest) == run_dir.name
    assert read_model_card(latest) == card
    assert read_metrics(latest) == {"chosen_epochs": 3} and read_heldout(latest) == heldout
    assert yaml.safe_load((latest / "config.yaml").read_text("utf-8")) == {"epochs": 3}
    assert read_metrics(tmp_path) == {} and read_heldout(tmp_path) == []
