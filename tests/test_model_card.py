import json
import os

import pytest
import yaml

from pcc.errors import UserError
from pcc.records import LABELS
from training.model_card import (ModelCard, new_run_dir, point_latest, read_heldout, read_metrics, read_model_card,
                                 write_run_records)


def test_a_directory_without_a_card_gets_the_defaults_unless_the_card_is_required(tmp_path):
    assert read_model_card(tmp_path) == ModelCard()
    assert ModelCard().labels == list(LABELS) and ModelCard().temperature == 1.0
    with pytest.raises(UserError, match="pcc train"):
        read_model_card(tmp_path, required=True)


def test_a_card_overrides_the_defaults_and_a_broken_one_is_named(tmp_path):
    (tmp_path / "pcc_model.json").write_text(json.dumps({"labels": list(LABELS), "max_length": 64, "use_heading": False,
                                                         "written_by": "a later version"}))
    card = read_model_card(tmp_path)
    assert (card.max_length, card.use_heading, card.temperature) == (64, False, 1.0)
    (tmp_path / "pcc_model.json").write_text("{oops")
    with pytest.raises(UserError, match="pcc_model.json"):
        read_model_card(tmp_path)


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
