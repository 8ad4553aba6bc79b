"""Section-heading rules: a heading announces what its section does, and its sentences do that job.

Inside a section the innermost heading with a class keyword decides (guideline rule 2: the section, not the
connective, decides between problem and cause).
"""
from __future__ import annotations

from pcc.records import without_space
from training.labeling.candidates import Candidate
from training.labeling.lf import ABSTAIN, labeling_function
from training.labeling.sections import ENUMERATOR, heading_class, prescribes_action

def section_class(candidate: Candidate) -> str | None:
    """The class of the innermost enclosing heading that announces one, by its keyword or by the list it
    is an item of ("具有以下必要性：1.…" → other); failing that, countermeasure when a heading opens with an
    action verb ("一、加强队伍建设"). The paper title never counts."""
    title = without_space(candidate.sentence.paper_title)
    own = without_space(candidate.text)
    path = candidate.heading_path or ([candidate.run_in_section] if candidate.run_in_section else [])
    headings = [h for h in path if without_space(h) not in (title, own)]
    for heading in reversed(headings):
        label = heading_class(heading)
        announced = candidate.heading_announcements.get(without_space(heading).rstrip("。"))
        if label is None and announced is not None:
            label = heading_class(announced)
        if label is not None:
            return label
    if any(prescribes_action(ENUMERATOR.sub("", h, count=1)) for h in headings):
        return "countermeasure"
    return None


def context_class(candidate: Candidate) -> str | None:
    """The job the sentence's surroundings assign: its list's announcement ("以下几点原因：") or its section."""
    if candidate.list_announcement:
        announced = heading_class(candidate.list_announcement)
        if announced is not None:
            return announced
    return section_class(candidate)


def _in_section(candidate: Candidate, label: str) -> str | None:
    if candidate.is_heading or candidate.is_title:
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
    """A heading carries the class its own keyword announces (原因 → cause, 对策 → countermeasure)."""
    if not c.is_heading or c.is_title:
        return ABSTAIN
    return heading_class(c.body)


@labeling_function()
def heading_inherits_section(c: Candidate):
    """A sub-heading without a keyword ("（一）重管理轻服务") carries its section's class."""
    if not c.is_heading or c.is_title or heading_class(c.body) is not None:
        return ABSTAIN
    return section_class(c)

