"""A Bento built from the project carries its model: saved to the model store, packed by `bentoml build`, served
by `bentoml serve pcc:latest` from a directory that holds no project and no bundle."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from serving.classifier import SentenceClassifier
from serving.model_store import STORE_MODEL
from tests.conftest import REPO
from tests.fixtures.papers import write_docx
from tests.server import free_port
from tests.test_model_store import save_each, variant
from tests.test_ray_predict import seed_papers

SENTENCES = ["民警宗旨意识淡薄。", "要加强警民沟通。"]


def bentoml_command(*args: str, env: dict, cwd) -> str:
    done = subprocess.run([sys.executable, "-m", "bentoml", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def bento(tiny_bundle, tmp_path_factory):
    """(store model tag, Bento tag, environment) of a Bento built into a BentoML home of its own."""
    home = tmp_path_factory.mktemp("bentoml-home")
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"}
    env.pop("PCC_BUNDLE", None)
    saved = subprocess.run(
        [sys.executable, "-c", "import sys; from serving.model_store import save_bundle; print(save_bundle(sys.argv[1], keep=3).tag)",
         str(tiny_bundle)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert saved.returncode == 0, saved.stderr[-3000:]
    model_tag = saved.stdout.strip().splitlines()[-1]
    built = bentoml_command("build", "--output", "tag", env=env, cwd=REPO)
    bento_tag = built.strip().splitlines()[-1].removeprefix("__tag__:")
    return model_tag, bento_tag, env


def test_the_bento_packs_the_newest_store_model_and_a_dockerfile(bento, capsys):
    model_tag, bento_tag, env = bento
    assert model_tag.startswith(f"{STORE_MODEL}:") and bento_tag.startswith("pcc:")
    info = json.loads(bentoml_command("get", bento_tag, "--output", "json", env=env, cwd=REPO))
    assert [model["tag"] for model in info["models"]] == [model_tag]  # the exact version, not "latest"
    bento_dir = os.path.join(env["BENTOML_HOME"], "bentos", *bento_tag.split(":"))
    sources = {os.path.relpath(os.path.join(root, name), bento_dir)
               for root, _, names in os.walk(bento_dir) for name in names}
    assert "src/serving/service.py" in sources and "src/serving/static/index.html" in sources
    assert not any(path.startswith("src/models/") for path in sources)  # the model travels as a store model
    dockerfile = open(os.path.join(bento_dir, "env", "docker", "Dockerfile"), encoding="utf-8").read()
    assert "FROM python:3.11" in dockerfile and "requirements.txt" in dockerfile
    requirements = open(os.path.join(bento_dir, "env", "python", "requirements.txt"), encoding="utf-8").read()
    assert "onnxruntime==" in requirements and "torch" not in requirements
    listing = bentoml_command("list", env=env, cwd=REPO)
    with capsys.disabled():
        print(f"\nBento {bento_tag} packs model {model_tag}:\n{listing.strip()}")


def test_the_bento_serves_its_model_from_another_directory(bento, tiny_bundle, tmp_path):
    _, bento_tag, env = bento
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "bentoml", "serve", bento_tag, "--host", "127.0.0.1",
                                   "--port", str(port)], cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.3)
        answer = httpx.post(f"{url}/classify", json={"sentences": SENTENCES}, timeout=30)
        uploaded = httpx.post(f"{url}/analyze_file", files={"file": ("paper.docx", write_docx(tmp_path / "p.docx").read_bytes())},
                              timeout=30)
        # The map's embedder travels in the store model with the classifier.
        papers = [("files", (f"p{n}.txt", text.encode("utf-8"))) for n, text in enumerate(seed_papers()[:3])]
        mapped = httpx.post(f"{url}/map_files", files=papers, timeout=120)
        # Without a corrections folder the service stores none, and says how to have it store them.
        not_stored = httpx.post(f"{url}/corrections", json={"paper": "p", "corrections": [{"text": "句子。", "label": "cause"}]},
                                timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert answer.status_code == 200, answer.text
    expected = SentenceClassifier(tiny_bundle, device="cpu").classify(SENTENCES)
    assert [p["label"] for p in answer.json()] == [p.label for p in expected]
    assert [p["confidence"] for p in answer.json()] == pytest.approx([p.confidence for p in expected], abs=1e-5)
    assert uploaded.status_code == 200 and uploaded.json()["file_name"] == "paper.docx", uploaded.text
    assert mapped.status_code == 200, mapped.text
    assert len(mapped.json()["papers"]) == 3 and mapped.json()["summary"]["embedder"].endswith("(int8, CPUExecutionProvider)")
    assert not_stored.status_code == 404 and "pcc serve --corrections-dir" in not_stored.json()["error"]


def test_the_store_keeps_the_model_a_bento_packs_however_many_come_after(bento, tiny_bundle, tmp_path):
    model_tag, _, env = bento
    newer = [variant(tiny_bundle, tmp_path / f"newer{n}", f"2031-01-0{n}T00:00:00+00:00", f"n{n}") for n in (1, 2)]
    *_, last = save_each(newer, env["BENTOML_HOME"], keep=1)
    assert last["store"] == sorted([model_tag, last["tag"]])  # a Bento refers to its model in the store
