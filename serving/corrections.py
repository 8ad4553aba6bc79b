"""Corrections made in the web page, kept by the service (`POST /corrections`) when a folder is configured
($PCC_CORRECTIONS_DIR, `pcc serve --corrections-dir`).

Every corrected sentence becomes one JSON line of `corrections.jsonl` in that folder, appended and never
rewritten. A line is a gold row (`text`, `label`, `paper`, `heading`, `lead`), so the file goes as it is to
`pcc train --human-labels` and `pcc evaluate --gold`; it also holds `previous_label` (the model's, or an earlier
correction), the `model` that was serving and the UTC `time`. A request's lines go in with one write to a file
opened for appending, under an exclusive lock (fcntl.flock, which every worker process honours): writers at the
same time lose nothing and never interleave.
"""
from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CORRECTIONS_FILE = "corrections.jsonl"
MAX_CORRECTIONS = 5_000  # per request: more than the sentences of a long paper
# A sentence `/analyze` returns may be as long as the paper it read (a text without sentence ends): it can be
# corrected too.
MAX_TEXT_CHARS = 200_000
MAX_HEADING_CHARS = 500
MAX_HEADING_DEPTH = 8

Label = Literal["problem", "cause", "countermeasure", "other"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)]
Heading = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_HEADING_CHARS)]


class CorrectionIn(BaseModel):
    """One sentence and the label a person gave it."""
    model_config = ConfigDict(extra="forbid")
    text: Text
    heading_path: Annotated[list[Heading], Field(max_length=MAX_HEADING_DEPTH)] = []
    lead: Optional[Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT_CHARS)]] = None
    label: Label
    previous_label: Optional[Label] = None


class CorrectionsIn(BaseModel):
    """The corrections of one paper (`paper`: its id in the analysis, or the title a person gave it)."""
    model_config = ConfigDict(extra="forbid")
    paper: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_HEADING_CHARS)]
    corrections: Annotated[list[CorrectionIn], Field(min_length=1, max_length=MAX_CORRECTIONS)]


class CorrectionStore:
    """The append-only corrections file of a folder, and the model whose labels are being corrected."""

    def __init__(self, folder: str | Path, model: str, model_exported_at: str | None = None):
        self.path = Path(folder) / CORRECTIONS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model, self.model_exported_at = model, model_exported_at

    def append(self, request: CorrectionsIn) -> dict:
        """Append one line per correction; what was saved (count, file name, model, time)."""
        time = datetime.now(timezone.utc).isoformat(timespec="seconds")
        lines = "".join(json.dumps({
            "paper": request.paper, "text": item.text, "heading": item.heading_path, "lead": item.lead or None,
            "label": item.label,
            "previous_label": item.previous_label, "model": self.model, "model_exported_at": self.model_exported_at,
            "time": time,
        }, ensure_ascii=False) + "\n" for item in request.corrections).encode("utf-8")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            written = 0
            while written < len(lines):  # one write as a rule; a partial one goes on where it stopped
                written += os.write(descriptor, lines[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # and with it the lock
        return {"saved": len(request.corrections), "file": self.path.name, "model": self.model, "time": time}
