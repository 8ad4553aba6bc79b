import argparse
from dataclasses import dataclass

import pytest

from pcc.cli import main
from training.options import add_settings, given_settings, setting


@dataclass
class Settings:
    run_name: str = setting("run", "prefix of the run directory")
    epochs: int = setting(6, "passes over the data")
    learning_rate: float = setting(1e-4, "step size")
    use_heading: bool = setting(True, "read the headings")
    human_labels: list[str] = setting([], "files of human labels", metavar="FILE")


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="pcc test")
    add_settings(made, Settings, lambda option: f"in settings.yaml: {option.name}")
    return made


def test_each_setting_is_an_option_and_only_the_given_ones_count():
    args = parser().parse_args(["--epochs", "3", "--learning-rate", "0.5", "--no-use-heading",
                                "--human-labels", "a.jsonl", "b.csv"])
    assert given_settings(args, Settings) == {"epochs": 3, "learning_rate": 0.5, "use_heading": False,
                                              "human_labels": ["a.jsonl", "b.csv"]}
    assert given_settings(parser().parse_args([]), Settings) == {}
    assert Settings(**given_settings(parser().parse_args(["--use-heading"]), Settings)) == Settings()


def test_a_list_default_is_not_shared_between_instances():
    first = Settings()
    first.human_labels.append("a.jsonl")
    assert Settings().human_labels == []


def test_a_value_of_the_wrong_type_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--epochs", "three"])
    assert "--epochs: invalid int value: 'three'" in capsys.readouterr().err


def test_the_help_shows_each_option_once_with_its_note(capsys):
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    shown = capsys.readouterr().out
    assert "--batch-size BATCH_SIZE" in shown and "--batch_size" not in shown
    assert "--freeze-embeddings, --no-freeze-embeddings" in shown
    assert "inputs per step (default: 16)" in " ".join(shown.split())
