"""`pcc predict --engine ray` against the local engine, on a real local Ray with 2 CPUs."""
import json
import os
import subprocess
import sys
import time
from collections import Counter

import psutil
import pytest

from pcc.cli import main
from pcc.documents import leave_out_furniture, split_papers
from pcc.records import read_jsonl
from serving.outputs import read_rows, write_rows
from tests.conftest import REPO, SEED_CORPUS
from tests.fixtures.papers import write_docx, write_pdf

COPIES = 12  # of each seed paper, one paper per file: 12 x 17 = 204 files
RAY_ON_2_CPUS = ["--engine", "ray", "--workers", "2", "--cpus-per-worker", "0.5"]  # + 1 CPU for reading


def predict(bundle, *args) -> int:
    return main(["predict", *map(str, args), "--bundle", str(bundle)])


def seed_papers() -> list[str]:
    kept, _ = leave_out_furniture(SEED_CORPUS.read_text("utf-8").splitlines())
    return ["\n".join(lines) + "\n" for lines in split_papers([line for _, line in kept])]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """204 one-paper files made from the seed corpus, the seed corpus itself (17 papers in one file), a PDF, a
    .docx, a corrupt PDF and an empty file."""
    folder = tmp_path_factory.mktemp("corpus")
    for copy in range(COPIES):
        for number, text in enumerate(seed_papers()):
            (folder / f"c{copy:02d}" / f"p{number:02d}.txt").parent.mkdir(exist_ok=True)
            (folder / f"c{copy:02d}" / f"p{number:02d}.txt").write_text(text, encoding="utf-8")
    (folder / "collection.txt").write_text(SEED_CORPUS.read_text("utf-8"), encoding="utf-8")
    write_pdf(folder / "b.pdf")
    write_docx(folder / "c.docx")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (folder / "empty.txt").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def local_rows(tiny_bundle, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "p.jsonl"
    assert predict(tiny_bundle, corpus, "--out", out) == 0
    return out


@pytest.fixture(scope="module")
def ray_cluster():
    """One small Ray for the module; `pcc predict --engine ray` uses a Ray already started in its process."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 ** 2, logging_level="warning")
    yield
    ray.shutdown()


def assert_same_rows(rows, expected):
    """Same sentences in the same order, identical labels, probabilities within 1e-6."""
    assert [(r["source"], r["paper"], r["index"], r["text"], r["label"]) for r in rows] == [
        (r["source"], r["paper"], r["index"], r["text"], r["label"]) for r in expected]
    for row, other in zip(rows, expected):
        assert {k: v for k, v in row.items() if k not in ("confidence", "scores")} == {
            k: v for k, v in other.items() if k not in ("confidence", "scores")}
        if other["scores"] is None:
            assert row["scores"] is None and row["confidence"] is None
        else:
            assert row["scores"] == pytest.approx(other["scores"], abs=1e-6)
            assert row["confidence"] == pytest.approx(other["confidence"], abs=1e-6)


def papers_of(rows) -> Counter:
    """How many times each paper's sentence 0 appears: once per paper written."""
    return Counter((r["source"], r["paper"]) for r in rows if r["index"] == 0)


def ray_processes_since(started: float) -> list[psutil.Process]:
    """Ray processes started after `started` that are not this test process's own (its children)."""
    mine = {child.pid for child in psutil.Process().children(recursive=True)}
    found = []
    for process in psutil.process_iter(["cmdline", "create_time"]):
        command = " ".join(process.info["cmdline"] or [])
        if (process.info["create_time"] or 0) >= started and process.pid not in mine and (
                "raylet" in command or "gcs_server" in command or "ray::" in command or "default_worker" in command):
            found.append(process)
    return found


def test_without_an_address_ray_starts_here_and_stops_at_the_end(tiny_bundle, tmp_path):
    folder = tmp_path / "few"
    folder.mkdir()
    for number, text in enumerate(seed_papers()[:3]):
        (folder / f"p{number}.txt").write_text(text, encoding="utf-8")
    assert predict(tiny_bundle, folder, "--out", tmp_path / "local.jsonl") == 0
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "pcc.cli", "predict", str(folder), "--bundle", str(tiny_bundle),
                           "--out", str(tmp_path / "ray.jsonl"), "--engine", "ray", "--workers", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_rows(list(read_jsonl(tmp_path / "ray.jsonl")), list(read_jsonl(tmp_path / "local.jsonl")))
    deadline = time.monotonic() + 20
    while ray_processes_since(started) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray_processes_since(started) == []  # Ray stopped with the command


def test_ray_gives_the_local_rows_each_paper_once_and_lists_unreadable_files(
        tiny_bundle, corpus, local_rows, ray_cluster, tmp_path):
    out = tmp_path / "ray.jsonl"
    assert predict(tiny_bundle, corpus, "--out", out, *RAY_ON_2_CPUS) == 0
    rows, expected = list(read_jsonl(out)), list(read_jsonl(local_rows))
    assert_same_rows(rows, expected)
    papers = papers_of(rows)
    assert len(papers) >= 200 + 17 and set(papers.values()) == {1}
    errors = list(read_jsonl(tmp_path / "ray.errors.jsonl"))
    assert errors == list(read_jsonl(local_rows.with_name("p.errors.jsonl")))
    assert [e["path"] for e in errors] == [str(corpus / "broken.pdf"), str(corpus / "empty.txt")]
    assert "the file is empty" in errors[1]["reason"]
    summary = (tmp_path / "ray.md").read_text("utf-8")
    assert summary.replace(str(out), "OUT") == local_rows.with_name("p.md").read_text("utf-8").replace(
        str(local_rows), "OUT")


def test_a_worker_that_dies_mid_run_is_replaced_and_its_papers_come_once(
        tiny_bundle, corpus, local_rows, ray_cluster, tmp_path, monkeypatch):
    marker = tmp_path / "die-once"
    marker.touch()
    monkeypatch.setenv("PCC_RAY_FAIL_ONCE", str(marker))
    out = tmp_path / "ray.jsonl"
    assert predict(tiny_bundle, corpus, "--out", out, *RAY_ON_2_CPUS) == 0
    assert not marker.exists()  # a worker found it after a finished batch, deleted it and died
    rows = list(read_jsonl(out))
    assert_same_rows(rows, list(read_jsonl(local_rows)))
    assert set(papers_of(rows).values()) == {1}


def test_resume_skips_the_files_and_table_papers_already_written(
        tiny_bundle, corpus, local_rows, ray_cluster, tmp_path, capsys):
    table = tmp_path / "papers.parquet"
    write_table(table, [{"paper_id": f"p{n}", "text": text} for n, text in enumerate(seed_papers())])
    full = tmp_path / "full.jsonl"
    assert predict(tiny_bundle, f"{corpus}/c0[01]/*.txt", "--table", table, "--out", full) == 0
    complete = list(read_jsonl(full))
    # An earlier run wrote 20 of the 34 files and 5 of the 17 table papers; their rows must be kept as they are.
    done_files = sorted({r["source"] for r in complete if r["source"] != str(table)})[:20]
    done_papers = {f"p{n}" for n in range(5)}
    kept = [dict(row, title="kept from the first run") for row in complete
            if row["source"] in done_files or (row["source"] == str(table) and row["paper"] in done_papers)]
    out = tmp_path / "resumed.jsonl"
    write_rows(out, kept)
    capsys.readouterr()
    assert predict(tiny_bundle, f"{corpus}/c0[01]/*.txt", "--table", table, "--out", out, "--resume",
                   *RAY_ON_2_CPUS) == 0
    err = capsys.readouterr().err
    assert "20 file(s) already in" in err and "5 table paper(s) already in" in err
    resumed = list(read_jsonl(out))
    assert resumed[:len(kept)] == kept  # not classified again
    kept_papers = papers_of(kept)
    assert_same_rows(resumed[len(kept):], [row for row in complete if (row["source"], row["paper"]) not in kept_papers])
    assert set(papers_of(resumed).values()) == {1} and papers_of(resumed).keys() == papers_of(complete).keys()


def write_table(path, rows):
    import pyarrow as pa
    import pyarrow.parquet

    pyarrow.parquet.write_table(pa.Table.from_pylist(rows), path)


def test_tables_of_papers_give_the_local_rows_in_parquet(tiny_bundle, ray_cluster, tmp_path):
    papers = seed_papers()
    rows = [{"paper_id": f"doc-{n}", "text": text, "title": None} for n, text in enumerate(papers)]
    rows[2]["title"] = "一个给定的标题"
    rows += [{"paper_id": "blank", "text": "  ", "title": None}, dict(rows[0]),
             {"paper_id": "doc-1", "text": "另一篇论文。", "title": None}]
    write_table(tmp_path / "papers.parquet", rows)
    (tmp_path / "papers.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    tables = ["--table", tmp_path / "papers.parquet", "--table", tmp_path / "papers.jsonl"]
    assert predict(tiny_bundle, *tables, "--out", tmp_path / "local.parquet") == 0
    assert predict(tiny_bundle, *tables, "--out", tmp_path / "ray.parquet", *RAY_ON_2_CPUS) == 0
    expected = read_rows(tmp_path / "local.parquet")
    assert_same_rows(read_rows(tmp_path / "ray.parquet"), expected)
    assert papers_of(expected) == Counter({(str(tmp_path / f"papers.{kind}"), paper): 1 for kind in ("parquet", "jsonl")
                                           for paper in [f"doc-{n}" for n in range(len(papers))]})
    assert {r["title"] for r in expected if r["paper"] == "doc-2"} == {"一个给定的标题"}
    errors = list(read_jsonl(tmp_path / "ray.errors.jsonl"))
    assert errors == list(read_jsonl(tmp_path / "local.errors.jsonl"))
    assert [e["reason"].split(": ", 1)[1] for e in errors[:2]] == [
        "paper_id 'blank': field 'text' must be non-empty text",
        "paper_id 'doc-1' appears more than once with different text; only the first row is used, give the "
        "others their own paper_id"]


def test_mistakes_are_one_line_errors_before_anything_runs(tiny_bundle, corpus, ray_cluster, tmp_path, capsys,
                                                          monkeypatch):
    out = tmp_path / "p.jsonl"
    write_table(tmp_path / "t.parquet", [{"id": "a", "body": "警民关系紧张。"}])
    cases = [
        (["--address", "127.0.0.1:1", *RAY_ON_2_CPUS], "--address 127.0.0.1:1: no Ray cluster answers there"),
        (["--engine", "ray", "--workers", "4"], "the Ray cluster has 2 CPU(s): 4 worker(s)"),
        (["--workers", "2"], "--workers is an option of the Ray engine; add --engine ray"),
        (["--table", tmp_path / "t.parquet", *RAY_ON_2_CPUS], "t.parquet: no column 'paper_id', 'text' (it has "
                                                              "'id', 'body'); a table of papers needs"),
        (["--table", tmp_path / "t.csv", *RAY_ON_2_CPUS], "--table"),
    ]
    for extra, message in cases:
        assert predict(tiny_bundle, corpus / "c00", "--out", out, *extra) == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error
        assert not out.exists()
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    monkeypatch.delitem(sys.modules, "serving.ray_predict", raising=False)
    assert predict(tiny_bundle, corpus / "c00", "--out", out, "--engine", "ray") == 2
    assert "the Ray engine needs Ray Data" in capsys.readouterr().err and not out.exists()


def test_the_local_engine_never_imports_ray(tiny_bundle, corpus, tmp_path):
    code = ("import sys; from pcc.cli import main; "
            f"code = main(['predict', {str(corpus / 'c00')!r}, '--bundle', {str(tiny_bundle)!r}, "
            f"'--out', {str(tmp_path / 'p.jsonl')!r}]); print(code, 'ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.stdout.split()[-2:] == ["0", "False"]
