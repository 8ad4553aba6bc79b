"""Section-heading rules: a heading announces what its section does, and its sentences do that job.

Inside a section the innermost heading with a class keyword decides (guideline rule 2: the section, not the
connective, decides between problem and cause).
"""
from __future__ import annotations

from training.labeling.candidates import Candidate
from training.labeling.context import section_class
from training.labeling.heading_vocabulary import describes_the_paper, heading_class
from training.labeling.lf import ABSTAIN, labeling_function


def _in_section(candidate: Candidate, label: str) -> str | int:
    if candidate.is_heading or candidate.is_title or describes_the_paper(candidate.text):
        return ABSTAIN
    return label if section_class(candidate) == label else ABSTAIN


@labeling_function()
def section_problem(c: Candidate):
    """A sentence under a 问题/现状/挑战/表现 heading states a problem."""
    return _in_section(c, "problem")


@labeling_function()
def section_cause(c: Candidate):
    """A sentence under a 原因/因素/成因/根源/制约 heading gives a cause."""
    return _in_section(c, "cause")


@labeling_function()
def section_countermeasure(c: Candidate):
    """A sentence under a 对策/措施/建议/途径/方法/如何 heading proposes a countermeasure."""
    return _in_section(c, "countermeasure")


@labeling_function()
def section_other(c: Candidate):
    """A sentence under a 意义/内涵/特点/背景/必要性/结语 heading is background, not argument."""
    return _in_section(c, "other")


@labeling_function()
def heading_announces(c: Candidate):
    """A heading carries the class its own keyword announces (原因 → cause, 对策 → countermeasure); a shortfall
    named in a sub-heading of a causes section is a cause."""
    if not c.is_heading or c.is_title:
        return ABSTAIN
    own = heading_class(c.body)
    if own == "problem" and section_class(c) == "cause":
        return "cause"  # `……的原因 > 1. 基层资源不足`: the shortfall is named as a cause (rule 2)
    return own or ABSTAIN


@labeling_function()
def heading_inherits_section(c: Candidate):
    """A sub-heading without a keyword ("（一）重管理轻服务") carries its section's class."""
    if not c.is_heading or c.is_title or heading_class(c.body) is not None:
        return ABSTAIN
    return section_class(c) or ABSTAIN

