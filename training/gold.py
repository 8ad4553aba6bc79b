"""Hand-labelled gold files: reading them (JSON Lines or CSV, English or Chinese labels, UTF-8 or GBK) and
placing each gold row at its sentence in the prepared corpus, so that it is scored in its paper's context
(`place_gold`, whose `inputs` are what a model reads of the gold sentences).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Iterator

from pcc.cleaning import cjk_count
from pcc.documents import prepare_lines
from pcc.errors import UserError
from pcc.model_card import ModelCard
from pcc.model_input import HEADING_SEPARATOR, ModelInput, given_heading_path, model_inputs
from pcc.records import (CHINESE_LABELS, LABELS, Sentence, label_named, normalise_text, read_input_text,
                         read_numbered_jsonl)

GOLD_PAPER_CODE = re.compile(r"D(\d+)")
REBUILT_PAPER = "rebuilt:"  # paper id prefix of a paper rebuilt from gold rows


@dataclass
class GoldSentence:
    sentence: Sentence  # the gold text, placed in its paper's context when found there
    label: str
    line: int  # line of the gold file, for messages and reports
    matched: bool  # True when found in its paper: the prepared corpus, or one rebuilt from the gold rows
    lead: str | None = None  # the row's `lead`: what the model read of the sentence before (None: it read none)
    gives_lead: bool = False  # whether the row has a `lead` field (the page, the service, `pcc review` write one)
    row_id: str | None = None  # the row's own `id`, where it gives one (to name a row without quoting its text)


def read_gold(path: str | Path, skip_unlabelled: bool = False) -> list[dict]:
    """Read a gold file (`text`, `label`, optional `paper`, `heading`, `lead`); a bad row names file:line and
    field.

    JSON Lines, or a `.csv` with those column names (as a spreadsheet saves it; headings of a path joined
    by " > ", as `pcc predict` writes them). `label` may also be given in Chinese (问题, 原因, 对策, 其他), as
    hand labellers of Chinese papers may write it. With `skip_unlabelled`, a row whose label is absent or
    blank (a sentence of a `pcc review` sheet nobody labelled yet) is left out instead of being an error.
    """
    rows = []
    records = _csv_records(Path(path)) if Path(path).suffix.lower() == ".csv" else read_numbered_jsonl(path)
    for number, row in records:
        where = f"{path}:{number}"
        if skip_unlabelled and (row.get("label") is None or row.get("label") == ""):
            continue
        text = row.get("text")
        if not isinstance(text, str) or not normalise_text(text):
            raise UserError(f"{where}: field 'text' must be a non-empty string")
        label = label_named(row.get("label"))
        if label is None:
            raise UserError(f"{where}: field 'label' is {row.get('label')!r}; expected one of {', '.join(LABELS)} "
                            f"(or {', '.join(CHINESE_LABELS.values())})")
        if given_heading_path(row.get("heading")) is None:
            raise UserError(f"{where}: field 'heading' must be a string, a list of headings (outermost first) or absent")
        if row.get("paper") is not None and not isinstance(row["paper"], str):
            raise UserError(f"{where}: field 'paper' must be a string such as \"D05\"")
        if row.get("lead") is not None and not isinstance(row["lead"], str):
            raise UserError(f"{where}: field 'lead' must be a string (the end of the sentence before, as `pcc "
                            "predict` writes it) or absent")
        rows.append({**row, "label": label, "line": number})
    if not rows:
        if skip_unlabelled:
            raise UserError(f"{path}: holds no labelled rows; fill in the label column ({', '.join(LABELS)})")
        raise UserError(f"{path}: holds no gold rows; add one row per sentence with its text and label")
    return rows


def _csv_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line, row) of a CSV gold file with a header row; empty cells are absent fields."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    reader = csv.DictReader(io.StringIO(read_input_text(path), newline=""))
    missing = {"text", "label"} - set(reader.fieldnames or [])
    if missing:
        raise UserError(f"{path}:1: the header row lacks the column(s) {', '.join(sorted(missing))}; "
                        "name the columns text, label and optionally paper, heading, lead")
    for row in reader:
        fields = {name: value.strip() for name, value in row.items() if name and isinstance(value, str) and value.strip()}
        if "lead" in row and fields:
            fields.setdefault("lead", None)  # a blank lead cell: the model read no lead
        if "heading" in fields:
            parts = fields["heading"].split(HEADING_SEPARATOR.strip())
            fields["heading"] = [part.strip() for part in parts if part.strip()]
        if fields:
            yield reader.line_num, fields



def paper_for_code(code: str | None, paper_ids: list[str]) -> str | None:
    """The corpus paper a gold `paper` code names: "D05" is the fifth paper of the seed file, id "<file>#05"."""
    match = GOLD_PAPER_CODE.fullmatch(code or "")
    if not match:
        return None
    suffix = f"#{int(match.group(1)):02d}"
    return next((paper_id for paper_id in paper_ids if paper_id.endswith(suffix)), None)


@dataclass
class _Overlap:
    """How a corpus unit lines up with a gold text: characters in common, and the stretch each side spans."""
    text: str
    sentence: Sentence
    shared: int
    unit_span: int
    row_span: int
    row_end: int  # where, in the gold text, the last common character ends


# A text shorter than this tells nothing as a stretch of another: it could be any place where those characters
# occur. So a unit this short never overlaps a gold text, and a gold text this short (`摘要`, a page number) is found
# inside a longer unit only at its start, as a label glued in front of its sentence, and only if it has words (a
# number alone also opens a numbered heading).
_MIN_STRETCH = 4


def _differences_allowed(length: int) -> int:
    """One character in ten may differ: a garble the annotator fixed, a character the extraction dropped."""
    return length // 10


def _nearly_inside(length: int, shared: int, span: int) -> bool:
    """A text of `length` characters is (nearly) a contiguous stretch of the other: few missing, few extra."""
    allowed = _differences_allowed(length)
    return shared >= length - allowed and span <= length + allowed


def _overlaps(normalised: str, corpus: list[tuple[str, Sentence]]) -> list[_Overlap]:
    overlaps = []
    for text, sentence in corpus:
        if len(text) < _MIN_STRETCH:
            continue
        shorter = min(len(text), len(normalised))
        matcher = SequenceMatcher(None, text, normalised, autojunk=False)
        # quick_ratio bounds the characters in common from above; most units fail it and skip the full match.
        if matcher.quick_ratio() * (len(text) + len(normalised)) / 2 < shorter - _differences_allowed(shorter):
            continue
        blocks = [block for block in matcher.get_matching_blocks() if block.size]
        if blocks:
            first, last = blocks[0], blocks[-1]
            overlaps.append(_Overlap(text, sentence, sum(block.size for block in blocks),
                                     last.a + last.size - first.a, last.b + last.size - first.b, last.b + last.size))
    return overlaps


def _find_in_corpus(normalised: str, paper_id: str | None, corpus: list[tuple[str, Sentence]]) -> Sentence | None:
    """The corpus sentence equal to the gold text, else the one overlapping it most (one inside the other).

    Up to one character in ten may differ, so a row whose annotator fixed a garbled character still finds
    its sentence. A gold row that glues several units of its paper together (title, headings, then the
    sentence) is placed at the last of them: headings glue in front of the sentence they head, so the last
    unit is the row's content and its heading path the row's section.
    """
    exact = [s for n, s in corpus if n == normalised]
    if exact:
        return next((s for s in exact if s.paper_id == paper_id), exact[0])
    overlaps = _overlaps(normalised, corpus)

    def row_inside(overlap: _Overlap) -> bool:
        if len(normalised) < _MIN_STRETCH and not (cjk_count(normalised) and overlap.text.startswith(normalised)):
            return False
        return _nearly_inside(len(normalised), overlap.shared, overlap.unit_span)

    def unit_inside(overlap: _Overlap) -> bool:
        return _nearly_inside(len(overlap.text), overlap.shared, overlap.row_span)

    candidates = [o for o in overlaps if len(o.text) >= 8 and (row_inside(o) or unit_inside(o))]
    if not candidates:
        return None
    best = max(candidates, key=lambda o: o.shared + (1 if o.sentence.paper_id == paper_id else 0))
    if row_inside(best):
        return best.sentence
    inside = [o for o in overlaps if o.sentence.paper_id == best.sentence.paper_id and unit_inside(o)]
    return max(inside, key=lambda o: (o.row_end, len(o.text))).sentence


def gold_papers(gold_rows: list[dict], sentences: list[Sentence]) -> list[Sentence]:
    """The papers a gold file names (`paper`) that the corpus does not hold, rebuilt from their gold rows.

    Hand-labelled papers list their sentences in reading order, headings included (often glued to the
    first sentence of their section), so preparing those rows as a paper's lines gives each sentence the
    section it was read in. A paper counts as unseen unless most of its rows are found in the corpus
    (a title or a stock heading may recur across papers); its code is not trusted for this, as
    another annotator's "D01" need not be the seed file's first paper.
    """
    corpus = [(normalise_text(s.text), s) for s in sentences]
    rows_of: dict[str, list[dict]] = {}
    for row in gold_rows:
        if row.get("paper") is not None:
            rows_of.setdefault(row["paper"], []).append(row)
    rebuilt = []
    for code, rows in rows_of.items():
        found = sum(_find_in_corpus(normalise_text(row["text"]), None, corpus) is not None for row in rows)
        if 2 * found > len(rows):
            continue
        prepared = prepare_lines([row["text"] for row in rows], paper_id=f"{REBUILT_PAPER}{code}",
                                 source="gold file", fallback_title=code)
        rebuilt.extend(prepared.sentences)
    return rebuilt


def locate_gold(gold_rows: list[dict], sentences: list[Sentence]) -> list[GoldSentence]:
    """Place each gold sentence in its paper (position, heading path); else stand it alone.

    The heading path is the paper's. The row's own `heading`, where given, replaces it in a paper rebuilt
    from gold rows (`gold_papers`) and fills it where the paper gives the sentence none (a heading that
    segmentation missed); a sentence found nowhere takes that `heading` alone.
    """
    paper_ids = sorted({s.paper_id for s in sentences})
    corpus = [(normalise_text(s.text), s) for s in sentences]
    located = []
    for row in gold_rows:
        paper_id = f"{REBUILT_PAPER}{row.get('paper')}"
        if paper_id not in paper_ids:
            # a corpus paper id (as `pcc predict`, `pcc review` and the web page write it), or a code "D05"
            paper_id = row.get("paper") if row.get("paper") in paper_ids else paper_for_code(row.get("paper"), paper_ids)
        found = _find_in_corpus(normalise_text(row["text"]), paper_id, corpus)
        given_path = given_heading_path(row.get("heading")) or []
        if found is not None:
            heading_path = list(found.heading_path)
            if given_path and (found.paper_id.startswith(REBUILT_PAPER) or not heading_path):
                heading_path = given_path
            sentence = replace(found, text=row["text"], heading_path=heading_path, quality="ok")
        else:
            # A negative index cannot collide with a corpus sentence of the same paper.
            sentence = Sentence(paper_id or f"gold:{row.get('paper') or 'unknown'}", "", -row["line"],
                                row["text"], given_path)
        located.append(GoldSentence(sentence, row["label"], row["line"], found is not None, row.get("lead") or None,
                                    "lead" in row, row["id"] if isinstance(row.get("id"), str) else None))
    return located


def given_leads(gold: list[GoldSentence]) -> dict[str, str | None]:
    """Sentence id → the lead its gold row gives (None: the model read none), where the paper cannot give it: a
    paper rebuilt from rows that carry a lead holds only the rows labelled (corrections, review picks), so the
    row before is not the sentence before; a sentence found nowhere has no neighbours. A corpus paper's own leads
    stand, and so do those of a paper rebuilt from rows without the field (a hand-labelled paper, every
    sentence in reading order)."""
    return {g.sentence.id: g.lead for g in gold
            if g.gives_lead and (not g.matched or g.sentence.paper_id.startswith(REBUILT_PAPER))}


@dataclass
class PlacedGold:
    """Gold sentences placed in their papers, as every scoring of a model reads them."""
    gold: list[GoldSentence]
    papers: list[Sentence]  # the sentences of the papers they were looked for in (and of those rebuilt from rows)

    def inputs(self, card: ModelCard) -> list[ModelInput]:
        """What the model of `card` reads of each gold sentence: its context in its paper, with the lead its row
        gives where its paper cannot (`given_leads`)."""
        return model_inputs(card, [g.sentence for g in self.gold], self.papers, given_leads(self.gold))


def place_gold(gold_rows: list[dict], sentences: list[Sentence], rebuild: bool = True) -> PlacedGold:
    """The gold rows located in the papers of `sentences` (`locate_gold`) and, with `rebuild`, in the papers a
    gold file names that those lack, rebuilt from its rows (`gold_papers`)."""
    papers = sentences + gold_papers(gold_rows, sentences) if rebuild else sentences
    return PlacedGold(locate_gold(gold_rows, papers), papers)
