import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pcc.bundle import choose_precision
from pcc.documents import prepare_text
from pcc.errors import UserError
from pcc.model_card import HEADINGS_AND_LEAD
from pcc.model_input import TITLE_CONTEXT, ModelInput, heading_context, model_inputs
from pcc.records import LABELS
from serving.classifier import PaperAnalysis, SentenceClassifier, length_batches
from tests.conftest import REPO

SENTENCES = ["警民关系紧张是当前面临的突出问题。", "原因在于部分民警执法不规范", "要加强队伍建设，提高执法公信力。", "一"]


@pytest.fixture(scope="module")
def classifier(tiny_bundle):
    return SentenceClassifier(tiny_bundle, device="cpu", precision="fp32", batch_size=2)


def test_importing_the_classifier_loads_neither_torch_nor_transformers():
    code = (
        "import sys, serving.classifier; "
        "print(sorted(m for m in ('torch', 'transformers', 'training') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_predictions_are_probability_distributions_over_the_labels(classifier):
    predictions = classifier.classify(SENTENCES)
    assert classifier.labels == LABELS
    assert classifier.providers == ["CPUExecutionProvider"]
    assert len(predictions) == len(SENTENCES)
    for prediction in predictions:
        assert list(prediction.scores) == list(LABELS)
        assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction.label == max(prediction.scores, key=prediction.scores.get)
        assert prediction.confidence == prediction.scores[prediction.label]


def test_batching_by_length_keeps_the_input_order(tiny_bundle, classifier):
    one_by_one = SentenceClassifier(tiny_bundle, device="cpu", precision="fp32", batch_size=1)
    expected = [one_by_one.classify([s])[0].scores for s in SENTENCES]
    mixed = classifier.classify(SENTENCES[::-1])[::-1]
    for prediction, scores in zip(mixed, expected):
        assert np.allclose(list(prediction.scores.values()), list(scores.values()), atol=1e-5)
    assert classifier.classify([]) == []


def test_length_batches_cut_where_padding_would_cost_more_than_a_run():
    lengths = [40, 6, 5, 41, 7, 39]
    batches = length_batches(lengths, 32, overhead=16)
    # Padding the three short sentences to 41 tokens would waste 3 x 35 tokens, far more than one more run.
    assert batches == [[2, 1, 4], [5, 0, 3]]
    assert length_batches(lengths, 32, overhead=1000) == [[2, 1, 4, 5, 0, 3]]  # runs dear: one batch
    # Never more than the batch size; equal lengths are cut as plain batches would be.
    assert length_batches([9] * 70, 32) == [list(range(0, 32)), list(range(32, 64)), list(range(64, 70))]
    assert length_batches([], 32) == []


def test_the_context_is_part_of_the_input(classifier):
    plain = classifier.classify(SENTENCES[:1])[0].scores
    headed = classifier.classify(SENTENCES[:1], [heading_context(["一、存在的问题"])])[0].scores
    assert not np.allclose(list(plain.values()), list(headed.values()), atol=1e-6)
    assert classifier.classify(SENTENCES[:1], [None])[0].scores == pytest.approx(plain, abs=1e-6)
    with pytest.raises(ValueError, match="2 sentences but 1 contexts"):
        classifier.classify(SENTENCES[:2], [None])


def changed_bundle(tiny_bundle, folder, **fields):
    """A copy of the tiny bundle with these bundle.json fields."""
    bundle = folder / "changed"
    shutil.copytree(tiny_bundle, bundle)
    values = json.loads((bundle / "bundle.json").read_text("utf-8"))
    (bundle / "bundle.json").write_text(json.dumps({**values, **fields}), "utf-8")
    return bundle


def scores(predictions):
    return np.array([list(p.scores.values()) for p in predictions])


def test_only_sentences_given_alone_and_read_bare_get_the_bundles_offsets(tiny_bundle, classifier, tmp_path):
    shifted = SentenceClassifier(changed_bundle(tiny_bundle, tmp_path, bare_offsets={"countermeasure": 30.0}),
                                 device="cpu", precision="fp32")
    texts, contexts = SENTENCES[:3], [None, heading_context(["一、存在的问题"]), None]
    inputs = [ModelInput(text, context, None, context) for text, context in zip(texts, contexts)]
    plain = classifier.classify(texts, contexts)
    alone = shifted.classify_inputs(inputs, given_alone=True)
    assert [p.label for p in alone] == ["countermeasure", plain[1].label, "countermeasure"]
    assert alone[1].scores == pytest.approx(plain[1].scores, abs=1e-6)
    # Not given alone (a paper's sentence whose context is empty, a caller's own inputs): as the model reads it.
    assert np.allclose(scores(shifted.classify_inputs(inputs)), scores(plain), atol=1e-6)
    assert np.allclose(scores(shifted.classify(texts, contexts)), scores(plain), atol=1e-6)
    prepared = prepare_text("警民关系紧张是当前面临的突出问题。执法不规范，群众不满意。")
    assert np.allclose(scores(item.prediction for item in shifted.classify_paper(prepared).sentences),
                       scores(item.prediction for item in classifier.classify_paper(prepared).sentences), atol=1e-6)


def test_a_sentence_with_a_lead_is_read_with_and_without_it_as_the_card_mixes_them(tiny_bundle, tmp_path):
    mixing = SentenceClassifier(changed_bundle(tiny_bundle, tmp_path, context=HEADINGS_AND_LEAD, lead_free_weight=0.5),
                                device="cpu", precision="fp32", batch_size=2)
    heading = heading_context(["二、原因分析"])
    led = ModelInput(SENTENCES[1], heading_context(["二、原因分析"], "其原因主要有以下几点："), "其原因主要有以下几点：", heading)
    unled = ModelInput(SENTENCES[2], heading, None, heading)
    with_lead, without_lead, alone = scores(mixing.classify([led.text, led.text, unled.text],
                                                            [led.context, heading, heading]))
    expected = np.sqrt(with_lead * without_lead)
    expected /= expected.sum()
    got = scores(mixing.classify_inputs([led, unled]))
    # (the tiny model's readings differ little, so the mix is checked against how far apart they are)
    apart = np.abs(with_lead - without_lead).max()
    assert apart > 1e-5 and np.abs(got[0] - expected).max() < 0.01 * apart
    assert np.allclose(got[1], alone, atol=1e-6)
    # A paper's sentences are read the same way: the one after its neighbour with its lead and without.
    prepared = prepare_text("二、原因分析\n警力长期不足。经费保障不到位。")
    items = model_inputs(mixing.card, prepared.sentences)
    assert items[-1].lead and items[-1].read_twice
    assert items[-1].context_without_lead == heading_context(prepared.sentences[-1].heading_path)
    assert np.allclose(scores(item.prediction for item in mixing.classify_paper(prepared).sentences),
                       scores(mixing.classify_inputs(items)), atol=1e-6)


def test_a_papers_title_is_classified_with_the_title_marker(classifier):
    prepared = prepare_text("当前警民关系存在的问题及对策\n一、存在的问题\n警力不足。")
    title, heading, sentence = prepared.sentences
    assert title.is_title and not heading.is_title
    analysis = classifier.classify_paper(prepared)
    expected = classifier.classify([s.text for s in prepared.sentences],
                                   [TITLE_CONTEXT, None, heading_context(["一、存在的问题"])])
    assert [item.prediction for item in analysis.sentences] == expected


def test_without_a_precision_the_classifier_takes_the_bundles_default(tiny_bundle):
    assert SentenceClassifier(tiny_bundle, device="cpu").precision == choose_precision(tiny_bundle, None) == "int8"


def test_int8_model_runs_and_mostly_agrees_with_fp32(tiny_bundle, classifier):
    int8 = SentenceClassifier(tiny_bundle, device="cpu", precision="int8")
    texts = [json.loads(line)["text"] for line in (REPO / "data" / "gold" / "dev.jsonl").open(encoding="utf-8")]
    agree = [a.label == b.label for a, b in zip(int8.classify(texts), classifier.classify(texts))]
    assert np.mean(agree) >= 0.9


def test_classify_paper_skips_garbled_sentences_and_summarises_by_label(classifier):
    prepared = prepare_text("一、存在的问题\n警民关系紧张是当前面临的突出问题。执法不规范，群众不满意。\n二、对策\n要加强队伍建设。")
    prepared.sentences[1].quality = "garbled"
    analysis = classifier.classify_paper(prepared)
    assert isinstance(analysis, PaperAnalysis)
    assert [item.sentence for item in analysis.sentences] == prepared.sentences
    assert analysis.sentences[1].prediction is None
    assert all(item.prediction is not None for i, item in enumerate(analysis.sentences) if i != 1)
    summary = analysis.summary()
    assert list(summary) == list(LABELS)
    assert sorted(t for texts in summary.values() for t in texts) == sorted(
        s.text for i, s in enumerate(prepared.sentences) if i != 1)


def test_classify_papers_matches_one_paper_at_a_time(classifier):
    papers = [prepare_text("警民关系紧张。原因是沟通不畅。", paper_id="a"), prepare_text("要加强沟通。", paper_id="b")]
    together = classifier.classify_papers(papers)
    assert [a.paper.paper_id for a in together] == ["a", "b"]
    for analysis, prepared in zip(together, papers):
        alone = classifier.classify_paper(prepared)
        assert [i.prediction.label for i in analysis.sentences] == [i.prediction.label for i in alone.sentences]
        for mine, reference in zip(analysis.sentences, alone.sentences):
            assert mine.prediction.scores == pytest.approx(reference.prediction.scores, abs=1e-5)


def test_analyze_segments_and_classifies_text(classifier):
    analysis = classifier.analyze("警民关系紧张。原因是沟通不畅。要加强沟通。", title="警民关系研究")
    assert analysis.paper.title == "警民关系研究"
    assert [item.sentence.text for item in analysis.sentences][-1] == "要加强沟通。"
    assert all(item.prediction.label in LABELS for item in analysis.sentences)


def test_missing_or_broken_bundle_says_to_run_pcc_export(tmp_path, tiny_bundle):
    with pytest.raises(UserError, match=r"nowhere.*pcc export"):
        SentenceClassifier(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    (broken / "bundle.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match=r"bundle\.json.*pcc export"):
        SentenceClassifier(broken)
    (broken / "bundle.json").unlink()
    with pytest.raises(UserError, match=r"bundle\.json: missing"):
        SentenceClassifier(broken)


def test_cuda_without_gpu_runtime_asks_for_onnxruntime_gpu(tiny_bundle):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(UserError, match="onnxruntime-gpu"):
        SentenceClassifier(tiny_bundle, device="cuda")
    with pytest.raises(UserError, match="precision"):
        SentenceClassifier(tiny_bundle, precision="fp16")
