"""What `pcc map` reads: `pcc predict` outputs in its three formats, and the refusals of anything else."""
import json

import pytest

from pcc.errors import UserError
from pcc.records import read_jsonl
from serving.corpus_map.inputs import read_predictions
from serving.outputs import write_rows
from tests.conftest import DEV_GOLD


def gold_rows() -> list[dict]:
    """The dev gold as `pcc predict` rows, its labels as the predictions: 10 papers, 138 sentences."""
    rows = []
    for index, row in enumerate(read_jsonl(DEV_GOLD)):
        label = row["label"]
        rows.append({"paper": row["paper"], "title": f"论文{row['paper']}", "source": "dev.txt",
                     "year": 2015 + int(row["paper"][1:]) % 4, "index": index, "text": row["text"],
                     "heading_path": [], "lead": None, "is_heading": False, "quality": "ok", "label": label,
                     "confidence": 0.9, "scores": {name: 0.9 if name == label else 0.1 / 3
                                                   for name in ("problem", "cause", "countermeasure", "other")}})
    rows.append({**rows[0], "index": 999, "text": "握和及时应对社情", "quality": "garbled", "label": None,
                 "confidence": None, "scores": None})
    return rows


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_the_three_output_formats_of_pcc_predict_are_read_alike(tmp_path, suffix):
    rows = gold_rows()
    path = tmp_path / f"predictions{suffix}"
    write_rows(path, rows)
    data = read_predictions([path])
    assert (data.rows, data.unclassified, len(data.papers)) == (139, 1, 10)
    assert len(data.sentences) == sum(r["label"] in ("problem", "cause", "countermeasure") for r in rows) == 73
    assert {s.category for s in data.sentences} == {"problem", "cause", "countermeasure"}
    paper = data.papers[0]
    assert (paper.paper, paper.title, paper.source, paper.year) == ("D01", "论文D01", "dev.txt", 2016)
    first = data.sentences[0]
    assert first.id(data.papers) == f"{data.papers[first.paper].paper}/{first.index:04d}"
    assert first.text == next(r["text"] for r in rows if r["label"] in ("problem", "cause", "countermeasure"))


def test_several_files_and_a_paper_id_of_two_sources(tmp_path):
    rows = gold_rows()
    write_rows(tmp_path / "a.jsonl", rows)
    write_rows(tmp_path / "b.jsonl", [{**row, "source": "other.txt"} for row in rows if row["paper"] == "D01"])
    data = read_predictions([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    assert len(data.papers) == 11 and data.files == [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    assert sorted(p.key for p in data.papers if p.paper == "D01") == ["dev.txt:D01", "other.txt:D01"]


def write_lines(path, lines):
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    return path


def test_what_is_not_a_predictions_file_is_refused_naming_file_line_and_field(tmp_path):
    good = gold_rows()[0]
    cases = {
        write_lines(tmp_path / "gold.jsonl", [{"id": "S1", "text": "句子。", "label": "cause"}]):
            r"gold.jsonl:1: no field\(s\) paper, source, index; it is not the output of `pcc predict`",
        write_lines(tmp_path / "label.jsonl", [good, {**good, "label": "reason"}]):
            r"label.jsonl:2: label 'reason' is not one of problem, cause, countermeasure, other",
        write_lines(tmp_path / "index.jsonl", [{**good, "index": "3"}]): r"index.jsonl:1: field 'index' must be a whole",
        write_lines(tmp_path / "empty.jsonl", []): r"empty.jsonl: no rows; run `pcc predict`",
        write_lines(tmp_path / "others.jsonl", [{**good, "label": "other"}]):
            r"others.jsonl: 1 sentences, none classified as a problem, cause or countermeasure",
        tmp_path / "missing.jsonl": "missing.jsonl: no such file",
        tmp_path / "predictions.txt": r"predictions.txt: use a .jsonl, .csv or .parquet file",
    }
    (tmp_path / "table.csv").write_text("paper_id,text\nA,文本\n", "utf-8")
    cases[tmp_path / "table.csv"] = r"table.csv: no column\(s\) paper, source, index, label"
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    cases[tmp_path / "broken.parquet"] = "broken.parquet: not a readable Parquet file"
    (tmp_path / "binary.jsonl").write_bytes(bytes(range(256)))
    cases[tmp_path / "binary.jsonl"] = "binary.jsonl"
    for path, message in cases.items():
        with pytest.raises(UserError, match=message):
            read_predictions([path])


def test_papers_classified_in_the_service_become_the_same_input():
    from pcc.documents import prepare_text
    from serving.classifier import AnalyzedSentence, PaperAnalysis, Prediction
    from serving.corpus_map.inputs import from_analyses

    prepared = prepare_text("警民关系研究\n发表年份：2019\n一、问题\n部分民警与群众沟通不畅。\n二、对策\n要加强沟通。\n", paper_id="p")
    labels = {"部分民警与群众沟通不畅。": "problem", "要加强沟通。": "countermeasure"}

    def analysis(relabel: bool) -> PaperAnalysis:
        return PaperAnalysis(prepared.paper, [
            AnalyzedSentence(s, Prediction(labels.get(s.text, "other") if relabel else "other", 0.9, {}))
            for s in prepared.sentences])

    data = from_analyses([analysis(True)])
    assert [(s.text, s.category) for s in data.sentences] == list(labels.items())
    assert (data.papers[0].paper, data.papers[0].year, data.rows) == ("p", 2019, len(prepared.sentences))
    with pytest.raises(UserError, match="none classified as a problem, cause or countermeasure"):
        from_analyses([analysis(False)])
