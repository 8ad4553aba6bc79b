"""The rule set `pcc label` applies, in order: one place to add, drop or reorder a labeling function.

Structure first (headings, lists, titles), then cue phrases, then sentence form; the order is the column
order of the vote matrix and of the report.
"""
from __future__ import annotations

from training.labeling.lf import LabelingFunction
from training.labeling.lf_cues import cause_connective, negative_state, positive_state, proposal, worsening
from training.labeling.lf_form import (action_opening, copula_description, definition, good_practice, imperative,
                                       meta_text, metadata, only_then, significance, statistic)
from training.labeling.lf_headings import (heading_announces, heading_inherits_section, section_cause,
                                           section_countermeasure, section_other, section_problem)
from training.labeling.lf_structure import (announced_list_item, announced_paragraph, enumerated_item_in_section,
                                            outside_sections, paper_title)

RULES: tuple[LabelingFunction, ...] = (
    section_problem, section_cause, section_countermeasure, section_other, heading_announces,
    heading_inherits_section,
    enumerated_item_in_section, announced_list_item, announced_paragraph, paper_title, outside_sections,
    negative_state, worsening, cause_connective, proposal, positive_state,
    imperative, action_opening, only_then, definition, statistic, metadata, significance, meta_text, good_practice,
    copula_description,
)

