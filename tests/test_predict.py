import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pcc.bundle import choose_precision
from pcc.cli import main
from pcc.model_card import HEADINGS_AND_LEAD
from pcc.model_input import heading_context
from pcc.records import LABELS, read_jsonl
from serving.classifier import SentenceClassifier
from serving.outputs import read_rows, write_rows
from tests.conftest import REPO, SEED_CORPUS
from tests.fixtures.papers import PARAGRAPHS, TITLE, write_docx, write_pdf


@pytest.fixture
def papers(tmp_path):
    folder = tmp_path / "papers"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("\n".join(["警民沟通机制研究", *PARAGRAPHS]), encoding="utf-8")
    write_pdf(folder / "sub" / "b.pdf")
    write_docx(folder / "sub" / "c.docx", title="社区警务的对策研究")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (folder / "notes.md").write_text("not a paper", encoding="utf-8")
    (folder / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy Word")
    return folder


def predict(bundle, *args) -> int:
    return main(["predict", *map(str, args), "--bundle", str(bundle)])


def test_folder_of_txt_pdf_docx_and_a_corrupt_file(tiny_bundle, papers, tmp_path):
    out = tmp_path / "out" / "predictions.jsonl"
    assert predict(tiny_bundle, papers, "--out", out) == 0
    rows = list(read_jsonl(out))
    sources = {papers / "a.txt", papers / "sub" / "b.pdf", papers / "sub" / "c.docx"}
    assert {row["source"] for row in rows} == {str(p) for p in sources}
    for row in rows:
        assert set(row) >= {"paper", "index", "text", "heading_path", "quality", "label", "confidence", "scores"}
        if row["quality"] == "ok":
            assert row["label"] in LABELS and row["confidence"] == row["scores"][row["label"]]
        else:
            assert row["label"] is None and row["scores"] is None
    assert any(row["heading_path"] == ["一、存在的问题"] for row in rows)
    errors = list(read_jsonl(tmp_path / "out" / "predictions.errors.jsonl"))
    assert [e["path"] for e in errors] == [str(papers / "broken.pdf"), str(papers / "old.doc")]
    assert "broken.pdf" in errors[0]["reason"] and "save it as .docx" in errors[1]["reason"]
    summary = (tmp_path / "out" / "predictions.md").read_text(encoding="utf-8")
    assert TITLE in summary and "社区警务的对策研究" in summary and "Countermeasures (对策)" in summary
    # the bundle's default precision unless asked: its int8 model is calibrated and passed the export checks
    assert f"This run used `{tiny_bundle}` ({choose_precision(tiny_bundle, None)}, CPUExecutionProvider" in summary


def test_csv_output_holds_the_same_predictions(tiny_bundle, papers, tmp_path):
    assert predict(tiny_bundle, f"{papers}/**/*.docx", "--out", tmp_path / "p.jsonl") == 0
    assert predict(tiny_bundle, f"{papers}/**/*.docx", "--out", tmp_path / "p.csv", "--summary", tmp_path / "s.md") == 0
    assert (tmp_path / "p.csv").read_bytes().startswith("\ufeff".encode())  # spreadsheets read it as UTF-8
    with (tmp_path / "p.csv").open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    rows = list(read_jsonl(tmp_path / "p.jsonl"))
    assert {row["source"] for row in rows} == {str(papers / "sub" / "c.docx")}
    assert [r["text"] for r in table] == [r["text"] for r in rows]
    assert [r["label"] or None for r in table] == [r["label"] for r in rows]
    assert {f"score_{label}" for label in LABELS} <= set(table[0])
    assert read_rows(tmp_path / "p.csv") == rows  # the CSV reads back losslessly (used by --resume)
    assert (tmp_path / "s.md").is_file()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_sentences_file_one_per_line(tiny_bundle, tmp_path, encoding):
    lines = tmp_path / "lines.txt"
    lines.write_text("警民关系紧张。\n\n要加强沟通。\n公安机关l常交流不够。\n", encoding=encoding)
    assert predict(tiny_bundle, "--sentences", lines, "--out", tmp_path / "s.jsonl") == 0
    rows = list(read_jsonl(tmp_path / "s.jsonl"))
    assert [(r["index"], r["text"]) for r in rows] == [(0, "警民关系紧张。"), (2, "要加强沟通。"), (3, "公安机关l常交流不够。")]
    assert [r["label"] is None for r in rows] == [False, False, True]
    assert {r["paper"] for r in rows} == {"lines"}


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_sentences_jsonl_with_headings(tiny_bundle, tmp_path, encoding):
    listed = tmp_path / "listed.jsonl"
    rows = [{"text": "警民关系紧张。", "heading_path": ["一、存在的问题"]}, {"text": "要加强沟通。"},
            {"text": "由于警力不足。", "heading_path": "二、原因"}]
    listed.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding=encoding)
    assert predict(tiny_bundle, "--sentences", listed, "--out", tmp_path / "s.jsonl") == 0
    out = list(read_jsonl(tmp_path / "s.jsonl"))
    paths = [["一、存在的问题"], [], ["二、原因"]]
    assert [(r["index"], r["text"], r["heading_path"]) for r in out] == [
        (i, row["text"], path) for i, (row, path) in enumerate(zip(rows, paths))]
    expected = SentenceClassifier(tiny_bundle, device="cpu").classify(
        [row["text"] for row in rows], [heading_context(path) for path in paths])
    assert [r["scores"] for r in out] == [pytest.approx(p.scores, abs=1e-5) for p in expected]


def test_listed_sentences_without_context_get_the_offsets_for_sentences_given_alone(tiny_bundle, tmp_path):
    bundle = tmp_path / "offsets"
    shutil.copytree(tiny_bundle, bundle)
    values = json.loads((bundle / "bundle.json").read_text("utf-8"))
    (bundle / "bundle.json").write_text(json.dumps({**values, "bare_offsets": {"cause": 30.0}}), "utf-8")
    listed = tmp_path / "listed.jsonl"
    rows = [{"text": "警民关系紧张。", "heading_path": ["一、存在的问题"]}, {"text": "要加强沟通。"}]
    listed.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    assert predict(bundle, "--sentences", listed, "--out", tmp_path / "s.jsonl") == 0
    headed, bare = read_jsonl(tmp_path / "s.jsonl")
    expected = SentenceClassifier(tiny_bundle, device="cpu").classify([rows[0]["text"]], [heading_context(["一、存在的问题"])])
    assert headed["scores"] == pytest.approx(expected[0].scores, abs=1e-5)
    assert bare["label"] == "cause" and bare["confidence"] > 0.99


def lead_bundle(tiny_bundle, folder):
    """The tiny bundle, told that its model reads leads."""
    bundle = folder / "lead-bundle"
    shutil.copytree(tiny_bundle, bundle)
    card = json.loads((bundle / "bundle.json").read_text("utf-8"))
    (bundle / "bundle.json").write_text(json.dumps({**card, "context": HEADINGS_AND_LEAD}), "utf-8")
    return bundle


def test_each_row_says_what_the_model_read_of_the_sentence_before(tiny_bundle, papers, tmp_path):
    bundle = lead_bundle(tiny_bundle, tmp_path)
    for out in (tmp_path / "p.jsonl", tmp_path / "p.csv"):
        assert predict(bundle, papers / "sub" / "c.docx", "--out", out) == 0
        rows = read_rows(out)
        second = next(r for r in rows if r["text"].startswith("部分群众对公安工作缺乏了解，民警"))
        assert second["lead"] == "随着社会的发展，警民关系面临新的挑战。"  # the sentence before, in its paragraph
        assert next(r for r in rows if r["text"] == "一、存在的问题")["lead"] is None  # a heading has none
    assert predict(tiny_bundle, papers / "sub" / "c.docx", "--out", tmp_path / "heading-only.jsonl") == 0
    assert all(row["lead"] is None for row in read_rows(tmp_path / "heading-only.jsonl"))  # its model reads none


def test_sentences_jsonl_with_leads_for_a_model_that_reads_them(tiny_bundle, tmp_path):
    bundle = lead_bundle(tiny_bundle, tmp_path)
    listed = tmp_path / "listed.jsonl"
    rows = [{"text": "警力不足。", "heading_path": ["二、原因"], "lead": "究其原因，主要有以下几点："},
            {"text": "警力不足。", "heading_path": ["二、原因"]}, {"text": "警力不足。", "lead": 3}]
    listed.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows[:2]), encoding="utf-8")
    assert predict(bundle, "--sentences", listed, "--out", tmp_path / "s.jsonl") == 0
    out = list(read_jsonl(tmp_path / "s.jsonl"))
    expected = SentenceClassifier(bundle, device="cpu").classify(
        ["警力不足。"] * 2, [heading_context(["二、原因"], "究其原因，主要有以下几点："), heading_context(["二、原因"])])
    assert [r["scores"] for r in out] == [pytest.approx(p.scores, abs=1e-5) for p in expected]
    assert out[0]["scores"] != pytest.approx(out[1]["scores"], abs=1e-6)  # the lead is read
    assert [r["lead"] for r in out] == ["究其原因，主要有以下几点：", None]
    listed.write_text(json.dumps(rows[2], ensure_ascii=False) + "\n", encoding="utf-8")
    assert predict(bundle, "--sentences", listed, "--out", tmp_path / "bad.jsonl") == 2


def test_an_output_path_that_cannot_be_written_is_named_without_a_traceback(tiny_bundle, tmp_path, capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("要加强沟通。\n", encoding="utf-8")
    blocker = tmp_path / "report"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    assert predict(tiny_bundle, "--sentences", lines, "--out", blocker / "s.jsonl") == 1
    error = capsys.readouterr().err
    assert f"pcc predict: error: {blocker}" in error and "Traceback" not in error


@pytest.mark.parametrize("line, message", [
    ('{"txt": "警民关系紧张。"}', "listed.jsonl:2: field 'text' must be a non-empty string"),
    ('{"text": "警民关系紧张。", "heading_path": [1]}', "listed.jsonl:2: field 'heading_path' must be a list"),
    ('["警民关系紧张。"]', "listed.jsonl:2: expected a JSON object"),
])
def test_a_bad_sentences_jsonl_line_is_named_and_nothing_is_written(tiny_bundle, tmp_path, capsys, line, message):
    listed = tmp_path / "listed.jsonl"
    listed.write_text('{"text": "要加强沟通。"}\n' + line + "\n", encoding="utf-8")
    assert predict(tiny_bundle, "--sentences", listed, "--out", tmp_path / "s.jsonl") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.jsonl").exists()


@pytest.mark.parametrize("name", ["/dev/null", "empty.txt", "blank.jsonl"])
def test_a_sentences_file_without_sentences_says_so(tiny_bundle, tmp_path, capsys, name):
    listed = Path(name) if name.startswith("/") else tmp_path / name
    if not name.startswith("/"):
        listed.write_text("" if name == "empty.txt" else "\n  \n", encoding="utf-8")
    assert predict(tiny_bundle, "--sentences", listed, "--out", tmp_path / "s.jsonl") == 2
    error = capsys.readouterr().err
    assert f"no sentences in {listed} (--sentences)" in error and "no such file" not in error
    assert not (tmp_path / "s.jsonl").exists()
    assert predict(tiny_bundle, "--sentences", tmp_path / "none.txt", "--out", tmp_path / "s.jsonl") == 2
    assert f"--sentences {tmp_path / 'none.txt'}: no such file" in capsys.readouterr().err


def test_resume_on_a_file_predict_did_not_write_names_its_own_options(tiny_bundle, papers, tmp_path, capsys):
    other = tmp_path / "gold.csv"
    other.write_text("text,label\n警民关系紧张。,problem\n", encoding="utf-8")
    assert predict(tiny_bundle, papers / "a.txt", "--out", other, "--resume") == 2
    assert "it is not a `pcc predict` output: choose another --out or drop --resume" in capsys.readouterr().err


def test_resume_after_an_interruption_skips_finished_files(tiny_bundle, papers, tmp_path, capsys):
    full = tmp_path / "full.jsonl"
    assert predict(tiny_bundle, papers, "--out", full) == 0
    complete = list(read_jsonl(full))
    # What an interrupted run leaves: the last atomic save (complete files only) and an unfinished temp file.
    out = tmp_path / "run.jsonl"
    first_source = complete[0]["source"]
    kept = [dict(row, title="kept from the first run") for row in complete if row["source"] == first_source]
    write_rows(out, kept)
    (tmp_path / ".run.jsonl.partial").write_text(json.dumps(complete[0])[:40], encoding="utf-8")
    capsys.readouterr()
    assert predict(tiny_bundle, papers, "--out", out, "--resume") == 0
    assert "1 file(s) already in" in capsys.readouterr().err
    resumed = list(read_jsonl(out))
    assert resumed[:len(kept)] == kept  # not reclassified
    key = lambda row: (row["source"], row["index"])
    assert sorted(map(key, resumed)) == sorted(map(key, complete))


def test_exit_status_when_nothing_can_be_processed(tiny_bundle, papers, tmp_path, capsys):
    out = tmp_path / "bad.jsonl"
    assert predict(tiny_bundle, papers / "a.txt", "--out", out) == 0
    earlier, earlier_summary = out.read_bytes(), out.with_suffix(".md").read_bytes()
    capsys.readouterr()
    assert predict(tiny_bundle, papers / "broken.pdf", papers / "missing.txt", "--out", out) == 1
    assert [e["path"] for e in read_jsonl(tmp_path / "bad.errors.jsonl")] == [
        str(papers / "missing.txt"), str(papers / "broken.pdf")]
    assert out.read_bytes() == earlier and out.with_suffix(".md").read_bytes() == earlier_summary  # nothing lost
    err = capsys.readouterr().err
    assert f"skipped: {papers / 'broken.pdf'}: not a readable PDF" in err and "missing.txt: no such file" in err
    assert "was left as it was" in err
    assert main(["predict", str(papers), "--bundle", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "pcc export" in capsys.readouterr().err
    assert predict(tiny_bundle, papers, "--out", tmp_path / "x.txt") == 2


def test_a_docx_zip_bomb_is_skipped_with_its_reason_not_read(tiny_bundle, docx_bomb, tmp_path, capsys):
    started = time.monotonic()
    assert predict(tiny_bundle, docx_bomb, "--out", tmp_path / "out.jsonl") == 1
    assert time.monotonic() - started < 60  # loading the model; reading the bomb would take minutes
    [error] = read_jsonl(tmp_path / "out.errors.jsonl")
    assert error["path"] == str(docx_bomb) and "it looks like a zip bomb" in error["reason"]
    assert "bomb.docx: part word/document.xml expands" in capsys.readouterr().err


def test_a_real_interruption_leaves_only_complete_files(tiny_bundle, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    # Enough papers that the run cannot finish within a few checkpoints, however fast the tiny model is.
    for n in range(600):
        shutil.copy(SEED_CORPUS, folder / f"paper{n:03d}.txt")
    out = tmp_path / "run.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "pcc.cli", "predict", str(folder), "--bundle", str(tiny_bundle), "--out", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as from a terminal: a test run started in the background (nohup, `&`) ignores SIGINT, and so would the child
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not out.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the first checkpoint: some files are done
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr
    per_file = Counter(row["source"] for row in read_jsonl(out))
    assert 0 < len(per_file) < 600
    assert len(set(per_file.values())) == 1  # every file in the output is complete


def test_parquet_output_is_a_folder_of_parts_that_resume_adds_to(tiny_bundle, papers, tmp_path, capsys):
    assert predict(tiny_bundle, papers, "--out", tmp_path / "p.jsonl") == 0
    rows = list(read_jsonl(tmp_path / "p.jsonl"))
    out = tmp_path / "p.parquet"
    assert predict(tiny_bundle, papers, "--out", out) == 0
    assert read_rows(out) == rows and (tmp_path / "p.md").is_file() and (tmp_path / "p.errors.jsonl").is_file()
    kept = [dict(row, title="kept") for row in rows if row["source"] == rows[0]["source"]]
    write_rows(out, kept)
    assert [part.name for part in out.iterdir()] == ["part-00000.parquet"]
    assert predict(tiny_bundle, papers, "--out", out, "--resume") == 0
    assert sorted(part.name for part in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    resumed = read_rows(out)
    assert resumed[:len(kept)] == kept and resumed[len(kept):] == rows[len(kept):]
    (tmp_path / "file.parquet").write_text("not a folder", encoding="utf-8")
    capsys.readouterr()
    assert predict(tiny_bundle, papers, "--out", tmp_path / "file.parquet") == 2
    assert "a Parquet output is a folder of part files" in capsys.readouterr().err
