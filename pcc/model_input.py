"""How a sentence is presented to the encoder; shared by training, export and serving."""
from __future__ import annotations

HEADING_SEPARATOR = " > "


def heading_context(heading_path: list[str] | None) -> str | None:
    """The second segment of the model input: the section headings around the sentence, or None."""
    if not heading_path:
        return None
    return HEADING_SEPARATOR.join(heading_path)
