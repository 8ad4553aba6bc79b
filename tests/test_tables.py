import json

import pytest

from pcc.errors import UserError
from serving.tables import DONE, REPEAT, RowChecker, check_table, prepare_row, read_table, table_columns

TEXT = "警民关系研究\n一、存在的问题\n部分民警与群众沟通不畅。\n二、对策\n要加强沟通。\n"


def write_parquet(path, rows):
    import pyarrow as pa
    import pyarrow.parquet

    pyarrow.parquet.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_tables_are_checked_before_any_row_is_read(tmp_path):
    good = write_parquet(tmp_path / "good.parquet", [{"paper_id": "a", "text": TEXT, "title": "t", "year": 2020,
                                                      "author": "某"}])
    assert check_table(good) and table_columns(good) == ["paper_id", "text", "title", "year"]
    folder = tmp_path / "lake"
    folder.mkdir()
    write_parquet(folder / "part-0.parquet", [{"paper_id": "a", "text": TEXT}])
    write_parquet(folder / "part-1.parquet", [{"paper_id": "b", "text": TEXT}])
    assert table_columns(folder) == ["paper_id", "text"]
    assert [row["paper_id"] for row in read_table(folder)] == ["a", "b"]
    assert check_table(write_parquet(tmp_path / "empty.parquet", [])) is False
    (tmp_path / "empty.jsonl").write_text("\n", "utf-8")
    assert check_table(tmp_path / "empty.jsonl") is False
    (tmp_path / "t.jsonl").write_text(json.dumps({"paper_id": "a", "body": TEXT}) + "\n", "utf-8")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    for path, message in [(tmp_path / "t.jsonl", r"t.jsonl: no column 'text' \(its first row has 'paper_id', 'body'\)"),
                          (tmp_path / "broken.parquet", "broken.parquet: not a readable Parquet table"),
                          (tmp_path / "papers.csv", "papers.csv: no such file"),
                          (good.with_suffix(".csv"), "no such file")]:
        with pytest.raises(UserError, match=message):
            check_table(path)
    (tmp_path / "papers.csv").write_text("paper_id,text\n", "utf-8")
    with pytest.raises(UserError, match=r"papers.csv: use a .parquet file, a folder of .parquet files or a .jsonl"):
        check_table(tmp_path / "papers.csv")


def test_a_row_becomes_a_paper_with_the_table_as_its_source():
    prepared = prepare_row({"paper_id": 17, "text": TEXT, "title": None}, "lake/papers.parquet")
    assert (prepared.paper.paper_id, prepared.paper.title, prepared.paper.source) == ("17", "警民关系研究",
                                                                                     "lake/papers.parquet")
    assert any(s.heading_path == ["一、存在的问题"] for s in prepared.sentences)
    titled = prepare_row({"paper_id": "x", "text": TEXT, "title": "给定的标题", "year": 2019}, "t.jsonl")
    assert titled.paper.title == "给定的标题" and titled.sentences[0].text == "给定的标题"
    assert (titled.paper.year, prepared.paper.year) == (2019, None)
    assert prepare_row({"paper_id": "y", "text": "警民关系研究\n发表年份：2018\n" + TEXT}, "t.jsonl").paper.year == 2018
    for row, message in [({"text": TEXT}, "a row has no usable paper_id"),
                         ({"paper_id": True, "text": TEXT}, "a row has no usable paper_id"),
                         ({"paper_id": "x", "text": "  "}, "paper_id 'x': field 'text' must be non-empty text"),
                         ({"paper_id": "x", "text": TEXT, "title": 3}, "paper_id 'x': field 'title' must be text"),
                         ({"paper_id": "x", "text": TEXT, "year": "2019年"}, "paper_id 'x': field 'year' must be a year"),
                         ({"paper_id": "x", "text": "———\n12\n"}, "paper_id 'x': no sentences found")]:
        with pytest.raises(UserError, match=message):
            prepare_row(row, "t.jsonl")


def test_each_paper_id_is_classified_once():
    checker = RowChecker("t.parquet", done={"old"})
    assert checker.verdict({"paper_id": "old", "text": "a"}) == DONE
    assert checker.verdict({"paper_id": "new", "text": "a"}) is None
    assert checker.verdict({"paper_id": "new", "text": "a"}) == REPEAT
    assert "paper_id 'new' appears more than once with different text" in checker.verdict({"paper_id": "new", "text": "b"})
    assert checker.verdict({"text": "a"}) is None  # prepare_row reports it
