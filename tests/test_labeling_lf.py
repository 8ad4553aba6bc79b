from pathlib import Path

import pytest

from pcc.records import Sentence
from training.labeling.candidates import build_candidates
from training.labeling.lf import ABSTAIN, labeling_function
from training.labeling.rules import RULES


def candidate(text, title="某论文标题", index=5):
    return build_candidates([Sentence("p#01", title, index, text)])[0]


def test_the_rule_set_has_unique_names_and_intuitions_of_every_kind():
    lfs = RULES
    names = [lf.name for lf in lfs]
    assert len(names) == len(set(names)) >= 20
    assert all(lf.intuition and "\n" not in lf.intuition for lf in lfs)
    for expected in ("section_cause", "heading_announces", "enumerated_item_in_section", "imperative",
                     "definition", "metadata", "negative_state", "paper_title"):
        assert expected in names


def test_a_rule_returning_something_other_than_a_label_is_an_error():
    @labeling_function(name="test_bad_vote")
    def bad(c):
        """Returns a label that does not exist."""
        return "solution"

    with pytest.raises(ValueError, match="test_bad_vote"):
        bad(candidate("任何一句话。"))


def test_a_rule_without_docstring_is_refused():
    with pytest.raises(ValueError, match="docstring"):
        @labeling_function(name="test_no_doc")
        def undocumented(c):
            return ABSTAIN


def test_rules_abstain_on_the_paper_title_except_title_rules():
    @labeling_function(name="test_always_problem")
    def always_problem(c):
        """Votes problem on everything."""
        return "problem"

    @labeling_function(name="test_title_aware", skips_titles=False)
    def title_aware(c):
        """Votes other on everything, titles included."""
        return "other"

    title = build_candidates([Sentence("p#01", "当前警民关系存在的问题及对策", 0, "当前警民关系存在的问题及对策", is_heading=True)])[0]
    assert always_problem(title) == ABSTAIN
    assert title_aware(title) == "other"
    assert always_problem(candidate("群众的信任度下降。")) == "problem"
    assert "test_always_problem" not in [lf.name for lf in RULES]  # decorating alone adds no rule


def test_the_core_knows_no_rules():
    import training.labeling.lf as core

    source = Path(core.__file__).read_text(encoding="utf-8")
    assert "lf_" not in source.replace("lf_name", "") and "rules" not in source.split('"""', 2)[2]
