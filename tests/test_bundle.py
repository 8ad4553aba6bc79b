import json
import shutil

import pytest

from pcc.bundle import CALIBRATED, DYNAMIC, Bundle, choose_precision, default_bundle_dir, read_bundle, write_bundle
from pcc.errors import UserError
from pcc.model_card import HEADINGS, HEADINGS_AND_LEAD, ModelCard
from pcc.records import LABELS


@pytest.fixture
def bundle_dir(tiny_bundle, tmp_path):
    copied = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copied)
    return copied


def rewrite(bundle_dir, change):
    values = json.loads((bundle_dir / "bundle.json").read_text(encoding="utf-8"))
    change(values)
    (bundle_dir / "bundle.json").write_text(json.dumps(values), encoding="utf-8")


def test_an_exported_bundle_reads_back_as_it_was_written(bundle_dir):
    bundle = read_bundle(bundle_dir)
    assert bundle.card.labels == list(LABELS) and bundle.card.max_length == 128 and bundle.card.use_heading
    assert bundle.int8_scheme == CALIBRATED and bundle.checks["int8_options"]["scheme"] == CALIBRATED
    written = json.loads((bundle_dir / "bundle.json").read_text(encoding="utf-8"))
    assert bundle.to_json() == written and list(bundle.to_json()) == list(written)  # fields in the same order
    changed = Bundle(ModelCard(max_length=64, context=HEADINGS_AND_LEAD, base_model="models/base",
                               lead_free_weight=0.5, bare_offsets={"problem": -0.4, "cause": 0.7}), 7,
                     source_model="/models/run-1", opset=18, exported_at="2026-01-01T00:00:00+00:00",
                     checks={"int8_passed": True}, int8_scheme=CALIBRATED)
    write_bundle(bundle_dir, changed)
    again = read_bundle(bundle_dir)
    assert again == changed and again.source_run == "run-1" and again.int8_passed


def test_a_bundle_from_before_document_context_and_calibrated_int8_reads_with_their_defaults(bundle_dir):
    rewrite(bundle_dir, lambda values: [values.pop(name) for name in ("context", "int8_scheme", "checks",
                                                                      "bare_offsets", "lead_free_weight")])
    bundle = read_bundle(bundle_dir)
    assert bundle.card.context == HEADINGS and bundle.int8_scheme == DYNAMIC and not bundle.int8_passed
    assert bundle.card.bare_offsets == {} and bundle.card.lead_free_weight == 0.0
    assert bundle.batch_independent("fp32") and not bundle.batch_independent("int8")
    assert choose_precision(bundle_dir, None) == "fp32"


@pytest.mark.parametrize("scheme, passed, expected", [("calibrated", True, "int8"), ("calibrated", False, "fp32"),
                                                      ("dynamic", True, "fp32"), (None, True, "fp32")])
def test_default_precision_is_int8_only_when_calibrated_and_checked(bundle_dir, scheme, passed, expected):
    def change(values):
        values.pop("int8_scheme", None)
        values.update({"int8_scheme": scheme} if scheme else {})
        values["checks"]["int8_passed"] = passed

    rewrite(bundle_dir, change)
    assert choose_precision(bundle_dir, None) == expected
    assert choose_precision(bundle_dir, "fp32") == "fp32"


def test_without_its_int8_model_a_bundle_runs_fp32_only(bundle_dir):
    (bundle_dir / "model.int8.onnx").unlink()
    assert choose_precision(bundle_dir, None) == "fp32"
    with pytest.raises(UserError, match=r"model\.int8\.onnx: missing, the bundle is incomplete; run `pcc export`"):
        read_bundle(bundle_dir, "int8")


@pytest.mark.parametrize("change, message", [
    (lambda values: values.pop("pad_token_id"), r"bundle\.json: missing field\(s\) pad_token_id"),
    (lambda values: values.update(max_length="128"), r"bundle\.json: field 'max_length' must be a whole number"),
    (lambda values: values.update(labels="problem"), r"bundle\.json: field 'labels' must be a list of labels"),
    (lambda values: values.update(context="paragraph"), r"bundle\.json: field 'context' is 'paragraph'"),
    (lambda values: values.update(int8_scheme="static"), r"bundle\.json: field 'int8_scheme' is 'static'"),
    (lambda values: values.update(bare_offsets={"reason": 1.0}), r"bundle\.json: field 'bare_offsets' must map"),
])
def test_a_bundle_json_that_cannot_be_run_is_named_with_its_field(bundle_dir, change, message):
    rewrite(bundle_dir, change)
    with pytest.raises(UserError, match=message):
        read_bundle(bundle_dir)


def test_a_missing_or_broken_bundle_says_to_run_pcc_export(bundle_dir, tmp_path):
    with pytest.raises(UserError, match=r"nowhere: no ONNX bundle here; run `pcc export`"):
        read_bundle(tmp_path / "nowhere")
    (bundle_dir / "bundle.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(UserError, match=r"bundle\.json: missing field\(s\) labels, max_length"):
        read_bundle(bundle_dir)
    with pytest.raises(UserError, match="precision 'fp16': choose one of fp32, int8"):
        read_bundle(bundle_dir, "fp16")


def test_default_bundle_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("PCC_BUNDLE", raising=False)
    assert default_bundle_dir().as_posix() == "models/latest/onnx"
    monkeypatch.setenv("PCC_BUNDLE", str(tmp_path))
    assert default_bundle_dir() == tmp_path
