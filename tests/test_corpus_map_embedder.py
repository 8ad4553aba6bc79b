"""The map's sentence embedder: exported by `pcc export` into the bundle (training/exporters/embedder.py) and run
by ONNX Runtime (serving/corpus_map/embedder.py), on the tiny encoder of the test bundle."""
import json
import shutil

import numpy as np
import pytest

from pcc.cli import main
from pcc.errors import UserError
from serving.corpus_map.embedder import SentenceEmbedder, embedder_dir
from tests.conftest import DEV_GOLD, REPO
from training.exporters.onnx import add_embedder, load_settings

SENTENCES = ["基层警力不足，民警疲于应付。", "警力下沉到社区，可以拉近警民距离。", "经费投入不足是主要原因。",
             "要健全警民沟通机制。", "基层警力不足，民警疲于应付。"]


def test_the_bundle_holds_a_checked_embedder(tiny_bundle, tiny_checkpoint):
    folder = embedder_dir(tiny_bundle)
    assert sorted(p.name for p in folder.iterdir()) == ["embedder.json", "model.int8.onnx", "model.onnx",
                                                        "tokenizer.json"]
    record = json.loads((folder / "embedder.json").read_text("utf-8"))
    assert record["source"] == str(tiny_checkpoint.resolve()) and len(record["source_sha256"]) == 64
    assert (record["prefix"], record["pooling"], record["normalized"]) == ("query: ", "mean", True)
    assert record["dimensions"] == 32 and record["int8_scheme"] == "calibrated"
    checks = record["checks"]
    assert checks["sentences"] == len(DEV_GOLD.read_text("utf-8").splitlines())
    assert checks["fp32_min_cosine_vs_torch"] >= record["settings"]["fp32_min_cosine"]
    assert checks["int8_passed"] == (checks["int8_min_cosine"] >= 0.98 and checks["int8_mean_cosine"] >= 0.995)
    assert checks["calibration"]["inputs"] > 200  # the readable sentences of the prepared seed corpus


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_vectors_are_unit_length_and_never_depend_on_the_batch(tiny_bundle, precision):
    embedder = SentenceEmbedder(embedder_dir(tiny_bundle), precision=precision, device="cpu", batch_size=2)
    vectors = embedder.embed(SENTENCES, progress=False)
    assert vectors.shape == (5, 32) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[4])  # a repeated sentence is embedded once
    alone = np.stack([embedder.embed([text], progress=False)[0] for text in SENTENCES])
    assert np.abs(alone - vectors).max() < 1e-5
    assert not np.allclose(vectors[0], vectors[1])
    assert list(embedder.token_counts(["警" * 500, "警"])) == [128, 5]  # cut at max_length; [CLS] query : 警 [SEP]


def test_batches_run_side_by_side_give_the_vectors_of_one_at_a_time(tiny_bundle):
    folder = embedder_dir(tiny_bundle)
    texts = [f"{sentence}（{n}）" for n in range(40) for sentence in SENTENCES]  # 200 texts, many batches of 2
    one = SentenceEmbedder(folder, device="cpu", batch_size=2, threads=1).embed(texts, progress=False)
    four = SentenceEmbedder(folder, device="cpu", batch_size=2, threads=4).embed(texts, progress=False)
    assert one.shape == (200, 32) and np.array_equal(one, four)


def test_int8_stays_close_to_fp32(tiny_bundle):
    folder = embedder_dir(tiny_bundle)
    fp32 = SentenceEmbedder(folder, precision="fp32", device="cpu").embed(SENTENCES, progress=False)
    int8 = SentenceEmbedder(folder, precision="int8", device="cpu").embed(SENTENCES, progress=False)
    assert (fp32 * int8).sum(axis=1).min() > 0.98


def test_an_unchanged_embedder_is_kept_and_a_changed_setting_rebuilds_it(tiny_bundle, tiny_checkpoint,
                                                                          seed_sentences, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    settings = load_settings(REPO / "configs" / "export.yaml")
    graph = embedder_dir(bundle) / "model.onnx"
    before = graph.stat().st_mtime_ns
    record = add_embedder(tiny_checkpoint, bundle, [DEV_GOLD], seed_sentences, settings)
    assert graph.stat().st_mtime_ns == before and record["source_sha256"]
    other_run = tmp_path / "other" / "onnx"  # a new training run's bundle takes the embedder of an earlier one
    other_run.mkdir(parents=True)
    add_embedder(tiny_checkpoint, other_run, [DEV_GOLD], seed_sentences, settings, reuse=[embedder_dir(bundle)])
    assert (embedder_dir(other_run) / "model.onnx").read_bytes() == graph.read_bytes()
    settings["embedder"] = {**settings["embedder"], "max_length": 64}
    record = add_embedder(tiny_checkpoint, bundle, [DEV_GOLD], seed_sentences, settings)
    assert record["max_length"] == 64 and graph.stat().st_mtime_ns != before


def test_a_bundle_without_an_embedder_says_how_to_add_one(tmp_path, tiny_bundle, capsys):
    with pytest.raises(UserError, match=r"no sentence embedder here .* run `pcc export --embedder-only`"):
        SentenceEmbedder(tmp_path / "embedder")
    assert main(["export", "--model", str(tmp_path / "no-model"), "--out", str(tmp_path / "none"),
                 "--embedder-only"]) == 2
    assert "no bundle to add the embedder to" in capsys.readouterr().err


def test_unknown_embedder_settings_are_a_clear_error(tmp_path):
    text = (REPO / "configs" / "export.yaml").read_text("utf-8").replace("  max_length: 128", "  max_lenght: 128")
    (tmp_path / "export.yaml").write_text(text, "utf-8")
    with pytest.raises(UserError, match="embedder settings: unknown key.* max_lenght"):
        load_settings(tmp_path / "export.yaml")
