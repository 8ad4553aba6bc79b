"""Structure rules: enumerated items inherit their section or their list's announcement; titles and
introductions are other."""
from __future__ import annotations

from training.labeling.candidates import Candidate
from training.labeling.context import section_class
from training.labeling.heading_vocabulary import announced_class
from training.labeling.lf import ABSTAIN, labeling_function


@labeling_function()
def enumerated_item_in_section(c: Candidate):
    """An enumerated item (一是… / （一）… / 1. …) inside a classed section carries the section's class."""
    if c.is_heading or c.enumerator is None:
        return ABSTAIN
    return section_class(c) or ABSTAIN


@labeling_function()
def announced_list_item(c: Candidate):
    """An item of a list announced by "原因有以下几点：" / "…如下：1." carries the announced class."""
    return (announced_class(c.list_announcement) if c.list_announcement else None) or ABSTAIN


@labeling_function()
def announced_paragraph(c: Candidate):
    """A sentence in a paragraph that opens by announcing a job ("这些短板的形成并非偶然。") does that job."""
    if c.is_heading or not c.paragraph_opening:
        return ABSTAIN
    return announced_class(c.paragraph_opening) or ABSTAIN


@labeling_function(skips_titles=False)
def paper_title(c: Candidate):
    """The paper's title (repeated, or with the first sentence run into it) is other, even if it names 对策."""
    return "other" if c.is_title else ABSTAIN


@labeling_function()
def outside_sections(c: Candidate):
    """Outside the sections of a paper that has headings (its introduction), a sentence is background."""
    if not c.paper_has_headings or c.is_heading or c.heading_path or c.run_in_section or c.enumerator is not None:
        return ABSTAIN
    return "other"
