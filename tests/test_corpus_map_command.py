"""`pcc map` end to end with the test bundle's embedder: the four outputs, small and odd corpora, bad input, and
the Ray engine giving the local engine's map."""
import csv
import json
import re

import pytest

from pcc.cli import main
from serving.outputs import write_rows
from tests.conftest import SEED_CORPUS
from tests.test_corpus_map_inputs import gold_rows

# A sentence that would end the page's data script if it were written into it as it is.
SCRIPT_END = "要防止</script><b>网络谣言</b>扩散。"


def map_rows() -> list[dict]:
    rows = gold_rows()
    countermeasure = next(r for r in rows if r["label"] == "countermeasure")
    return rows + [{**countermeasure, "index": 1000, "text": SCRIPT_END}]


def run_map(bundle, predictions, out, *options) -> int:
    return main(["map", *map(str, predictions), "--out", str(out), "--bundle", str(bundle), *options])


@pytest.fixture(scope="module")
def mapped(tiny_bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("map")
    write_rows(folder / "predictions.jsonl", map_rows())
    assert run_map(tiny_bundle, [folder / "predictions.jsonl"], folder / "out", "--threshold", "0.97") == 0
    return folder / "out"


def test_the_four_outputs_agree(mapped):
    assert sorted(p.name for p in mapped.iterdir()) == ["assignments.jsonl", "map.html", "map.md", "themes.csv"]
    rows = [json.loads(line) for line in (mapped / "assignments.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) == 74 and {r["category"] for r in rows} == {"problem", "cause", "countermeasure"}
    with (mapped / "themes.csv").open(encoding="utf-8-sig", newline="") as handle:
        themes = list(csv.DictReader(handle))
    assert {r["theme"] for r in rows} == {t["theme"] for t in themes}
    for theme in themes:
        members = [r for r in rows if r["theme"] == theme["theme"]]
        assert int(theme["sentences"]) == len(members) and int(theme["papers"]) == len({r["paper"] for r in members})
        assert theme["category"] == members[0]["category"] and theme["theme"].startswith(theme["category"] + "-")
    real = [t for t in themes if not t["theme"].endswith("-noise")]
    assert real, "the tiny encoder's vectors should still form some theme at this threshold"
    assert all(int(t["sentences"]) >= 3 and int(t["papers"]) >= 2 and t["keywords"] and t["central_1"] for t in real)
    assert all(r["theme_name"] for r in rows) and all(r["year"] in (2015, 2016, 2017, 2018) for r in rows)
    problems = [r for r in rows if r["category"] == "problem"]
    assert all("nearest_cause" in r and "nearest_countermeasure" in r for r in problems)
    by_id = {r["id"]: r for r in rows}
    for row in problems:
        for kind in ("cause", "countermeasure"):
            if row[f"nearest_{kind}"]:  # from the same paper, of that category
                other = by_id[row[f"nearest_{kind}"]["id"]]
                assert other["paper"] == row["paper"] and other["category"] == kind

    report = (mapped / "map.md").read_text("utf-8")
    assert report.startswith("# Corpus map") and "10 papers, 140 sentences" in report
    for heading in ("## Problems (问题)", "## Causes (原因)", "## Countermeasures (对策)"):
        assert heading in report
    assert all(f"| {t['theme']} |" in report for t in real)


def test_the_page_carries_the_map_and_needs_nothing_else(mapped):
    page = (mapped / "map.html").read_text("utf-8")
    assert not re.search(r"""(?:src|href)=["']?(?:https?:|/)""", page)  # no script, style or font fetched
    assert page.count("</script>") == 2  # the data's and the code's; the sentence's is escaped
    data = json.loads(re.search(r'<script id="map-data" type="application/json">(.*?)</script>', page, re.S)[1])
    assert SCRIPT_END in [s["text"] for s in data["sentences"]]
    assert data["summary"]["papers"] == 10 and data["summary"]["papers_per_year"] == {  # papers D01-D04, D06, ...
        "2015": 4, "2016": 3, "2017": 2, "2018": 1}
    assert sum(t["size"] for t in data["themes"]) == 74
    assert "function renderMap" in page and "map-theme" in page


def test_one_paper_and_a_category_without_sentences(tiny_bundle, tmp_path):
    rows = [r for r in gold_rows() if r["paper"] == "D02" and r["label"] != "cause"]
    write_rows(tmp_path / "one.jsonl", rows)
    assert run_map(tiny_bundle, [tmp_path / "one.jsonl"], tmp_path / "out") == 0
    report = (tmp_path / "out" / "map.md").read_text("utf-8")
    assert "Only one paper" in report and "No sentence was classified as a cause." in report
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', (tmp_path / "out" / "map.html").read_text("utf-8"), re.S)[1])
    assert data["links"] == [] and data["summary"]["categories"]["cause"] == {"sentences": 0, "themes": 0, "noise": 0}


def test_bad_input_is_one_clear_line(tiny_bundle, tmp_path, capsys):
    (tmp_path / "gold.jsonl").write_text(json.dumps({"text": "句子。", "label": "cause"}) + "\n", "utf-8")
    (tmp_path / "empty.jsonl").write_text("", "utf-8")
    (tmp_path / "a-file").write_text("", "utf-8")
    write_rows(tmp_path / "p.jsonl", gold_rows())
    cases = [([tmp_path / "gold.jsonl"], (), "gold.jsonl:1: no field(s) paper, source, index"),
             ([tmp_path / "empty.jsonl"], (), "empty.jsonl: no rows"),
             ([tmp_path / "p.jsonl"], ("--threshold", "3"), "--threshold 3.0: give a cosine distance"),
             ([tmp_path / "p.jsonl"], ("--engine", "local", "--workers", "2"), "--workers is an option of the Ray")]
    for predictions, options, message in cases:
        assert run_map(tiny_bundle, predictions, tmp_path / "out", *options) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert main(["map", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "a-file"), "--bundle",
                 str(tiny_bundle)]) == 2
    assert "a file is in the way" in capsys.readouterr().err
    assert run_map(tmp_path, [tmp_path / "p.jsonl"], tmp_path / "out") == 2
    assert "no sentence embedder here" in capsys.readouterr().err
    line = json.dumps({"id": 1, "text": "警民关系。" * 40, "label": "cause"}, ensure_ascii=False) + "\n"
    (tmp_path / "big.jsonl").write_text(line * (50 * 2 ** 20 // len(line.encode()) + 1), "utf-8")  # 50 MB
    assert (tmp_path / "big.jsonl").stat().st_size > 50 * 2 ** 20
    assert run_map(tiny_bundle, [tmp_path / "big.jsonl"], tmp_path / "out") == 2
    assert "big.jsonl:1: no field(s) paper, source, index" in capsys.readouterr().err
    (tmp_path / "big.jsonl").write_bytes(bytes(range(256)) * (50 * 2 ** 12))  # 50 MB that is not text
    assert run_map(tiny_bundle, [tmp_path / "big.jsonl"], tmp_path / "out") == 2
    assert "big.jsonl: not a text file" in capsys.readouterr().err


def test_the_output_of_pcc_predict_maps_as_it_is(tiny_bundle, tmp_path):
    assert main(["predict", str(SEED_CORPUS), "--out", str(tmp_path / "seed.csv"), "--bundle", str(tiny_bundle)]) == 0
    assert run_map(tiny_bundle, [tmp_path / "seed.csv"], tmp_path / "out") == 0
    assert "17 papers" in (tmp_path / "out" / "map.md").read_text("utf-8")


@pytest.fixture
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 ** 2, logging_level="warning")
    yield
    ray.shutdown()


def test_the_ray_engine_gives_the_local_engines_map(tiny_bundle, mapped, tmp_path, ray_cluster):
    write_rows(tmp_path / "predictions.jsonl", map_rows())
    assert run_map(tiny_bundle, [tmp_path / "predictions.jsonl"], tmp_path / "out", "--threshold", "0.97",
                   "--engine", "ray", "--workers", "2", "--cpus-per-worker", "0.5") == 0

    def assignments(folder):
        return [(r["id"], r["theme"]) for r in map(json.loads, (folder / "assignments.jsonl").read_text("utf-8").splitlines())]

    assert assignments(tmp_path / "out") == assignments(mapped)
