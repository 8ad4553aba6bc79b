"""What a sentence's surroundings say its job is: the class its section's headings announce, or the list
announcement it is an item of. Shared by the rules that let the section decide (guideline rule 2)."""
from __future__ import annotations

from pcc.records import without_space
from training.labeling.candidates import Candidate
from training.labeling.heading_vocabulary import ENUMERATOR, heading_class, prescribes_action


def section_class(candidate: Candidate) -> str | None:
    """The class of the innermost enclosing heading that announces one, by its keyword or by the list it
    is an item of ("具有以下必要性：1.…" → other); failing that, countermeasure when a heading opens with an
    action verb ("一、加强队伍建设"). The paper title never counts."""
    title = without_space(candidate.sentence.paper_title)
    own = without_space(candidate.text)
    path = candidate.heading_path or ([candidate.run_in_section] if candidate.run_in_section else [])
    headings = [h for h in path if without_space(h) not in (title, own)]
    labels = [_announced(candidate, heading) for heading in headings]
    for depth in range(len(labels) - 1, -1, -1):
        if labels[depth] == "problem" and "cause" in labels[:depth]:
            # `……的原因 > 1. 基层资源不足`: a sub-section of a causes section names its cause as a shortfall
            return "cause"
        if labels[depth] is not None:
            return labels[depth]
    if any(prescribes_action(ENUMERATOR.sub("", h, count=1)) for h in headings):
        return "countermeasure"
    return None


def _announced(candidate: Candidate, heading: str) -> str | None:
    """The class a heading announces by its keyword, or by the list it is an item of."""
    label = heading_class(heading)
    announced = candidate.heading_announcements.get(without_space(heading).rstrip("。"))
    return heading_class(announced) if label is None and announced is not None else label


def context_class(candidate: Candidate) -> str | None:
    """The job the sentence's surroundings assign: its list's announcement ("以下几点原因：") or its section."""
    if candidate.list_announcement:
        announced = heading_class(candidate.list_announcement)
        if announced is not None:
            return announced
    return section_class(candidate)
