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


def sentence_context(sentence: Sentence) -> str | None:
    """The second segment of the model input for a sentence of a paper: the title marker, or its headings."""
    return TITLE_CONTEXT if sentence.is_title else heading_context(sentence.heading_path)
