"""How a sentence is presented to the encoder; shared by training, export and serving.

The sentence is segment A; segment B is its context: the title marker for a paper's title, else its heading
path and, for a model trained with document context, its lead: the sentence that announces the list it is an
item of ("究其原因，主要有以下几点："), or else the sentence before it in its section. A sentence without any
of these is read bare. `model_inputs` builds both segments as a model card (`pcc.model_card`) says the model
reads them; every caller that feeds a model goes through it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from pcc.model_card import ModelCard
from pcc.records import Sentence
from pcc.structure import list_announcements

HEADING_SEPARATOR = " > "
LEAD_SEPARATOR = " ‖ "
LEAD_CHARS = 24  # the lead's last characters: an announcement ends with what it announces ("…原因如下：")
# Alone, a title such as "…问题及对策" reads like a section heading that announces its class; guideline
# rule 3 makes every title `other`, so the model is told which sentence is the title.
TITLE_CONTEXT = "论文标题"
# Sentences of a paper further apart than this (a garbled line may sit between) are no neighbours.
NEIGHBOUR_MAX_GAP = 2


def lead_as_read(lead: str | None) -> str | None:
    """The part of a lead the model reads (its last `LEAD_CHARS` characters, without surrounding space), or None.
    Reading it again changes nothing, so a lead read once (an output row's `lead`) can be given back."""
    return (lead or "").strip()[-LEAD_CHARS:].strip() or None


def heading_context(heading_path: list[str] | None, lead: str | None = None) -> str | None:
    """The second segment of the model input for a sentence under these headings after this lead, or None."""
    headings = HEADING_SEPARATOR.join(heading_path or [])
    lead = lead_as_read(lead)
    if not lead:
        return headings or None
    return f"{headings}{LEAD_SEPARATOR}{lead}".strip()


def given_heading_path(value) -> list[str] | None:
    """A heading path as a file or a request gives it, outermost first: a list of headings, one heading, or
    nothing (no headings); None when it is none of these."""
    if value in (None, "", []):
        return []
    headings = [value] if isinstance(value, str) else value
    if not isinstance(headings, list) or not all(isinstance(h, str) and h.strip() for h in headings):
        return None
    return [h.strip() for h in headings]


def sentence_context(sentence: Sentence, lead: str | None = None) -> str | None:
    """The second segment of the model input for a sentence of a paper: the title marker, or its headings and
    lead."""
    return TITLE_CONTEXT if sentence.is_title else heading_context(sentence.heading_path, lead)


def paper_leads(sentences: Sequence[Sentence]) -> list[str | None]:
    """Each sentence's lead (in the given order; papers apart, each in index order): the announcement of the list
    it is an item of, else the readable sentence just before it under the same headings. Headings and titles have
    none.

    An unnumbered list is a run of clauses ending in ；, announced where its first clause has a colon ("…存在的问题
    主要是：A；B；C。", as abstracts write): its later clauses get that announcement as their lead, since the
    clause before them, cut to `LEAD_CHARS`, no longer shows it."""
    leads: list[str | None] = [None] * len(sentences)
    by_paper: dict[str, list[int]] = {}
    for position, sentence in enumerate(sentences):
        by_paper.setdefault(sentence.paper_id, []).append(position)
    for positions in by_paper.values():
        positions.sort(key=lambda p: sentences[p].index)
        ordered = [sentences[p] for p in positions]
        run_announcement = None
        for position, sentence, announced, before in zip(positions, ordered, list_announcements(ordered),
                                                          [None, *ordered[:-1]]):
            if sentence.is_heading or sentence.is_title:
                run_announcement = None
                continue
            neighbour = (before is not None and not before.is_heading and before.quality == "ok"
                         and before.heading_path == sentence.heading_path
                         and sentence.index - before.index <= NEIGHBOUR_MAX_GAP)
            in_run = neighbour and before.paragraph == sentence.paragraph and before.text.rstrip().endswith(_RUN_END)
            if not in_run:
                run_announcement = None
            if announced is not None and not sentence.text.startswith(announced):
                leads[position] = announced
            elif in_run and run_announcement:
                leads[position] = run_announcement
            elif neighbour:
                leads[position] = before.text
            if sentence.text.rstrip().endswith(_RUN_END) and not in_run:
                run_announcement = _colon_announcement(sentence.text)
    return leads


_RUN_END = ("；", ";")
_COLON = re.compile(r"[:：]")


def _colon_announcement(text: str) -> str | None:
    """The part of a clause up to its first colon ("其原因在于："), if some text comes before and after it."""
    colon = _COLON.search(text)
    if colon is None or colon.start() < 2 or not text[colon.end():].strip("；; "):
        return None
    return text[:colon.end()]


@dataclass(frozen=True)
class ModelInput:
    """A sentence as a model reads it: segment A, segment B (None: read bare), the part of its lead in B, and
    segment B without the lead (its headings alone; the same as B for a sentence without one), whose reading the
    model card may mix in (`ModelCard.with_lead_free_view`)."""
    text: str
    context: str | None
    lead: str | None
    context_without_lead: str | None

    @property
    def read_twice(self) -> bool:
        """Whether leaving out the lead changes what the model reads: a second reading for a card that mixes one in."""
        return self.context_without_lead != self.context


def model_inputs(card: ModelCard, sentences: Sequence[Sentence], papers: Sequence[Sentence] | None = None,
                 given_leads: Mapping[str, str | None] | None = None) -> list[ModelInput]:
    """Each sentence as the model of `card` reads it: bare for a model without context (`use_heading` false);
    else with the title marker, or its heading path and, for a model that reads leads (`heading+lead`), its lead.

    A sentence's lead is the one `given_leads` (sentence id -> lead; None: it has none) gives, else the one its
    paper gives (`paper_leads`): `papers` are the sentences of the papers the sentences sit in, by default the
    sentences themselves; pass `papers=()` for sentences given alone, each with its own heading path and lead (a
    listed sentence, a request), whose paper title must be empty so that none reads as a title."""
    if not card.use_heading:
        return [ModelInput(s.text, None, None, None) for s in sentences]
    if not card.reads_leads:
        return [ModelInput(s.text, sentence_context(s), None, sentence_context(s)) for s in sentences]
    if papers is None:
        leads = paper_leads(sentences)
    else:
        by_id = dict(zip((s.id for s in papers), paper_leads(papers)))
        leads = [by_id.get(s.id) for s in sentences]
    given = given_leads or {}
    leads = [lead_as_read(given[s.id] if s.id in given else lead) for s, lead in zip(sentences, leads)]
    return [ModelInput(s.text, sentence_context(s, lead), lead, sentence_context(s)) for s, lead in zip(sentences, leads)]


# The two ways a sentence is shown to the model, scored separately in training and evaluation: with its context
# as the second segment, and bare (as a caller without headings sends it).
WITH_CONTEXT, BARE = "heading", "bare"
VIEWS = (WITH_CONTEXT, BARE)
