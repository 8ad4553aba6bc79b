"""The corrections file: one gold row per corrected sentence, appended by concurrent writers without loss.
(Over HTTP, through the real service: tests/test_service.py.)"""
import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError

from serving.corrections import CorrectionsIn, CorrectionStore
from training.gold import read_gold

WRITERS, THREADS, REQUESTS = 3, 4, 10


def request(writer: int, number: int) -> CorrectionsIn:
    return CorrectionsIn(paper=f"paper-{writer}", corrections=[
        {"text": f"第{writer}号写者的第{number}个请求的第{k}句话。", "heading_path": ["一、问题"], "label": "cause",
         "previous_label": "problem", **({"lead": "主要原因如下："} if k == 1 else {})} for k in range(3)])


def write_many(folder: str, writer: int) -> None:
    """One process: several threads, each appending its requests."""
    store = CorrectionStore(folder, model="run-1")
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda number: store.append(request(writer, number)), range(REQUESTS)))


def test_concurrent_processes_and_threads_lose_no_line(tmp_path):
    context = multiprocessing.get_context("spawn")  # like separate worker processes of the service
    processes = [context.Process(target=write_many, args=(str(tmp_path), writer)) for writer in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    lines = (tmp_path / "corrections.jsonl").read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines]  # every line whole
    expected = {f"第{w}号写者的第{n}个请求的第{k}句话。" for w in range(WRITERS) for n in range(REQUESTS) for k in range(3)}
    assert sorted(row["text"] for row in rows) == sorted(expected)  # each exactly once
    # A request's lines stay together.
    for start in range(0, len(rows), 3):
        assert len({row["text"].rsplit("的第", 1)[0] for row in rows[start:start + 3]}) == 1
    assert rows[0]["model"] == "run-1" and rows[0]["previous_label"] == "problem" and rows[0]["time"].endswith("+00:00")
    # The file is a gold file as it is.
    gold = read_gold(tmp_path / "corrections.jsonl")
    assert gold[0]["heading"] == ["一、问题"] and gold[0]["label"] == "cause"
    # with what the model read before each sentence (none before the first), for training on it
    assert [row["lead"] for row in gold[:3]] == [None, "主要原因如下：", None]


@pytest.mark.parametrize("body, where", [
    ({"corrections": [{"text": "句子。", "label": "cause"}]}, ("paper",)),
    ({"paper": "p", "corrections": []}, ("corrections",)),
    ({"paper": "p", "corrections": [{"text": "  ", "label": "cause"}]}, ("corrections", 0, "text")),
    ({"paper": "p", "corrections": [{"text": "句子。", "label": "问题"}]}, ("corrections", 0, "label")),
    ({"paper": "p", "corrections": [{"text": "句子。", "label": "cause", "heading": "一、问题"}]},
     ("corrections", 0, "heading")),
    ({"paper": "p", "corrections": [{"text": "句子。", "label": "cause", "heading_path": ["h"] * 9}]},
     ("corrections", 0, "heading_path")),
])
def test_bad_corrections_name_the_field(body, where):
    with pytest.raises(ValidationError) as error:
        CorrectionsIn.model_validate(body)
    assert tuple(error.value.errors()[0]["loc"]) == where
