import json
import subprocess
import sys
from pathlib import Path

from pcc.cli import main
from pcc.prepare import collect_files, read_papers
from pcc.records import read_jsonl, read_sentences
from tests.conftest import REPO, SEED_CORPUS
from tests.fixtures.papers import TITLE, write_docx, write_pdf
from training.gold import place_gold, read_gold

PAPER_FIELDS = {"paper_id", "title", "source", "ordinal", "year", "n_sentences", "n_headings", "n_garbled", "n_left_out"}
SENTENCE_FIELDS = {"id", "paper_id", "paper_title", "index", "text", "heading_path", "is_heading", "quality",
                   "paragraph"}


def test_pdf_and_docx_go_through_and_bad_files_are_reported(tmp_path, capsys):
    papers = tmp_path / "papers"
    papers.mkdir()
    write_pdf(papers / "report.pdf")
    write_docx(papers / "notes.docx", table=[["问题", "对策"], ["沟通不畅。", "要加强沟通。"]])
    (papers / "random.pdf").write_bytes(bytes(range(256)) * 16)
    (papers / "not_zip.docx").write_text("只是文本", encoding="utf-8")
    (papers / "empty.txt").write_bytes(b"")
    (papers / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy Word")
    out = tmp_path / "out"

    status = main(["prepare", str(papers), "--out-dir", str(out)])

    captured = capsys.readouterr()
    assert status == 0
    for name in ("random.pdf", "not_zip.docx", "empty.txt"):
        assert name in captured.err
    assert "old.doc: .doc files are not read; save it as .docx" in captured.err
    assert "2 papers from 2 of 6 files" in captured.out
    rows = {row["paper_id"]: row for row in read_jsonl(out / "papers.jsonl")}
    assert set(rows) == {"notes", "report"}
    assert all(set(row) == PAPER_FIELDS for row in rows.values())
    assert rows["report"]["title"] == TITLE and rows["report"]["n_headings"] >= 3
    sentences = read_sentences(out / "sentences.jsonl")
    assert len(sentences) == rows["notes"]["n_sentences"] + rows["report"]["n_sentences"]
    for line in (out / "sentences.jsonl").read_text("utf-8").splitlines():
        assert set(json.loads(line)) == SENTENCE_FIELDS
    report = [s for s in sentences if s.paper_id == "report"]
    (under,) = [s for s in report if s.text == "部分民警与群众沟通不畅，群众对公安工作缺乏了解。"]
    assert under.heading_path == ["一、存在的问题", "（一）沟通不畅"] and under.quality == "ok"
    assert any(s.text == "要加强沟通。" for s in sentences if s.paper_id == "notes")  # a table cell's sentence
    run = json.loads((out / "prepare_run.json").read_text("utf-8"))
    assert run["papers"] == 2 and len(run["inputs"]) == 6 and len(run["failed"]) == 4


def test_nothing_processed_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")
    assert main(["prepare", str(bad), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.pdf" in err and "none of the 1 file(s)" in err
    assert not (tmp_path / "out" / "sentences.jsonl").exists()


def test_glob_patterns_and_missing_paths(tmp_path, capsys):
    write_docx(tmp_path / "a.docx")
    write_docx(tmp_path / "b.docx", title="社区警务工作的创新与实践思考")
    assert main(["prepare", str(tmp_path / "*.docx"), "--out-dir", str(tmp_path / "out")]) == 0
    assert [row["paper_id"] for row in read_jsonl(tmp_path / "out" / "papers.jsonl")] == ["a", "b"]
    assert main(["prepare", str(tmp_path / "nothing*.pdf"), "--out-dir", str(tmp_path / "out")]) == 2
    assert "nothing*.pdf" in capsys.readouterr().err


def test_console_script_on_the_seed(tmp_path):
    pcc = Path(sys.executable).parent / "pcc"  # the console script installed beside this interpreter
    result = subprocess.run(
        [str(pcc), "prepare", str(SEED_CORPUS), "--out-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    assert result.returncode == 0, result.stderr
    print("\n" + result.stdout)
    assert result.stdout.startswith("17 papers from 1 of 1 files")
    assert sum(1 for _ in read_jsonl(tmp_path / "papers.jsonl")) == 17


def test_every_hand_labelled_sentence_of_the_web_pages_is_read():
    # pages written for the project in the layouts of real ones (lost line breaks, chrome, Markdown, excerpts cut
    # mid-sentence): the reader may cut them, but must lose none of the sentences a person labelled in them, bar
    # the site chrome marked droppable (a byline)
    prepared, _ = read_papers(collect_files([str(REPO / "data" / "web_pages")]), "test")
    sentences = [s for paper in prepared for s in paper.sentences]
    for labels in sorted((REPO / "data" / "labels").glob("web_pages_*.jsonl")):
        rows = read_gold(labels)
        placed = place_gold(rows, sentences, rebuild=False)
        lost = [row["text"] for row, item in zip(rows, placed.gold) if not item.matched and not row.get("droppable")]
        assert len(rows) > 200 and not lost, f"{labels.name}: {lost[:3]}"
