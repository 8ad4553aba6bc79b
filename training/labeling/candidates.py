"""The view a labeling function sees: a sentence with its paper neighbours and enumeration marker."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from pcc.records import Sentence, without_space
from pcc.structure import list_announcements
from training.labeling.heading_vocabulary import ENUMERATOR, run_in_heading

# Largest gap between list positions that still counts as "next to each other" (a garbled line may sit between).
NEIGHBOUR_MAX_GAP = 2


@dataclass(frozen=True)
class Candidate:
    sentence: Sentence
    previous: Sentence | None  # the paper's preceding sentence, when it is close by
    next: Sentence | None
    # The sentence that announced the enumerated list this sentence is an item of ("…以下几点："), if any.
    list_announcement: str | None = None
    # Announcements of the paper's enumerated headings, by heading text without whitespace.
    heading_announcements: dict[str, str] = field(default_factory=dict)
    # Outside any detected section: the heading run into this or an earlier sentence ("背景随着…"), if any.
    run_in_section: str | None = None
    # False in a paper with no detected heading at all, whose argument is carried by the wording alone.
    paper_has_headings: bool = True
    # The first sentence of this sentence's paragraph, when this is not it: a paragraph often opens with what
    # the rest of it does ("这些短板的形成并非偶然。").
    paragraph_opening: str | None = None

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def heading_path(self) -> list[str]:
        return self.sentence.heading_path

    @property
    def is_heading(self) -> bool:
        return self.sentence.is_heading

    @cached_property
    def enumerator(self) -> str | None:
        """The enumeration marker the sentence opens with ("一、", "（二）", "2.", "三是"), if any."""
        match = ENUMERATOR.match(self.text)
        return match.group(0).strip() if match else None

    @cached_property
    def body(self) -> str:
        """The text without its enumeration marker and surrounding whitespace."""
        match = ENUMERATOR.match(self.text)
        return (self.text[match.end():] if match else self.text).strip()

    @property
    def is_title(self) -> bool:
        return self.sentence.is_title


def build_candidates(sentences: list[Sentence]) -> list[Candidate]:
    """One candidate per sentence, in the given order; neighbours come from the same paper by index."""
    by_paper: dict[str, list[int]] = {}
    for number, sentence in enumerate(sentences):
        by_paper.setdefault(sentence.paper_id, []).append(number)
    candidates: list[Candidate | None] = [None] * len(sentences)
    for numbers in by_paper.values():
        numbers.sort(key=lambda n: sentences[n].index)
        ordered = [sentences[n] for n in numbers]
        announcements = list_announcements(ordered)
        run_in_sections = _run_in_sections(ordered)
        heading_announcements = {without_space(s.text).rstrip("。"): a for s, a in zip(ordered, announcements)
                                 if s.is_heading and a is not None}
        has_headings = any((s.is_heading and not s.is_title) or s.heading_path for s in ordered)
        openings: dict[int, Sentence] = {}
        for sentence in ordered:
            openings.setdefault(sentence.paragraph, sentence)
        for position, number in enumerate(numbers):
            sentence = sentences[number]
            previous = ordered[position - 1] if position > 0 else None
            following = ordered[position + 1] if position + 1 < len(ordered) else None
            if previous is not None and sentence.index - previous.index > NEIGHBOUR_MAX_GAP:
                previous = None
            if following is not None and following.index - sentence.index > NEIGHBOUR_MAX_GAP:
                following = None
            opening = openings[sentence.paragraph]
            candidates[number] = Candidate(sentence, previous, following, announcements[position],
                                           heading_announcements, run_in_sections[position], has_headings,
                                           opening.text if sentence.paragraph and opening is not sentence else None)
    return candidates


def _run_in_sections(ordered: list[Sentence]) -> list[str | None]:
    """Per sentence of one paper: the latest run-in heading, for sentences outside any detected section.

    A detected heading or section ends it; the paper title never starts one.
    """
    title = without_space(ordered[0].paper_title) if ordered else ""
    current: str | None = None
    result: list[str | None] = []
    for sentence in ordered:
        if sentence.is_heading or sentence.heading_path:
            current = None
        elif not (title and without_space(sentence.text).startswith(title)):
            current = run_in_heading(sentence.text) or current
        result.append(current)
    return result
