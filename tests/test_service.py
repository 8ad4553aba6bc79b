"""The real HTTP service (`pcc serve` → BentoML) on a loopback port, with the tiny ONNX bundle."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import onnxruntime
import psutil
import pytest

from pcc.model_input import heading_context
from pcc.paths import API_TOKEN_ENV, CORRECTIONS_ENV
from pcc.records import LABELS
from serving.classifier import SentenceClassifier
from tests.conftest import SEED_CORPUS
from tests.server import free_port, running_server
from serving.service import MAX_DOCUMENT_CHARS, MAX_SENTENCE_CHARS, MAX_SENTENCES, MAX_UPLOAD_BYTES
from tests.fixtures.papers import COLLECTED, COLLECTED_TITLES, write_docx, write_pdf

PAPER = """论网络社会公安机关深化和谐警民关系建设的对策
一、当前警民关系存在的问题
部分民警对网络舆情反应迟缓，群众对警方的信任度有所下降。个别地方警民矛盾突出。
二、问题产生的原因
其主要原因在于信息公开不及时，沟通渠道单一。
握 和及 时 应对 社 情 民意 , 护 人 民警 察 良好 形 象 . 建 网络 空 间 的和 谐 警 民关 系具 有
三、对策建议
公安机关应当建立网络舆情快速反应机制。要拓宽警民沟通渠道，主动公开警务信息。
"""
SENTENCES = ["警民关系紧张。", "原因是沟通渠道不畅。", "应当加强网络舆情引导。", "本文共分三部分。"]


# fp32 (also the default), because dynamic int8 quantisation scales activations per batch: an int8 answer
# shifts slightly with the other sentences it is batched with, and these tests compare answers exactly.
# (The page test serves int8.)
@pytest.fixture(scope="module")
def corrections_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("corrections")


@pytest.fixture(scope="module")
def server(tiny_bundle, tmp_path_factory, corrections_dir) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("serve") / "server.log"
    options = ("--precision", "fp32", "--corrections-dir", str(corrections_dir))
    with running_server(tiny_bundle, options, log_path) as url:
        yield url


@pytest.fixture(scope="module")
def local_classifier(tiny_bundle) -> SentenceClassifier:
    """The same bundle in this process: what the server must answer."""
    return SentenceClassifier(tiny_bundle, device="cpu", precision="fp32")


def prediction_json(prediction) -> dict:
    return {"label": prediction.label, "confidence": prediction.confidence, "scores": prediction.scores}


def assert_same_predictions(served: list[dict], expected: list[dict]) -> None:
    assert [p["label"] for p in served] == [p["label"] for p in expected]
    for got, want in zip(served, expected):
        assert got["confidence"] == pytest.approx(want["confidence"], abs=1e-5)
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)


def error_text(response: httpx.Response) -> str:
    """BentoML's error body as one string: the headline plus every `loc: msg` of the details."""
    body = response.json()
    details = body.get("detail") or []
    return " | ".join([body["error"], *(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)])


# --- happy paths -------------------------------------------------------------------------------------


def test_classify_answers_one_prediction_per_sentence_in_order(server, local_classifier):
    response = httpx.post(f"{server}/classify", json={"sentences": SENTENCES}, timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()
    assert len(predictions) == len(SENTENCES)
    for prediction in predictions:
        assert prediction["label"] in LABELS
        assert set(prediction["scores"]) == set(LABELS)
        assert sum(prediction["scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert prediction["confidence"] == max(prediction["scores"].values())
    assert_same_predictions(predictions, [prediction_json(p) for p in local_classifier.classify(SENTENCES)])


def test_classify_reads_the_headings_sent_with_a_sentence(server, local_classifier):
    headings = [["一、当前警民关系存在的问题"], [], ["二、原因", "（一）民警方面"]]
    items = [{"text": SENTENCES[0], "heading_path": headings[0]}, SENTENCES[1],
             {"text": SENTENCES[2], "heading_path": headings[2]}]
    response = httpx.post(f"{server}/classify", json={"sentences": items}, timeout=30)
    assert response.status_code == 200, response.text
    expected = local_classifier.classify(SENTENCES[:3], [heading_context(path) for path in headings])
    assert_same_predictions(response.json(), [prediction_json(p) for p in expected])
    bare = local_classifier.classify(SENTENCES[:3])
    assert response.json()[0]["scores"] != pytest.approx(prediction_json(bare[0])["scores"], abs=1e-5)
    assert response.json()[1]["scores"] == pytest.approx(prediction_json(bare[1])["scores"], abs=1e-5)


def test_classify_accepts_the_largest_allowed_request(server):
    sentences = ["警" * MAX_SENTENCE_CHARS] + [f"第{i}句。" for i in range(MAX_SENTENCES - 1)]
    response = httpx.post(f"{server}/classify", json={"sentences": sentences}, timeout=60)
    assert response.status_code == 200, response.text
    assert len(response.json()) == MAX_SENTENCES


def test_analyze_segments_classifies_and_summarises_a_paper(server, local_classifier):
    response = httpx.post(f"{server}/analyze", json={"text": PAPER}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = local_classifier.analyze(PAPER)
    assert body["title"] == expected.paper.title == "论网络社会公安机关深化和谐警民关系建设的对策"
    assert [s["text"] for s in body["sentences"]] == [item.sentence.text for item in expected.sentences]
    assert [s["index"] for s in body["sentences"]] == list(range(len(body["sentences"])))
    assert [s["lead"] for s in body["sentences"]] == [item.lead for item in expected.sentences]
    headings = [s["text"] for s in body["sentences"] if s["is_heading"]]
    assert "三、对策建议" in headings
    countermeasure = next(s for s in body["sentences"] if s["text"].startswith("公安机关应当建立"))
    assert countermeasure["heading_path"] == ["三、对策建议"]
    garbled = [s for s in body["sentences"] if s["quality"] == "garbled"]
    assert garbled and all(s["label"] is None and s["scores"] is None for s in garbled)
    readable = [s for s in body["sentences"] if s["quality"] == "ok"]
    assert_same_predictions(readable, [prediction_json(i.prediction) for i in expected.sentences if i.prediction])
    assert body["summary"] == {
        label: [s["text"] for s in readable if s["label"] == label] for label in LABELS
    }


def test_analyze_uses_the_given_title(server):
    response = httpx.post(f"{server}/analyze", json={"text": PAPER, "title": "  警民关系  "}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "警民关系"


# --- bad input: 4xx with a message that names the problem -------------------------------------------

BAD_REQUESTS = {
    "classify: malformed JSON": ("/classify", b'{"sentences": ["a",', "Invalid JSON"),
    "classify: no body": ("/classify", b"", "sentences: Field required"),
    "classify: empty list": ("/classify", {"sentences": []}, "sentences: List should have at least 1 item"),
    "classify: too many sentences": (
        "/classify", {"sentences": ["句子。"] * (MAX_SENTENCES + 1)}, "sentences: List should have at most 256 items"),
    "classify: sentence too long": (
        "/classify", {"sentences": ["短句。", "长" * (MAX_SENTENCE_CHARS + 1)]},
        "sentences.1.text: String should have at most 2000 characters"),
    "classify: empty sentence": ("/classify", {"sentences": ["短句。", ""]}, "sentences.1.text: String should have at least 1"),
    "classify: neither string nor object": (
        "/classify", {"sentences": ["短句。", 42]}, "sentences.1: Value error, a sentence is a string or an object"),
    "classify: object without text": (
        "/classify", {"sentences": [{"heading_path": ["一、问题"]}]}, "sentences.0.text: Field required"),
    "classify: headings not a list": (
        "/classify", {"sentences": [{"text": "短句。", "heading_path": "一、问题"}]},
        "sentences.0.heading_path: Input should be a valid array"),
    "classify: lead not a string": (
        "/classify", {"sentences": [{"text": "短句。", "lead": ["一、问题"]}]}, "sentences.0.lead: Input should be a valid string"),
    "classify: unknown field": (
        "/classify", {"sentences": [{"text": "短句。", "headings": ["一、问题"]}]},
        "sentences.0.headings: Extra inputs are not permitted"),
    "classify: not a list": ("/classify", {"sentences": "短句。"}, "sentences: Input should be a valid array"),
    "analyze: malformed JSON": ("/analyze", b"text=abc", "Invalid JSON"),
    "analyze: empty text": ("/analyze", {"text": ""}, "text: String should have at least 1 character"),
    "analyze: blank text": ("/analyze", {"text": " \n\t "}, "text: String should have at least 1 character"),
    "analyze: document too long": (
        "/analyze", {"text": "长" * (MAX_DOCUMENT_CHARS + 1)}, "text: String should have at most 200000 characters"),
    "analyze: text not a string": ("/analyze", {"text": ["a"]}, "text: Input should be a valid string"),
    "analyze: title too long": ("/analyze", {"text": PAPER, "title": "题" * 501}, "title: String should have at most 500"),
}


@pytest.mark.parametrize("path, body, message", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_input_gets_400_naming_the_problem(server, path, body, message):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(f"{server}{path}", content=content, headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400, response.text
    assert message in error_text(response)


def test_unknown_route_is_404_and_server_still_serves(server):
    assert httpx.post(f"{server}/classify_all", json={"sentences": ["a"]}, timeout=10).status_code == 404
    assert httpx.get(f"{server}/livez", timeout=10).status_code == 200
    assert httpx.post(f"{server}/classify", json={"sentences": ["还在工作。"]}, timeout=10).status_code == 200


# --- a paper file: POST /analyze_file -----------------------------------------------------------------


def upload(server: str, name: str, content: bytes, field: str = "file") -> httpx.Response:
    return httpx.post(f"{server}/analyze_file", files={field: (name, content)}, timeout=60)


def test_analyze_file_reads_pdf_and_docx_as_pcc_prepare_does(server, local_classifier, tmp_path):
    from pcc.documents import load_document

    for path in (write_pdf(tmp_path / "基层治理.pdf"), write_docx(tmp_path / "基层治理.docx")):
        response = upload(server, path.name, path.read_bytes())
        assert response.status_code == 200, response.text
        body = response.json()
        [expected] = local_classifier.classify_papers(load_document(path))
        assert body["file_name"] == path.name and body["title"] == expected.paper.title
        assert body["papers"] == [{"paper": "基层治理", "title": expected.paper.title, "sentences": len(expected.sentences)}]
        assert [(s["index"], s["text"], s["paper"]) for s in body["sentences"]] == [
            (i, item.sentence.text, "基层治理") for i, item in enumerate(expected.sentences)]
        assert_same_predictions([s for s in body["sentences"] if s["label"]],
                                [prediction_json(i.prediction) for i in expected.sentences if i.prediction])
        assert body["summary"] == expected.summary() and body["left_out"] == []


def test_analyze_file_gives_every_paper_of_a_txt_file_and_the_lines_left_out(server):
    response = upload(server, "collected.txt", COLLECTED.encode("gb18030"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(p["paper"], p["title"]) for p in body["papers"]] == [
        ("collected#01", COLLECTED_TITLES[0]), ("collected#02", COLLECTED_TITLES[1])]
    assert [s["index"] for s in body["sentences"]] == list(range(len(body["sentences"])))
    assert [s["paper"] for s in body["sentences"]].count("collected#02") == body["papers"][1]["sentences"]
    assert body["left_out"] == [
        {"paper": "collected#01", "line": 1, "text": "首页 > 学术论文 > 正文", "reason": "breadcrumb or page fields"},
        {"paper": "collected#02", "line": 12, "text": "分享到：微信 微博 QQ空间", "reason": "site notice"}]


BAD_UPLOADS = {
    "a Word 97 file": ("old.doc", b"\xd0\xcf\x11\xe0 not read", 415, "old.doc: .doc files are not read; save it as .docx"),
    "an unknown type": ("paper.odp", b"data", 415, "paper.odp: unsupported file type '.odp'; give a .pdf, .docx or .txt"),
    "a damaged PDF": ("broken.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4, 422, "broken.pdf: not a readable PDF"),
    "a docx that is no zip": ("fake.docx", "这不是一个文档".encode(), 422, "fake.docx: not a valid .docx file"),
    "an empty file": ("empty.txt", b"", 422, "empty.txt: the file is empty"),
}


@pytest.mark.parametrize("name, content, status, message", BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys())
def test_analyze_file_refuses_what_it_cannot_read_naming_the_problem(server, name, content, status, message):
    response = upload(server, name, content)
    assert response.status_code == status, response.text
    assert response.json()["error"].startswith(message)


def test_analyze_file_refuses_encrypted_scanned_large_and_malformed_requests(server, tmp_path):
    from tests.test_uploads import encrypted_pdf, scanned_pdf

    response = upload(server, "locked.pdf", encrypted_pdf(tmp_path / "locked.pdf", tmp_path).read_bytes())
    assert (response.status_code, response.json()["error"]) == (
        422, "locked.pdf: the PDF is encrypted; save an unprotected copy and try again")
    response = upload(server, "scan.pdf", scanned_pdf(tmp_path / "scan.pdf").read_bytes())
    assert (response.status_code, response.json()["error"]) == (422, "scan.pdf: no text found; a scanned PDF needs OCR first")
    response = upload(server, "huge.pdf", b"%PDF" + b"0" * MAX_UPLOAD_BYTES)
    assert response.status_code == 413 and "larger than 20 MB" in response.json()["error"]
    response = upload(server, "paper.pdf", b"%PDF", field="document")
    assert response.status_code == 400 and "no file in the form field 'file'" in response.json()["error"]
    response = httpx.post(f"{server}/analyze_file", json={"text": PAPER}, timeout=30)
    assert response.status_code == 415 and "multipart/form-data" in response.json()["error"]
    assert httpx.post(f"{server}/classify", json={"sentences": ["还在工作。"]}, timeout=10).status_code == 200


def test_analyze_file_refuses_a_zip_bomb_before_reading_it(server, docx_bomb):
    started = time.monotonic()
    response = upload(server, "bomb.docx", docx_bomb.read_bytes())
    assert time.monotonic() - started < 10  # it used to be read for minutes, past the request's 120 s timeout
    assert response.status_code == 413 and response.json()["error"].startswith("bomb.docx: part word/document.xml")
    assert "it looks like a zip bomb" in response.json()["error"]


def test_the_reading_of_an_upload_stops_when_its_client_goes_away(server):
    """Reading the file goes on in a process of its own, which the worker kills once the client has gone."""
    name = f"slow-{time.time_ns()}.txt"  # names this test's reader among every process of the machine
    readers = lambda: [process for process in psutil.process_iter(["cmdline"])  # noqa: E731
                       if any(name in part for part in process.info["cmdline"] or [])]
    content = SEED_CORPUS.read_bytes() * 96  # ~4 MB of papers: half a minute to read on a laptop
    with ThreadPoolExecutor(1) as pool:
        request = pool.submit(httpx.post, f"{server}/analyze_file", files={"file": (name, content)},
                              timeout=httpx.Timeout(60, read=3))
        assert wait_until(readers, 10), "no reader process for the upload"
        with pytest.raises(httpx.ReadTimeout):
            request.result()
    assert wait_until(lambda: not readers(), 3), "the reader went on after its client had gone"
    assert httpx.post(f"{server}/classify", json={"sentences": ["还在工作。"]}, timeout=10).status_code == 200


def wait_until(condition, seconds: float):
    deadline = time.monotonic() + seconds
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


# --- the corpus map of several papers: POST /map_files ------------------------------------------------


def seed_paper_texts() -> list[str]:
    from tests.test_ray_predict import seed_papers

    return seed_papers()


def map_files(server: str, files: list[tuple[str, bytes]], field: str = "files") -> httpx.Response:
    return httpx.post(f"{server}/map_files", files=[(field, item) for item in files], timeout=120)


def zipped(entries: dict[str, bytes], utf8_names: bool = True) -> bytes:
    """A .zip of the entries; without `utf8_names`, named in GBK without the UTF-8 flag, as archivers on Chinese
    Windows write them (Python's zipfile cannot: each name goes in as an ASCII stand-in of its GBK length and its
    bytes are swapped in after)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    stand_ins = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (name, content) in enumerate(entries.items()):
            if not utf8_names:
                raw = name.encode("gbk")
                stand_in = f"{number:02d}".encode().ljust(len(raw), b"_")
                stand_ins[stand_in] = raw
                name = stand_in.decode()
            archive.writestr(zipfile.ZipInfo(name), content)
    data = buffer.getvalue()
    for stand_in, raw in stand_ins.items():
        data = data.replace(stand_in, raw)
    return data


def test_map_files_maps_several_papers_as_pcc_map_does(server, tiny_bundle, tmp_path):
    from pcc.documents import load_document
    from serving.corpus_map.build import build_map
    from serving.corpus_map.embedder import SentenceEmbedder, embedder_dir
    from serving.corpus_map.inputs import from_analyses
    from serving.corpus_map.render import page_data

    texts = seed_paper_texts()[:6]
    files = [(f"论文{n}.txt", text.encode("utf-8")) for n, text in enumerate(texts[:5])]
    files.append(("论文5.docx", write_docx(tmp_path / "论文5.docx").read_bytes()))
    response = map_files(server, files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["file"] for f in body["files"]] == [name for name, _ in files] and body["skipped"] == []

    # what the map of the same papers is in this process, with the service's int8 classifier and embedder
    classifier = SentenceClassifier(tiny_bundle, device="cpu", precision="int8")
    for name, content in files:
        (tmp_path / name).write_bytes(content)
    papers = [p for name, _ in files for p in load_document(tmp_path / name)]
    for paper, (name, _) in zip(papers, files):
        paper.paper.source = name
    embedder = SentenceEmbedder(embedder_dir(tiny_bundle), device="cpu")
    expected = page_data(build_map(from_analyses(classifier.classify_papers(papers)),
                                   lambda t: embedder.embed(t, progress=False), embedder.describe()))
    assert [t["id"] for t in body["themes"]] == [t["id"] for t in expected["themes"]]
    assert [t["size"] for t in body["themes"]] == [t["size"] for t in expected["themes"]]
    assert body["summary"]["categories"] == expected["summary"]["categories"]
    assert [p["paper"] for p in body["papers"]] == ["论文0", "论文1", "论文2", "论文3", "论文4", "论文5"]


def test_map_files_opens_a_zip_and_reports_what_it_skipped(server):
    texts = seed_paper_texts()
    archive = zipped({"文献/甲.txt": texts[0].encode("utf-8"), "文献/乙.txt": texts[1].encode("gb18030"),
                      "__MACOSX/文献/._甲.txt": b"\x00\x05", "文献/图.png": b"\x89PNG", "说明/": b""},
                     utf8_names=False)  # as archivers on Chinese Windows write names
    broken = ("坏.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4)
    response = map_files(server, [("papers.zip", archive), broken, ("丙.txt", texts[2].encode("utf-8"))])
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["file"] for f in body["files"]] == ["papers/文献/甲.txt", "papers/文献/乙.txt", "丙.txt"]
    assert [s["file"] for s in body["skipped"]] == ["坏.pdf"] and "not a readable PDF" in body["skipped"][0]["reason"]


def test_map_files_skips_a_zip_bomb_and_maps_the_other_papers(server, docx_bomb):
    """Each file is read as /analyze_file reads one: in a process of its own, with the same checks."""
    texts = seed_paper_texts()
    papers = [(f"{name}.txt", text.encode("utf-8")) for name, text in zip("甲乙丙", texts)]
    response = map_files(server, [("bomb.docx", docx_bomb.read_bytes()), *papers])
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["file"] for f in body["files"]] == [name for name, _ in papers]
    assert [s["file"] for s in body["skipped"]] == ["bomb.docx"] and "zip bomb" in body["skipped"][0]["reason"]


BAD_MAPS = {
    "no file": (lambda: [], "document", 400, "no file in the form field 'files'"),
    "an unknown type": (lambda: [("a.odp", b"x")], "files", 415, "a.odp: unsupported file type '.odp'"),
    "a damaged zip": (lambda: [("papers.zip", b"PK\x03\x04 broken")], "files", 422, "papers.zip: not a readable .zip"),
    "a zip without papers": (lambda: [("papers.zip", zipped({"a.png": b"\x89PNG"}))], "files", 422,
                             "papers.zip: no .pdf, .docx or .txt file inside"),
    "nothing readable": (lambda: [("a.txt", b""), ("b.pdf", b"%PDF-1.4 junk")], "files", 422,
                         "none of the files could be read: a.txt: the file is empty"),
    "51 files": (lambda: [(f"p{n}.txt", b"x") for n in range(51)], "files", 413, "more than 50 files in one request"),
    "a zip of 51 papers": (lambda: [("many.zip", zipped({f"p{n}.txt": b"x" for n in range(51)}))], "files", 413,
                           "many.zip: 51 papers inside; map at most 50 papers"),
    "too much text": (lambda: [(f"p{n}.txt", ("警民关系。" * 9_000).encode()) for n in range(7)], "files", 413,
                      "more than the 200,000 one map request may"),
}


@pytest.mark.parametrize("make, field, status, message", BAD_MAPS.values(), ids=BAD_MAPS.keys())
def test_map_files_refuses_bad_input_naming_the_problem(server, make, field, status, message):
    files = make()
    response = (map_files(server, files, field) if files else
                httpx.post(f"{server}/map_files", files={field: ("a.txt", b"x")}, timeout=60))
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_map_files_refuses_a_50_mb_upload_and_a_json_body(server):
    response = map_files(server, [("huge.pdf", b"%PDF" + b"0" * 50 * 1024 * 1024)])
    assert response.status_code == 413 and "larger than 20 MB" in response.json()["error"]
    response = httpx.post(f"{server}/map_files", json={"text": PAPER}, timeout=30)
    assert response.status_code == 415 and "multipart/form-data" in response.json()["error"]
    assert httpx.post(f"{server}/classify", json={"sentences": ["还在工作。"]}, timeout=10).status_code == 200


# --- corrections: POST /corrections ------------------------------------------------------------------


def test_concurrent_corrections_are_each_stored_once(server, corrections_dir):
    def post(number: int) -> httpx.Response:
        return httpx.post(f"{server}/corrections", timeout=30, json={"paper": f"paper-{number % 3}", "corrections": [
            {"text": f"第{number}个请求的第{k}句。", "heading_path": ["一、问题"], "label": "cause",
             "previous_label": "problem"} for k in range(4)]})

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(post, range(48)))
    assert [r.status_code for r in responses] == [200] * 48, responses[0].text
    assert responses[0].json()["saved"] == 4 and responses[0].json()["file"] == "corrections.jsonl"
    rows = [json.loads(line) for line in (corrections_dir / "corrections.jsonl").read_text("utf-8").splitlines()]
    assert sorted(row["text"] for row in rows) == sorted(f"第{n}个请求的第{k}句。" for n in range(48) for k in range(4))
    assert {row["model"] for row in rows} == {"checkpoint"} and all(row["model_exported_at"] for row in rows)
    assert rows[0]["heading"] == ["一、问题"] and rows[0]["label"] == "cause"


def test_any_sentence_analyze_returns_can_be_corrected(server, corrections_dir):
    run_on = "，".join(["基层派出所警力长期不足而非警务活动又占用了民警大量的工作时间"] * 80) + "。"  # no sentence end
    analysed = httpx.post(f"{server}/analyze", json={"text": "警力问题研究\n" + run_on}, timeout=60)
    longest = max((s for s in analysed.json()["sentences"]), key=lambda s: len(s["text"]))
    assert analysed.status_code == 200 and len(longest["text"]) > 2_000
    response = httpx.post(f"{server}/corrections", timeout=30, json={"paper": "long", "corrections": [
        {"text": longest["text"], "heading_path": longest["heading_path"], "label": "problem"}]})
    assert response.status_code == 200, response.text
    rows = [json.loads(line) for line in (corrections_dir / "corrections.jsonl").read_text("utf-8").splitlines()]
    assert rows[-1]["text"] == longest["text"]


BAD_CORRECTIONS = {
    "malformed JSON": (b'{"paper": "p", ', "Invalid JSON"),
    "no paper": ({"corrections": [{"text": "句子。", "label": "cause"}]}, "paper: Field required"),
    "no corrections": ({"paper": "p", "corrections": []}, "corrections: List should have at least 1 item"),
    "unknown label": ({"paper": "p", "corrections": [{"text": "句子。", "label": "reason"}]},
                      "corrections.0.label: Input should be 'problem', 'cause', 'countermeasure' or 'other'"),
    "unknown field": ({"paper": "p", "corrections": [{"text": "句子。", "label": "cause", "headings": []}]},
                      "corrections.0.headings: Extra inputs are not permitted"),
}


@pytest.mark.parametrize("body, message", BAD_CORRECTIONS.values(), ids=BAD_CORRECTIONS.keys())
def test_bad_corrections_get_400_naming_the_field(server, corrections_dir, body, message):
    before = (corrections_dir / "corrections.jsonl").read_bytes() if (corrections_dir / "corrections.jsonl").exists() else b""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(f"{server}/corrections", content=content, headers={"Content-Type": "application/json"},
                          timeout=30)
    assert response.status_code == 400, response.text
    assert message in error_text(response)
    after = (corrections_dir / "corrections.jsonl").read_bytes() if (corrections_dir / "corrections.jsonl").exists() else b""
    assert after == before


# --- health, metrics, load ---------------------------------------------------------------------------


def test_health_endpoints(server):
    assert httpx.get(f"{server}/livez", timeout=10).status_code == 200
    assert httpx.get(f"{server}/readyz", timeout=10).status_code == 200


def test_100_concurrent_requests_all_succeed_with_their_own_answers(server, local_classifier):
    requests = []
    for i in range(100):
        if i % 10 == 9:
            requests.append(("/analyze", {"text": PAPER}))
        else:
            sentences = [f"{SENTENCES[(i + k) % len(SENTENCES)]}第{i}号。" for k in range(1 + (i % 3) * 15)]
            if i % 2:  # every other request sends its sentences with headings, so batches mix both forms
                sentences = [{"text": text, "heading_path": [f"{k + 1}、第{i}节"]} for k, text in enumerate(sentences)]
            requests.append(("/classify", {"sentences": sentences}))

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=server, timeout=120, limits=limits) as client:
            return await asyncio.gather(*(client.post(path, json=body) for path, body in requests))

    requests_before, batches_before = adaptive_batching(server)
    responses = asyncio.run(send_all())
    assert [r.status_code for r in responses] == [200] * 100, [r.text for r in responses if r.status_code != 200][:3]
    for (path, body), response in zip(requests, responses):
        if path == "/classify":
            items = [item if isinstance(item, dict) else {"text": item} for item in body["sentences"]]
            contexts = [heading_context(item.get("heading_path")) for item in items]
            expected = [prediction_json(p) for p in local_classifier.classify([item["text"] for item in items], contexts)]
            assert_same_predictions(response.json(), expected)
    requests_after, batches_after = adaptive_batching(server)
    # Some model calls served several requests at once, and still every request got its own answers.
    assert requests_after - requests_before > batches_after - batches_before


def metric(text: str, name: str, *label_filters: str) -> float:
    """Sum of the Prometheus samples called `name` whose labels contain every filter (`key="value"`)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f in line for f in label_filters):
            total += float(line.rsplit(" ", 1)[1])
    return total


def adaptive_batching(server: str) -> tuple[float, float]:
    """(requests, model calls) that BentoML's dispatcher has sent through /classify so far."""
    text = httpx.get(f"{server}/metrics", timeout=10).text
    histogram = "bentoml_service_adaptive_batch_size"
    return (metric(text, f"{histogram}_sum", 'method_name="classify"'),
            metric(text, f"{histogram}_count", 'method_name="classify"'))


def test_metrics_count_requests_by_endpoint_and_status(server):
    text = httpx.get(f"{server}/metrics", timeout=10).text
    ok_before = metric(text, "bentoml_service_request_total", 'endpoint="/classify"', 'http_response_code="200"')
    for _ in range(3):
        httpx.post(f"{server}/classify", json={"sentences": SENTENCES}, timeout=30)
    httpx.post(f"{server}/classify", json={"sentences": []}, timeout=30)
    text = httpx.get(f"{server}/metrics", timeout=10).text
    assert metric(text, "bentoml_service_request_total", 'endpoint="/classify"', 'http_response_code="200"') \
        == ok_before + 3
    assert metric(text, "bentoml_service_request_total", 'endpoint="/classify"', 'http_response_code="400"') >= 1
    assert adaptive_batching(server)[1] >= 3


# --- pcc serve refuses bad settings before starting anything ----------------------------------------


def run_pcc_serve(*options: str) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name != API_TOKEN_ENV}
    return subprocess.run([sys.executable, "-m", "pcc.cli", "serve", *options], env=environment,
                          capture_output=True, text=True, timeout=60)


def test_pcc_serve_reports_a_missing_bundle(tmp_path):
    result = run_pcc_serve("--bundle", str(tmp_path / "nowhere"), "--port", str(free_port()))
    assert result.returncode == 2
    assert "nowhere: no ONNX bundle here" in result.stderr and "pcc export" in result.stderr


def test_pcc_serve_reports_a_busy_port(tiny_bundle):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_pcc_serve("--bundle", str(tiny_bundle), "--port", str(port))
    assert result.returncode == 2
    assert f"--port {port}: cannot listen there" in result.stderr


def test_pcc_serve_reports_a_bundle_without_the_asked_precision(tiny_bundle, tmp_path):
    fp32_only = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, fp32_only)
    (fp32_only / "model.int8.onnx").unlink()
    result = run_pcc_serve("--bundle", str(fp32_only), "--precision", "int8", "--port", str(free_port()))
    assert result.returncode == 2
    assert "model.int8.onnx: missing, the bundle is incomplete" in result.stderr


@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime.get_available_providers(), reason="CUDA is available")
def test_pcc_serve_reports_cuda_without_the_gpu_runtime(tiny_bundle):
    result = run_pcc_serve("--bundle", str(tiny_bundle), "--device", "cuda", "--port", str(free_port()))
    assert result.returncode == 2
    assert "install onnxruntime-gpu" in result.stderr


# --- who may write: POST /corrections beyond loopback --------------------------------------------------


def test_a_server_open_to_other_machines_without_a_token_stores_no_corrections(tiny_bundle, tmp_path):
    """As a container runs it: `bentoml serve` on every address, a corrections folder and no $PCC_API_TOKEN."""
    folder = tmp_path / "corrections"
    with running_server(tiny_bundle, ("--host", "0.0.0.0"), tmp_path / "server.log", plain_bentoml=True,
                        env={CORRECTIONS_ENV: str(folder)}) as url:
        refused = httpx.post(f"{url}/corrections", json={"paper": "p", "corrections": [{"text": "句子。", "label": "cause"}]},
                             headers={"Authorization": "Bearer guess"}, timeout=30)
        read = httpx.post(f"{url}/classify", json={"sentences": SENTENCES}, timeout=30)
    assert refused.status_code == 403 and f"restart it with {API_TOKEN_ENV} set" in refused.json()["error"]
    assert read.status_code == 200 and not (folder / "corrections.jsonl").exists()


def test_pcc_serve_will_not_open_corrections_to_other_machines_without_a_token(tiny_bundle, tmp_path):
    result = run_pcc_serve("--bundle", str(tiny_bundle), "--port", str(free_port()), "--host", "0.0.0.0",
                           "--corrections-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--host 0.0.0.0 with --corrections-dir: anyone who reaches the port" in result.stderr
    assert f"set {API_TOKEN_ENV} to a secret" in result.stderr
