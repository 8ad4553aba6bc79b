import json

import numpy as np
import pytest

from pcc.errors import UserError
from pcc.model_card import HEADINGS, HEADINGS_AND_LEAD, ModelCard, read_model_card, write_model_card
from pcc.records import LABELS


def test_a_directory_without_a_card_gets_the_defaults_unless_the_card_is_required(tmp_path):
    assert read_model_card(tmp_path) == ModelCard()
    assert ModelCard().labels == list(LABELS) and ModelCard().temperature == 1.0 and ModelCard().context == HEADINGS
    with pytest.raises(UserError, match="pcc train"):
        read_model_card(tmp_path, required=True)


def test_a_card_overrides_the_defaults_and_a_broken_one_is_named(tmp_path):
    (tmp_path / "pcc_model.json").write_text(json.dumps({"labels": list(LABELS), "max_length": 64, "use_heading": False,
                                                         "written_by": "a later version"}))
    card = read_model_card(tmp_path)
    assert (card.max_length, card.use_heading, card.temperature) == (64, False, 1.0)
    (tmp_path / "pcc_model.json").write_text("{oops")
    with pytest.raises(UserError, match="pcc_model.json"):
        read_model_card(tmp_path)
    (tmp_path / "pcc_model.json").write_text(json.dumps({"context": "heading+paragraph"}))
    with pytest.raises(UserError, match=r"pcc_model.json: field 'context' is 'heading\+paragraph'"):
        read_model_card(tmp_path)


def test_a_written_card_reads_back_whole(tmp_path):
    card = ModelCard(max_length=96, context=HEADINGS_AND_LEAD, seed=7, epochs=3, temperature=0.5,
                     folds={"p#01": 0}, trained_papers=["p#01"], teacher="models/run-1", teacher_layers=[1, 3])
    write_model_card(tmp_path, card)
    assert read_model_card(tmp_path, required=True) == card


def test_only_a_model_that_reads_headings_reads_leads():
    assert ModelCard(context=HEADINGS_AND_LEAD).reads_leads
    assert not ModelCard(context=HEADINGS).reads_leads
    assert not ModelCard(use_heading=False, context=HEADINGS_AND_LEAD).reads_leads


def test_bare_offsets_shift_the_probabilities_of_sentences_given_alone_and_read_back(tmp_path):
    probabilities = np.array([[0.6, 0.2, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]], dtype=np.float32)
    assert ModelCard().given_bare(probabilities) is probabilities  # a card without offsets changes nothing
    card = ModelCard(bare_offsets={"problem": -np.log(2), "cause": np.log(2)})
    shifted = card.given_bare(probabilities)
    assert shifted.dtype == probabilities.dtype and np.allclose(shifted.sum(axis=1), 1.0)
    # exp(offset) multiplies each probability, then the row is normalised again
    assert np.allclose(shifted[0], np.array([0.3, 0.4, 0.1, 0.1]) / 0.9, atol=1e-6)
    assert shifted[1, 1] > shifted[1, 2] == shifted[1, 3] > shifted[1, 0]
    card = ModelCard(bare_offsets={"problem": -0.5, "cause": 0.75, "countermeasure": -0.1, "other": -0.15})
    write_model_card(tmp_path, card)
    assert read_model_card(tmp_path).bare_offsets == card.bare_offsets


@pytest.mark.parametrize("offsets", [{"causes": 0.7}, {"cause": "0.7"}, {"cause": float("nan")}, {"cause": True},
                                     [0.7, 0.0]])
def test_bad_bare_offsets_are_named(tmp_path, offsets):
    (tmp_path / "pcc_model.json").write_text(json.dumps({"bare_offsets": offsets}))
    with pytest.raises(UserError, match="pcc_model.json: field 'bare_offsets' must map labels"):
        read_model_card(tmp_path)


def test_the_lead_free_view_is_mixed_in_by_its_weight_and_a_bad_weight_is_named(tmp_path):
    with_lead = np.array([[0.7, 0.1, 0.1, 0.1]])
    without_lead = np.array([[0.1, 0.7, 0.1, 0.1]])
    assert np.allclose(ModelCard().with_lead_free_view(with_lead, without_lead), with_lead)  # weight 0: the lead alone
    even = ModelCard(lead_free_weight=0.5).with_lead_free_view(with_lead, without_lead)
    assert np.allclose(even, np.array([[0.265, 0.265, 0.1, 0.1]]) / 0.73, atol=1e-3)
    leaning = ModelCard(lead_free_weight=0.25).with_lead_free_view(with_lead, without_lead)
    assert leaning[0, 0] > leaning[0, 1] and np.isclose(leaning.sum(), 1.0)
    for weight in (1.0, -0.1, "0.5", True):
        (tmp_path / "pcc_model.json").write_text(json.dumps({"lead_free_weight": weight}))
        with pytest.raises(UserError, match="pcc_model.json: field 'lead_free_weight' must be a number from 0"):
            read_model_card(tmp_path)
