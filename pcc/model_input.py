"""How a sentence is presented to the encoder; shared by training, export and serving."""
from __future__ import annotations

from pcc.records import Sentence

HEADING_SEPARATOR = " > "
# Alone, a title such as "…问题及对策" reads like a section heading that announces its class; guideline
# rule 3 makes every title `other`, so the model is told which sentence is the title.
TITLE_CONTEXT = "论文标题"


def heading_context(heading_path: list[str] | None) -> str | None:
    """The second segment of the model input for a sentence under these headings, or None."""
    if not heading_path:
        return None
    return HEADING_SEPARATOR.join(heading_path)


def given_heading_path(value) -> list[str] | None:
    """A heading path as a file or a request gives it, outermost first: a list of headings, one heading, or
    nothing (no headings); None when it is none of these."""
    if value in (None, "", []):
        return []
    headings = [value] if isinstance(value, str) else value
    if not isinstance(headings, list) or not all(isinstance(h, str) and h.strip() for h in headings):
        return None
    return [h.strip() for h in headings]


def sentence_context(sentence: Sentence) -> str | None:
    """The second segment of the model input for a sentence of a paper: the title marker, or its headings."""
    return TITLE_CONTEXT if sentence.is_title else heading_context(sentence.heading_path)


# The two ways a sentence is shown to the model, scored separately in training and evaluation: with its context
# as the second segment, and bare (as a caller without headings sends it).
WITH_CONTEXT, BARE = "heading", "bare"
VIEWS = (WITH_CONTEXT, BARE)
