"""`pcc train` under torchrun: 2 CPU processes (gloo), DDP, one run directory."""
import json
import math
import os
import subprocess
import sys

import yaml

from pcc.records import LABELS
from tests.conftest import DEV_GOLD, REPO
from tests.weak_corpus import write_weak_corpus
from training import distributed


def test_a_single_process_is_a_world_of_one(monkeypatch):
    for name in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(name, raising=False)
    distributed.start()
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    with distributed.main_first():
        pass
    assert distributed.broadcast("run-1") == "run-1"
    distributed.finish()


def test_torchrun_with_two_processes_writes_one_complete_run(tmp_path, tiny_checkpoint):
    sentences, weak_labels = write_weak_corpus(tmp_path)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({
        "base_model": str(tiny_checkpoint), "sentences": str(sentences), "weak_labels": str(weak_labels),
        "gold": str(DEV_GOLD), "output_dir": str(tmp_path / "models"), "folds": 2, "epochs": 1,
        "batch_size": 4, "learning_rate": 1e-3, "freeze_embeddings": False}), "utf-8")
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "pcc.cli", "train", "--config", str(config)],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("model written to") == 1  # printed by rank 0 only
    assert "batch 4 x 2 processes" in done.stdout

    runs = [path for path in (tmp_path / "models").iterdir() if path.name.startswith("run-")]
    assert len(runs) == 1 and os.readlink(tmp_path / "models" / "latest") == runs[0].name
    assert not (tmp_path / "models" / ".trainer").exists()
    run = runs[0]
    for name in ("model.safetensors", "config.json", "tokenizer.json", "pcc_model.json", "config.yaml",
                 "metrics.json", "heldout_predictions.jsonl"):
        assert (run / name).is_file(), name
    card = json.loads((run / "pcc_model.json").read_text("utf-8"))
    assert card["labels"] == list(LABELS) and card["base_model"] == str(tiny_checkpoint)
    assert sorted(set(card["folds"].values())) == [0, 1] and card["epochs"] == 1
    metrics = json.loads((run / "metrics.json").read_text("utf-8"))
    assert set(metrics["fits"]) == {"fold 1/2", "fold 2/2", "refit on all papers"}
    # DDP shares each epoch's rows out: each process takes half of them, 4 a step.
    assert metrics["fits"]["refit on all papers"]["steps"] == math.ceil(math.ceil(metrics["train_rows"] / 2) / 4)
    assert metrics["heldout"]["sentences"] == 24 + 22 + 17 + 16  # every gold sentence once, as in one process
