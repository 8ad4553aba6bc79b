"""Weak labels + gold file → the `datasets.DatasetDict` that fine-tuning and evaluation share.

Splits: `train` (clean sentences of papers without gold sentences), `dev` (clean sentences of the dev
papers, i.e. papers holding a gold sentence, each tagged with its cross-fitting fold) and `gold` (the gold
sentences with their corpus context and fold). Dev papers are never trained on while settings are chosen
on their gold sentences; a fold's model trains on `train` plus the other folds' `dev` rows.
"""
from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Iterator

from pcc.documents import prepare_lines
from pcc.errors import UserError
from pcc.model_input import HEADING_SEPARATOR, given_heading_path, sentence_context
from pcc.records import CHINESE_LABELS, LABELS, Sentence, read_input_text, read_numbered_jsonl
from training.labeling.apply import weak_label
from training.labeling.sections import CHINESE_NUMERAL, ENUMERATOR, HEADING_KEYWORDS, heading_class

GOLD_PAPER_CODE = re.compile(r"D(\d+)")
REBUILT_PAPER = "rebuilt:"  # paper id prefix of a paper rebuilt from gold rows


def normalise_text(text: str) -> str:
    """Text without whitespace or punctuation, so hand-cleaned gold text matches extracted text."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if not c.isspace() and not unicodedata.category(c).startswith("P"))


@dataclass
class WeakRow:
    sentence: Sentence
    probs: list[float]  # label-model probabilities in LABELS order
    label: str | None  # None where every labeling function abstained
    votes: dict[str, str] = field(default_factory=dict)  # labeling function -> its (non-abstaining) vote


@dataclass
class GoldSentence:
    sentence: Sentence  # the gold text, placed in its paper's context when found there
    label: str
    line: int  # line of the gold file, for messages and reports
    matched: bool  # True when found in its paper: the prepared corpus, or one rebuilt from the gold rows


def read_weak_labels(path: str | Path) -> list[WeakRow]:
    """Read `pcc label` output; a row without usable probabilities is a UserError naming file:line and field."""
    rows = []
    for number, row in read_numbered_jsonl(path):
        where = f"{path}:{number}"
        for name in ("paper_id", "index", "text", "probs"):
            if name not in row:
                raise UserError(f"{where}: field '{name}' is missing; rerun `pcc label`")
        probs = row["probs"]
        if not isinstance(probs, dict) or set(probs) != set(LABELS):
            raise UserError(f"{where}: field 'probs' must map each of {', '.join(LABELS)} to a probability")
        label = row.get("label")
        if label is not None and label not in LABELS:
            raise UserError(f"{where}: field 'label' is {label!r}; expected one of {', '.join(LABELS)} or null")
        sentence = Sentence(
            paper_id=row["paper_id"], paper_title=row.get("paper_title", ""), index=int(row["index"]),
            text=row["text"], heading_path=list(row.get("heading_path") or []),
            is_heading=bool(row.get("is_heading", False)), quality=row.get("quality", "ok"),
        )
        rows.append(WeakRow(sentence, [float(probs[name]) for name in LABELS], label, dict(row.get("votes") or {})))
    return rows


def read_gold(path: str | Path) -> list[dict]:
    """Read a gold file (`text`, `label`, optional `paper`, `heading`); a bad row names file:line and field.

    JSON Lines, or a `.csv` with those column names (as a spreadsheet saves it; headings of a path joined
    by " > ", as `pcc predict` writes them). `label` may also be given in Chinese (问题, 原因, 对策, 其他), as
    hand labellers of Chinese papers may write it.
    """
    rows = []
    records = _csv_records(Path(path)) if Path(path).suffix.lower() == ".csv" else read_numbered_jsonl(path)
    for number, row in records:
        where = f"{path}:{number}"
        text = row.get("text")
        if not isinstance(text, str) or not normalise_text(text):
            raise UserError(f"{where}: field 'text' must be a non-empty string")
        label = _gold_label(row.get("label"))
        if label is None:
            raise UserError(f"{where}: field 'label' is {row.get('label')!r}; expected one of {', '.join(LABELS)} "
                            f"(or {', '.join(CHINESE_LABELS.values())})")
        if given_heading_path(row.get("heading")) is None:
            raise UserError(f"{where}: field 'heading' must be a string, a list of headings (outermost first) or absent")
        if row.get("paper") is not None and not isinstance(row["paper"], str):
            raise UserError(f"{where}: field 'paper' must be a string such as \"D05\"")
        rows.append({**row, "label": label, "line": number})
    if not rows:
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
                        "name the columns text, label and optionally paper, heading")
    for row in reader:
        fields = {name: value.strip() for name, value in row.items() if name and isinstance(value, str) and value.strip()}
        if "heading" in fields:
            parts = fields["heading"].split(HEADING_SEPARATOR.strip())
            fields["heading"] = [part.strip() for part in parts if part.strip()]
        if fields:
            yield reader.line_num, fields


def _gold_label(value) -> str | None:
    """The label a gold row names: an English name in any case, or the guidelines' Chinese one (其它 for 其他 too)."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    if name in LABELS:
        return name
    return {chinese: label for label, chinese in CHINESE_LABELS.items()}.get(name.replace("其它", "其他"))


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
        if len(text) < 4:
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
            paper_id = paper_for_code(row.get("paper"), paper_ids)
        found = _find_in_corpus(normalise_text(row["text"]), paper_id, corpus)
        given_path = given_heading_path(row.get("heading")) or []
        if found is not None:
            heading_path = list(found.heading_path)
            if given_path and (found.paper_id.startswith(REBUILT_PAPER) or not heading_path):
                heading_path = given_path
            sentence = Sentence(found.paper_id, found.paper_title, found.index, row["text"], heading_path,
                                found.is_heading)
        else:
            # A negative index cannot collide with a corpus sentence of the same paper.
            sentence = Sentence(paper_id or f"gold:{row.get('paper') or 'unknown'}", "", -row["line"],
                                row["text"], given_path)
        located.append(GoldSentence(sentence, row["label"], row["line"], found is not None))
    return located


def assign_folds(gold: list[GoldSentence], paper_ids: set[str], n_folds: int) -> dict[str, int]:
    """Dev paper → fold: papers with the most gold sentences first, each to the fold with fewest so far."""
    counts: dict[str, int] = {}
    for item in gold:
        if item.sentence.paper_id in paper_ids:
            counts[item.sentence.paper_id] = counts.get(item.sentence.paper_id, 0) + 1
    load = [0] * n_folds
    folds = {}
    for paper_id in sorted(counts, key=lambda p: (-counts[p], p)):
        fold = min(range(n_folds), key=lambda f: (load[f], f))
        folds[paper_id] = fold
        load[fold] += counts[paper_id]
    return folds


def _sentence_columns(sentence: Sentence) -> dict:
    return {"id": sentence.id, "paper_id": sentence.paper_id, "text": sentence.text,
            "context": sentence_context(sentence)}


def with_heading_variants(rows: list[WeakRow], copies: int, seed: int) -> list[WeakRow]:
    """The rows plus `copies` variants of every sentence that a section rule labelled, each under a made-up
    section heading naming its class with a keyword of the labeling functions' vocabulary
    ("三、构建和谐警民关系的途径").

    The seed papers show each class under a handful of heading words; the variants teach the model the
    whole heading vocabulary, so that an unseen paper's "现实状况" or "困境" section reads as problems.
    Variants keep their paper, so cross-fitting leaves them out together with it.
    """
    generator = random.Random(seed)
    variants = []
    for row in rows:
        sentence = row.sentence
        # The section rules are `section_<class>` in training/labeling/lf_headings.py.
        if sentence.is_heading or row.label is None or row.votes.get(f"section_{row.label}") != row.label:
            continue
        for _ in range(copies):
            topic = _made_up_topic(sentence.paper_title, generator)
            heading = f"{generator.choice(CHINESE_NUMERAL[:6])}、{topic}的{generator.choice(HEADING_KEYWORDS[row.label])}"
            variants.append(WeakRow(replace(sentence, heading_path=[heading]), row.probs, row.label, row.votes))
    return rows + variants


def _made_up_topic(paper_title: str, generator: random.Random) -> str:
    """The topic of a made-up heading: the opening 4-8 characters of the paper's title."""
    return paper_title[:generator.randint(4, 8)]


_TITLE_PATTERNS = ("{topic}的{first}", "{topic}的{first}及{second}", "{topic}存在的{first}与{second}", "论{topic}的{first}",
                   "浅析{topic}的{first}和{second}", "关于{topic}的几点{first}")
_TITLE_CLASSES = ("problem", "cause", "countermeasure")


def with_made_up_titles(rows: list[WeakRow], copies: int, seed: int) -> list[WeakRow]:
    """The rows plus `copies` made-up titles per paper whose title the rules labelled, each naming one or two
    classes ("构建和谐警民关系的原因及对策"), with the real title's label.

    Guideline rule 3 makes every title `other`, even one naming 对策, and a paper has one title: too few for
    the model to learn that the title marker (`pcc.model_input.sentence_context`), not the wording, decides.
    They keep their paper, so cross-fitting leaves them out together with it.
    """
    generator = random.Random(seed)
    made_up = []
    for row in rows:
        if not row.sentence.is_title or row.label is None or row.sentence.index != 0:
            continue
        for _ in range(copies):
            first, second = (generator.choice(HEADING_KEYWORDS[label])
                             for label in generator.sample(_TITLE_CLASSES, 2))
            title = generator.choice(_TITLE_PATTERNS).format(
                topic=_made_up_topic(row.sentence.paper_title, generator), first=first, second=second)
            made_up.append(WeakRow(replace(row.sentence, paper_title=title, text=title), row.probs, row.label,
                                   row.votes))
    return rows + made_up


# Guideline rule 2: the same negative state is a problem in a problems section and a cause in a causes section.
_SWAPPED_CLASS = {"problem": "cause", "cause": "problem"}
_SWAP_HEADINGS = {
    "problem": ("{topic}中存在的{keyword}", "影响{topic}的{keyword}", "{topic}面临的{keyword}", "当前{topic}的{keyword}"),
    "cause": ("{topic}问题产生的{keyword}", "影响{topic}的{keyword}", "制约{topic}的{keyword}",
              "{topic}{problem}的{keyword}"),
}


def with_swapped_sections(rows: list[WeakRow], sentences: list[Sentence], copies: int, seed: int,
                          label_config: dict) -> list[WeakRow]:
    """The rows plus `copies` versions of every problems or causes section re-headed as the other kind
    ("一、当前警民关系的现实状况" → "一、制约和谐警民关系的因素"), its sentences relabelled by the labeling
    functions in their paper.

    Guideline rule 2 says the section, not the sentence, decides between problem and cause, and the seed
    papers hold only ten such sections: too few for the model to learn that the heading overrides the
    sentence's own wording. The relabelled versions show it the same sentences both ways. They keep their
    paper, so cross-fitting leaves them out together with it; garbled and all-abstained sentences stay out.
    """
    generator = random.Random(seed)
    papers: dict[str, list[Sentence]] = {}
    for sentence in sentences:
        papers.setdefault(sentence.paper_id, []).append(sentence)
    swapped = []
    for paper in papers.values():
        headings = list(dict.fromkeys(h for s in paper for h in s.heading_path if heading_class(h) in _SWAPPED_CLASS))
        for heading in headings:
            target = _SWAPPED_CLASS[heading_class(heading)]
            marker = ENUMERATOR.match(heading)
            for _ in range(copies):
                made_up = _swap_heading(paper[0].paper_title, target, generator)
                if made_up is None:
                    continue
                new_heading = (marker.group(0) if marker else "") + made_up
                version = [replace(s, heading_path=[new_heading if h == heading else h for h in s.heading_path],
                                   text=new_heading if s.is_heading and s.text == heading else s.text)
                           for s in paper]
                for sentence, weak in zip(version, weak_label(version, label_config)):
                    if sentence.quality == "ok" and weak["label"] is not None and (
                            new_heading in sentence.heading_path or sentence.text == new_heading):
                        swapped.append(WeakRow(sentence, [weak["probs"][name] for name in LABELS], weak["label"],
                                               weak["votes"]))
    return rows + swapped


def _swap_heading(paper_title: str, label: str, generator: random.Random) -> str | None:
    """A made-up heading that announces `label`; None when the title keeps spoiling it (a title such as
    "问题的提出" reads as paper scaffolding, whatever follows)."""
    for _ in range(20):
        heading = generator.choice(_SWAP_HEADINGS[label]).format(
            topic=_made_up_topic(paper_title, generator), keyword=generator.choice(HEADING_KEYWORDS[label]),
            problem=generator.choice(("问题", "不足", "困境", "矛盾")))
        if heading_class(heading) == label:
            return heading
    return None


def build_dataset(weak_rows: list[WeakRow], gold: list[GoldSentence], folds: dict[str, int],
                  garbled_ids: set[str] = frozenset(), drop_abstained: bool = True):
    """The DatasetDict {train, dev, gold}: garbled (and, if asked, all-abstained) sentences left out."""
    from datasets import Dataset, DatasetDict

    def weak_split(keep) -> Dataset:
        rows = [
            {**_sentence_columns(w.sentence), "soft_labels": w.probs, "fold": folds.get(w.sentence.paper_id, -1)}
            for w in weak_rows
            if keep(w.sentence.paper_id) and w.sentence.quality == "ok" and w.sentence.id not in garbled_ids
            and not (drop_abstained and w.label is None)
        ]
        return _dataset(rows, _weak_features())

    gold_rows = [
        {**_sentence_columns(g.sentence), "label": LABELS.index(g.label), "line": g.line,
         "fold": folds.get(g.sentence.paper_id, -1)}
        for g in gold
    ]
    return DatasetDict({
        "train": weak_split(lambda paper_id: paper_id not in folds),
        "dev": weak_split(lambda paper_id: paper_id in folds),
        "gold": _dataset(gold_rows, _gold_features()),
    })


def _dataset(rows: list[dict], features):
    from datasets import Dataset
    # Built by columns so that an empty split (no dev papers) still has its columns.
    return Dataset.from_dict({name: [row[name] for row in rows] for name in features}, features=features)


def _weak_features():
    from datasets import Features, List, Value
    return Features({"id": Value("string"), "paper_id": Value("string"), "text": Value("string"),
                     "context": Value("string"), "soft_labels": List(Value("float32")),
                     "fold": Value("int32")})


def _gold_features():
    from datasets import Features, Value
    return Features({"id": Value("string"), "paper_id": Value("string"), "text": Value("string"),
                     "context": Value("string"), "label": Value("int32"), "line": Value("int32"),
                     "fold": Value("int32")})
