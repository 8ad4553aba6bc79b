"""Training-set augmentations: made-up versions of corpus sentences that teach the model what the seed papers
show too rarely: every heading word of a class, that a title is `other` whatever it names, that the
section decides between problem and cause (guideline rules 2 and 3), that in an abstract the announcing
clause decides, and how a sentence reads on a page without headings. Every made-up row keeps its paper, so
cross-fitting leaves it out together with that paper.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Sequence

from pcc.model_card import ModelCard
from pcc.model_input import model_inputs
from pcc.records import Sentence
from training.labeling.apply import weak_label
from training.labeling.heading_vocabulary import CHINESE_NUMERAL, ENUMERATOR, HEADING_KEYWORDS, heading_class
from training.labeling.weak_labels import WeakRow

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
                swapped += [weak for weak in weak_label(version, label_config)
                            if weak.sentence.quality == "ok" and weak.label is not None
                            and (new_heading in weak.sentence.heading_path or weak.sentence.text == new_heading)]
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


# A paper's abstract (or a heading-less essay) announces its lists in a clause ("…存在的问题主要是：A；B；C。");
# the templates are the announcements, `{topic}` the opening of the paper's title.
_ABSTRACT_ANNOUNCEMENTS = {
    "problem": ("本文认为，当前{topic}中存在的问题主要是：", "研究发现，{topic}面临的困境主要表现为：",
                "调查显示，{topic}工作存在以下突出问题：", "当前{topic}中的不足主要有："),
    "cause": ("其原因在于：", "究其原因，主要是：", "造成上述问题的原因主要有：", "这些问题的根源在于：",
              "分析表明，问题的成因主要是："),
    "countermeasure": ("据此，本文提出：", "为此，应当：", "针对上述问题，本文建议：", "对此，可以从以下方面着手：",
                       "基于此，提出以下对策："),
}
# Where an abstract stands: under its own heading, or run in after a label at the start of its first sentence.
_ABSTRACT_HEADINGS = ("摘要", "内容摘要", "内容提要")
_ABSTRACT_LABELS = ("摘要：", "【摘要】", "[摘要]", "内容提要：")
_ITEM_CHARS = (6, 80)  # a list item of an abstract: a clause, not a paragraph
_ITEM_CONFIDENCE = 0.5  # the weak label's probability a sentence needs to give an item its label
# What opens a list item in its paper ("一是", "（二）", "首先，", "③") and has no place in an abstract's list.
_ITEM_MARKER = re.compile(rf"^\s*(?:[{CHINESE_NUMERAL}]+是|(?:首先|其次|再次|最后|其一|其二|其三)是?[，,]?"
                          rf"|第[{CHINESE_NUMERAL}]+[，,、]?|[（(]?[{CHINESE_NUMERAL}\d]+[）)、.．]|[①-⑳])\s*")
# An item that announces its own class ("究其原因，…", "…有以下几点") would announce twice.
_OWN_ANNOUNCEMENT = re.compile(r"原因|根源|以下|如下|几点|对策|措施|建议|问题主要")
ABSTRACT_INDEX = 10_000  # made-up abstracts follow their paper's sentences, far enough to be no one's neighbours


def made_up_abstracts(rows: list[WeakRow], copies: int, seed: int) -> list[WeakRow]:
    """`copies` made-up abstracts per paper: a background sentence of the paper (if it has one), then those of its
    problems, causes and countermeasures that it states in at least two short sentences, as lists of clauses
    announced in their first clause ("其原因在于：A；B。"), each clause labelled as the sentence it was cut from.

    Real abstracts and heading-less essays carry the argument in such announcements, and under a "摘要" heading
    the seed papers show background only: without these the model reads an abstract's lists as `other`. Items
    come from confidently labelled sentences (their enumerator and end punctuation stripped), so each keeps its
    label; a made-up abstract keeps its paper (cross-fitting leaves it out with it), and its sentences follow the
    paper's (`ABSTRACT_INDEX`), so `pcc.model_input.paper_leads` reads each as its own paragraph; their leads
    come from there, which is why they are returned apart from `rows`.
    """
    generator = random.Random(seed)
    papers: dict[str, list[WeakRow]] = {}
    for row in rows:
        papers.setdefault(row.sentence.paper_id, []).append(row)
    made_up = []
    for paper_rows in papers.values():
        by_label: dict[str, list[tuple[str, WeakRow]]] = {}  # label -> (the clause a row gives, the row)
        for row in paper_rows:
            item = _abstract_item(row)
            if item is not None:
                by_label.setdefault(row.label, []).append((item, row))
        listed = [label for label in _ABSTRACT_ANNOUNCEMENTS if len(by_label.get(label, ())) >= 2]
        if not listed:
            continue
        for copy in range(copies):
            made_up += _made_up_abstract(by_label, listed, copy, generator)
    return made_up


def _abstract_item(row: WeakRow) -> str | None:
    """The clause a confidently labelled sentence gives an abstract, or None if it gives none."""
    sentence = row.sentence
    if (sentence.is_heading or sentence.quality != "ok" or row.label is None or max(row.probs) < _ITEM_CONFIDENCE
            or sentence.index >= ABSTRACT_INDEX):
        return None
    text = _ITEM_MARKER.sub("", sentence.text).strip().rstrip("。；;！!")
    if (not _ITEM_CHARS[0] <= len(text) <= _ITEM_CHARS[1] or any(mark in text for mark in "。：:；;【】[]")
            or _OWN_ANNOUNCEMENT.search(text)):
        return None
    return text


def _made_up_abstract(by_label: dict[str, list[tuple[str, WeakRow]]], listed: list[str], copy: int,
                      generator: random.Random) -> list[WeakRow]:
    source = by_label[listed[0]][0][1].sentence
    topic = _made_up_topic(source.paper_title, generator)
    in_heading = generator.random() < 0.5
    heading_path = [generator.choice(_ABSTRACT_HEADINGS)] if in_heading else []
    texts_and_rows = []
    if by_label.get("other"):
        background, row = generator.choice(by_label["other"])
        texts_and_rows.append((background + "。", row))
    for label in listed:
        items = generator.sample(by_label[label], min(len(by_label[label]), generator.randint(2, 3)))
        announcement = generator.choice(_ABSTRACT_ANNOUNCEMENTS[label]).format(topic=topic)
        for number, (item, row) in enumerate(items):
            end = "。" if number == len(items) - 1 else "；"
            texts_and_rows.append(((announcement if number == 0 else "") + item + end, row))
    if not in_heading:
        text, row = texts_and_rows[0]
        texts_and_rows[0] = (generator.choice(_ABSTRACT_LABELS) + text, row)
    first = ABSTRACT_INDEX * (copy + 1)
    return [WeakRow(replace(source, index=first + position, text=text, heading_path=heading_path, is_heading=False,
                            paragraph=first), row.probs, row.label, {})
            for position, (text, row) in enumerate(texts_and_rows)]


@dataclass(frozen=True)
class HeadlessView:
    """A sentence as a page without headings shows it: what the model reads besides the sentence (its lead, or
    nothing) and the label model's probabilities when the rules read that page."""
    context: str | None
    probs: list[float]


def headless_views(sentences: Sequence[Sentence], card: ModelCard, label_config: dict) -> dict[str, HeadlessView]:
    """Sentence id -> its `HeadlessView`: every paper read again without its heading lines and heading paths, as
    openings, abstracts and pages that lost their headings show sentences; for the sentences on which at least
    one rule votes so read (never a garbled one: `weak_label` leaves those unvoted).

    Such a sentence's class can only come from its own words and its lead (a shortfall read alone states a
    problem, guideline rule 2), not from the section the seed paper put it in; showing the model the lead-only
    view under the label of the section would teach it a label that view does not carry.
    """
    papers: dict[str, list[Sentence]] = {}
    for sentence in sentences:
        papers.setdefault(sentence.paper_id, []).append(sentence)
    originals, headless = [], []
    for paper_id, paper in papers.items():
        body = [s for s in sorted(paper, key=lambda s: s.index) if not s.is_heading and not s.is_title]
        originals += body
        headless += [replace(s, paper_id=f"{paper_id}#headless", index=position, heading_path=[])
                     for position, s in enumerate(body)]
    read = model_inputs(card, headless)
    return {original.id: HeadlessView(item.context, weak.probs)
            for original, item, weak in zip(originals, read, weak_label(headless, label_config)) if weak.votes}
